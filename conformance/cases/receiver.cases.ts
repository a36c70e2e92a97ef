/**
 * What a peer must do as the receiver of the frames a broker writes to it, for the roles that receive
 * them: a client under test (conformance --listen), an engine and an instrument worker on stdio. The
 * check table's steps 1 to 8 on every frame (each invalid fixture vector sent after the handshake must
 * be answered with the vector's ERROR), max_frame at its limit and one past it, any division of the byte
 * stream into reads, a burst that fills the OS buffers, ids JSON must escape, CBOR that INIT_ACK did not
 * choose, responses and types that cannot come from a broker, unknown header keys, and ERRORs that are
 * never answered. Designed from how receivers go wrong: a read taken for a frame, a limit checked with
 * `>=`, a body awaited before its length is checked, a partial write's rest dropped, a header written by
 * concatenation, any supported encoding decoded, a response matched by type alone, a broker-bound type
 * refused as merely unimplemented, an ERROR answered, a closing fault that does not close.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { payloadFromFixture } from '../../reference/codec/payload.js';
import { messageByName, reachesClient } from '../../reference/codec/catalog.js';
import { DEFAULT_LIMITS, MESSAGES, type ErrorName, type MessageName } from '../../spec/generated/catalog.js';
import { summarize } from './context.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext } from './context.js';
import type { WireConnection } from '../wire/connection.js';
import { vectors, isStatementId, refusalOf } from './testee-vectors.js';
import type { MessageMatch } from '../replay/script.js';

/** A peer under test after its handshake, as the receiver of what the harness writes. */
export interface ReceiverSession {
  conn: WireConnection;
  /** Its INIT payload. */
  init: Record<string, unknown>;
}

/**
 * What a case needs INIT_ACK to choose: `cbor` (skipping the case for a peer that did not offer it), so
 * that CBOR frames pass step 5 and reach the payload checks; `json`, whatever the peer offered; `either`,
 * what the suite's handshake chooses on its own.
 */
export type AckEncoding = 'cbor' | 'json' | 'either';

/** Opens a session with the peer, its INIT_ACK choosing as `ack` asks. */
export type OpenReceiver = (ctx: CaseContext, ack: AckEncoding) => Promise<ReceiverSession>;

/** The max_frame the peer announced in its INIT (LIM-1), the spec's default when it gave none. */
function announcedMaxFrame(session: ReceiverSession): number {
  const given = session.init['max_frame'];
  return typeof given === 'number' ? given : DEFAULT_LIMITS.max_frame;
}

/** A client under test (conformance --listen) after an INIT_ACK of the harness. */
const openClient: OpenReceiver = async (ctx, ack) => {
  const { conn, init } = await ctx.client({ ack: false });
  const payload = init.payload as Record<string, unknown>;
  const offered = Array.isArray(payload['encodings']) ? payload['encodings'].map(String) : [];
  if (ack === 'cbor' && !offered.includes('cbor')) throw new CaseSkipped('the client does not offer cbor in its INIT');
  ctx.ackClient(conn, init, ack === 'cbor' ? 'cbor' : 'json');
  return { conn, init: payload };
};

/** One frame with a JSON header and the given payload bytes, unchecked. */
function rawFrame(type: MessageName, header: Record<string, unknown>, payload: Uint8Array, encoding: 'json' | 'cbor' = 'json'): Uint8Array {
  return encodeFrame(encodeEnvelope(messageByName(type).code, encoding, header as { id: string }, payload));
}

/** The first example payload of a catalog type, as the application value (its ndarrays and 64-bit integers decoded). */
function examplePayload(type: MessageName): unknown {
  const examples = messageByName(type).examples as unknown[] | undefined;
  if (!examples || examples.length === 0) throw new Error(`${type} has no example payload in the catalog`);
  return payloadFromFixture(messageByName(type), examples[0]);
}

/**
 * Every invalid fixture vector (fixtures/frames/invalid.json), sent after the handshake: the peer is
 * the final receiver of what a broker writes to it, so steps 1 to 8 are its own and the answer is the
 * vector's ERROR, as from a testee (TST-5). CBOR vectors need CBOR negotiated; vectors made for a small
 * max_frame run only against a peer that announced that max_frame.
 */
