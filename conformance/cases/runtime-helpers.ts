/**
 * What the broker-runtime cases share: timed waits (a heartbeat, a drain, a timeout is checked against
 * the limit the broker announced or the harness was given with --limit), raw frames, and the two-client
 * setups (a requester A and a responder B the harness both controls).
 */
import { NDArray } from '../../reference/codec/ndarray.js';
import { encodeEnvelope, type Encoding } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import type { Message } from '../../reference/codec/message.js';
import type { InboundCount, WireConnection, Received } from '../wire/connection.js';
import { CaseFailure, CaseSkipped } from './model.js';
import { summarize, type CaseContext, type Session } from './context.js';
import { registryName } from '../../reference/codec/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { MIN_LIMITS, MAX_LIMITS } from '../../spec/generated/catalog.js';

export const reasoning = (context = 'runtime', size = 4): Record<string, unknown> => ({
  encoding: NDArray.from('<f4', [size], Array.from({ length: size }, (_, i) => i / 8)), context, source: 'harness',
});
/** A DISAGREEMENT_SIGNAL payload (a routed notification) naming `coordinationId`. */
export const disagreementSignal = (coordinationId: string): Record<string, unknown> => ({ coordination_id: coordinationId, disagreement_score: 0.5, threshold: 0.25 });
export const reasoningAnswer = (spikes = 1): Record<string, unknown> => ({
  spike_count: spikes, confidence: 0.5, firing_pattern: NDArray.from('|u1', [2], [1, 0]), engine: 'harness', latency_ms: 0,
});

export interface ErrorPayload { code: string; message: string; definite: boolean; details?: Record<string, unknown> }

export function errorOf(m: Message): ErrorPayload {
  return m.payload as ErrorPayload;
}

/** How late a timed event may be: the frame timeout, or half the interval for long ones. */
export function slack(ctx: CaseContext, intervalMs: number): number {
  return Math.max(ctx.timeoutMs, Math.ceil(intervalMs / 2));
}

/** The heartbeat the broker announced in INIT_ACK (LIM-11), or a failure naming LIM-11. */
export function announcedHeartbeat(ack: Record<string, unknown>): number {
  const hb = ack['heartbeat_ms'];
  if (typeof hb !== 'number' || !Number.isInteger(hb) || hb < MIN_LIMITS.heartbeat_ms || hb > MAX_LIMITS.heartbeat_ms) {
    throw new CaseFailure(`INIT_ACK announces no usable heartbeat_ms (LIM-11, HS-6): ${JSON.stringify(hb)}`, `an integer in ${MIN_LIMITS.heartbeat_ms} .. ${MAX_LIMITS.heartbeat_ms}`, JSON.stringify(hb));
  }
  return hb;
}

/** The next item within `ms`, and when it came (ms after `since`). */
export async function nextWithin(ctx: CaseContext, conn: WireConnection, what: string, ms: number, since = Date.now()): Promise<{ r: Exclude<Received, { kind: 'timeout' }>; at: number }> {
  const r = await conn.next(Math.max(1, since + ms - Date.now()));
  if (r.kind === 'timeout') throw new CaseFailure(`expected ${what} within ${ms} ms; nothing arrived`, what, 'nothing');
  return { r, at: Date.now() - since };
}

/** Expects a message satisfying `accept` within `ms` (a failure, not a timeout: the bound is the statement's). */
export async function messageWithin(ctx: CaseContext, conn: WireConnection, what: string, ms: number, accept: (m: Message) => boolean, since = Date.now()): Promise<{ m: Message; at: number }> {
  const { r, at } = await nextWithin(ctx, conn, what, ms, since);
  if (r.kind === 'closed') throw new CaseFailure(`expected ${what}; the peer closed the connection (${r.reason})`, what, 'connection closed');
  if (r.kind === 'invalid') throw new CaseFailure(`expected ${what}; the peer sent a frame that breaks the spec: ${r.error.message}`, what, 'invalid frame');
  if (!accept(r.message)) throw new CaseFailure(`expected ${what}; got ${summarize(r.message)}`, what, summarize(r.message));
  return { m: r.message, at };
}

/**
 * The first frame `accept` takes at `conn` within `timeoutMs`, with its body length (the length
 * prefix's value) and the connection's inbound counts before it; undefined when none came. Other frames
 * are passed over.
 */
export async function arrival(ctx: CaseContext, conn: WireConnection, what: string, accept: (m: Message) => boolean, timeoutMs: number): Promise<{ message: Message; bodyLength: number; before: InboundCount } | undefined> {
  const until = Date.now() + timeoutMs;
  for (let left = timeoutMs; left > 0; left = until - Date.now()) {
    const r = await conn.next(left);
    if (r.kind === 'timeout') return undefined;
    if (r.kind === 'closed') throw new CaseFailure(`expected ${what}; the connection closed (${r.reason})`, what, 'connection closed');
    if (r.kind === 'invalid') throw new CaseFailure(`expected ${what}; the peer sent a frame that breaks the spec: ${r.error.message}`, what, 'invalid frame');
    if (accept(r.message)) return { message: r.message, bodyLength: r.bytes.length - 4, before: r.before };
  }
  return undefined;
}

/** Expects the close within `ms`; an ERROR before it is tolerated (section 6 prose, no statement), anything else fails. */
export async function closedWithin(ctx: CaseContext, conn: WireConnection, what: string, ms: number, since = Date.now()): Promise<number> {
  for (;;) {
    const { r, at } = await nextWithin(ctx, conn, what, ms, since);
    if (r.kind === 'closed') return at;
    if (r.kind === 'message' && r.message.name === 'ERROR') continue;
    throw new CaseFailure(`expected ${what}; got ${r.kind === 'message' ? summarize(r.message) : 'an invalid frame'}`, 'close', r.kind);
  }
}

