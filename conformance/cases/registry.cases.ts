/**
 * The service registry and routing by service name (sections registry and requests), and the broker's side of
 * the bus (bus/wire-rules.ts): the broker cases of the core suite that the harness plays every client of.
 */
import { NDArray } from '../../reference/codec/ndarray.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { inFlightLimitToReach } from './in-flight-limit.js';
import { summarize, type CaseContext, type Session } from './context.js';
import type { Message } from '../../reference/codec/message.js';
import { BUS_WIRE_CASES, answerOf, handlerError, incoming, nothingYet, reply, send, sleep } from '../bus/wire-rules.js';
import { expectEqual } from '../bus/checks.js';
import { registryName } from '../../reference/codec/catalog.js';
import { dispatchBackoffMs, DISPATCH_DEFAULTS } from '../../spec/generated/catalog.js';

const request = { encoding: NDArray.from('<f4', [2], [1, 2]), context: 'registry', source: 'harness' };

function descriptor(name: string, maxConcurrent = 0): Record<string, unknown> {
  return { name, service_type: 'engine', version: '1.0.0', capabilities: ['reason'], max_concurrent: maxConcurrent, healthy: true, metadata: {} };
}

async function register(ctx: CaseContext, s: Session, name: string, id = `reg-${name}`, maxConcurrent = 0): Promise<void> {
  s.conn.send({ type: 'SERVICE_REGISTER', header: { id }, payload: { service: descriptor(name, maxConcurrent) } });
  await ctx.expectMessage(s.conn, `ACK of SERVICE_REGISTER ${name}`, (m) => m.name === 'ACK' && m.header.re === id);
}

async function list(ctx: CaseContext, s: Session, name: string): Promise<{ name: string; current_load: number; healthy: boolean }[]> {
  const id = `list-${name}-${Date.now()}`;
  s.conn.send({ type: 'SERVICE_LIST', header: { id }, payload: { name } });
  const m = await ctx.expectMessage(s.conn, `SERVICE_LIST_RESULT for ${name}`, (x) => x.name === 'SERVICE_LIST_RESULT' && x.header.re === id);
  return (m.payload as { services: { name: string; current_load: number; healthy: boolean }[] }).services;
}

/** The backoff before the r-th retry (REG-7). */
const backoff = (r: number): number => dispatchBackoffMs(r);
/**
 * How early a retry may come: a fifth of its wait, at least 15 ms. A conforming broker's timer can fire
 * early by wall clock when its process was descheduled between reading the failure and starting the
 * timer (Node starts timers from the time its event loop last read the clock): 369 ms for a wait of
 * 400 was seen on a loaded CI machine. A fifth still fails a broker that halves the waits or retries at
 * once. Above, a generous slack (a verdict bound from the spec, on a loaded machine).
 */
const earlyMs = (want: number): number => Math.max(15, Math.round(want / 5));
const LATE_MS = 3000;

function dispatch(c: Session, payload: Record<string, unknown>): string {
  return send(c, 'SERVICE_DISPATCH', payload);
}

/** REG-8 names the method and the payload; the rest of the forwarded SERVICE_DISPATCH is the broker's to build. */
function expectAttempt(fwd: Message, sent: Record<string, unknown>, n: number): void {
  const got = fwd.payload as Record<string, unknown>;
  expectEqual(`attempt ${n}: the method and payload the service received (the caller's, unchanged, REG-8)`, { method: sent['method'], payload: sent['payload'] }, { method: got['method'], payload: got['payload'] });
}

/**
 * Answers each attempt with the ERROR of `errors[i]` (then with `result` when given), measuring from
 * each answer to the next attempt's arrival: the wait the broker put before that retry.
 */