const refusalCases = (role: string, open: OpenReceiver): Case[] => vectors('invalid.json').map((v) => {
  const refusal = refusalOf(v);
  return defineCase({
    id: `errors/${role}-refuses/${v.id.replace('frame/invalid/', '')}`,
    statements: [...new Set(['ERR-1', 'ERR-2', 'ERR-3', v.closes ? 'ERR-4' : 'ERR-5', ...v.spec.filter(isStatementId)])],
    async run(ctx) {
      const session = await open(ctx, refusal.cbor ? 'cbor' : 'either');
      if (v.max_frame !== undefined && announcedMaxFrame(session) !== v.max_frame) {
        throw new CaseSkipped(`the vector is for a receiver whose max_frame is ${v.max_frame}; the ${role} announced ${announcedMaxFrame(session)}`);
      }
      session.conn.sendRaw(refusal.bytes, `fixture ${v.id}: ${v.description}`);
      await ctx.expectError(session.conn, refusal.code, { statement: 'ERR-1', ...refusal.expectation });
    },
  });
});

/**
 * max_frame at the limit and one past it (FRM-3, LIM-3), against the max_frame the peer announced.
 * At the limit: a PING whose body is exactly max_frame bytes, its payload present where PING has
 * none, so the answer is SCHEMA_VIOLATION (ENC-4, decided without decoding the payload) and not
 * FRAME_TOO_LARGE. One past: the length prefix alone; the peer
 * must refuse it before any byte of the body arrives, `details.limit` naming its max_frame.
 */
const maxFrameCases = (role: string, open: OpenReceiver): Case[] => [
  defineCase({
    id: `framing/${role}-max-frame/exactly`,
    statements: ['FRM-3', 'LIM-3', 'ENC-4'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const limit = announcedMaxFrame(session);
      const id = 'at-max-frame';
      const empty = encodeEnvelope(messageByName('PING').code, 'json', { id }, new Uint8Array(0)).length;
      session.conn.sendRaw(rawFrame('PING', { id }, new Uint8Array(limit - empty).fill(0x20)), `PING whose body is exactly the ${role}'s max_frame of ${limit} bytes, with a payload`);
      // Up to 16 MiB: the answer's bound starts once the client has taken the whole frame.
      await session.conn.drained();
      await ctx.expectError(session.conn, 'SCHEMA_VIOLATION', { statement: 'FRM-3', re: id, path: '', rule: 'empty', detailsStatement: 'ENC-4' });
    },
  }),
  defineCase({
    id: `framing/${role}-max-frame/one-past`,
    statements: ['FRM-3', 'LIM-3', 'SEC-5'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const limit = announcedMaxFrame(session);
      const prefix = new Uint8Array(4);
      new DataView(prefix.buffer).setUint32(0, limit + 1);
      session.conn.sendRaw(prefix, `length prefix ${limit + 1}, one past the ${role}'s max_frame, and no body`);
      const error = await ctx.expectError(session.conn, 'FRAME_TOO_LARGE', { statement: 'FRM-3' });
      const given = (error.payload as { details?: { limit?: unknown } }).details?.limit;
      if (given !== limit) throw new CaseFailure(`FRAME_TOO_LARGE must give details.limit ${limit}, the ${role}'s max_frame (FRM-3); it gives ${JSON.stringify(given)}`, String(limit), JSON.stringify(given));
    },
  }),
];

/** PINGs the peer must answer in order, whatever the reads they arrive in (FRM-5). */
function pings(prefix: string, n: number): { ids: string[]; bytes: Uint8Array } {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
  return { ids, bytes: Buffer.concat(ids.map((id) => encodeMessageFrame({ type: 'PING', header: { id } }))) };
}

async function expectPongs(ctx: CaseContext, session: ReceiverSession, ids: string[], how: string, statement = 'FRM-5'): Promise<void> {
  for (const id of ids) await ctx.expectMessage(session.conn, `PONG with re=${id} (${how}, ${statement})`, { name: 'PONG', re: id } satisfies MessageMatch);
}

/** Writes `bytes` in the pieces that end at `cuts`, 20 ms apart, so that each arrives in a read of its own. */
async function writeInPieces(session: ReceiverSession, bytes: Uint8Array, cuts: number[], note: string): Promise<void> {
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    session.conn.sendRaw(bytes.subarray(from, to), `${note}: bytes ${from}..${to}`);
    from = to;
    if (from < bytes.length) await sleep(20);
  }
}

