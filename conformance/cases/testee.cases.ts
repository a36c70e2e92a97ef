/**
 * The testee suite (spec section testee): the peer under test decodes every frame with its own codec
 * and answers with the echo (re-encoded by its own codec) or the required ERROR. Every fixture vector
 * becomes a case, generated messages of every type travel as properties, and mutated ones must be
 * refused with the right error.
 */
import fc from 'fast-check';
import { MESSAGES } from '../../spec/generated/catalog.js';
import { messageByCode } from '../../reference/codec/catalog.js';
import { encodeMessageFrame, type Message } from '../../reference/codec/message.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { payloadToFixture, encodePayload } from '../../reference/codec/payload.js';
import { payloadArb } from '../../reference/properties/arbitraries.js';
import { differences, showPointer } from '../../reference/properties/equality.js';
import { vectors, isStatementId, refusalOf } from './testee-vectors.js';
import { testeeCodecCases } from './testee-codec.cases.js';
import { checkTesteeProperty } from './testee-property.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext, TesteeSession } from './context.js';
import type { Encoding } from '../../reference/codec/body.js';
import { registryName } from '../../reference/codec/catalog.js';

export function needEncoding(t: TesteeSession, encoding: Encoding): void {
  if (!t.encodings.includes(encoding)) throw new CaseSkipped(`the testee does not declare ${encoding}`);
}

/**
 * Waits for the echo of frame `id` and checks type, encoding and payload value against `expected`
 * (float32 fields compared as ENC-16 says); every differing JSON Pointer is named.
 */
export function expectEcho(ctx: CaseContext, t: TesteeSession, id: string, type: number, encoding: Encoding, expected: unknown): Promise<Message> {
  const conn = ctx.recorder?.connOf(t.conn);
  return ctx.declare({ op: 'echo', conn, re: id, type, encoding, payload: expected }, () => checkEcho(ctx, t, id, type, encoding, expected));
}

async function checkEcho(ctx: CaseContext, t: TesteeSession, id: string, type: number, encoding: Encoding, expected: unknown): Promise<Message> {
  const info = messageByCode(type)!;
  const echo = await ctx.expectMessage(t.conn, `the echo of ${info.name} ${JSON.stringify(id)} (TST-4)`, (m) => m.header.re === id);
  const v = ctx.verdict();
  const answer = echo.name === 'ERROR' && type !== echo.type ? ` ${String((echo.payload as { code?: unknown }).code)}: ${String((echo.payload as { message?: unknown }).message).slice(0, 200)}` : '';
  if (!v.check(echo.type === type, 'TST-4', `the echo has type ${echo.name}${answer}`, info.name, echo.name)) v.done();
  v.check(echo.encoding === encoding, 'TST-4', `the echo is in ${echo.encoding}`, encoding, echo.encoding);
  const got = JSON.parse(JSON.stringify(payloadToFixture(info, echo.payload))) as unknown;
  const diffs = differences(got, JSON.parse(JSON.stringify(expected)), { schema: info.payload });
  if (diffs.length > 0) v.fail('TST-4', `the echoed ${info.name} differs at ${diffs.slice(0, 8).map(showPointer).join(', ')}${diffs.length > 8 ? ` and ${diffs.length - 8} more` : ''}`, JSON.stringify(expected).slice(0, 400), JSON.stringify(got).slice(0, 400));
  v.done();
  return echo;
}

const fixtureCases = (): Case[] => [
  ...vectors('valid.json').map((v) => defineCase({
    id: `testee/echo/${v.id.replace('frame/valid/', '')}`,
    statements: [...new Set(['TST-4', 'TST-3', ...v.spec.filter(isStatementId)])],
    async run(ctx) {
      const t = await ctx.testee();
      needEncoding(t, v.decoded!.encoding);
      t.conn.sendRaw(Buffer.from(v.hex, 'hex'), `fixture ${v.id}`);
      await expectEcho(ctx, t, v.decoded!.header.id, Buffer.from(v.hex, 'hex')[4]!, v.decoded!.encoding, v.decoded!.payload);
    },
  })),
  ...vectors('invalid.json').filter((v) => v.max_frame === undefined).map((v) => {
    const refusal = refusalOf(v);
    return defineCase({
      id: `testee/refuse/${v.id.replace('frame/invalid/', '')}`,
      statements: [...new Set(['TST-5', 'ERR-2', 'ERR-3', v.closes ? 'ERR-4' : 'ERR-5', ...v.spec.filter(isStatementId)])],
      async run(ctx) {
        const t = await ctx.testee();
        if (refusal.cbor) needEncoding(t, 'cbor');
        t.conn.sendRaw(refusal.bytes, `fixture ${v.id}: ${v.description}`);
        await ctx.expectError(t.conn, refusal.code, { statement: 'TST-5', probe: 'PING', ...refusal.expectation });
      },
    });
  }),
];

const GENERATED_RUNS = 200;