async function attempts(ctx: CaseContext, s: Session, sent: Record<string, unknown>, errors: Record<string, unknown>[], result?: unknown): Promise<number[]> {
  const gaps: number[] = [];
  let answered = 0;
  for (let i = 0; i <= errors.length - (result === undefined ? 1 : 0); i++) {
    const fwd = await incoming(ctx, s, 'SERVICE_DISPATCH', `attempt ${i + 1}`, i === 0 ? undefined : ctx.timeoutMs + backoff(i) + LATE_MS);
    if (i > 0) gaps.push(Date.now() - answered);
    expectAttempt(fwd, sent, i + 1);
    if (i < errors.length) reply(s, fwd, 'ERROR', errors[i]);
    else reply(s, fwd, 'SERVICE_RESULT', { result });
    answered = Date.now();
  }
  return gaps;
}

function expectBackoff(gaps: number[]): void {
  gaps.forEach((gap, i) => {
    const want = backoff(i + 1);
    if (gap < want - earlyMs(want) || gap > want + LATE_MS) throw new CaseFailure(`retry ${i + 1} came ${gap} ms after the failed attempt; REG-7 asks for min(${DISPATCH_DEFAULTS.backoff_base_ms} x 2^(r-1), ${DISPATCH_DEFAULTS.backoff_max_ms}) = ${want} ms`, `${want} ms`, `${gap} ms`);
  });
}

async function load(ctx: CaseContext, s: Session, name: string): Promise<number> {
  return (await list(ctx, s, name))[0]?.current_load ?? -1;
}

/** A caller, and a service connection that registered a fresh service name. */
async function callerAndService(ctx: CaseContext): Promise<{ c: Session; s: Session; name: string }> {
  const c = await ctx.session('caller');
  const s = await ctx.session('service');
  const name = ctx.uniqueId('svc');
  await register(ctx, s, name);
  return { c, s, name };
}