const divisionCases = (role: string, open: OpenReceiver): Case[] => [
  defineCase({
    id: `framing/${role}-any-division/coalesced`,
    statements: ['FRM-5', 'HS-9'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const { ids, bytes } = pings('together', 3);
      session.conn.sendRaw(bytes, 'three PINGs in one write');
      await expectPongs(ctx, session, ids, 'three frames in one read');
    },
  }),
  defineCase({
    id: `framing/${role}-any-division/split-every-byte`,
    statements: ['FRM-5', 'HS-9'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const { ids, bytes } = pings('bytewise', 1);
      await writeInPieces(session, bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1), 'one PING a byte at a time');
      await expectPongs(ctx, session, ids, 'a frame split at every byte');
    },
  }),
  defineCase({
    id: `framing/${role}-any-division/across-frames`,
    statements: ['FRM-5', 'HS-9'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const { ids, bytes } = pings('across', 3);
      const frame = bytes.length / 3;
      // Inside the first length prefix; then the rest of the first frame with the second's prefix cut
      // in two; then the rest of the second with the third whole.
      await writeInPieces(session, bytes, [2, frame + 2], 'three PINGs split inside their length prefixes');
      await expectPongs(ctx, session, ids, 'reads that end inside length prefixes');
    },
  }),
];

/**
 * PINGs whose ids hold the characters a JSON writer must escape, each alone and together (REQ-4, BODY-4:
 * any string of 1 to 128 bytes): the PONG's `re` must be the id, its header still JSON. Designed from
 * a peer that writes its header by concatenation, or escapes one character only when another is there.
 */
const ESCAPED_IDS: readonly (readonly [string, string])[] = [['quote', '"'], ['backslash', '\\'], ['control', '\u0001\u001f'], ['escapes', '"quoted"\\\n']];
const idEchoCases = (role: string, open: OpenReceiver): Case[] => ESCAPED_IDS.map(([slug, id]) => defineCase({
  id: `requests/${role}-pong-re-escaped/id:${slug}`,
  statements: ['REQ-4', 'HS-9', 'BODY-4'],
  async run(ctx) {
    const session = await open(ctx, 'either');
    session.conn.send({ type: 'PING', header: { id } });
    await ctx.expectMessage(session.conn, `PONG with re=${JSON.stringify(id)}`, { name: 'PONG', re: id } satisfies MessageMatch);
  },
}));

/**
 * The burst case's PINGs, each with an id of 120 bytes: their PONGs (about 4.6 MB together) overfill a
 * pipe's 64 KiB and what Linux holds for a loopback socket nobody reads (about 4 MB, the send buffer's
 * autotuned maximum), so the peer's own writes must wait.
 */
const BURST_PINGS = 30_000;
const BURST_ID_BYTES = 120;
/**
 * How long the harness holds its reading: long enough for a peer on a loaded machine to write past the
 * 4 MB (a Node client took longer than 500 ms under CI's load, so its writes never had to wait).
 */
const BURST_HOLD_MS = 2000;

/**
 * Many PINGs in one write while the harness does not read (HS-9, FRM-1, FRM-6): the PONGs fill the OS
 * buffers between the peer and the harness, so the peer meets a write that blocks or takes only part of
 * its bytes. Every PONG must still arrive, whole and in order, once the harness reads again. Designed
 * from writers that ignore a partial write's count or drop a frame on EAGAIN.
 */
const burstCases = (role: string, open: OpenReceiver): Case[] => [
  defineCase({
    id: `framing/${role}-burst-past-os-buffers`,
    statements: ['FRM-6', 'FRM-1', 'HS-9'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const { ids, bytes } = pings('burst'.padEnd(BURST_ID_BYTES - 6, '-'), BURST_PINGS);
      session.conn.pauseReading();
      session.conn.sendRaw(bytes, `${BURST_PINGS} PINGs in one write, the harness not reading for ${BURST_HOLD_MS} ms`);
      // Not `drained()`: a peer blocked on its full output may stop reading its input until the harness reads.
      await sleep(BURST_HOLD_MS);
      session.conn.resumeReading();
      await expectPongs(ctx, session, ids, `${BURST_PINGS} PINGs answered while the harness held its reading`, 'FRM-6');
    },
  }),
];

