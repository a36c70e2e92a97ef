/**
 * Client-role cases (conformance --listen): the harness plays the broker and checks what every
 * client must do whatever its purpose: INIT first and alone until INIT_ACK, PINGs answered, faulty
 * frames answered with the right ERROR, ERRORs never answered, SHUTDOWN acknowledged after what came
 * before it, with its counts. And what a client reads around its handshake and its faults: frames in
 * the read of INIT_ACK and INIT_ACK split over reads, its own max_frame whatever INIT_ACK announces,
 * the encoding INIT_ACK chose for what it writes and JSON taken whatever it chose, frames in the read
 * of a fault that keeps the connection, an ERROR without `re`, a SHUTDOWN without drain_ms, and ids
 * taken from the parsed header (nested and look-alike keys, 128 bytes spelled with escapes).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { messageByName } from '../../reference/codec/catalog.js';
import { isLaterVersion } from '../../reference/codec/versions.js';
import { DEFAULT_LIMITS, MIN_LIMITS, type ErrorName, type MessageName } from '../../spec/generated/catalog.js';
import type { Message } from '../../reference/codec/message.js';
import type { MessageMatch } from '../replay/script.js';
import type { CaseContext } from './context.js';
import type { WireConnection } from '../wire/connection.js';
import { harnessInitAck } from './init-ack.js';
import { summarize } from './context.js';

/** INIT's fields in version 1.0: the catalog's INIT payload properties without a later `since`. */
const INIT_1_0_FIELDS = new Set(Object.entries((messageByName('INIT').payload as { properties: Record<string, { since?: string }> }).properties)
  .filter(([, s]) => s.since === undefined || !isLaterVersion(s.since, '1.0')).map(([k]) => k));

/** One frame whose header block is the given JSON text, as written (escapes, spacing and key order kept), and no payload. */
function frameWithHeaderText(type: MessageName, headerText: string): Uint8Array {
  return encodeFrame(encodeEnvelope(messageByName(type).code, 'json', new TextEncoder().encode(headerText), new Uint8Array(0)));
}

/** Writes `bytes` in the pieces that end at `cuts`, 20 ms apart, so that each arrives in a read of its own. */
async function writeInPieces(conn: WireConnection, bytes: Uint8Array, cuts: number[], note: string): Promise<void> {
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    conn.sendRaw(bytes.subarray(from, to), `${note}: bytes ${from}..${to}`);
    from = to;
    if (from < bytes.length) await sleep(20);
  }
}

/**
 * Expects, in either order (a receiver may answer a request before an ERROR it owes), the ERROR `code`
 * answering a faulty frame (`re` its id, or none when it had no readable id) and the PONG to the PING
 * written after that frame.
 */
async function expectErrorAndPong(ctx: CaseContext, conn: WireConnection, code: ErrorName, re: string | null, pingId: string, how: string): Promise<void> {
  let error: Message | undefined;
  let pong = false;
  while (error === undefined || !pong) {
    const m = await ctx.expectMessage(conn, `ERROR ${code} and PONG with re=${pingId}, in either order, ${[error === undefined ? 'the ERROR' : '', pong ? '' : 'the PONG'].filter((x) => x !== '').join(' and ')} still missing (${how})`,
      (x) => (error === undefined && x.name === 'ERROR') || (!pong && x.name === 'PONG' && x.header.re === pingId));
    if (m.name !== 'ERROR') {
      pong = true;
      continue;
    }
    error = m;
    const given = (m.payload as { code?: unknown }).code;
    if (given !== code) throw new CaseFailure(`expected ERROR ${code} for the faulty frame; got ${summarize(m)}`, code, String(given));
    if (re === null ? m.header.re !== undefined : m.header.re !== re) {
      throw new CaseFailure(`ERROR ${code} must carry ${re === null ? 'no re (the faulty frame had no readable id)' : `re=${JSON.stringify(re)}`} (ERR-3); it has ${m.header.re === undefined ? 'none' : `re=${JSON.stringify(m.header.re)}`}`, re === null ? 'no re' : re, String(m.header.re));
    }
  }
}