function propertyCase(encoding: Encoding): Case {
  type Generated = { info: (typeof MESSAGES)[number]; payload: unknown };
  const frame = ({ info, payload }: Generated, id: string): Uint8Array => encodeMessageFrame({ type: info.name, header: { id }, payload, encoding });
  return defineCase({
    id: `testee/prop-generated-messages-echo-equal/encoding:${encoding}`,
    statements: ['TST-4', 'ENC-17'],
    async run(ctx) {
      const t = await ctx.testee();
      needEncoding(t, encoding);
      await checkTesteeProperty<Generated>(ctx, t, {
        arb: fc.constantFrom(...MESSAGES).chain((info) => payloadArb(info).map((payload) => ({ info, payload }))),
        numRuns: GENERATED_RUNS,
        idPrefix: 'g',
        send: (s, g, id) => s.conn.sendRaw(frame(g, id), `${g.info.name} (generated)`),
        check: (s, { info, payload }, id) => expectEcho(ctx, s, id, info.code, encoding, payloadToFixture(info, payload)),
        describe: (g) => `${g.info.name} ${JSON.stringify(payloadToFixture(g.info, g.payload))}; wire bytes: ${Buffer.from(frame(g, 'g')).toString('hex')}`,
      });
    },
  });
}

/** Generated messages with one required field removed must be refused with SCHEMA_VIOLATION naming it. */
const mutationCase = defineCase({
  id: 'testee/prop-missing-required-field-refused',
  statements: ['TST-5', 'ERR-9', 'ERR-11', 'ERR-2'],
  async run(ctx) {
    const t = await ctx.testee();
    const withRequired = MESSAGES.filter((m) => Array.isArray(m.payload?.['required']) && (m.payload!['required'] as string[]).length > 0);
    type Mutated = { info: (typeof withRequired)[number]; payload: unknown; drop: string };
    await checkTesteeProperty<Mutated>(ctx, t, {
      arb: fc.constantFrom(...withRequired).chain((info) => fc.tuple(payloadArb(info), fc.constantFrom(...(info.payload!['required'] as string[]))).map(([payload, drop]) => ({ info, payload, drop }))),
      numRuns: GENERATED_RUNS,
      idPrefix: 'm',
      send(s, { info, payload, drop }, id) {
        const wire = JSON.parse(new TextDecoder().decode(encodePayload(info, 'json', payload))) as Record<string, unknown>;
        delete wire[drop];
        s.conn.sendRaw(encodeFrame(encodeEnvelope(info.code, 'json', { id }, new TextEncoder().encode(JSON.stringify(wire)))), `${info.name} without ${drop}`);
      },
      async check(s, { info, drop }, id) {
        const m = await ctx.expectMessage(s.conn, `ERROR SCHEMA_VIOLATION for ${info.name} without ${drop}`, (x) => x.header.re === id);
        const p = m.payload as { code?: string; definite?: unknown; details?: { path?: string; rule?: string } };
        const v = ctx.verdict();
        if (v.check(m.name === 'ERROR', 'TST-5', `${info.name} without ${drop} was answered with ${m.name}`, 'ERROR SCHEMA_VIOLATION', m.name)) {
          v.check(registryName(p.code) === 'SCHEMA_VIOLATION', 'TST-5', `${info.name} without ${drop} was refused with ${String(p.code)}`, 'SCHEMA_VIOLATION', String(p.code));
          v.check(p.definite === true, 'ERR-2', `the SCHEMA_VIOLATION carries definite ${JSON.stringify(p.definite)}`, 'true', JSON.stringify(p.definite));
          v.check(p.details?.path === `/${drop}`, 'ERR-11', `the SCHEMA_VIOLATION for missing ${drop} gives details.path ${JSON.stringify(p.details?.path)}`, JSON.stringify(`/${drop}`), JSON.stringify(p.details?.path));
          v.check(p.details?.rule === 'required', 'ERR-11', `the SCHEMA_VIOLATION for missing ${drop} gives details.rule ${JSON.stringify(p.details?.rule)}`, '"required"', JSON.stringify(p.details?.rule));
        }
        v.done();
      },
    });
  },
});

const lifecycleCases: Case[] = [
  defineCase({
    id: 'testee/exits-zero-at-end-of-input',
    statements: ['TST-7'],
    async run(ctx) {
      const t = await ctx.testee();
      t.conn.send({ type: 'PING', header: { id: 'last' } });
      t.conn.end();
      await ctx.expectMessage(t.conn, 'the echo of the last PING before exiting', (m) => m.header.re === 'last');
      await ctx.expectClosed(t.conn, 'the testee to close its output at end of input');
      const code = await Promise.race([t.conn.exitCode(), new Promise<'running'>((r) => setTimeout(() => r('running'), ctx.timeoutMs))]);
      if (code !== 0) throw new CaseFailure('the testee did not exit with status 0 at end of input', '0', String(code));
    },
  }),
];

export function testeeCases(): Case[] {
  return [...lifecycleCases, ...fixtureCases(), ...testeeCodecCases(), propertyCase('json'), propertyCase('cbor'), mutationCase];
}