/** Expects TIMEOUT (definite false) answering `re`, and returns it. */
export async function expectTimeout(ctx: CaseContext, conn: WireConnection, re: string, ms: number, since = Date.now()): Promise<{ m: Message; at: number }> {
  const got = await messageWithin(ctx, conn, `ERROR TIMEOUT with re=${re}`, ms, (m) => m.name === 'ERROR' && m.header.re === re, since);
  const p = errorOf(got.m);
  if (registryName(p.code) !== 'TIMEOUT') throw new CaseFailure(`expected ERROR TIMEOUT with re=${re}; got ${p.code}`, 'TIMEOUT', p.code);
  if (p.definite !== false) throw new CaseFailure('a TIMEOUT must have definite false (the peer may have acted)', 'definite false', `definite ${String(p.definite)}`);
  return got;
}

let sessions = 0;

/**
 * A session whose client id is unique in this process, not only within the case: a broker may release
 * the ids of the previous case's connections a moment after they close (HS-19 allows it).
 */
export function session(ctx: CaseContext, label?: string, overrides: Record<string, unknown> = {}): Promise<Session> {
  return ctx.session(label, { client_id: ctx.uniqueId(`rt${++sessions}`), ...overrides });
}

/** Two sessions: A asks, B answers; with a request from A already forwarded to B. */
export async function pairWithRequest(ctx: CaseContext, id = 'q-open'): Promise<{ a: Session; b: Session; forwarded: Message }> {
  const a = await session(ctx, 'A');
  const b = await session(ctx, 'B');
  a.conn.send({ type: 'REASONING_REQUEST', header: { id, dst: b.clientId }, payload: reasoning() });
  const forwarded = await ctx.expectMessage(b.conn, `REASONING_REQUEST ${id} forwarded to B`, (m) => m.name === 'REASONING_REQUEST' && m.header.src === a.clientId);
  return { a, b, forwarded };
}

/** A frame from parts, unchecked: any type code, flags' encoding bits, header bytes and payload bytes. */
export function rawFrame(type: number, encoding: Encoding, header: Uint8Array | Record<string, unknown>, payload: Uint8Array | string): Uint8Array {
  const h = header instanceof Uint8Array ? header : new TextEncoder().encode(JSON.stringify(header));
  const p = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  return encodeFrame(encodeEnvelope(type, encoding, h, p));
}

/** Waits `ms` and fails if anything but a close-free silence came (PINGs are answered by the session). */
export async function expectSilence(ctx: CaseContext, conn: WireConnection, what: string, ms: number): Promise<void> {
  const r = await conn.next(ms);
  if (r.kind === 'timeout') return;
  throw new CaseFailure(`expected ${what}; got ${r.kind === 'message' ? summarize(r.message) : r.kind}`, 'nothing', r.kind === 'message' ? summarize(r.message) : r.kind);
}

/** A feature the broker may lack (the bus, the registry): UNSUPPORTED there skips the case, anything else is its answer. */
export async function requestOrSkip(ctx: CaseContext, s: Session, type: MessageName, payload: unknown, feature: string, id = `${type.toLowerCase()}-${ctx.uniqueId('x')}`): Promise<Message> {
  s.conn.send({ type, header: { id }, payload } as never);
  const m = await ctx.expectMessage(s.conn, `the answer to ${type} ${id}`, (x) => x.header.re === id);
  if (m.name === 'ERROR' && registryName(errorOf(m).code) === 'UNSUPPORTED') throw new CaseSkipped(`the broker does not implement ${feature} (UNSUPPORTED to ${type})`);
  return m;
}


/**
 * Cases that act while a connection drains (a request refused, an answer still forwarded) need a drain
 * that outlasts a round trip; a broker may run with shutdown_drain_ms 0, where the drain ends at once.
 */
export function requireDrainTime(ctx: CaseContext, doing: string): void {
  const drain = ctx.limits.shutdown_drain_ms;
  if (drain < 200) throw new CaseSkipped(`shutdown_drain_ms ${drain} leaves no time ${doing} during the drain`);
}

/** The descriptor of the service `name` the runtime cases register. */
export function descriptor(name: string): Record<string, unknown> {
  return { name, service_type: 'conformance', version: '1.0.0', max_concurrent: 0, healthy: true };
}

/** B registers a service (the case is skipped on a broker without the registry); returns its name. */
export async function registerService(ctx: CaseContext, b: Session): Promise<string> {
  const name = ctx.uniqueId('svc');
  const m = await requestOrSkip(ctx, b, 'SERVICE_REGISTER', { service: descriptor(name) }, 'the service registry');
  if (m.name !== 'ACK') throw new CaseFailure(`SERVICE_REGISTER ${name} was not acknowledged`, 'ACK', m.name);
  return name;
}

/** A and B, B providing a service, and A's SERVICE_DISPATCH `id` to it as B received it (the broker's own request). */
export async function dispatchAtProvider(ctx: CaseContext, id: string, method: string): Promise<{ a: Session; b: Session; asked: Message }> {
  const a = await session(ctx, 'A');
  const b = await session(ctx, 'B');
  const name = await registerService(ctx, b);
  a.conn.send({ type: 'SERVICE_DISPATCH', header: { id }, payload: { service_name: name, method, payload: {}, max_retries: 0 } });
  const asked = await ctx.expectMessage(b.conn, `the SERVICE_DISPATCH ${id} at the provider B`, (m) => m.name === 'SERVICE_DISPATCH');
  return { a, b, asked };
}