/** The requests a broker may write to a client, but PING and SHUTDOWN, which have cases of their own. */
const REQUESTS_TO_CLIENTS: readonly MessageName[] = MESSAGES.filter((m) => m.kind === 'request' && reachesClient(m) && m.name !== 'PING' && m.name !== 'SHUTDOWN').map((m) => m.name);

/**
 * One request of every type a broker may write to a client, each with its catalog example, in one write
 * (REQ-1): each must get exactly one answer, its response type or an ERROR, with `re` its id (REQ-4),
 * whether or not the peer implements the type (ERR-8: UNSUPPORTED). A PING then must be answered with
 * no second answer before its PONG. Designed from peers that drop what they do not implement, answer an
 * unimplemented request twice (an ERROR, then a default response), or answer with the wrong `re`.
 */
const answerEveryRequestCases = (role: string, open: OpenReceiver): Case[] => [
  defineCase({
    id: `requests/${role}-every-request-answered-once`,
    statements: ['REQ-1', 'REQ-4', 'ERR-8'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const waiting = new Map(REQUESTS_TO_CLIENTS.map((type) => [`each-${type.toLowerCase()}`, type]));
      for (const [id, type] of waiting) session.conn.send({ type, header: { id }, payload: examplePayload(type) } as Parameters<typeof session.conn.send>[0]);
      const answered = new Set<string>();
      while (waiting.size > 0) {
        const m = await ctx.expectMessage(session.conn, `an answer to each request, still none to ${[...waiting.keys()].join(', ')} (REQ-1)`, () => true);
        if (messageByName(m.name).kind === 'notification') continue; // an event of the peer's own
        const re = m.header.re;
        if (re !== undefined && answered.has(re)) throw new CaseFailure(`the request ${re} was answered a second time, by ${summarize(m)} (REQ-1)`, 'one answer', 'two');
        const type = re === undefined ? undefined : waiting.get(re);
        if (type === undefined) throw new CaseFailure(`${summarize(m)} answers none of the harness's requests (REQ-4: re must be the request's id)`, `re one of ${[...waiting.keys()].join(', ')}`, String(re));
        const response = messageByName(type).response;
        if (m.name !== response && m.name !== 'ERROR') throw new CaseFailure(`${type} was answered with ${m.name}, neither its response type ${String(response)} nor ERROR (REQ-1)`, `${String(response)} or ERROR`, m.name);
        waiting.delete(re!);
        answered.add(re!);
      }
      await ctx.expectOpen(session.conn, 'no second answer to any request (REQ-1), then PONG');
    },
  }),
];

/**
 * A response the peer never asked for (REQ-5): by `re` no open request of the peer matches, and
 * the type alone must not make it look answered. Also a response without `re`.
 */
const UNSOLICITED: readonly (readonly [string, MessageName, { id: string; re?: string }])[] = [
  ['pong', 'PONG', { id: 'stray-pong', re: 'never-pinged' }],
  ['pong-without-re', 'PONG', { id: 'stray-pong-no-re' }],
  ['shutdown-ack', 'SHUTDOWN_ACK', { id: 'stray-shutdown-ack', re: 'never-shut-down' }],
];
const unsolicitedCases = (role: string, open: OpenReceiver): Case[] => UNSOLICITED.map(([slug, type, header]) => defineCase({
  id: `requests/${role}-unsolicited-response/${slug}`,
  statements: ['REQ-5'],
  async run(ctx) {
    const session = await open(ctx, 'either');
    const payload = messageByName(type).payload === null ? undefined : examplePayload(type);
    session.conn.send({ type, header, ...(payload !== undefined ? { payload } : {}) } as Parameters<typeof session.conn.send>[0]);
    await ctx.expectError(session.conn, 'UNEXPECTED_MESSAGE', { statement: 'REQ-5', re: header.id });
  },
}));

/** Valid requests of types that only a client sends to a broker (REQ-6): a broker never writes them. */
const wrongDirectionCases = (role: string, open: OpenReceiver): Case[] => (['STATS_REQUEST', 'SERVICE_REGISTER', 'BUS_SUBSCRIBE'] as const satisfies readonly MessageName[]).map((type) => defineCase({
  id: `requests/${role}-wrong-direction/type:${type}`,
  statements: ['REQ-6'],
  async run(ctx) {
    const session = await open(ctx, 'either');
    const id = `wrong-way-${type.toLowerCase()}`;
    session.conn.send({ type, header: { id }, payload: examplePayload(type) } as Parameters<typeof session.conn.send>[0]);
    await ctx.expectError(session.conn, 'UNEXPECTED_MESSAGE', { statement: 'REQ-6', re: id });
  },
}));