export const registryCases: Case[] = [
  defineCase({
    id: 'requests/route-to-service-name',
    statements: ['REQ-7', 'REQ-13'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, b, name);
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'by-name', dst: name }, payload: request });
      const m = await ctx.expectMessage(b.conn, `the request routed to service ${name}`, (x) => x.name === 'REASONING_REQUEST');
      if (m.header.src !== a.clientId) throw new CaseFailure('the forwarded request does not name its sender', a.clientId, String(m.header.src));
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'svc-answer', re: m.header.id }, payload: { spike_count: 1, confidence: 0.5, firing_pattern: NDArray.from('|u1', [1], [1]), engine: name, latency_ms: 0 } });
      await ctx.expectMessage(a.conn, 'the service\'s REASONING_RESPONSE with re=by-name', (x) => x.name === 'REASONING_RESPONSE' && x.header.re === 'by-name');
    },
  }),
  defineCase({
    id: 'registry/list-shows-load-and-health',
    statements: ['REG-3'],
    async run(ctx) {
      const b = await ctx.session();
      const name = ctx.uniqueId('svc');
      await register(ctx, b, name);
      b.conn.send({ type: 'SERVICE_HEALTH', header: { id: 'sick' }, payload: { name, healthy: false } });
      await ctx.expectMessage(b.conn, 'ACK of SERVICE_HEALTH', (m) => m.name === 'ACK' && m.header.re === 'sick');
      const found = await list(ctx, b, name);
      if (found.length !== 1 || found[0]!.current_load !== 0 || found[0]!.healthy !== false) {
        throw new CaseFailure('SERVICE_LIST does not show the service with load 0 and its health', `[{name: ${name}, current_load: 0, healthy: false}]`, JSON.stringify(found));
      }
    },
  }),
  defineCase({
    id: 'registry/listing-gives-healthy',
    statements: ['REG-3'],
    async run(ctx) {
      // The descriptor's optional fields left out: the listing still gives the service its load and
      // health (a broker that lists what was registered, rather than the registry's state, leaves them out).
      const b = await ctx.session();
      const name = ctx.uniqueId('svc');
      b.conn.send({ type: 'SERVICE_REGISTER', header: { id: 'bare' }, payload: { service: { name, service_type: 'engine', version: '1.0.0' } } });
      await ctx.expectMessage(b.conn, `ACK of SERVICE_REGISTER ${name} with no healthy, max_concurrent or capabilities`, (m) => m.name === 'ACK' && m.header.re === 'bare');
      const found = await list(ctx, b, name);
      const listed = found[0] as Record<string, unknown> | undefined;
      if (found.length !== 1 || typeof listed?.['healthy'] !== 'boolean' || listed['current_load'] !== 0) {
        throw new CaseFailure(`SERVICE_LIST does not give ${name}, registered without healthy, its current_load and healthy (REG-3)`, `[{name: ${name}, current_load: 0, healthy: true or false}]`, JSON.stringify(found));
      }
    },
  }),
  defineCase({
    id: 'registry/duplicate-name-refused',
    statements: ['REG-1'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, a, name);
      b.conn.send({ type: 'SERVICE_REGISTER', header: { id: 'again' }, payload: { service: descriptor(name) } });
      await ctx.expectError(b.conn, 'SERVICE_EXISTS', { re: 'again', closes: false });
    },
  }),
  defineCase({
    id: 'registry/only-the-provider-unregisters',
    statements: ['REG-2'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, a, name);
      b.conn.send({ type: 'SERVICE_UNREGISTER', header: { id: 'not-mine' }, payload: { name } });
      await ctx.expectError(b.conn, 'SERVICE_NOT_FOUND', { re: 'not-mine', closes: false });
    },
  }),
  defineCase({
    id: 'registry/unregistered-service-gone',
    statements: ['REG-4', 'SYS-1', 'REG-3'],
    async run(ctx) {
      // The ACK of SERVICE_UNREGISTER means the service is gone (SYS-1): no longer listed, and a dispatch to
      // it finds nothing. A broker that ACKs and keeps the entry (SERVICE_UNREGISTER handled like
      // SERVICE_HEALTH) dispatches to a provider that has left the role. (Whether the name is free again at
      // once is not asked: across a cluster its release may lag, and the spec sets no bound, CLU-10.)
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, a, name);
      a.conn.send({ type: 'SERVICE_UNREGISTER', header: { id: 'unreg' }, payload: { name } });
      await ctx.expectMessage(a.conn, 'ACK with re=unreg (SERVICE_UNREGISTER of its own service)', (m) => m.name === 'ACK' && m.header.re === 'unreg');
      const listed = await list(ctx, b, name);
      if (listed.length > 0) throw new CaseFailure(`service ${name} is still listed after its unregistration was acknowledged (SYS-1, REG-3)`, 'no entry', JSON.stringify(listed));
      await ctx.expectError(b.conn, 'SERVICE_NOT_FOUND', { re: dispatch(b, { service_name: name, method: 'run', max_retries: 0 }), closes: false, statement: 'REG-4' });
      await ctx.expectOpen(a.conn, 'no attempt of the dispatch at the former provider (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'registry/service-named-like-the-broker-refused',
    statements: ['REG-1'],
    async run(ctx) {
      // A service named like the broker would be shadowed by it, or capture the frames addressed to it (REQ-7).
      const a = await ctx.session('A');
      const brokerId = a.ack['broker_id'];
      if (typeof brokerId !== 'string') throw new CaseSkipped(`INIT_ACK carries no broker_id string (${String(brokerId)}); the handshake cases judge it`);
      a.conn.send({ type: 'SERVICE_REGISTER', header: { id: 'as-broker' }, payload: { service: descriptor(brokerId) } });
      await ctx.expectError(a.conn, 'SERVICE_EXISTS', { re: 'as-broker', closes: false });
    },
  }),
  defineCase({
    id: 'handshake/services-go-with-their-connection',
    statements: ['HS-19'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, b, name);
      b.conn.destroy();
      // The close reaches the broker asynchronously; ask until it is gone, a bounded number of times.
      for (let attempt = 0; attempt < 20; attempt++) {
        if ((await list(ctx, a, name)).length === 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new CaseFailure(`service ${name} is still listed after its connection closed`, 'no entry', 'listed');
    },
  }),
  defineCase({
    id: 'registry/dispatch-check-order',
    statements: ['REG-4'],
    async run(ctx) {
      const c = await ctx.session('caller');
      const s = await ctx.session('service');
      await ctx.expectError(c.conn, 'SERVICE_NOT_FOUND', { re: dispatch(c, { service_name: ctx.uniqueId('ghost'), method: 'run' }), closes: false });
      const one = ctx.uniqueId('svc');
      await register(ctx, s, one, undefined, 1);
      const held = dispatch(c, { service_name: one, method: 'run', payload: 1, max_retries: 0 });
      const fwd = await incoming(ctx, s, 'SERVICE_DISPATCH', 'the first dispatch, taking the only slot');
      await ctx.expectError(c.conn, 'OVERLOADED', { re: dispatch(c, { service_name: one, method: 'run', payload: 2 }), closes: false });
      await answerOf(ctx, s, send(s, 'SERVICE_HEALTH', { name: one, healthy: false }), 'ACK', 'SERVICE_HEALTH');
      // Unhealthy and at max_concurrent: health comes first.
      await ctx.expectError(c.conn, 'SERVICE_UNHEALTHY', { re: dispatch(c, { service_name: one, method: 'run', payload: 3 }), closes: false });
      reply(s, fwd, 'SERVICE_RESULT', { result: 1 });
      await answerOf(ctx, c, held, 'SERVICE_RESULT', 'the first dispatch');
      const many = ctx.uniqueId('svc');
      await register(ctx, s, many);
      const ids = [dispatch(c, { service_name: many, method: 'run', payload: 'a' }), dispatch(c, { service_name: many, method: 'run', payload: 'b' })];
      const both = [await incoming(ctx, s, 'SERVICE_DISPATCH', '1 of 2 (max_concurrent 0 is unlimited)'), await incoming(ctx, s, 'SERVICE_DISPATCH', '2 of 2 (max_concurrent 0 is unlimited)')];
      for (const [i, m] of both.entries()) {
        reply(s, m, 'SERVICE_RESULT', { result: i });
        await answerOf(ctx, c, ids[i]!, 'SERVICE_RESULT', `dispatch ${i + 1} to the unlimited service`);
      }
    },
  }),
  defineCase({
    id: 'registry/dispatch-timeout-not-retried',
    statements: ['REG-5'],
    async run(ctx) {
      const c = await ctx.session('caller');
      const s = await ctx.session('service');
      const name = ctx.uniqueId('svc');
      await register(ctx, s, name);
      const id = dispatch(c, { service_name: name, method: 'run', timeout_ms: 100, max_retries: 3 });
      await incoming(ctx, s, 'SERVICE_DISPATCH', 'the only attempt (never answered)');
      const m = await ctx.expectError(c.conn, 'TIMEOUT', { re: id, closes: false });
      expectEqual('details.timeout_ms of the TIMEOUT', 100, (m.payload as { details?: { timeout_ms?: unknown } }).details?.timeout_ms);
      await sleep(backoff(1) + 300); // a retry would have come by now
      await nothingYet(ctx, s, 'a dispatch whose attempt timed out must not be retried');
    },
  }),
  defineCase({
    id: 'registry/dispatch-retries-with-backoff',
    statements: ['REG-6', 'REG-7', 'REG-8', 'REG-11'],
    async run(ctx) {
      const c = await ctx.session('caller');
      const s = await ctx.session('service');
      const flaky = ctx.uniqueId('svc');
      await register(ctx, s, flaky);
      const sent = { service_name: flaky, method: 'acquire', payload: { decimation: 64, channels: [1, 2], note: 'é\u0000' }, priority: 'high', max_retries: 2 };
      const id = dispatch(c, sent);
      expectBackoff(await attempts(ctx, s, sent, [handlerError('attempt 1'), handlerError('attempt 2')], { samples: [1, 2, 3] }));
      expectEqual('SERVICE_RESULT after two failures', { result: { samples: [1, 2, 3] }, attempts: 3 }, (await answerOf(ctx, c, id, 'SERVICE_RESULT', 'the dispatch')).payload);
      // max_retries absent: 3 retries, then HANDLER_FAILED with the last attempt's ERROR.
      const dead = ctx.uniqueId('svc');
      await register(ctx, s, dead);
      const sentDead = { service_name: dead, method: 'run', payload: [0] };
      const failing = dispatch(c, sentDead);
      const errors = [1, 2, 3, 4].map((n) => handlerError(`attempt ${n}`));
      expectBackoff(await attempts(ctx, s, sentDead, errors));
      const m = await ctx.expectError(c.conn, 'HANDLER_FAILED', { re: failing, closes: false });
      expectEqual('details.error of HANDLER_FAILED (the last attempt\'s ERROR)', errors[3], (m.payload as { details?: { error?: unknown } }).details?.error);
      await nothingYet(ctx, s, 'a fifth attempt of a dispatch without max_retries (3 retries at most)');
      // max_retries 0: one attempt.
      const once = dispatch(c, { service_name: dead, method: 'run', max_retries: 0 });
      reply(s, await incoming(ctx, s, 'SERVICE_DISPATCH', 'the only attempt of max_retries 0'), 'ERROR', handlerError('only'));
      expectEqual('details.error with max_retries 0', handlerError('only'), ((await ctx.expectError(c.conn, 'HANDLER_FAILED', { re: once, closes: false })).payload as { details?: { error?: unknown } }).details?.error);
    },
  }),
  defineCase({
    id: 'registry/load-raised-and-lowered',
    statements: ['REG-9'],
    async run(ctx) {
      const c = await ctx.session('caller');
      const s = await ctx.session('service');
      const name = ctx.uniqueId('svc');
      await register(ctx, s, name);
      expectEqual('current_load before any dispatch', 0, await load(ctx, c, name));
      const ok = dispatch(c, { service_name: name, method: 'run', payload: 'ok', max_retries: 0 });
      const bad = dispatch(c, { service_name: name, method: 'run', payload: 'bad', max_retries: 0 });
      const fwd = new Map<string, Message>();
      for (let i = 0; i < 2; i++) {
        const m = await incoming(ctx, s, 'SERVICE_DISPATCH', `${i + 1} of 2`);
        fwd.set(String((m.payload as { payload: unknown }).payload), m);
      }
      expectEqual('current_load with two dispatches accepted', 2, await load(ctx, c, name));
      reply(s, fwd.get('ok')!, 'SERVICE_RESULT', { result: 1 });
      await answerOf(ctx, c, ok, 'SERVICE_RESULT', 'the dispatch that succeeds');
      expectEqual('current_load after a success', 1, await load(ctx, c, name));
      reply(s, fwd.get('bad')!, 'ERROR', handlerError('bad'));
      await ctx.expectError(c.conn, 'HANDLER_FAILED', { re: bad, closes: false });
      expectEqual('current_load after a failure', 0, await load(ctx, c, name));
      // Alone, so its TIMEOUT cannot arrive between other answers.
      const late = dispatch(c, { service_name: name, method: 'run', payload: 'late', timeout_ms: 1000, max_retries: 0 });
      const held = await incoming(ctx, s, 'SERVICE_DISPATCH', 'the dispatch left to time out');
      expectEqual('current_load with a dispatch waiting for its answer', 1, await load(ctx, c, name));
      await ctx.expectMessage(c.conn, `ERROR TIMEOUT re=${late} after timeout_ms 1000`, (m) => m.name === 'ERROR' && registryName((m.payload as { code: string }).code) === 'TIMEOUT' && m.header.re === late, 1000 + ctx.timeoutMs);
      expectEqual('current_load after a timeout', 0, await load(ctx, c, name));
      reply(s, held, 'SERVICE_RESULT', { result: 'too late' }); // discarded; must not lower the load again
      await sleep(50);
      expectEqual('current_load after a late answer', 0, await load(ctx, c, name));
    },
  }),
  defineCase({
    id: 'registry/peer-gone-not-retried',
    statements: ['REG-12'],
    async run(ctx) {
      const { c, s, name } = await callerAndService(ctx);
      const id = dispatch(c, { service_name: name, method: 'run', max_retries: 3 });
      await incoming(ctx, s, 'SERVICE_DISPATCH', 'the attempt the service leaves unanswered');
      s.conn.destroy();
      await ctx.expectError(c.conn, 'PEER_GONE', { re: id, closes: false });
    },
  }),
  // The service fails the first attempt and leaves during the backoff before the retry (REG-7): its
  // registration ended with its connection (HS-19), so there is no one to retry. A broker that sends the
  // retry to the closed connection leaves the dispatch to its timeout_ms (300,000 ms when absent).
  defineCase({
    id: 'registry/service-gone-between-attempts-not-retried',
    statements: ['REG-12', 'REG-6'],
    async run(ctx) {
      const { c, s, name } = await callerAndService(ctx);
      const id = dispatch(c, { service_name: name, method: 'run', max_retries: 3 });
      const fwd = await incoming(ctx, s, 'SERVICE_DISPATCH', 'the attempt the service fails before it leaves');
      reply(s, fwd, 'ERROR', handlerError('failing, then leaving'));
      s.conn.destroy();
      const m = await ctx.expectMessage(c.conn, `an ERROR with re=${id} ending the dispatch of a service that left (no retry)`, (x) => x.header.re === id);
      const code = m.name === 'ERROR' ? registryName((m.payload as { code: string }).code) : undefined;
      if (code === undefined || code === 'TIMEOUT') throw new CaseFailure('[REG-12] a dispatch whose service failed an attempt and then disconnected must end at once, without a retry (PEER_GONE), not wait for an attempt\'s timeout', 'ERROR PEER_GONE', summarize(m));
    },
  }),
  defineCase({
    id: 'registry/dispatch-to-a-service-gone-before-its-attempt',
    statements: ['REG-4'],
    async run(ctx) {
      // Dispatch and unregister in one read: a broker that accepted the dispatch may start it only after
      // the service is gone, and must then answer SERVICE_NOT_FOUND, never fault (INTERNAL).
      const s = await ctx.session('service');
      const name = ctx.uniqueId('svc');
      await register(ctx, s, name);
      const id = dispatch(s, { service_name: name, method: 'run', payload: 'own', max_retries: 0 });
      const gone = send(s, 'SERVICE_UNREGISTER', { name });
      let acked = false;
      let answered = false;
      while (!acked || !answered) {
        const m = await ctx.expectMessage(s.conn, `ACK re=${gone}, and SERVICE_NOT_FOUND re=${id} or the attempt of the dispatch`, (x) => (x.name === 'ACK' && x.header.re === gone) || x.header.re === id || x.name === 'SERVICE_DISPATCH');
        if (m.name === 'ACK') acked = true;
        // Started before the unregistration was read: the attempt is the service's to answer.
        else if (m.name === 'SERVICE_DISPATCH') reply(s, m, 'SERVICE_RESULT', { result: 'ran' });
        else if (m.name === 'SERVICE_RESULT' || (m.name === 'ERROR' && registryName((m.payload as { code: string }).code) === 'SERVICE_NOT_FOUND')) answered = true;
        else throw new CaseFailure(`a dispatch whose service was unregistered before its attempt was answered ${summarize(m)}`, 'ERROR SERVICE_NOT_FOUND (or the attempt, then SERVICE_RESULT)', summarize(m));
      }
    },
  }),
  defineCase({
    id: 'limits/dispatch-answered-frees-its-in-flight-slot',
    statements: ['LIM-7'],
    async run(ctx) {
      // max_in_flight dispatches answered, then one more: a broker that never releases a dispatch's slot
      // refuses it with OVERLOADED.
      const { c, s, name } = await callerAndService(ctx);
      const limit = inFlightLimitToReach(c.ack, 'skip');
      const ids = Array.from({ length: limit }, (_, i) => dispatch(c, { service_name: name, method: 'run', payload: i, max_retries: 0 }));
      for (let i = 0; i < limit; i++) reply(s, await incoming(ctx, s, 'SERVICE_DISPATCH', `${i + 1} of ${limit}`), 'SERVICE_RESULT', { result: i });
      const open = new Set(ids);
      while (open.size > 0) await ctx.expectMessage(c.conn, `SERVICE_RESULT for each of ${limit} dispatches (${open.size} still open)`, (x) => x.name === 'SERVICE_RESULT' && open.delete(String(x.header.re)));
      const more = dispatch(c, { service_name: name, method: 'run', payload: 'after', max_retries: 0 });
      // A refusal comes before the PONG of a PING sent after the dispatch; an accepted dispatch waits for the service.
      await nothingYet(ctx, c, `a dispatch with none open was answered before its attempt (after ${limit} answered dispatches)`);
      reply(s, await incoming(ctx, s, 'SERVICE_DISPATCH', `the dispatch after ${limit} answered ones (none open)`), 'SERVICE_RESULT', { result: 'after' });
      await answerOf(ctx, c, more, 'SERVICE_RESULT', `a dispatch with none open, after ${limit} answered`);
    },
  }),
  defineCase({
    id: 'limits/in-flight-limit-after-listings-and-dispatches',
    statements: ['LIM-7'],
    async run(ctx) {
      // Answered SERVICE_LISTs and dispatches must leave the caller's count of open requests where it was.
      // A broker that releases one twice (a listing gathered from a cluster's brokers, a dispatch relayed to
      // another broker) lets the caller past max_in_flight afterwards, which `limits/in-flight-limit`, run
      // on a fresh connection, does not see.
      const { c, s, name } = await callerAndService(ctx);
      const limit = inFlightLimitToReach(c.ack, 'skip');
      for (let i = 0; i < 2; i++) {
        if ((await list(ctx, c, name)).length !== 1) throw new CaseFailure(`SERVICE_LIST ${name} does not list the one service of that name`, '1 entry', 'another count');
        const id = dispatch(c, { service_name: name, method: 'run', payload: i, max_retries: 0 });
        reply(s, await incoming(ctx, s, 'SERVICE_DISPATCH', `${i + 1} of 2`), 'SERVICE_RESULT', { result: i });
        await answerOf(ctx, c, id, 'SERVICE_RESULT', `dispatch ${i + 1} of 2`);
      }
      // Then as limits/in-flight-limit: `limit` requests to T, which does not answer them, and one more. T is
      // on the caller's broker: in a cluster, another broker would count the requests it receives itself.
      const t = await ctx.sessionBeside(c.conn, 'T');
      for (let i = 0; i <= limit; i++) c.conn.send({ type: 'REASONING_REQUEST', header: { id: `p${i}`, dst: t.clientId }, payload: request });
      const over = await ctx.expectMessage(c.conn, `ERROR OVERLOADED for request ${limit + 1}, after two answered SERVICE_LISTs and two answered dispatches`, (m) => m.name === 'ERROR');
      const code = registryName((over.payload as { code?: unknown }).code);
      if (code !== 'OVERLOADED' || over.header.re !== `p${limit}`) throw new CaseFailure(`request ${limit + 1} beyond max_in_flight ${limit}, after two answered SERVICE_LISTs and two answered dispatches, was not the one refused`, `OVERLOADED re=p${limit}`, `${String(code)} re=${over.header.re}`);
    },
  }),
  defineCase({
    id: 'registry/dispatch-payload-negative-zero-unchanged',
    statements: ['REG-8'],
    async run(ctx) {
      // -0.0 is lost by re-encoding in JSON and CBOR alike (0): the caller's payload must reach the service as sent.
      const { c, s, name } = await callerAndService(ctx);
      ctx.sendUnchecked(c.conn, 'SERVICE_DISPATCH', { id: 'neg-zero' }, `{"service_name":${JSON.stringify(name)},"method":"run","payload":{"x":-0.0},"max_retries":0}`);
      const fwd = await incoming(ctx, s, 'SERVICE_DISPATCH', 'the attempt of a payload holding -0.0');
      const x = ((fwd.payload as { payload?: { x?: unknown } }).payload ?? {}).x;
      if (!Object.is(x, -0)) throw new CaseFailure('the payload the service received is not the caller\'s (REG-8): payload.x', '-0.0', String(x));
      reply(s, fwd, 'SERVICE_RESULT', { result: 0 });
      await answerOf(ctx, c, 'neg-zero', 'SERVICE_RESULT', 'the dispatch');
    },
  }),
  defineCase({
    id: 'registry/first-retry-before-a-later-longer-timeout',
    statements: ['REG-7', 'REG-5'],
    async run(ctx) {
      // Two of the broker's own timers, compared on one connection (no clock of the harness): the first
      // retry's wait (REG-7: 100 ms) is set before a dispatch of timeout_ms 250 starts, so the retry must
      // come before that TIMEOUT. A broker waiting the backoff of a later retry (400 ms) sends the TIMEOUT first.
      const waitMs = backoff(1);
      const timeoutMs = waitMs + 150;
      const { c, s, name: flaky } = await callerAndService(ctx);
      const hung = ctx.uniqueId('svc');
      await register(ctx, s, hung);
      const retried = dispatch(c, { service_name: flaky, method: 'run', payload: 'retried', max_retries: 1 });
      reply(s, await incoming(ctx, s, 'SERVICE_DISPATCH', 'attempt 1 of the dispatch to be retried'), 'ERROR', handlerError('attempt 1'));
      const timed = dispatch(s, { service_name: hung, method: 'run', payload: 'timed', timeout_ms: timeoutMs, max_retries: 0 });
      const order: string[] = [];
      let retry: Message | undefined;
      while (order.length < 2) {
        const m = await ctx.expectMessage(s.conn, `the retry of ${retried} and the TIMEOUT of ${timed}`, (x) => x.name === 'SERVICE_DISPATCH' || (x.name === 'ERROR' && x.header.re === timed));
        const payload = (m.payload as { payload?: unknown }).payload;
        if (m.name === 'ERROR') {
          expectEqual(`the ERROR of ${timed} (REG-5)`, 'TIMEOUT', registryName((m.payload as { code: string }).code));
          order.push('timeout');
        } else if (payload === 'retried') {
          retry = m;
          order.push('retry');
        }
        // The attempt of the dispatch left to time out: never answered.
      }
      if (order[0] !== 'retry') throw new CaseFailure(`the TIMEOUT of a ${timeoutMs} ms attempt started after the failed attempt came before the retry, which REG-7 sends ${waitMs} ms after the failure`, 'the retry, then the TIMEOUT', order.join(', then '));
      reply(s, retry!, 'SERVICE_RESULT', { result: 'second' });
      expectEqual('SERVICE_RESULT of the retried dispatch', { result: 'second', attempts: 2 }, (await answerOf(ctx, c, retried, 'SERVICE_RESULT', 'the retried dispatch')).payload);
    },
  }),
  ...BUS_WIRE_CASES,
];
