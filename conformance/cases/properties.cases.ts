/**
 * Generated cases (`prop/...`): fast-check draws valid payloads of every routed message type from
 * the spec's schemas and sends them through the peer from one harness client to another; each must
 * arrive as the same value. The run's seed drives generation (--seed replays it); a failure is
 * shrunk and reported with the smallest counterexample's wire bytes.
 */
import fc from 'fast-check';
import { MESSAGES } from '../../spec/generated/catalog.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { payloadArb } from '../../reference/properties/arbitraries.js';
import { firstDifference } from '../../reference/properties/equality.js';
import { payloadToFixture } from '../../reference/codec/payload.js';
import type { Message } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import type { Encoding } from '../../reference/codec/body.js';
import type { ErrorName } from '../../spec/generated/catalog.js';

const RUNS_PER_TYPE = 25;

// Responses without a matching request are refused (REQ-5): requests and notifications travel.
const routedTypes = MESSAGES.filter((m) => m.directions.includes('routed') && (m.kind === 'request' || m.kind === 'notification'));
const routedMessage = fc.constantFrom(...routedTypes).chain((info) => payloadArb(info).map((payload) => ({ info, payload })));

function routedCase(encoding: Encoding): Case {
  return defineCase({
    id: `requests/prop-routed-payloads-arrive-equal/encoding:${encoding}`,
    statements: ['REQ-9', 'ENC-17'],
    async run(ctx) {
      const encodings = encoding === 'json' ? ['json'] : [encoding, 'json'];
      const a = await ctx.session('A', { encodings });
      const b = await ctx.session('B', { encodings });
      let n = 0;
      // A frame of an earlier run (one that timed out on a loaded machine, before fast-check shrinks) may
      // still arrive: it is passed over, so each run judges only its own frame. Waits for a frame that must
      // come are generous: they cost time only when the broker is broken.
      const patience = Math.max(ctx.timeoutMs, 2_000);
      const current = async (conn: typeof a.conn, what: string, key: (x: Message) => unknown, want: string, accept: (x: Message) => boolean): Promise<Message> => {
        for (;;) {
          const x = await ctx.expectMessage(conn, what, (y) => accept(y) || isEarlier(key(y), want), patience);
          if (!isEarlier(key(x), want)) return x;
        }
      };
      const property = fc.asyncProperty(routedMessage, async ({ info, payload }) => {
        const id = `prop-${++n}`;
        const header = { id, dst: b.clientId };
        const frame = encodeMessageFrame({ type: info.name, header, payload, encoding });
        a.conn.sendRaw(frame, `${info.name} (generated)`);
        const m = await current(b.conn, `${info.name} with the generated payload at B`, (x) => x.header.id, id, (x) => x.name === info.name);
        const diff = firstDifference(m.payload, payload, { schema: info.payload });
        if (diff !== null) throw new CaseFailure(`${info.name} arrived changed at ${diff}`, JSON.stringify(payloadToFixture(info, payload)).slice(0, 300), JSON.stringify(payloadToFixture(info, m.payload)).slice(0, 300));
        // Requests are answered with ERROR by B so nothing stays open at the broker.
        if (info.kind === 'request') {
          b.conn.send({ type: 'ERROR', header: { id: `e-${id}`, re: m.header.id }, payload: { code: 'UNSUPPORTED' satisfies ErrorName, message: 'harness B does not serve it', definite: true } });
          await current(a.conn, `the ERROR answering ${id}`, (x) => x.header.re, id, (x) => x.name === 'ERROR');
        }
      });
      const result = await fc.check(property, { seed: ctx.seed, numRuns: RUNS_PER_TYPE * routedTypes.length });
      if (result.failed) {
        const cause = result.errorInstance as Error | undefined;
        const [smallest] = result.counterexample ?? [];
        const wire = smallest ? Buffer.from(encodeMessageFrame({ type: smallest.info.name, header: { id: 'prop', dst: b.clientId }, payload: smallest.payload, encoding })).toString('hex') : '';
        const shown = smallest ? `${smallest.info.name} ${JSON.stringify(payloadToFixture(smallest.info, smallest.payload))}` : 'none';
        const detail = `seed ${result.seed}, path ${result.counterexamplePath}, ${result.numShrinks} shrinks; smallest counterexample: ${shown}; wire bytes: ${wire}`;
        if (cause instanceof CaseFailure) throw new CaseFailure(`${cause.message} (${detail})`, cause.expected, cause.actual);
        throw cause ?? new Error(detail);
      }
    },
  });
}

/** Whether `key` names a generated frame (`prop-N`) of a run before the one whose id is `want`. */
function isEarlier(key: unknown, want: string): boolean {
  if (typeof key !== 'string' || !key.startsWith('prop-')) return false;
  return Number(key.slice(5)) < Number(want.slice(5));
}

export const propertyCases: Case[] = [routedCase('json'), routedCase('cbor')];
