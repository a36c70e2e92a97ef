/**
 * Request handling a broker shows at runtime: timeouts of forwarded requests, set by a payload or
 * by the catalog, and late answers (REQ-14, REQ-15, REQ-16), the order frames of one connection take effect (REQ-17), notifications left
 * unanswered (REQ-2), types in the wrong direction (REQ-6), and the destination's encoding and
 * max_frame (REQ-10, REQ-11).
 */
import { NDArray } from '../../reference/codec/ndarray.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { summarize, type CaseContext, type Session } from './context.js';
import type { Message } from '../../reference/codec/message.js';
import type { WireConnection } from '../wire/connection.js';
import { arrival, descriptor, dispatchAtProvider, errorOf, expectTimeout, messageWithin, reasoning, reasoningAnswer, registerService, requestOrSkip, requireDrainTime, slack, session } from './runtime-helpers.js';
import type { ErrorName, MessageName } from '../../spec/generated/catalog.js';
import { messageByName, registryName } from '../../reference/codec/catalog.js';
import { encodePayload } from '../../reference/codec/payload.js';
import { CATALOG_TIMEOUT_MS, MIN_LIMITS, DEFAULT_LIMITS } from '../../spec/generated/catalog.js';

/** A schema-valid JSON payload of `type` padded with spaces to exactly `bytes` bytes (forwarded unread, REQ-9). */
function paddedPayload(type: MessageName, value: Record<string, unknown>, bytes: number): string {
  const json = Buffer.from(encodePayload(messageByName(type), 'json', value)).toString('utf8');
  return `${json}${' '.repeat(Math.max(0, bytes - Buffer.byteLength(json)))}`;
}

/** Sends a frame with the given payload text, unchecked; returns its body length. */
function sentBody(ctx: CaseContext, conn: WireConnection, type: MessageName, header: Message['header'], payloadJson: string): number {
  ctx.sendUnchecked(conn, type, header, payloadJson);
  return 4 + Buffer.byteLength(JSON.stringify(header)) + Buffer.byteLength(payloadJson);
}

const OVERLOADED: ErrorName = 'OVERLOADED';

/** How a frame reaches a receiver whose max_frame is MIN_LIMITS.max_frame, and what became of one. */
interface ExactRoute {
  type: MessageName;
  /** Refused with OVERLOADED past the limit (else skipped: a broadcast, REQ-18). */
  refusable: boolean;
  /** Sends the frame with id `id` and `bytes` bytes of payload, and finds out what became of it. */
  outcome(id: string, bytes: number, expected: 'delivered' | 'refused'): Promise<Outcome>;
}

/** A frame the broker forwards from one connection to another. */
interface Forwarding {
  type: MessageName;
  /** Sends the frame with id `id` and a payload of `bytes` bytes; returns the length of the body it wrote. */
  send(id: string, bytes: number): Promise<number>;
  /** The connection the frame was sent on, where an OVERLOADED refusal comes back. */
  sender: WireConnection;
  receiver: WireConnection;
  refusable: boolean;
}

const forwarding = (ctx: CaseContext, f: Forwarding): ExactRoute => ({
  type: f.type, refusable: f.refusable, outcome: (id, bytes, expected) => outcomeOf(ctx, f, id, bytes, expected),
});

interface Outcome { sent: number; at: number | undefined; refused: boolean }

/**
 * Sends one frame and finds out what became of it: its body length at the receiver, or its refusal.
 * No order between two connections is assumed (the receiver may sit on another broker of a cluster):
 * the outcome `expected` is waited for first, the other one only when it did not come.
 */
async function outcomeOf(ctx: CaseContext, route: Forwarding, id: string, bytes: number, expected: 'delivered' | 'refused'): Promise<Outcome> {
  const sent = await route.send(id, bytes);
  const delivered = async (): Promise<number | undefined> =>
    (await arrival(ctx, route.receiver, `the ${route.type} ${id}`, (m) => m.name === route.type, ctx.timeoutMs))?.bodyLength;
  const refused = async (): Promise<boolean> => {
    if (!route.refusable) return false;
    const m = await arrival(ctx, route.sender, `ERROR OVERLOADED re=${id}`, (x) => x.name === 'ERROR' && x.header.re === id, ctx.timeoutMs);
    if (m === undefined) return false;
    const code = errorOf(m.message).code;
    if (code !== OVERLOADED) throw new CaseFailure(`the ${route.type} ${id} (${sent} bytes as sent) was refused with ${code}`, 'forwarded, or OVERLOADED past the limit (REQ-11)', code);
    return true;
  };
  if (expected === 'delivered') {
    const at = await delivered();
    return at !== undefined ? { sent, at, refused: false } : { sent, at, refused: await refused() };
  }
  if (await refused()) return { sent, at: undefined, refused: true };
  return { sent, at: await delivered(), refused: false };
}

