/**
 * A broker against hostile clients (issue 13): payloads nested past the limit, oversized first frames,
 * a client taking a service's name, requests the broker answers itself beyond max_in_flight, and a
 * reader that never reads. Each case fails a broker that goes wrong in the way its comment names.
 */
import { connect, type Socket } from 'node:net';
import { DEFAULT_LIMITS } from '../../reference/codec/index.js';
import { WireConnection } from '../wire/connection.js';
import { socketOf } from '../wire/peer-target.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { inFlightLimitToReach } from './in-flight-limit.js';
import { summarize, type CaseContext, type Session } from './context.js';
import { reasoning } from './runtime-helpers.js';
import { encodeMessageFrame, type Message } from '../../reference/codec/message.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { messageByName } from '../../reference/codec/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { registryName } from '../../reference/codec/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import { MIN_LIMITS } from '../../spec/generated/catalog.js';

const MAX_DEPTH = DEFAULT_LIMITS.max_payload_depth;
/** How long a case moving megabytes waits for them at least, whatever --timeout says (a hang guard on a loaded machine). */
const BULK_WAIT_MS = 10_000;
const u32 = (n: number): Uint8Array => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
/** An INIT payload of this run without its token: the secret stays out of raw bytes and bundles. */
function initWithoutTokenOf(ctx: CaseContext): Record<string, unknown> {
  const { token: _token, ...init } = ctx.initPayload(ctx.uniqueId('raw'));
  return init;
}
const nested = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;

function descriptor(name: string): Record<string, unknown> {
  return { name, service_type: 'engine', version: '1.0.0', capabilities: [], max_concurrent: 0, healthy: true, metadata: {} };
}

/** Sends a request and returns its answer; a broker without the feature (UNSUPPORTED) skips the case. */
async function callOrSkip(ctx: CaseContext, s: Session, type: MessageName, payload: unknown, feature: string): Promise<void> {
  const id = ctx.sendRequest(s.conn, { type, payload });
  const m = await ctx.expectMessage(s.conn, `the answer to ${type}`, (x) => x.header.re === id);
  if (m.name === 'ERROR' && registryName((m.payload as { code: string }).code) === 'UNSUPPORTED') throw new CaseSkipped(`the broker does not implement ${feature}`);
  if (m.name === 'ERROR') throw new CaseFailure(`${type} was refused`, 'its response', `ERROR ${(m.payload as { code: string }).code}`);
}

/** A TCP or Unix connection the case controls itself (pausing its reads), recorded in the wire log. */
async function rawSocketSession(ctx: CaseContext, label: string): Promise<{ session: Session; socket: Socket; pause(): void; resume(): void }> {
  const address = socketOf(ctx.options.target);
  if (!address) throw new CaseSkipped('the case needs a socket target (TCP or Unix)');
  const socket = await new Promise<ReturnType<typeof connect>>((resolve, reject) => {
    const s = address.kind === 'unix' ? connect({ path: address.path }) : connect({ host: address.host, port: address.port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const conn = ctx.adopt(WireConnection.accepted(socket, label));
  const clientId = ctx.uniqueId(label);
  conn.send({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(clientId) });
  const ack = await ctx.expectMessage(conn, 'INIT_ACK answering INIT', (m) => m.name === 'INIT_ACK' && m.header.re === 'init');
  return { session: { conn, clientId, ack: ack.payload as Record<string, unknown> }, socket, pause: () => conn.pauseReading(), resume: () => conn.resumeReading() };
}

/**
 * Keeps a session that never reads alive under HS-11: a DISAGREEMENT_SIGNAL (a notification, which
 * nothing answers) to `dst` every half heartbeat_ms, for at most `boundMs`. Returns the stop.
 */
function keepAlive(s: Session, dst: string, boundMs: number): () => void {
  const heartbeat = typeof s.ack['heartbeat_ms'] === 'number' ? s.ack['heartbeat_ms'] : DEFAULT_LIMITS.heartbeat_ms;
  const every = Math.max(10, Math.floor(heartbeat / 2));
  let beats = 0;
  const timer = setInterval(() => {
    if (s.conn.closed || beats * every > boundMs) return clearInterval(timer);
    s.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: `beat-${beats++}`, dst }, payload: { coordination_id: 'keepalive', disagreement_score: 0.5, threshold: 0.25 } });
  }, every);
  return () => clearInterval(timer);
}

/**
 * Reads `s` until the PONG answering `id`, answering PINGs (HS-9) and skipping the keep-alive signals;
 * anything else goes to `other`. The PONG must come within `boundMs` in all.
 */
async function untilPong(ctx: CaseContext, s: Session, id: string, what: string, boundMs: number, other: (m: Message) => void): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const m = await ctx.expectMessage(s.conn, `${what}, then PONG with re=${id}, within ${boundMs} ms in all`, () => true, Math.max(1, deadline - Date.now()));
    if (m.name === 'PONG' && m.header.re === id) return;
    if (m.name === 'PING') s.conn.send({ type: 'PONG', header: { id: `pong-${m.header.id}`, re: m.header.id } });
    else if (m.name !== 'DISAGREEMENT_SIGNAL') other(m);
  }
}

/**
 * Fills the queue of `dst` (a client that does not read, with a bus query handler for `tag`) with 1 MiB
 * requests from `feeder`, one at a time, until a BUS_QUERY for its handler is refused with OVERLOADED:
 * the broker's sign that the queue is above max_write_buffer (LIM-18). Skips the case after `cap` MiB
 * without that sign.
 */