/** A faulty frame that keeps the connection open, and the ERROR that answers it (`re` null: no readable id). */
const NON_CLOSING_FAULTS: readonly (readonly [string, () => Uint8Array, ErrorName, string | null, string, string])[] = [
  ['unknown-type', () => encodeFrame(encodeEnvelope(0x0a, 'json', { id: 'fault-odd-type' }, new Uint8Array(0))), 'UNKNOWN_TYPE' satisfies ErrorName, 'fault-odd-type', 'ERR-7', 'a frame of type 0x0a'],
  ['invalid-header', () => frameWithHeaderText('PING', '{"id":""}'), 'INVALID_HEADER' satisfies ErrorName, null, 'BODY-2', 'a PING whose id is empty'],
  ['invalid-payload', () => encodeFrame(encodeEnvelope(messageByName('SHUTDOWN').code, 'json', { id: 'fault-json' }, new TextEncoder().encode('{"drain_ms":'))), 'INVALID_PAYLOAD' satisfies ErrorName, 'fault-json', 'ENC-6', 'a SHUTDOWN whose JSON payload is cut short'],
];

/**
 * PING headers written as no codec of the harness writes them, each with the id the PONG's `re` must
 * equal (REQ-4): a key named `id` nested in an unknown key before the frame's own id, a key that ends in
 * `id`, and an id of exactly 128 bytes of UTF-8 (BODY-4) spelled with JSON escapes (surrogate pairs, `\/`,
 * `\u0065`) in 386 bytes, with spaces around the colon. Designed from receivers that find the id by a
 * text search of the header, and from ones that measure the id in its escaped spelling.
 */
const SPELLED_ID = `${'\\ud83d\\ude00'.repeat(31)}\\u00e9\\/\\u0065`;
const HEADER_SPELLINGS: readonly (readonly [string, string, string, string[]])[] = [
  ['nested-id-first', '{"trace":{"id":"decoy-nested"},"id":"nested-real"}', 'nested-real', ['REQ-4', 'BODY-6', 'HS-9']],
  ['key-ending-in-id', '{"x-request-id":"decoy-key","id":"key-real"}', 'key-real', ['REQ-4', 'BODY-6', 'HS-9']],
  ['escaped-128-bytes', `{ "id" : "${SPELLED_ID}" }`, JSON.parse(`"${SPELLED_ID}"`) as string, ['REQ-4', 'BODY-4', 'HS-9']],
];