const headerCases = (role: string, open: OpenReceiver): Case[] => [
  defineCase({
    id: `body/${role}-ignores-unknown-header-keys`,
    statements: ['BODY-6', 'HS-9'],
    async run(ctx) {
      const session = await open(ctx, 'either');
      const id = 'with-extra-keys';
      session.conn.sendRaw(rawFrame('PING', { id, 'x-trace': 'abc', later: { nested: [1, 2] }, ts: '1764547200000' }, new Uint8Array(0)), 'PING with header keys the spec does not define');
      await ctx.expectMessage(session.conn, `PONG with re=${id}: unknown header keys are ignored (BODY-6)`, { name: 'PONG', re: id } satisfies MessageMatch);
    },
  }),
];

/**
 * CBOR on a connection whose INIT_ACK chose JSON (ENC-3): UNSUPPORTED_ENCODING, the connection kept,
 * whether or not the peer offered CBOR in its INIT. Designed from a receiver that decodes any encoding
 * it supports, negotiated or not, and from one that checks the encoding only when it decodes a payload
 * (step 5 comes before step 6). The payload variant is a SHUTDOWN, which every role takes from a broker,
 * so a peer that decodes it starts to shut down instead.
 */
const CBOR_UNNEGOTIATED: readonly (readonly [string, MessageName, Uint8Array, string])[] = [
  ['without-payload', 'PING', new Uint8Array(0), 'PING with encoding bits 1 (CBOR) and no payload'],
  ['with-payload', 'SHUTDOWN', Uint8Array.of(0xa1, 0x68, ...new TextEncoder().encode('drain_ms'), 0x19, 0x03, 0xe8), 'SHUTDOWN with the CBOR payload {drain_ms: 1000}'],
];
const encodingCases = (role: string, open: OpenReceiver): Case[] => CBOR_UNNEGOTIATED.map(([slug, type, payload, what]) => defineCase({
  id: `encodings/${role}-cbor-not-negotiated/${slug}`,
  statements: ['ENC-3', 'ERR-5'],
  async run(ctx) {
    const session = await open(ctx, 'json');
    const id = `cbor-unasked-${slug}`;
    session.conn.sendRaw(rawFrame(type, { id }, payload, 'cbor'), `${what}, on a connection whose INIT_ACK chose JSON`);
    await ctx.expectError(session.conn, 'UNSUPPORTED_ENCODING', { statement: 'ENC-3', re: id, closes: false });
  },
}));

/**
 * ERRORs the peer must not answer (ERR-6), even one whose code it does not know (ERR-10) or one that
 * is itself faulty; the next frame from the peer must be the PONG to the harness's probe.
 */
const errorCases = (role: string, open: OpenReceiver): Case[] => ([
  ['unknown-code', '{"code":"NOT_A_REGISTRY_CODE","message":"a code of a later version","definite":true}', ['ERR-6', 'ERR-10']],
  ['faulty', `{"code":${JSON.stringify('INTERNAL' satisfies ErrorName)},"message":"definite is missing"}`, ['ERR-6']],
] as const).map(([slug, payload, statements]) => defineCase({
  id: `errors/${role}-ignores-error/${slug}`,
  statements: [...statements],
  async run(ctx) {
    const session = await open(ctx, 'either');
    ctx.sendUnchecked(session.conn, 'ERROR', { id: `error-${slug}`, re: 'never-sent' }, payload);
    await ctx.expectOpen(session.conn, `no answer to the ERROR (${slug}), then PONG`);
  },
}));

/** The receiver cases for peers of one role (its name in the case ids), each session opened by `open`. */
export function receiverCases(role: string, open: OpenReceiver): Case[] {
  return [...maxFrameCases(role, open), ...divisionCases(role, open), ...headerCases(role, open), ...encodingCases(role, open), ...idEchoCases(role, open), ...burstCases(role, open), ...answerEveryRequestCases(role, open), ...unsolicitedCases(role, open),
    ...wrongDirectionCases(role, open), ...errorCases(role, open), ...refusalCases(role, open)];
}

/** The client suite's receiver cases (conformance --listen). */
export const clientReceiverCases = (): Case[] => receiverCases('client', openClient);