/**
 * REQ-11 at the limit itself and one past it: a frame that is exactly the receiver's max_frame once
 * forwarded must be forwarded, and one a byte longer refused with OVERLOADED (skipped, for a broadcast).
 * The broker's framing is measured on a small frame first and the next ones sized to land on the limit;
 * when the one at the limit is refused, a third small frame shows whether the framing kept its length (a
 * broker may write longer rewritten ids later), and only then is the refusal the broker's fault.
 */
async function exactlyAtMaxFrame(ctx: CaseContext, route: ExactRoute, ownMaxFrame: number): Promise<void> {
  const small = MIN_LIMITS.max_frame;
  const probe = 1000;
  const first = await route.outcome('p1', probe, 'delivered');
  if (first.at === undefined) throw new CaseFailure(`a ${route.type} of ${probe} payload bytes was not forwarded to a receiver whose max_frame is ${small}`, 'forwarded', first.refused ? OVERLOADED : 'nothing');
  const framing = first.at - probe;
  const bytes = small - framing;
  if (first.sent - probe + bytes + 1 > ownMaxFrame) throw new CaseSkipped(`the broker's own max_frame (${ownMaxFrame}) leaves no room to send a frame that is ${small} bytes once forwarded`);
  const past = (at: number | undefined): void => {
    if (at !== undefined && at > small) throw new CaseFailure(`the broker forwarded a ${route.type} of ${at} bytes to a receiver whose max_frame is ${small}`, `at most ${small} bytes`, String(at));
  };
  const exact = await route.outcome('p2', bytes, 'delivered');
  past(exact.at);
  if (exact.at === undefined) {
    const verdict = exact.refused ? 'refused with OVERLOADED' : 'not delivered';
    const again = await route.outcome('p3', probe, 'delivered');
    if (again.at !== first.at) throw new CaseSkipped(`the broker's framing of the same ${route.type} went from ${framing} to ${again.at === undefined ? 'nothing' : again.at - probe} bytes, so the limit cannot be aimed at`);
    throw new CaseFailure(`a ${route.type} that is exactly ${small} bytes once forwarded (the receiver's max_frame; ${framing} bytes of framing before and after) was ${verdict}`, `forwarded at ${small} bytes`, verdict);
  }
  const over = await route.outcome('p4', bytes + 1, route.refusable ? 'refused' : 'delivered');
  past(over.at);
  // Delivered within the limit: the broker's framing shrank, and the frame fits; nothing to judge.
  if (route.refusable && !over.refused && over.at === undefined) {
    throw new CaseFailure(`a ${route.type} one byte past the receiver's max_frame of ${small} once forwarded was neither forwarded nor refused`, 'ERROR OVERLOADED', 'nothing');
  }
}

/** A SERVICE_DISPATCH with its own timeout_ms, forwarded to B, never answered in time. */
async function dispatchThatTimesOut(ctx: CaseContext, timeoutMs: number): Promise<{ a: Session; b: Session; forwardedId: string }> {
  const a = await session(ctx, 'A');
  const b = await session(ctx, 'B');
  const name = await registerService(ctx, b);
  const since = Date.now();
  a.conn.send({ type: 'SERVICE_DISPATCH', header: { id: 'd1' }, payload: { service_name: name, method: 'wait', payload: {}, timeout_ms: timeoutMs, max_retries: 0 } });
  const forwarded = await ctx.expectMessage(b.conn, 'the SERVICE_DISPATCH forwarded to the service', (m) => m.name === 'SERVICE_DISPATCH');
  await expectTimeoutAt(ctx, a.conn, 'd1', timeoutMs, since, 'the dispatch set timeout_ms');
  return { a, b, forwardedId: forwarded.header.id };
}

/**
 * Expects the one TIMEOUT answering `re`, naming `timeoutMs` (REQ-15), and not earlier than 90% of it
 * after `since` (REQ-14); later than the timeout by more than the slack is a failure too (a hang guard,
 * not a measurement). `source` says where the timeout comes from.
 */