async function fillUntilRefused(ctx: CaseContext, feeder: Session, asker: Session, dst: string, tag: string, cap: number): Promise<void> {
  const filler = `{"context":"${'f'.repeat(1 << 20)}"}`;
  for (let n = 0; n < cap; n++) {
    ctx.sendUnchecked(feeder.conn, 'REASONING_REQUEST', { id: `fill${n}`, dst }, filler);
    asker.conn.send({ type: 'BUS_QUERY', header: { id: `full${n}` }, payload: { message_type: tag, payload: n, timeout_ms: 600_000 } });
    for (let r = await asker.conn.next(100); r.kind !== 'timeout'; r = await asker.conn.next(0)) {
      if (r.kind !== 'message' || r.message.name !== 'ERROR') continue;
      const p = r.message.payload as { code: string; details?: { error?: { code?: string } } };
      if (registryName(registryName(p.code) === 'HANDLER_FAILED' ? p.details?.error?.code ?? p.code : p.code) === 'OVERLOADED') return;
    }
  }
  throw new CaseSkipped(`no BUS_QUERY for the handler of ${dst} was refused with OVERLOADED after ${cap} MiB queued for it (LIM-18): the case cannot tell when its queue is full`);
}

/** Open requests beyond max_in_flight, of a kind the broker answers itself, each addressed to a responder that never answers. */
const inFlightKinds: { kind: string; type: MessageName; setup(ctx: CaseContext, responder: Session, tag: string): Promise<void>; payload(tag: string, i: number): unknown }[] = [
  {
    kind: 'bus-query',
    type: 'BUS_QUERY',
    setup: (ctx, r, tag) => callOrSkip(ctx, r, 'BUS_REGISTER_HANDLER', { message_type: tag, category: 'query' }, 'the command bus'),
    payload: (tag, i) => ({ message_type: tag, payload: i, timeout_ms: 600_000 }),
  },
  {
    kind: 'service-dispatch',
    type: 'SERVICE_DISPATCH',
    setup: (ctx, r, tag) => callOrSkip(ctx, r, 'SERVICE_REGISTER', { service: descriptor(tag) }, 'the service registry'),
    payload: (tag, i) => ({ service_name: tag, method: 'm', payload: i, timeout_ms: 600_000, max_retries: 0 }),
  },
];

