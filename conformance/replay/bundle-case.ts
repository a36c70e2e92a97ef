/**
 * A bundle as a case: its steps played in order through the same helpers that judged them when they
 * were recorded (an ERROR expectation is checked by expectError, an echo by expectEcho), so a replay
 * gives the verdict the case would give, without the case's generator.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Case } from '../cases/model.js';
import { CaseTimeout } from '../cases/model.js';
import type { CaseContext, TesteeSession } from '../cases/context.js';
import type { WireConnection } from '../wire/connection.js';
import type { Message } from '../../reference/codec/message.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { decodeEnvelope, encodeEnvelope, ENCODINGS } from '../../reference/codec/body.js';
import { encodeFrame, LENGTH_PREFIX_BYTES } from '../../reference/codec/frame.js';
import { expectEcho } from '../cases/testee.cases.js';
import type { Bundle } from './bundle.js';
import type { Step } from './script.js';
import { lookupMessage, registryName } from '../../reference/codec/catalog.js';
import type { ErrorName, MessageName } from '../../spec/generated/catalog.js';

/** A replay reached a step it cannot judge: inconclusive (exit 2), never a pass. */
/** A recorded type (a code, or a name this catalog has); a name it lacks cannot be replayed here. */
function typeOf(type: string | number, step: number): MessageName | number {
  if (typeof type === 'number') return type;
  const info = lookupMessage(type);
  if (!info) throw new NotReplayable(`step ${step} sends ${type}, which is not a message type of this catalog`);
  return info.name;
}

/** A recorded ERROR code, which must be a registry name of this catalog. */
function codeOf(code: string, step: number): ErrorName {
  const name = registryName(code);
  if (name === undefined) throw new NotReplayable(`step ${step} expects ERROR ${code}, which is not a name of this error registry`);
  return name;
}

export class NotReplayable extends CaseTimeout {
  override name = 'NotReplayable';
}

/** Gaps between consecutive sends above this are kept (a split frame's pause); at most MAX_GAP_MS. */
const MIN_GAP_MS = 20;
const MAX_GAP_MS = 10_000;

/** The frame with its header's `re` set to `re`; the payload bytes stay as they were. */
export function withRe(frame: Uint8Array, re: string): Uint8Array {
  const body = frame.subarray(LENGTH_PREFIX_BYTES);
  const envelope = decodeEnvelope(body);
  return encodeFrame(encodeEnvelope(envelope.type, ENCODINGS[envelope.encodingBits]!, { ...envelope.header, re }, envelope.payload));
}

/** The case a bundle replays: its id, section and statements; it counts as required whatever its level, since it was asked for. */
export function bundleCase(bundle: Bundle): Case {
  const c = bundle.case;
  return {
    id: c.id, section: c.section, level: 'required', statements: c.statements, requirement: c.requirement,
    run: async (ctx) => {
      await play(ctx, bundle.steps);
      // Steps that ran out of a bundle marked not replayable are not the case: what it did beyond them (a
      // check in code, a peer driven another way, such as a cluster the case owned) was never recorded.
      if (!bundle.replayable) throw new NotReplayable(`the bundle's ${bundle.steps.length} recorded steps passed, but the case did more that no bundle can hold: ${bundle.not_replayable ?? 'no reason recorded'} (replay the case itself with the command in its report)`);
    },
  };
}

async function play(ctx: CaseContext, steps: Step[]): Promise<void> {
  const conns: WireConnection[] = [];
  const testees: TesteeSession[] = [];
  /** The message each step read, for a later send that answers it (`re_from`). */
  const read: (Message | undefined)[] = [];
  const connOf = (s: Step): WireConnection => {
    const conn = s.conn === undefined ? undefined : conns[s.conn];
    if (!conn) throw new Error(`bundle step ${s.op} uses connection ${String(s.conn)}, which no step opened`);
    return conn;
  };
  for (const [i, s] of steps.entries()) {
    const previous = steps[i - 1];
    if (s.op === 'send' && previous?.op === 'send' && s.t - previous.t > MIN_GAP_MS) await sleep(Math.min(s.t - previous.t, MAX_GAP_MS));
    switch (s.op) {
      case 'open':
        conns[s.conn!] = await ctx.open();
        break;
      case 'testee': {
        const t = await ctx.testee(undefined, { json: s.json });
        conns[s.conn!] = t.conn;
        testees[s.conn!] = t;
        break;
      }
      case 'session':
        conns[s.conn!] = (await ctx.session(undefined, { ...s.overrides, client_id: s.client_id })).conn;
        break;
      case 'client': {
        const client = await ctx.client({ ack: s.ack });
        conns[s.conn!] = client.conn;
        read[i] = client.init;
        break;
      }
      case 'send': {
        let bytes: Uint8Array = s.message
          ? encodeMessageFrame({ ...s.message, type: typeOf(s.message.type, i), header: s.message.header as { id: string }, payload: { ...(s.message.payload as object), ...(ctx.options.token !== undefined ? { token: ctx.options.token } : {}) } })
          : Buffer.from(s.base64 ?? '', 'base64');
        if (s.re_from !== undefined) {
          const answered = read[s.re_from];
          if (!answered) throw new NotReplayable(`step ${i} answers the message read at step ${s.re_from}, which this replay did not read`);
          bytes = withRe(bytes, answered.header.id);
        }
        connOf(s).sendRaw(bytes, s.note);
        break;
      }
      case 'expect':
        read[i] = await ctx.expectMessage(connOf(s), s.what, s.match, s.timeout_ms, s.start ? { start: true } : {});
        break;
      case 'error':
        read[i] = await ctx.expectError(connOf(s), codeOf(s.code, i), s.options);
        break;
      case 'closed':
        await ctx.expectClosed(connOf(s), s.what);
        break;
      case 'probe-open':
        await ctx.expectOpen(connOf(s), s.what, s.answer);
        break;
      case 'echo': {
        const t = testees[s.conn!];
        if (!t) throw new Error(`bundle step ${i} expects an echo on connection ${String(s.conn)}, which is not a testee`);
        read[i] = await expectEcho(ctx, t, s.re, s.type, s.encoding, s.payload);
        break;
      }
      case 'half-close':
        connOf(s).end();
        break;
      case 'close':
        connOf(s).destroy();
        break;
      case 'opaque':
        throw new NotReplayable(`the bundle cannot be replayed past step ${i}: ${s.what}; the steps before it passed (replay the case itself with the command in its report)`);
    }
  }
}