async function expectTimeoutAt(ctx: CaseContext, conn: WireConnection, re: string, timeoutMs: number, since: number, source: string): Promise<void> {
  const { m, at } = await expectTimeout(ctx, conn, re, timeoutMs + slack(ctx, timeoutMs), since);
  const named = errorOf(m).details?.['timeout_ms'];
  if (named !== timeoutMs) throw new CaseFailure(`the TIMEOUT names details.timeout_ms ${JSON.stringify(named)}; ${source} ${timeoutMs} (REQ-15)`, String(timeoutMs), JSON.stringify(named));
  if (at < timeoutMs * 0.9) throw new CaseFailure(`TIMEOUT came ${at} ms after the request, before its timeout of ${timeoutMs} ms (REQ-14)`, `>= ${timeoutMs} ms`, `${at} ms`);
}

const signal = { coordination_id: 'runtime', disagreement_score: 0.5, threshold: 0.25 };

export const runtimeRequestCases: Case[] = [
  // REQ-5 binds the broker as a requester too: a provider's response of another type than SERVICE_RESULT
  // to the SERVICE_DISPATCH the broker sent it is refused, and the dispatch stays open for the real answer.
  // A broker that takes any response with the right `re` as the answer ends the dispatch on an ACK.
  defineCase({
    id: 'requests/wrong-response-type-to-the-brokers-request-refused',
    statements: ['REQ-5'],
    async run(ctx) {
      const { a, b, asked } = await dispatchAtProvider(ctx, 'd-typed', 'typed');
      b.conn.send({ type: 'ACK', header: { id: 'wrong-type', re: asked.header.id }, payload: {} });
      await ctx.expectError(b.conn, 'UNEXPECTED_MESSAGE', { re: 'wrong-type', closes: false });
      b.conn.send({ type: 'SERVICE_RESULT', header: { id: 'right-type', re: asked.header.id }, payload: { result: 'typed' } });
      const m = await ctx.expectMessage(a.conn, 'SERVICE_RESULT with re=d-typed (the dispatch still open after the ACK)', (x) => x.header.re === 'd-typed');
      if (m.name !== 'SERVICE_RESULT') throw new CaseFailure(`the dispatch was answered with ${summarize(m)} after its provider's ACK was refused`, 'SERVICE_RESULT', summarize(m));
    },
  }),
  defineCase({
    id: 'requests/timeout-set-by-the-payload',
    statements: ['REQ-14', 'REQ-15'],
    async run(ctx) {
      await dispatchThatTimesOut(ctx, 300);
    },
  }),
  defineCase({
    id: 'requests/catalog-timeout-before-request-timeout',
    statements: ['REQ-14'],
    async run(ctx) {
      // REASONING_REQUEST has a catalog timeout_ms (30,000 ms): a broker must not apply its
      // request_timeout_ms (the embedded broker's is 1 ms) to it, so no TIMEOUT comes while B thinks.
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'slow', dst: b.clientId }, payload: reasoning() });
      const f = await ctx.expectMessage(b.conn, 'the request at B', (m) => m.name === 'REASONING_REQUEST');
      const r = await a.conn.next(Math.min(1000, ctx.timeoutMs));
      if (r.kind !== 'timeout') throw new CaseFailure(`A got ${r.kind === 'message' ? `${r.message.name}${r.message.name === 'ERROR' ? ` ${errorOf(r.message).code}` : ''}` : r.kind} while B had the request for less than a second; its catalog timeout_ms is ${CATALOG_TIMEOUT_MS.REASONING_REQUEST}`, 'nothing', r.kind);
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'in-time', re: f.header.id }, payload: reasoningAnswer(2) });
      await ctx.expectMessage(a.conn, 'the answer within the catalog timeout', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'slow');
    },
  }),
  defineCase({
    id: 'requests/timeout-at-the-catalog-timeout',
    statements: ['REQ-15', 'REQ-14', 'REQ-16', 'REQ-1'],
    async run(ctx) {
      // The broker's own deadline (not a payload's, which the bus and the registry time): a routed
      // request its target never answers. INSTRUMENT_COMMAND has the shortest catalog timeout_ms, and
      // REQ-14 lets no one shorten it, so the case waits it out.
      const timeoutMs = CATALOG_TIMEOUT_MS.INSTRUMENT_COMMAND;
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B', { role: 'worker' });
      // Several open at once, each timed alone: r1 to r4 in one write, r2 answered, then r5 sent after
      // A has that answer (so r5 is due after the others). r1, r3, r4 and r5 each get their TIMEOUT.
      const command = (id: string): Uint8Array => encodeMessageFrame({ type: 'INSTRUMENT_COMMAND', header: { id, dst: b.clientId }, payload: { command: 'ping', params: { id } } });
      const since = Date.now();
      a.conn.sendRaw(Buffer.concat(['r1', 'r2', 'r3', 'r4'].map(command)), 'INSTRUMENT_COMMANDs r1 to r4 in one write');
      const forwarded = new Map<string, string>();
      for (let i = 0; i < 4; i++) {
        const f = await ctx.expectMessage(b.conn, `INSTRUMENT_COMMAND ${i + 1} of 4 forwarded to B`, (m) => m.name === 'INSTRUMENT_COMMAND');
        forwarded.set(String((f.payload as { params?: { id?: unknown } }).params?.id), f.header.id);
      }
      const r2 = forwarded.get('r2');
      if (r2 === undefined) throw new CaseFailure('B did not get r2 among the four forwarded INSTRUMENT_COMMANDs (their params forwarded unchanged)', 'r1, r2, r3, r4', [...forwarded.keys()].join(', '));
      b.conn.send({ type: 'INSTRUMENT_RESPONSE', header: { id: 'r2-answer', re: r2 }, payload: { command: 'ping', data: 'pong' } });
      await ctx.expectMessage(a.conn, 'the INSTRUMENT_RESPONSE answering r2', (m) => m.name === 'INSTRUMENT_RESPONSE' && m.header.re === 'r2');
      // r5 goes a quarter of the timeout later, so that a broker expiring every open request at the first
      // deadline (one timer for all) answers it well before its own timeout, past the 10% allowed below.
      const r5Delay = timeoutMs / 4;
      await new Promise((r) => setTimeout(r, r5Delay));
      const sinceR5 = Date.now();
      a.conn.send({ type: 'INSTRUMENT_COMMAND', header: { id: 'r5', dst: b.clientId }, payload: { command: 'ping', params: { id: 'r5' } } });
      await ctx.expectMessage(b.conn, 'r5 forwarded to B', (m) => m.name === 'INSTRUMENT_COMMAND');
      // The TIMEOUTs in any order (no statement orders answers to distinct requests).
      const pending = new Set(['r1', 'r3', 'r4', 'r5']);
      for (let i = 0; i < 4; i++) {
        const { m, at } = await messageWithin(ctx, a.conn, `ERROR TIMEOUT for one of ${[...pending].join(', ')} (INSTRUMENT_COMMAND's catalog timeout_ms is ${timeoutMs}, REQ-15)`, timeoutMs + r5Delay + slack(ctx, timeoutMs), (x) => x.name === 'ERROR' && pending.has(String(x.header.re)), since);
        const re = String(m.header.re);
        pending.delete(re);
        const p = errorOf(m);
        if (registryName(p.code) !== 'TIMEOUT' || p.definite !== false) throw new CaseFailure(`${re} was answered ERROR ${p.code} definite ${String(p.definite)}`, 'TIMEOUT, definite false (REQ-15)', `${p.code}, definite ${String(p.definite)}`);
        const named = p.details?.['timeout_ms'];
        if (named !== timeoutMs) throw new CaseFailure(`the TIMEOUT of ${re} names details.timeout_ms ${JSON.stringify(named)}; INSTRUMENT_COMMAND's catalog timeout_ms is ${timeoutMs} (REQ-15)`, String(timeoutMs), JSON.stringify(named));
        const after = re === 'r5' ? at - (sinceR5 - since) : at;
        if (after < timeoutMs * 0.9) throw new CaseFailure(`TIMEOUT of ${re} came ${after} ms after the request, before its timeout of ${timeoutMs} ms (REQ-14)`, `>= ${timeoutMs} ms`, `${after} ms`);
      }
      // B answers too late: the answer reaches no one and is not refused (REQ-16); A got its one answer (REQ-1).
      b.conn.send({ type: 'INSTRUMENT_RESPONSE', header: { id: 'too-late', re: forwarded.get('r1') ?? 'r1' }, payload: { command: 'ping', data: 'pong' } });
      await ctx.expectOpen(b.conn, 'no ERROR for the late answer (the next frame is the PONG)');
      await ctx.expectOpen(a.conn, 'no second answer to the requests (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'requests/late-answer-discarded/after-timeout',
    statements: ['REQ-16', 'REQ-1'],
    async run(ctx) {
      const { a, b, forwardedId } = await dispatchThatTimesOut(ctx, 200);
      b.conn.send({ type: 'SERVICE_RESULT', header: { id: 'late', re: forwardedId }, payload: { result: 'too late' } });
      // The requester got its one answer (the TIMEOUT); the late one reaches no one and is not refused.
      await ctx.expectOpen(b.conn, 'no ERROR for the late answer (the next frame is the PONG)');
      await ctx.expectOpen(a.conn, 'no second answer to d1 (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'requests/late-answer-discarded/after-requester-left',
    statements: ['REQ-16'],
    async run(ctx) {
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'abandoned', dst: b.clientId }, payload: reasoning() });
      const forwarded = await ctx.expectMessage(b.conn, 'the request forwarded to B', (m) => m.name === 'REASONING_REQUEST');
      a.conn.destroy();
      // Give the broker time to see A go, as the spec lets it take.
      await new Promise((r) => setTimeout(r, Math.min(200, ctx.timeoutMs / 4)));
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'orphan-answer', re: forwarded.header.id }, payload: reasoningAnswer() });
      await ctx.expectOpen(b.conn, 'no ERROR for an answer to an abandoned request (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'requests/pipelined-frames-in-order/shutdown-then-request',
    statements: ['REQ-17', 'HS-13'],
    async run(ctx) {
      requireDrainTime(ctx, 'for a request to be refused');
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'open', dst: b.clientId }, payload: reasoning() });
      const forwarded = await ctx.expectMessage(b.conn, 'the request forwarded to B', (m) => m.name === 'REASONING_REQUEST');
      // SHUTDOWN and a request in one write: the request must meet the draining state SHUTDOWN set.
      a.conn.sendRaw(Buffer.concat([
        encodeMessageFrame({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'pipelined' } }),
        encodeMessageFrame({ type: 'REASONING_REQUEST', header: { id: 'behind-bye', dst: b.clientId }, payload: reasoning() }),
      ]), 'SHUTDOWN and REASONING_REQUEST behind-bye in one write');
      await ctx.expectError(a.conn, 'SHUTTING_DOWN', { re: 'behind-bye', closes: false });
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'ans', re: forwarded.header.id }, payload: reasoningAnswer() });
      await ctx.expectMessage(a.conn, 'the answer to the request sent before SHUTDOWN', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'open');
    },
  }),
  defineCase({
    id: 'requests/pipelined-frames-in-order/register-then-list',
    statements: ['REQ-17'],
    async run(ctx) {
      const b = await session(ctx, 'B');
      await registerService(ctx, b);
      const name = ctx.uniqueId('svc');
      b.conn.sendRaw(Buffer.concat([
        encodeMessageFrame({ type: 'SERVICE_REGISTER', header: { id: 'reg' }, payload: { service: descriptor(name) } as never }),
        encodeMessageFrame({ type: 'SERVICE_LIST', header: { id: 'list' }, payload: { name } as never }),
      ]), `SERVICE_REGISTER ${name} and SERVICE_LIST ${name} in one write`);
      await ctx.expectMessage(b.conn, 'ACK of the registration', (m) => m.name === 'ACK' && m.header.re === 'reg');
      const list = await ctx.expectMessage(b.conn, 'SERVICE_LIST_RESULT', (m) => m.name === 'SERVICE_LIST_RESULT' && m.header.re === 'list');
      const services = (list.payload as { services: { name: string }[] }).services.map((s) => s.name);
      if (!services.includes(name)) throw new CaseFailure(`SERVICE_LIST right behind SERVICE_REGISTER does not list ${name}: the registration took effect after a later frame`, `[${name}]`, JSON.stringify(services));
    },
  }),
  defineCase({
    id: 'requests/pipelined-frames-in-order/subscribe-then-publish',
    statements: ['REQ-17'],
    async run(ctx) {
      const a = await session(ctx, 'A');
      await requestOrSkip(ctx, a, 'BUS_SUBSCRIBE', { event_type: ctx.uniqueId('probe') }, 'the command bus');
      const type = ctx.uniqueId('evt');
      a.conn.sendRaw(Buffer.concat([
        encodeMessageFrame({ type: 'BUS_SUBSCRIBE', header: { id: 'sub' }, payload: { event_type: type } as never }),
        encodeMessageFrame({ type: 'BUS_PUBLISH', header: { id: 'pub' }, payload: { event_type: type, payload: { n: 1 } } as never }),
      ]), `BUS_SUBSCRIBE ${type} and BUS_PUBLISH ${type} in one write`);
      let delivered: number | undefined;
      for (let i = 0; i < 3 && delivered === undefined; i++) {
        const m = await ctx.expectMessage(a.conn, 'BUS_SUBSCRIBED, the BUS_EVENT to our own subscription and BUS_PUBLISHED', (x) => x.name === 'BUS_SUBSCRIBED' || x.name === 'BUS_EVENT' || x.name === 'BUS_PUBLISHED');
        if (m.name === 'BUS_EVENT') a.conn.send({ type: 'ACK', header: { id: `ack-${i}`, re: m.header.id }, payload: {} as never });
        if (m.name === 'BUS_PUBLISHED') delivered = (m.payload as { delivered: number }).delivered;
      }
      if (delivered !== 1) throw new CaseFailure('BUS_PUBLISH right behind BUS_SUBSCRIBE did not reach that subscription: the subscription took effect after a later frame', 'delivered 1', `delivered ${String(delivered)}`);
    },
  }),
  defineCase({
    id: 'requests/notification-not-answered',
    statements: ['REQ-2'],
    async run(ctx) {
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'note', dst: b.clientId }, payload: signal });
      await ctx.expectMessage(b.conn, 'the DISAGREEMENT_SIGNAL at B', (m) => m.name === 'DISAGREEMENT_SIGNAL');
      await ctx.expectOpen(a.conn, 'no answer to a valid notification (the next frame is the PONG)');
      await ctx.expectOpen(b.conn, 'one copy at B (the next frame is the PONG)');
    },
  }),
  ...([
    ['BUS_EVENT', { subscription_id: 's-1', event_type: 'wrong-way', publisher: 'harness' }],
    ['STATS_RESPONSE', { broker_id: 'harness', uptime_ms: '1', clients: [] }],
  ] as const satisfies readonly (readonly [MessageName, unknown])[]).map(([type, payload]) =>
    defineCase({
      id: `requests/wrong-direction/type:${type}`,
      statements: ['REQ-6'],
      async run(ctx) {
        // Types the catalog lets only the broker send: a client sending one gets UNEXPECTED_MESSAGE
        // (step 10), before the broker asks whether it implements the type (step 13).
        const { conn } = await session(ctx);
        ctx.sendUnchecked(conn, type, { id: `wrong-way-${type}` }, JSON.stringify(payload));
        await ctx.expectError(conn, 'UNEXPECTED_MESSAGE', { re: `wrong-way-${type}`, closes: false });
      },
    })),
  defineCase({
    id: 'requests/cbor-to-json-only-destination',
    statements: ['REQ-10'],
    async run(ctx) {
      const a = await session(ctx, 'A', { encodings: ['cbor', 'json'] });
      if (a.ack['encoding'] !== 'cbor') throw new CaseSkipped('the broker does not speak CBOR');
      const b = await session(ctx, 'B', { encodings: ['json'] });
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'cbor-q', dst: b.clientId }, payload: reasoning(), encoding: 'cbor' });
      await ctx.expectError(a.conn, 'UNSUPPORTED_ENCODING', { re: 'cbor-q', closes: false });
      await ctx.expectOpen(b.conn, 'B did not receive the CBOR frame (the next frame is the PONG)');
      // The same request in JSON goes through: the refusal was about the encoding alone.
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'json-q', dst: b.clientId }, payload: reasoning() });
      await ctx.expectMessage(b.conn, 'the JSON request at B', (m) => m.name === 'REASONING_REQUEST');
    },
  }),
  defineCase({
    id: 'requests/cbor-answer-to-json-only-requester',
    statements: ['REQ-10', 'REQ-1'],
    async run(ctx) {
      const a = await session(ctx, 'A', { encodings: ['cbor', 'json'] });
      if (a.ack['encoding'] !== 'cbor') throw new CaseSkipped('the broker does not speak CBOR');
      const b = await session(ctx, 'B', { encodings: ['json'] });
      b.conn.send({ type: 'REASONING_REQUEST', header: { id: 'from-json', dst: a.clientId }, payload: reasoning() });
      const forwarded = await ctx.expectMessage(a.conn, 'B\'s request at A', (m) => m.name === 'REASONING_REQUEST');
      a.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'cbor-answer', re: forwarded.header.id }, payload: reasoningAnswer(5), encoding: 'cbor' });
      await ctx.expectError(a.conn, 'UNSUPPORTED_ENCODING', { re: 'cbor-answer', closes: false });
      // The request stays open: A answers again in JSON and B gets exactly that answer.
      a.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'json-answer', re: forwarded.header.id }, payload: reasoningAnswer(6) });
      const m = await ctx.expectMessage(b.conn, 'the JSON answer at B', (x) => x.name === 'REASONING_RESPONSE' && x.header.re === 'from-json');
      if ((m.payload as { spike_count: number }).spike_count !== 6) throw new CaseFailure('B got an answer other than the JSON one', '6', String((m.payload as { spike_count: number }).spike_count));
    },
  }),
  defineCase({
    id: 'requests/answer-past-requester-max-frame-overloaded',
    statements: ['REQ-11'],
    async run(ctx) {
      // The answer travels routed too: its destination is the requester, whose max_frame bounds it.
      const small = MIN_LIMITS.max_frame;
      const a = await session(ctx, 'A', { max_frame: small });
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'small-asker', dst: b.clientId }, payload: reasoning() });
      const forwarded = await ctx.expectMessage(b.conn, 'the request at B', (m) => m.name === 'REASONING_REQUEST');
      // A schema-valid answer padded with JSON whitespace past A's max_frame (forwarded unread, REQ-9).
      ctx.sendUnchecked(b.conn, 'REASONING_RESPONSE', { id: 'too-large', re: forwarded.header.id }, `${JSON.stringify(reasoningAnswer(1))}${' '.repeat(small)}`);
      const m = await ctx.expectError(b.conn, 'OVERLOADED', { re: 'too-large', closes: false, statement: 'REQ-11' });
      const limit = errorOf(m).details?.['limit'];
      if (limit !== small) throw new CaseFailure(`OVERLOADED names details.limit ${JSON.stringify(limit)}; A announced max_frame ${small}`, String(small), JSON.stringify(limit));
      await ctx.expectOpen(a.conn, 'A did not receive the oversized answer (the next frame is the PONG)');
    },
  }),
  // A sends, B (at the smallest max_frame) receives: a routed request, the SERVICE_DISPATCH the broker
  // sends a provider with the caller's payload unchanged (REG-8), and a broadcast, which skips B instead.
  ...([
    { path: 'request', type: 'REASONING_REQUEST', statements: ['REQ-11', 'LIM-2'], refusable: true },
    { path: 'dispatch', type: 'SERVICE_DISPATCH', statements: ['REQ-11', 'LIM-2', 'REG-8'], refusable: true },
    { path: 'broadcast', type: 'DISAGREEMENT_SIGNAL', statements: ['REQ-18', 'LIM-2'], refusable: false },
  ] satisfies { path: string; type: MessageName; statements: string[]; refusable: boolean }[]).map(({ path, type, statements, refusable }) =>
    defineCase({
      id: `requests/destination-max-frame/exactly:${path}`,
      statements,
      async run(ctx) {
        const a = await session(ctx, 'A');
        const b = await session(ctx, 'B', { max_frame: MIN_LIMITS.max_frame });
        const [dst, payload] = path === 'request' ? [b.clientId, reasoning('exact')]
          : path === 'broadcast' ? ['*', { coordination_id: 'exact', disagreement_score: 0.5, threshold: 0.25 }]
          : [undefined, { service_name: await registerService(ctx, b), method: 'exact', payload: {}, max_retries: 0 }];
        await exactlyAtMaxFrame(ctx, forwarding(ctx, {
          type, sender: a.conn, receiver: b.conn, refusable,
          send: async (id, bytes) => sentBody(ctx, a.conn, type, dst === undefined ? { id } : { id, dst }, paddedPayload(type, payload, bytes)),
        }), Number(a.ack['max_frame']));
      },
    })),
  defineCase({
    id: 'requests/destination-max-frame/exactly:answer',
    statements: ['REQ-11', 'LIM-2'],
    async run(ctx) {
      // The answer's destination is the requester: its max_frame bounds the answer.
      const a = await session(ctx, 'A', { max_frame: MIN_LIMITS.max_frame });
      const b = await session(ctx, 'B');
      await exactlyAtMaxFrame(ctx, forwarding(ctx, {
        type: 'REASONING_RESPONSE', sender: b.conn, receiver: a.conn, refusable: true,
        send: async (id, bytes) => {
          // Two-byte request ids: a broker that relays through another (a cluster) may write longer ones on the way.
          a.conn.send({ type: 'REASONING_REQUEST', header: { id, dst: b.clientId }, payload: reasoning() });
          const asked = await ctx.expectMessage(b.conn, `request ${id} at B`, (m) => m.name === 'REASONING_REQUEST' && m.header.src === a.clientId);
          return sentBody(ctx, b.conn, 'REASONING_RESPONSE', { id, re: asked.header.id }, paddedPayload('REASONING_RESPONSE', reasoningAnswer(), bytes));
        },
      }), Number(b.ack['max_frame']));
    },
  }),
  defineCase({
    id: 'requests/destination-max-frame/exactly:broker-reply',
    statements: ['REQ-11', 'LIM-2', 'REG-11'],
    async run(ctx) {
      // A reply the broker builds itself around the provider's result (SERVICE_RESULT): the same limit, its
      // refusal an ERROR OVERLOADED to the caller in the reply's place, still one answer (REQ-1).
      const a = await session(ctx, 'A', { max_frame: MIN_LIMITS.max_frame });
      const b = await session(ctx, 'B');
      const name = await registerService(ctx, b);
      await exactlyAtMaxFrame(ctx, {
        type: 'SERVICE_RESULT', refusable: true,
        async outcome(id, bytes) {
          a.conn.send({ type: 'SERVICE_DISPATCH', header: { id }, payload: { service_name: name, method: 'exact', payload: {}, max_retries: 0 } });
          const asked = await ctx.expectMessage(b.conn, `dispatch ${id} at the provider`, (m) => m.name === 'SERVICE_DISPATCH');
          // The result is a string of `bytes` characters: the broker re-encodes it, so its length is the payload's lever.
          const before = b.conn.traffic.bytesOut;
          b.conn.send({ type: 'SERVICE_RESULT', header: { id: `r${id}`, re: asked.header.id }, payload: { result: 'x'.repeat(bytes) } });
          const sent = b.conn.traffic.bytesOut - before - 4;
          const answer = await arrival(ctx, a.conn, `SERVICE_RESULT or ERROR re=${id}`, (m) => m.header.re === id, ctx.timeoutMs);
          if (answer === undefined) throw new CaseFailure(`dispatch ${id} got no answer (REQ-1)`, 'SERVICE_RESULT or ERROR OVERLOADED', 'nothing');
          if (answer.message.name === 'SERVICE_RESULT') return { sent, at: answer.bodyLength, refused: false };
          const code = answer.message.name === 'ERROR' ? errorOf(answer.message).code : answer.message.name;
          if (code !== OVERLOADED) throw new CaseFailure(`dispatch ${id} was answered with ${code}`, 'SERVICE_RESULT, or OVERLOADED past A\'s max_frame (REQ-11)', code);
          return { sent, at: undefined, refused: true };
        },
      }, Number(b.ack['max_frame']));
    },
  }),
  ...(['at-limit', 'past-limit'] as const).map((size) =>
    defineCase({
      id: `requests/destination-max-frame/size:${size}`,
      statements: ['REQ-11', 'LIM-2'],
      async run(ctx) {
        const small = MIN_LIMITS.max_frame;
        const a = await session(ctx, 'A');
        const b = await session(ctx, 'B', { max_frame: small });
        // Past: the payload alone exceeds B's max_frame. At: room for the largest header a broker may write.
        const payloadBudget = size === 'past-limit' ? small + 1 : small - DEFAULT_LIMITS.max_header - 64;
        // base64 of n float32 takes 4n/3 bytes, plus the JSON around it.
        const n = Math.floor(((payloadBudget - 200) * 3) / 16) + (size === 'past-limit' ? 64 : 0);
        const payload = { encoding: NDArray.from('<f4', [n], new Array<number>(n).fill(0.25)), context: 'max-frame', source: 'harness' };
        a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'big', dst: b.clientId }, payload });
        if (size === 'at-limit') {
          await ctx.expectMessage(b.conn, `the request of about ${payloadBudget} payload bytes at B (max_frame ${small})`, (m) => m.name === 'REASONING_REQUEST');
          return;
        }
        const m = await ctx.expectError(a.conn, 'OVERLOADED', { re: 'big', closes: false });
        const limit = errorOf(m).details?.['limit'];
        if (limit !== small) throw new CaseFailure(`OVERLOADED names details.limit ${JSON.stringify(limit)}; B announced max_frame ${small}`, String(small), JSON.stringify(limit));
        await ctx.expectOpen(b.conn, 'B did not receive the oversized frame (the next frame is the PONG)');
      },
    })),
];