export const robustnessCases: Case[] = [
  // A broker that counts only routed requests lets one connection keep any number of bus or registry
  // requests open (20,000 were accepted by the reference broker before issue 13).
  ...inFlightKinds.map(({ kind, type, setup, payload }) => defineCase({
    id: `limits/in-flight-counts-every-request/type:${kind}`,
    statements: ['LIM-7', 'LIM-2'],
    async run(ctx) {
      const responder = await ctx.session('responder');
      const requester = await ctx.session('requester');
      const tag = ctx.uniqueId(kind);
      await setup(ctx, responder, tag);
      const limit = inFlightLimitToReach(requester.ack, 'skip');
      for (let i = 0; i <= limit; i++) requester.conn.send({ type, header: { id: `q${i}` }, payload: payload(tag, i) });
      const over = await ctx.expectMessage(requester.conn, `ERROR OVERLOADED for ${type} number ${limit + 1}`, (m) => m.name === 'ERROR', ctx.timeoutMs * 4);
      const p = over.payload as { code: string; details?: { limit?: number } };
      if (registryName(p.code) !== 'OVERLOADED' || over.header.re !== `q${limit}`) throw new CaseFailure(`expected OVERLOADED with re=q${limit}`, `OVERLOADED re=q${limit}`, `${p.code} re=${String(over.header.re)}`);
      if (p.details?.limit !== limit) throw new CaseFailure('the OVERLOADED ERROR does not name the limit in details.limit', String(limit), String(p.details?.limit));
    },
  })),
  // A broker that buffers a first frame of any announced size lets unauthenticated peers hold its memory.
  defineCase({
    id: 'handshake/first-frame-above-65536-refused',
    statements: ['HS-20', 'HS-1'],
    async run(ctx) {
      const conn = await ctx.open();
      const first = MIN_LIMITS.max_frame;
      conn.sendRaw(u32(first + 1), `length prefix ${first + 1} as the first frame, no body`);
      const m = await ctx.expectError(conn, 'FRAME_TOO_LARGE', { closes: true });
      const limit = (m.payload as { details?: { limit?: number } }).details?.limit;
      if (limit !== first) throw new CaseFailure(`the FRAME_TOO_LARGE ERROR does not give details.limit ${first}`, String(first), String(limit));
    },
  }),
  // A broker with two namespaces lets a client named like a service receive that service's traffic.
  defineCase({
    id: 'handshake/client-id-of-a-service-refused',
    statements: ['HS-22', 'REQ-7'],
    async run(ctx) {
      const provider = await ctx.session('provider');
      const name = ctx.uniqueId('svc');
      await callOrSkip(ctx, provider, 'SERVICE_REGISTER', { service: descriptor(name) }, 'the service registry');
      const thief = await ctx.open('thief');
      thief.send({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(name) });
      await ctx.expectError(thief, 'DUPLICATE_CLIENT_ID', { re: 'init', closes: true });
    },
  }),
  defineCase({
    id: 'registry/service-named-like-a-client-refused',
    statements: ['REG-1', 'REQ-7'],
    async run(ctx) {
      const victim = await ctx.session('victim');
      const thief = await ctx.session('thief');
      thief.conn.send({ type: 'SERVICE_REGISTER', header: { id: 'steal' }, payload: { service: descriptor(victim.clientId) } });
      const m = await ctx.expectMessage(thief.conn, 'ERROR SERVICE_EXISTS with re=steal', (x) => x.header.re === 'steal');
      if (m.name === 'ERROR' && registryName((m.payload as { code: string }).code) === 'UNSUPPORTED') throw new CaseSkipped('the broker does not implement the service registry');
      if (m.name !== 'ERROR' || registryName((m.payload as { code: string }).code) !== 'SERVICE_EXISTS') {
        throw new CaseFailure('a service was registered under a connected client\'s id', 'ERROR SERVICE_EXISTS', m.name === 'ERROR' ? `ERROR ${(m.payload as { code: string }).code}` : m.name);
      }
      await ctx.expectOpen(thief.conn);
    },
  }),
  // A broker without a depth limit overflows a recursive decoder's stack; one with a lower limit refuses valid payloads.
  ...[MAX_DEPTH, MAX_DEPTH + 1, 100_000].map((levels) => defineCase({
    id: `limits/payload-depth/levels:${levels}`,
    statements: ['LIM-15'],
    async run(ctx) {
      const s = await ctx.session();
      // STATS_REQUEST has no field `x`: a payload the depth check lets through is a SCHEMA_VIOLATION.
      ctx.sendUnchecked(s.conn, 'STATS_REQUEST', { id: 'deep' }, `{"x":${nested(levels - 1)}}`);
      const expected: ErrorName = levels <= MAX_DEPTH ? 'SCHEMA_VIOLATION' : 'INVALID_PAYLOAD';
      const m = await ctx.expectError(s.conn, expected, { re: 'deep', closes: false });
      const rule = (m.payload as { details?: { rule?: string } }).details?.rule;
      if (expected === 'INVALID_PAYLOAD' && rule !== 'max-depth') throw new CaseFailure('the INVALID_PAYLOAD ERROR does not give rule max-depth', 'max-depth', String(rule));
    },
  })),
  // A broker without a value limit builds millions of values from one frame (16 MiB of `[]` is 5.6 M arrays).
  defineCase({
    id: 'limits/payload-items-above-max-refused',
    statements: ['LIM-16'],
    async run(ctx) {
      const s = await ctx.session();
      // The object, the array and max_payload_items - 1 zeros: one value more than the default allows.
      const zeros = DEFAULT_LIMITS.max_payload_items - 1;
      ctx.sendUnchecked(s.conn, 'STATS_REQUEST', { id: 'many' }, `{"x":[${'0,'.repeat(zeros - 1)}0]}`);
      const m = await ctx.expectError(s.conn, 'INVALID_PAYLOAD', { re: 'many', closes: false });
      const rule = (m.payload as { details?: { rule?: string } }).details?.rule;
      if (rule !== 'max-items') throw new CaseFailure('the INVALID_PAYLOAD ERROR does not give rule max-items', 'max-items', String(rule));
    },
  }),
  // A broker that keeps every partial first frame lets unauthenticated connections take its memory.
  defineCase({
    id: 'handshake/handshake-memory-bounded',
    statements: ['HS-21'],
    async run(ctx) {
      const perConnection = 65_536;
      const most = Math.ceil(DEFAULT_LIMITS.max_handshake_bytes / perConnection) + 1;
      // Opened eight at a time, well within handshake_timeout_ms, so none is closed by LIM-10 meanwhile
      // (one by one, a loaded machine took longer than that and the case gave no verdict).
      const holders = [];
      const opening = Date.now();
      const hold = async (i: number) => {
        // Under --faults, the rest of a cut write would reach the refused connection after its close and reset it, losing the ERROR.
        const conn = await ctx.open(`holder${i}`, 'its partial frame must arrive as one write for the refusal to be seen');
        conn.sendRaw(Buffer.concat([u32(perConnection), Buffer.alloc(16)]), 'length prefix 65,536 and 16 bytes of the body, the rest held back');
        return conn;
      };
      for (let i = 0; i < most; i += 8) {
        holders.push(...(await Promise.all(Array.from({ length: Math.min(8, most - i) }, (_, k) => hold(i + k)))));
      }
      // Opening took so long that LIM-10 may end the first holders before the check: no verdict possible.
      if (Date.now() - opening > ctx.limits.handshake_timeout_ms / 2) throw new CaseSkipped(`opening ${most} connections took longer than half of handshake_timeout_ms (${ctx.limits.handshake_timeout_ms} ms); run with a larger --limit handshake_timeout_ms`);
      // The bytes of the last ones opened take the budget past its default, but they need not arrive last
      // (a slow link, --faults): whichever holder the broker refuses, the first answer must be OVERLOADED.
      await Promise.all(holders.map((conn) => conn.drained()));
      const first = await Promise.race(holders.map((conn) => conn.next(ctx.timeoutMs).then((r) => ({ conn, r }))));
      if (first.r.kind !== 'timeout') {
        const { conn, r } = first;
        if (r.kind !== 'message' || r.message.name !== 'ERROR' || registryName((r.message.payload as { code: string }).code) !== 'OVERLOADED') {
          throw new CaseFailure('a connection holding a partial first frame got something other than ERROR OVERLOADED', 'ERROR OVERLOADED, then a close', r.kind === 'message' ? r.message.name : r.kind);
        }
        const limit = (r.message.payload as { details?: { limit?: unknown } }).details?.limit;
        // HS-21 asks for details.limit set, not for its value: a broker may hold another max_handshake_bytes
        // than the harness was told, and the number it names cannot be checked from outside.
        if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw new CaseFailure(`the OVERLOADED refusing a connection in the handshake gives details.limit ${JSON.stringify(limit)}, not a limit in bytes (HS-21)`, 'a positive integer', JSON.stringify(limit));
        await ctx.expectClosed(conn, 'the refused connection closed (HS-21)');
        // With the holders gone, a complete INIT gets in (with them, an INIT that arrives in pieces may be
        // refused too: it holds bytes of a frame in progress while the budget is full).
        for (const h of holders) h.destroy();
        await ctx.session('after');
        return;
      }
      throw new CaseFailure(`${most} connections each holding a 65,536-byte first frame in progress were all kept`, `ERROR OVERLOADED by connection ${most}`, 'none refused');
    },
  }),
  // A broker that adds a first frame's held bytes again at each read, instead of their growth, refuses a
  // first frame that arrives in many pieces, though that frame alone holds 65,536 bytes of the budget (HS-21).
  defineCase({
    id: 'handshake/trickled-first-frame-counted-once',
    statements: ['HS-21', 'FRM-5'],
    async run(ctx) {
      const conn = await ctx.open('trickle', 'its pieces must arrive as separate reads within handshake_timeout_ms');
      // An INIT (without the token: its answer may be UNAUTHORIZED) padded with JSON whitespace to the
      // largest first frame, 65,536 bytes of body (HS-20).
      const payload = new TextEncoder().encode(JSON.stringify(initWithoutTokenOf(ctx)));
      const largest = MIN_LIMITS.max_frame;
      const bare = encodeEnvelope(messageByName('INIT').code, 'json', { id: 'init-trickled' }, payload).length;
      const frame = encodeFrame(encodeEnvelope(messageByName('INIT').code, 'json', { id: 'init-trickled' }, Buffer.concat([payload, Buffer.alloc(largest - bare, 0x20)])));
      const pieces = 64;
      const gap = Math.max(1, Math.min(5, Math.floor(ctx.limits.handshake_timeout_ms / (4 * pieces))));
      const step = Math.ceil(frame.length / pieces);
      const since = Date.now();
      for (let at = 0; at < frame.length; at += step) {
        conn.sendRaw(frame.subarray(at, at + step), `bytes ${at} .. ${Math.min(frame.length, at + step)} of an INIT of 65,536 bytes, ${gap} ms apart`);
        await new Promise((resolve) => setTimeout(resolve, gap));
      }
      const r = await ctx.receive(conn, 'the answer to the trickled first frame (INIT_ACK, or an ERROR other than OVERLOADED)');
      const code = r.kind === 'message' && r.message.name === 'ERROR' ? registryName((r.message.payload as { code: string }).code) : undefined;
      if (r.kind === 'closed' && Date.now() - since >= ctx.limits.handshake_timeout_ms) throw new CaseSkipped(`the pieces took longer than handshake_timeout_ms (${ctx.limits.handshake_timeout_ms} ms): no verdict`);
      if (code === 'OVERLOADED') throw new CaseFailure(`a first frame of 65,536 bytes that arrived in ${pieces} pieces was refused with OVERLOADED, though no other connection held anything (HS-21: the bytes held, counted once)`, 'INIT_ACK, or an ERROR other than OVERLOADED', 'ERROR OVERLOADED');
      if (r.kind !== 'message' || (r.message.name !== 'INIT_ACK' && r.message.name !== 'ERROR')) throw new CaseFailure('the trickled first frame got no answer', 'INIT_ACK, or an ERROR other than OVERLOADED', r.kind === 'message' ? summarize(r.message) : r.kind);
      // What it held is released: a session after it gets in.
      const after = await ctx.session('after-trickle');
      await ctx.expectOpen(after.conn);
    },
  }),
  // A broker that goes on counting an open client's frame in progress against max_handshake_bytes (HS-21
  // bounds connections without INIT_ACK only) refuses a frame above it that max_frame allows (FRM-1).
  defineCase({
    id: 'handshake/handshake-budget-ends-at-init-ack',
    statements: ['HS-21', 'FRM-1'],
    async run(ctx) {
      const a = await ctx.session('A');
      // B on A's broker (in a cluster, the budget is one broker's): a handshake of its own.
      const b = await ctx.sessionBeside(a.conn, 'B');
      // A payload one MiB above max_handshake_bytes: a context longer than its schema allows, which is B's to
      // refuse, not the broker's (section 7: the payload of a routed frame is its destination's).
      const payload = Buffer.from(`{"context":"${'h'.repeat(ctx.limits.max_handshake_bytes + (1 << 20))}"}`);
      const body = payload.length + 64;
      if (body > Number(a.ack['max_frame']) || body > DEFAULT_LIMITS.max_frame) throw new CaseSkipped(`a frame above max_handshake_bytes (${body} bytes) is above the broker's max_frame ${String(a.ack['max_frame'])}`);
      ctx.sendUnchecked(a.conn, 'REASONING_REQUEST', { id: 'big', dst: b.clientId }, payload.toString('latin1'));
      // Moving 5 MiB may take a while on a loaded machine (a hang guard, not a measurement); A refused ends it at once.
      const until = Date.now() + Math.max(4 * ctx.timeoutMs, BULK_WAIT_MS);
      for (;;) {
        const r = await b.conn.next(Math.max(1, Math.min(200, until - Date.now())));
        if (r.kind === 'timeout') {
          const refused = await a.conn.next(1);
          if (refused.kind !== 'timeout') throw new CaseFailure(`A's frame of ${payload.length + 64} bytes, within max_frame, was answered while INIT_ACK had long been sent (HS-21 bounds connections without INIT_ACK only)`, 'nothing: the request forwarded to B', refused.kind === 'message' ? summarize(refused.message) : refused.kind);
          if (Date.now() >= until) throw new CaseFailure(`expected REASONING_REQUEST big from A, whole, at B (${payload.length} bytes of payload); nothing within ${Math.max(4 * ctx.timeoutMs, BULK_WAIT_MS)} ms`, 'REASONING_REQUEST big', 'nothing');
          continue;
        }
        if (r.kind === 'closed') throw new CaseFailure('B was closed while the large request was on its way', 'REASONING_REQUEST big', 'closed');
        if (r.kind === 'message' && r.message.name !== 'REASONING_REQUEST') continue;
        const tail = Buffer.from(r.bytes).subarray(-payload.length);
        if (!tail.equals(payload)) throw new CaseFailure('the large request reached B changed', `its ${payload.length} bytes of payload`, `${r.bytes.length} bytes`);
        break;
      }
      await ctx.expectOpen(a.conn, 'A still open, with no ERROR for its large request');
    },
  }),
  // A broker that pauses the senders of a reader that never reads stalls them for good (LIM-14 before
  // issue 13); one that cuts off the sender punishes the innocent side. The sink keeps writing while it
  // never reads, so HS-11 cannot drop it: a broker whose slow_reader_timeout_ms timer is missing leaves
  // it connected and the sender paused for good (LIM-17). A broker that never stops reading the sender
  // answers its PING while the sink is still connected, and forwards the probe behind it (LIM-14).
  defineCase({
    id: 'limits/slow-reader-closed-sender-resumes',
    statements: ['LIM-17', 'LIM-14'],
    async run(ctx) {
      const sink = await rawSocketSession(ctx, 'sink');
      const sender = await ctx.session('sender');
      sink.pause();
      const bound = ctx.limits.slow_reader_timeout_ms + 10_000 + ctx.timeoutMs;
      // 1 MiB requests, 40 MiB more than max_write_buffer: more than the limit and the socket buffers together.
      const filler = `{"context":"${'f'.repeat(1 << 20)}"}`;
      const count = Math.ceil(ctx.limits.max_write_buffer / (1 << 20)) + 40;
      const stopKeepalive = keepAlive(sink.session, sender.clientId, 2 * bound);
      // Requests refused without being forwarded (UNKNOWN_DESTINATION once the sink is gone). They come
      // before the PONG of the PING sent after the flood (REQ-17); the PEER_GONEs of the forwarded ones
      // (HS-18) may come only when the broker's socket to the sink closes, after any PONG.
      let refusedUnsent = 0;
      try {
        for (let i = 0; i < count; i++) ctx.sendUnchecked(sender.conn, 'REASONING_REQUEST', { id: `f${i}`, dst: sink.session.clientId }, filler);
        sender.conn.send({ type: 'PING', header: { id: 'after-flood' } });
        // Every request is answered once (PEER_GONE or UNKNOWN_DESTINATION once the sink is gone), then the PONG.
        const answered = new Set<string>();
        const oneErrorPerRequest = (m: Message): void => {
          if (m.name !== 'ERROR' || m.header.re === undefined || !/^f[0-9]+$/.test(m.header.re) || answered.has(m.header.re)) {
            throw new CaseFailure('the sender got something other than one ERROR per request before its PONG', 'PEER_GONE or UNKNOWN_DESTINATION', `${m.name} re=${String(m.header.re)}`);
          }
          answered.add(m.header.re);
          if (registryName((m.payload as { code?: unknown }).code) !== 'PEER_GONE') refusedUnsent++;
        };
        await untilPong(ctx, sender, 'after-flood', 'the sink cut off at slow_reader_timeout_ms (LIM-17), though it kept writing, and the sender read again: one ERROR per request', bound, oneErrorPerRequest);
        stopKeepalive();
        // The PING was read, so the sink must be cut off by now (LIM-14): a request to it is refused.
        ctx.sendUnchecked(sender.conn, 'REASONING_REQUEST', { id: 'probe', dst: sink.session.clientId }, '{"context":"probe"}');
        sender.conn.send({ type: 'PING', header: { id: 'after-probe' } });
        let refused = false;
        await untilPong(ctx, sender, 'after-probe', 'an ERROR for the probe to the sink, cut off by now', bound, (m) => {
          if (m.name === 'ERROR' && m.header.re === 'probe') refused = true;
          else oneErrorPerRequest(m);
        });
        if (!refused) throw new CaseFailure('the broker read the sender\'s PING while the reader it feeds, above max_write_buffer, was still connected: a request to that reader was forwarded (LIM-14)', 'ERROR for the probe before the PONG', 'no answer to the probe');
      } finally {
        stopKeepalive();
      }
      // The sink was cut off: reading again, it finds its queue, ERROR OVERLOADED naming max_write_buffer
      // in details.limit (LIM-17), then the end of the connection. A broker may drop what the sink left
      // unread when it closes (ERR-4: at once); only a sink that got every request not refused at once
      // must have got the ERROR behind them.
      const forwarded = count - refusedUnsent;
      sink.resume();
      let overloaded: Message | undefined;
      let received = 0;
      for (let i = 0; i <= count + 16; i++) {
        const r = await ctx.receive(sink.session.conn, 'the sink\'s connection closed (LIM-17)', bound);
        if (r.kind === 'invalid' || (r.kind === 'message' && r.message.name === 'REASONING_REQUEST')) received++;
        if (r.kind === 'message' && r.message.name === 'ERROR' && registryName((r.message.payload as { code: string }).code) === 'OVERLOADED') overloaded = r.message;
        if (r.kind !== 'closed') continue;
        if (!overloaded && received < forwarded) return;
        if (!overloaded) throw new CaseFailure(`the broker closed the reader that never read without ERROR OVERLOADED before the close (LIM-17), though the sink received all ${forwarded} requests it did not refuse at once`, 'ERROR OVERLOADED, then the close', 'the close alone');
        const limit = (overloaded.payload as { details?: { limit?: unknown } }).details?.limit;
        if (limit !== ctx.limits.max_write_buffer) throw new CaseFailure(`the OVERLOADED closing the slow reader gives details.limit ${JSON.stringify(limit)}, not max_write_buffer ${ctx.limits.max_write_buffer} (LIM-17; pass --limit max_write_buffer=N for a broker with another)`, String(ctx.limits.max_write_buffer), JSON.stringify(limit));
        return;
      }
      throw new CaseFailure('the reader that never read is still connected', 'closed', 'open');
    },
  }),
  // A broker that resumes a sender as soon as one reader holding it drains, while another still holds
  // it, reads that sender again and queues its frames without bound (LIM-14). The second holder here is
  // the sender itself: its own queue is full, and its PING's answer goes there.
  defineCase({
    id: 'limits/sender-held-until-every-full-reader-drains',
    statements: ['LIM-14'],
    async run(ctx) {
      // Over several brokers the feeders may sit on another broker, and pausing does not cross brokers.
      const target = ctx.options.target;
      if (target.kind === 'cluster' && target.entries.length > 1) throw new CaseSkipped('the case needs every connection on one broker: pausing a sender (LIM-14) does not cross brokers');
      const held = await rawSocketSession(ctx, 'held');
      const reader = await rawSocketSession(ctx, 'reader');
      const witness = await ctx.session('witness');
      const heldTag = ctx.uniqueId('held');
      const readerTag = ctx.uniqueId('reader');
      await callOrSkip(ctx, held.session, 'BUS_REGISTER_HANDLER', { message_type: heldTag, category: 'query' }, 'the command bus');
      await callOrSkip(ctx, reader.session, 'BUS_REGISTER_HANDLER', { message_type: readerTag, category: 'query' }, 'the command bus');
      const feeders = [await ctx.session('feeds-held'), await ctx.session('feeds-reader')];
      const askers = [await ctx.session('asks-held'), await ctx.session('asks-reader')];
      held.pause();
      reader.pause();
      const bound = ctx.limits.slow_reader_timeout_ms + ctx.timeoutMs;
      const stops = [keepAlive(held.session, witness.clientId, bound), keepAlive(reader.session, witness.clientId, bound)];
      try {
        const cap = Math.ceil(ctx.limits.max_write_buffer / (1 << 20)) + 40;
        await Promise.all([
          fillUntilRefused(ctx, feeders[0]!, askers[0]!, held.session.clientId, heldTag, cap),
          fillUntilRefused(ctx, feeders[1]!, askers[1]!, reader.session.clientId, readerTag, cap),
        ]);
        // One write: a request to the full reader (held pauses), a PING whose PONG goes to held's own full
        // queue (held now waits for both), then 1 MiB for the witness, so that the last frame, X, cannot
        // be in the read that paused held.
        const fill = encodeFrame(encodeEnvelope(messageByName('REASONING_REQUEST').code, 'json', { id: 'fill', dst: witness.clientId }, new TextEncoder().encode(`{"context":"${'f'.repeat(1 << 20)}"}`)));
        held.session.conn.sendRaw(Buffer.concat([
          encodeMessageFrame({ type: 'REASONING_REQUEST', header: { id: 'hold', dst: reader.session.clientId }, payload: reasoning('hold') }),
          encodeMessageFrame({ type: 'PING', header: { id: 'self' } }),
          fill,
          encodeMessageFrame({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'x', dst: witness.clientId }, payload: { coordination_id: 'x', disagreement_score: 0.5, threshold: 0.25 } }),
        ]), 'REASONING_REQUEST hold to the reader, PING self, 1 MiB for the witness, DISAGREEMENT_SIGNAL x for the witness, in one write');
        stops[0]!();
        // The reader drains: held must stay paused, since its own queue still holds it.
        reader.resume();
        // (The feeder's 1 MiB requests carry an unchecked payload: the reader sees them as invalid.)
        for (;;) {
          const r = await ctx.receive(reader.session.conn, 'what the reader\'s queue held, then held\'s request hold', bound);
          if (r.kind === 'closed') throw new CaseFailure('the reader was closed while it read its queue', 'held\'s request hold', 'closed');
          if (r.kind === 'message' && r.message.name === 'REASONING_REQUEST' && r.message.header.src === held.session.clientId) break;
        }
        stops[1]!();
        // Whatever the broker read of held after that reached the witness by now.
        const until = Date.now() + Math.min(1000, ctx.timeoutMs);
        for (let r = await witness.conn.next(until - Date.now()); r.kind !== 'timeout'; r = await witness.conn.next(Math.max(1, until - Date.now()))) {
          if (r.kind === 'message' && r.message.header.src === held.session.clientId && !r.message.header.id.startsWith('beat-')) {
            throw new CaseFailure('the broker read a connection again when one reader it fed drained, while that connection\'s own queue, above max_write_buffer, still held it: its later frames reached the witness (LIM-14)', 'nothing from held at the witness', summarize(r.message));
          }
        }
      } finally {
        for (const stop of stops) stop();
      }
    },
  }),
  // A broker that does not resume a sender when the full reader it fed drains (it misses the reader's
  // drain) leaves the sender unread for good: the reader read everything, so LIM-17 never frees it either.
  // The reader is not at fault: it must not be closed (LIM-17 applies to a reader that stayed full).
  defineCase({
    id: 'limits/reader-drains-sender-resumes',
    statements: ['LIM-14', 'LIM-17'],
    async run(ctx) {
      const reader = await rawSocketSession(ctx, 'reader');
      const tag = ctx.uniqueId('drains');
      await callOrSkip(ctx, reader.session, 'BUS_REGISTER_HANDLER', { message_type: tag, category: 'query' }, 'the command bus');
      const sender = await ctx.session('sender');
      const asker = await ctx.session('asker');
      reader.pause();
      const since = Date.now();
      const bound = ctx.limits.slow_reader_timeout_ms + 4 * ctx.timeoutMs;
      const stopKeepalive = keepAlive(reader.session, sender.clientId, 4 * bound);
      let stopDraining = false;
      let readerClosedAt: number | undefined;
      try {
        // The sender's requests fill the reader's queue past max_write_buffer: the sender is paused (LIM-14).
        await fillUntilRefused(ctx, sender, asker, reader.session.clientId, tag, Math.ceil(ctx.limits.max_write_buffer / (1 << 20)) + 40);
        sender.conn.send({ type: 'PING', header: { id: 'after-fill' } });
        // The reader reads its whole queue, as fast as it can (its PINGs answered, everything else dropped).
        reader.resume();
        const drained = (async () => {
          const until = Date.now() + 4 * bound;
          while (!stopDraining && Date.now() < until) {
            const r = await reader.session.conn.next(100);
            if (r.kind === 'closed') return void (readerClosedAt = Date.now());
            if (r.kind === 'message' && r.message.name === 'PING') reader.session.conn.send({ type: 'PONG', header: { id: `pong-${r.message.header.id}`, re: r.message.header.id } });
          }
        })();
        // Once the reader drained, the broker reads the sender again: its PING is answered.
        await untilPong(ctx, sender, 'after-fill', 'the sender read again once the reader it fed drained its queue (LIM-14)', bound, (m) => {
          if (m.name === 'ERROR' && /^fill[0-9]+$/.test(m.header.re ?? '')) return;
          throw new CaseFailure('the sender got something other than its PONG while the reader drained', 'PONG with re=after-fill', summarize(m));
        });
        stopDraining = true;
        await drained;
      } catch (e) {
        // A reader cut off before it drained (too slow a machine for slow_reader_timeout_ms) gives no verdict.
        if (e instanceof CaseFailure && readerClosedAt !== undefined && readerClosedAt - since >= ctx.limits.slow_reader_timeout_ms) throw new CaseSkipped(`the reader was cut off (LIM-17) ${readerClosedAt - since} ms into the case, before it drained its queue: no verdict at slow_reader_timeout_ms ${ctx.limits.slow_reader_timeout_ms}`);
        throw e;
      } finally {
        stopDraining = true;
        stopKeepalive();
      }
      if (readerClosedAt !== undefined && readerClosedAt - since >= ctx.limits.slow_reader_timeout_ms) throw new CaseSkipped(`the reader was cut off (LIM-17) ${readerClosedAt - since} ms into the case: no verdict at slow_reader_timeout_ms ${ctx.limits.slow_reader_timeout_ms}`);
      if (readerClosedAt !== undefined) throw new CaseFailure(`the broker closed the reader ${readerClosedAt - since} ms into the case, within slow_reader_timeout_ms ${ctx.limits.slow_reader_timeout_ms}, though it read its queue (LIM-17)`, 'the reader kept', 'closed');
      // What is left of its queue in the socket buffers comes first (the filler is not a valid payload).
      reader.session.conn.send({ type: 'PING', header: { id: 'reader-kept' } });
      const until = Date.now() + bound;
      for (;;) {
        const r = await ctx.receive(reader.session.conn, 'PONG with re=reader-kept: the reader, which drained its queue, still served (LIM-17)', Math.max(1, until - Date.now()));
        if (r.kind === 'closed') throw new CaseFailure('the broker closed the reader, which had drained its queue, before answering its PING (LIM-17)', 'PONG with re=reader-kept', 'closed');
        if (r.kind === 'message' && r.message.name === 'PONG' && r.message.header.re === 'reader-kept') return;
      }
    },
  }),
  // A broker with no error listener on its sockets dies of a peer's reset (an uncaught ECONNRESET or EPIPE
  // in a broker process), and every client with it. A reset is a disconnect (section 10.1): the requests
  // forwarded to the reset client get PEER_GONE (HS-18) and the broker goes on serving.
  defineCase({
    id: 'handshake/reset-while-written-is-a-disconnect',
    statements: ['HS-18'],
    async run(ctx) {
      const reset = await rawSocketSession(ctx, 'reset');
      const asker = await ctx.session('asker');
      reset.pause();
      // Requests the reset client never reads, together half of max_write_buffer (the asker is never paused):
      // the broker is still writing them, or they wait in the socket, when the reset comes.
      const count = 4;
      const size = Math.min(1 << 20, Math.floor(ctx.limits.max_write_buffer / (2 * count)), Number(reset.session.ack['max_frame'] ?? DEFAULT_LIMITS.max_frame) - 1024);
      const filler = `{"context":"${'r'.repeat(Math.max(1, size - 16))}"}`;
      for (let i = 0; i < count; i++) ctx.sendUnchecked(asker.conn, 'REASONING_REQUEST', { id: `w${i}`, dst: reset.session.clientId }, filler);
      // The broker reads the asker in order: once this PING is answered, every request was forwarded
      // (megabytes: a longer wait than a frame's on a loaded machine, a hang guard).
      const bulkWait = Math.max(4 * ctx.timeoutMs, BULK_WAIT_MS);
      asker.conn.send({ type: 'PING', header: { id: 'forwarded' } });
      await ctx.expectMessage(asker.conn, 'PONG with re=forwarded, after the requests to the reset client', (m) => m.name === 'PONG' && m.header.re === 'forwarded', bulkWait);
      reset.socket.resetAndDestroy();
      const gone = new Set<string>();
      while (gone.size < count) {
        const m = await ctx.expectMessage(asker.conn, `ERROR PEER_GONE for each of w0 .. w${count - 1} (HS-18), the reset client having disconnected`, (x) => x.name === 'ERROR' && /^w[0-9]+$/.test(x.header.re ?? '') && !gone.has(x.header.re!), bulkWait);
        const p = m.payload as { code?: string; definite?: unknown };
        if (registryName(String(p.code)) !== 'PEER_GONE' || p.definite !== false) throw new CaseFailure(`a request to the client that reset its connection was answered with ${String(p.code)} (definite ${String(p.definite)})`, 'PEER_GONE, definite false', `${String(p.code)}, definite ${String(p.definite)}`);
        gone.add(m.header.re!);
      }
      // The broker goes on serving: a new session, and the asker's.
      const after = await ctx.session('after');
      await ctx.expectOpen(after.conn, 'a session opened after the reset answering its PING');
      await ctx.expectOpen(asker.conn, 'the asker still served after the reset');
    },
  }),
  defineCase({
    id: 'limits/own-requests-to-a-full-queue-refused',
    statements: ['LIM-18'],
    async run(ctx) {
      const sink = await rawSocketSession(ctx, 'sink');
      const tag = ctx.uniqueId('lim18');
      await callOrSkip(ctx, sink.session, 'BUS_REGISTER_HANDLER', { message_type: tag, category: 'query' }, 'the command bus');
      const sender = await ctx.session('sender');
      const asker = await ctx.session('asker');
      sink.pause();
      // The sink's queue goes past max_write_buffer (48 MiB: more than its default and the socket buffers).
      const filler = `{"context":"${'f'.repeat(1 << 20)}"}`;
      for (let i = 0; i < 48; i++) ctx.sendUnchecked(sender.conn, 'REASONING_REQUEST', { id: `f${i}`, dst: sink.session.clientId }, filler);
      // Until the broker cuts the sink off (LIM-17), a BUS_QUERY for its handler must fail at once with
      // OVERLOADED: one every 250 ms, so some of them meet the full queue while the sink is still there.
      const bound = Date.now() + DEFAULT_LIMITS.slow_reader_timeout_ms + 10_000 + ctx.timeoutMs;
      const outcomes: string[] = [];
      for (let n = 1; Date.now() < bound; n++) {
        asker.conn.send({ type: 'BUS_QUERY', header: { id: `q${n}` }, payload: { message_type: tag, payload: n, timeout_ms: 600_000 } });
        for (let r = await asker.conn.next(250); r.kind !== 'timeout'; r = await asker.conn.next(0)) {
          if (r.kind === 'closed') throw new CaseFailure('the broker closed the asker, which read everything', 'open', 'closed');
          if (r.kind !== 'message' || r.message.name !== 'ERROR') continue;
          const p = r.message.payload as { code: string; details?: { error?: { code?: string } } };
          const code = registryName(registryName(p.code) === 'HANDLER_FAILED' ? p.details?.error?.code ?? p.code : p.code);
          if (code === 'OVERLOADED') return;
          outcomes.push(`${String(r.message.header.re)}: ${p.code}`);
          // PEER_GONE, NO_HANDLER: the sink is gone and every query before was queued, not refused.
          if (code === 'PEER_GONE' || code === 'NO_HANDLER') {
            throw new CaseFailure('no BUS_QUERY for the handler of a reader above max_write_buffer was refused with OVERLOADED before the reader was cut off: they were queued', 'ERROR OVERLOADED at once', outcomes.join(', '));
          }
        }
      }
      throw new CaseFailure('no BUS_QUERY for the handler of a reader above max_write_buffer was refused with OVERLOADED', 'ERROR OVERLOADED at once', outcomes.join(', ') || 'no answer');
    },
  }),
];