export const clientCases: Case[] = [
  defineCase({
    id: 'handshake/client-first-frame-is-json-init',
    statements: ['HS-1'],
    async run(ctx) {
      const { init } = await ctx.client();
      if (init.encoding !== 'json') throw new CaseFailure('the INIT is not JSON-encoded', 'json', init.encoding);
    },
  }),
  defineCase({
    id: 'handshake/client-waits-for-init-ack',
    statements: ['HS-8'],
    async run(ctx) {
      const { conn, init } = await ctx.client({ ack: false });
      const early = await conn.next(Math.min(ctx.timeoutMs, 1000));
      if (early.kind === 'message') throw new CaseFailure(`the client sent ${early.message.name} before INIT_ACK`, 'nothing until INIT_ACK', early.message.name);
      ctx.ackClient(conn, init);
      await ctx.expectOpen(conn, 'the client answering after INIT_ACK');
    },
  }),
  ...['0', ' ', 'ünïcødé', 'z'.repeat(128)].map((id, i) => defineCase({
    id: `handshake/client-answers-ping/id:${['zero', 'space', 'unicode', '128-bytes'][i]}`,
    statements: ['HS-9', 'REQ-4'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'PING', header: { id } });
      await ctx.expectMessage(conn, `PONG with re=${JSON.stringify(id)}`, (m) => m.name === 'PONG' && m.header.re === id);
    },
  })),
  defineCase({
    id: 'errors/client-unknown-type',
    statements: ['ERR-7'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(encodeFrame(encodeEnvelope(0x0a, 'json', { id: 'odd-type' }, new Uint8Array(0))), 'type 0x0a');
      await ctx.expectError(conn, 'UNKNOWN_TYPE', { re: 'odd-type', closes: false });
    },
  }),
  defineCase({
    id: 'errors/client-does-not-answer-error',
    statements: ['ERR-6'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'ERROR', header: { id: 'stray-error', re: 'never-sent' }, payload: { code: 'INTERNAL' satisfies ErrorName, message: 'harness test', definite: false } });
      // The next thing the client sends must be the PONG to this PING, not an answer to the ERROR.
      await ctx.expectOpen(conn, 'no answer to the ERROR, then PONG');
    },
  }),
  defineCase({
    id: 'framing/client-refuses-oversized-length',
    statements: ['FRM-3'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 'length prefix 0xFFFFFFFF');
      await ctx.expectError(conn, 'FRAME_TOO_LARGE', { closes: true });
    },
  }),
  defineCase({
    id: 'handshake/client-acknowledges-shutdown',
    statements: ['HS-15'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'SHUTDOWN', header: { id: 'broker-bye' }, payload: { reason: 'conformance test', drain_ms: 1000 } });
      const ack = await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=broker-bye', (m) => m.name === 'SHUTDOWN_ACK' && m.header.re === 'broker-bye');
      // The harness sent the client no request: nothing was drained, nothing timed out.
      const p = ack.payload as { drained?: unknown; timed_out?: unknown };
      if (p.drained !== 0 || (p.timed_out ?? 0) !== 0) {
        throw new CaseFailure(`SHUTDOWN_ACK counts drained=${JSON.stringify(p.drained)} timed_out=${JSON.stringify(p.timed_out ?? 0)}, though the client had received no request (HS-15)`, 'drained=0 timed_out=0', `drained=${JSON.stringify(p.drained)} timed_out=${JSON.stringify(p.timed_out ?? 0)}`);
      }
      await ctx.expectClosed(conn, 'the client to close after SHUTDOWN_ACK');
    },
  }),
  // A client that looks for SHUTDOWN first in what it read, or acknowledges before it answers.
  defineCase({
    id: 'handshake/client-answers-before-shutdown-ack',
    statements: ['HS-14', 'HS-15', 'HS-9'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(Buffer.concat([
        encodeMessageFrame({ type: 'PING', header: { id: 'before-bye' } }),
        encodeMessageFrame({ type: 'SHUTDOWN', header: { id: 'broker-bye' }, payload: { reason: 'conformance test', drain_ms: 1000 } }),
      ]), 'PING, then SHUTDOWN, in one write');
      await ctx.expectMessage(conn, 'PONG with re=before-bye: the PING came before the SHUTDOWN (HS-14)', { name: 'PONG', re: 'before-bye' } satisfies MessageMatch);
      await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=broker-bye once the PING is answered (HS-15)', { name: 'SHUTDOWN_ACK', re: 'broker-bye' } satisfies MessageMatch);
      await ctx.expectClosed(conn, 'the client to close after SHUTDOWN_ACK');
    },
  }),
  defineCase({
    id: 'versioning/client-init-of-version-1-0',
    statements: ['VER-4', 'VER-3'],
    async run(ctx) {
      // A field 1.0 does not know also makes the INIT undecodable for a 1.0 receiver (payload objects are
      // closed), which fails this case too; the names are checked for an INIT that decodes.
      const { init } = await ctx.client({ ack: false });
      const fields = Object.keys((init.payload ?? {}) as Record<string, unknown>);
      const later = fields.filter((f) => !INIT_1_0_FIELDS.has(f));
      if (later.length > 0) throw new CaseFailure(`the client's INIT has fields that are not of version 1.0: ${later.join(', ')}; later capabilities go in \`features\``, `only ${[...INIT_1_0_FIELDS].join(', ')}`, later.join(', '));
    },
  }),

  // INIT_ACK and the first frames after it in one read, or INIT_ACK split over reads: designed from
  // clients whose handshake takes one read for the INIT_ACK and hands a fresh buffer to the loop after it.
  defineCase({
    id: 'framing/client-init-ack-division/coalesced',
    statements: ['FRM-5', 'HS-9'],
    async run(ctx) {
      const { conn, init } = await ctx.client({ ack: false });
      conn.sendRaw(Buffer.concat([encodeMessageFrame(harnessInitAck(init)), encodeMessageFrame({ type: 'PING', header: { id: 'with-init-ack' } })]), 'INIT_ACK and a PING in one write');
      await ctx.expectMessage(conn, 'PONG with re=with-init-ack: the PING came in the same read as INIT_ACK (FRM-5)', { name: 'PONG', re: 'with-init-ack' } satisfies MessageMatch);
    },
  }),
  defineCase({
    id: 'framing/client-init-ack-division/split',
    statements: ['FRM-5', 'HS-9'],
    async run(ctx) {
      const { conn, init } = await ctx.client({ ack: false });
      const ack = encodeMessageFrame(harnessInitAck(init));
      const bytes = Buffer.concat([ack, encodeMessageFrame({ type: 'PING', header: { id: 'after-split-ack' } })]);
      // Inside the length prefix, then all of INIT_ACK but its last 3 bytes, then those with the PING.
      await writeInPieces(conn, bytes, [2, ack.length - 3], 'INIT_ACK in three reads, the PING with its last bytes');
      await ctx.expectMessage(conn, 'PONG with re=after-split-ack: INIT_ACK was split over three reads (FRM-5)', { name: 'PONG', re: 'after-split-ack' } satisfies MessageMatch);
    },
  }),
  /**
   * max_frame is the receiver's own (FRM-3), the one it announced in INIT, whatever INIT_ACK announced
   * for the broker: an INIT_ACK announcing another max_frame (the smallest when the client announced
   * more, else the default), then a frame between the two. Above INIT_ACK's but within the client's:
   * a PING of one byte past INIT_ACK's max_frame, its payload present, answered SCHEMA_VIOLATION (ENC-4)
   * and not FRAME_TOO_LARGE. Past the client's: the prefix alone, refused with its own limit. Designed
   * from clients that keep one max_frame and let INIT_ACK overwrite it.
   */
  defineCase({
    id: 'framing/client-max-frame/own-not-init-ack',
    statements: ['FRM-3', 'LIM-3', 'ENC-4'],
    async run(ctx) {
      const { conn, init } = await ctx.client({ ack: false });
      const given = (init.payload as Record<string, unknown>)['max_frame'];
      const own = typeof given === 'number' ? given : DEFAULT_LIMITS.max_frame;
      const brokers = own > MIN_LIMITS.max_frame ? MIN_LIMITS.max_frame : DEFAULT_LIMITS.max_frame;
      const ack = harnessInitAck(init);
      conn.send({ ...ack, payload: { ...(ack.payload as Record<string, unknown>), max_frame: brokers } });
      if (own > brokers) {
        const id = 'past-init-ack-max-frame';
        const empty = encodeEnvelope(messageByName('PING').code, 'json', { id }, new Uint8Array(0)).length;
        conn.sendRaw(encodeFrame(encodeEnvelope(messageByName('PING').code, 'json', { id }, new Uint8Array(brokers + 1 - empty).fill(0x20))),
          `PING whose body is ${brokers + 1} bytes, one past INIT_ACK's max_frame and within the client's ${own}, with a payload`);
        await conn.drained();
        await ctx.expectError(conn, 'SCHEMA_VIOLATION', { statement: 'FRM-3', re: id, path: '', rule: 'empty', detailsStatement: 'ENC-4' });
        return;
      }
      const prefix = new Uint8Array(4);
      new DataView(prefix.buffer).setUint32(0, own + 1);
      conn.sendRaw(prefix, `length prefix ${own + 1}, one past the client's max_frame (INIT_ACK announced ${brokers}), and no body`);
      const error = await ctx.expectError(conn, 'FRAME_TOO_LARGE', { statement: 'FRM-3' });
      const limit = (error.payload as { details?: { limit?: unknown } }).details?.limit;
      if (limit !== own) throw new CaseFailure(`FRAME_TOO_LARGE must give details.limit ${own}, the client's own max_frame, not INIT_ACK's ${brokers} (FRM-3); it gives ${JSON.stringify(limit)}`, String(own), JSON.stringify(limit));
    },
  }),
  /**
   * INIT_ACK chose JSON: every payload the client writes is JSON (ENC-2), whatever it offered first.
   * Designed from clients that write in the encoding they prefer, not the one negotiated.
   */
  defineCase({
    id: 'encodings/client-writes-negotiated-encoding',
    statements: ['ENC-2', 'ERR-7', 'HS-15'],
    async run(ctx) {
      const { conn, init } = await ctx.client({ ack: false });
      ctx.ackClient(conn, init, 'json');
      const json = (m: Message, what: string): void => {
        if (m.encoding !== 'json') throw new CaseFailure(`the client wrote ${what} with a ${m.encoding} payload on a connection whose INIT_ACK chose json (ENC-2)`, 'json', m.encoding);
      };
      conn.sendRaw(encodeFrame(encodeEnvelope(0x0a, 'json', { id: 'odd-type-json' }, new Uint8Array(0))), 'type 0x0a');
      json(await ctx.expectMessage(conn, 'ERROR with re=odd-type-json (ERR-7)', (m) => m.name === 'ERROR' && m.header.re === 'odd-type-json'), 'its ERROR');
      conn.send({ type: 'SHUTDOWN', header: { id: 'json-bye' }, payload: { reason: 'conformance test', drain_ms: 1000 } });
      json(await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=json-bye', { name: 'SHUTDOWN_ACK', re: 'json-bye' } satisfies MessageMatch), 'its SHUTDOWN_ACK');
      await ctx.expectClosed(conn, 'the client to close after SHUTDOWN_ACK');
    },
  }),
  /**
   * INIT_ACK chose CBOR: a JSON payload is still taken (ENC-1), the encoding being each frame's own.
   * Designed from clients that decode every payload in the negotiated encoding.
   */
  defineCase({
    id: 'encodings/client-accepts-json-when-cbor-chosen',
    statements: ['ENC-1', 'HS-15'],
    async run(ctx) {
      const { conn, init } = await ctx.client({ ack: false });
      const offered = (init.payload as { encodings?: unknown }).encodings;
      if (!Array.isArray(offered) || !offered.includes('cbor')) throw new CaseSkipped('the client does not offer cbor in its INIT');
      ctx.ackClient(conn, init, 'cbor');
      conn.send({ type: 'SHUTDOWN', header: { id: 'json-bye-on-cbor' }, payload: { reason: 'conformance test', drain_ms: 1000 }, encoding: 'json' });
      await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=json-bye-on-cbor: a JSON SHUTDOWN on a connection whose INIT_ACK chose cbor (ENC-1)', { name: 'SHUTDOWN_ACK', re: 'json-bye-on-cbor' } satisfies MessageMatch);
      await ctx.expectClosed(conn, 'the client to close after SHUTDOWN_ACK');
    },
  }),
  /**
   * A fault that keeps the connection open, and a PING, in one write: both answered (ERR-5, FRM-5).
   * Designed from receivers that drop the rest of a read once they have answered a faulty frame, as
   * they must after a fault that closes.
   */
  ...NON_CLOSING_FAULTS.map(([slug, frame, code, re, statement, what]) => defineCase({
    id: `errors/client-reads-on-after-error/${slug}`,
    statements: ['ERR-5', 'FRM-5', statement],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(Buffer.concat([frame(), encodeMessageFrame({ type: 'PING', header: { id: `after-${slug}` } })]), `${what}, then a PING, in one write`);
      await expectErrorAndPong(ctx, conn, code, re, `after-${slug}`, `the PING came in the same read as ${what} (ERR-5)`);
    },
  })),
  /**
   * An ERROR without `re` (one answering a frame whose id was unreadable) whose code keeps the
   * connection: not answered (ERR-6), the connection kept (ERR-5). Designed from clients that take an
   * ERROR they cannot correlate for the end of the connection, as it is during the handshake.
   */
  defineCase({
    id: 'errors/client-ignores-error/without-re',
    statements: ['ERR-5', 'ERR-6'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'ERROR', header: { id: 'error-without-re' }, payload: { code: 'INVALID_HEADER' satisfies ErrorName, message: 'a header of the client\'s that had no readable id', definite: true } });
      await ctx.expectOpen(conn, 'no answer to the ERROR without re and the connection kept (ERR-5), then PONG');
    },
  }),
  // drain_ms is optional (HS-14: "when present"): a SHUTDOWN with payload {} is acknowledged. Designed
  // from clients whose SHUTDOWN handler reads drain_ms unconditionally and fails without it.
  defineCase({
    id: 'handshake/client-shutdown-without-drain-ms',
    statements: ['HS-14', 'HS-15'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'SHUTDOWN', header: { id: 'bye-without-drain' }, payload: {} });
      await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=bye-without-drain: a SHUTDOWN without drain_ms (HS-14)', { name: 'SHUTDOWN_ACK', re: 'bye-without-drain' } satisfies MessageMatch);
      await ctx.expectClosed(conn, 'the client to close after SHUTDOWN_ACK');
    },
  }),
  ...HEADER_SPELLINGS.map(([slug, headerText, id, statements]) => defineCase({
    id: `requests/client-pong-re-from-header/${slug}`,
    statements,
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(frameWithHeaderText('PING', headerText), `PING with the header ${headerText.slice(0, 120)}`);
      await ctx.expectMessage(conn, `PONG with re=${JSON.stringify(id)}: the id of the header ${headerText.slice(0, 80)} (REQ-4)`, { name: 'PONG', re: id } satisfies MessageMatch);
    },
  })),
];
