/**
 * The broker's side of the bus and the registry (sections bus and registry), frame by frame on raw
 * connections, so a broker under `--target` is judged on what it sends and when, not through a client
 * library that could hide a defect (a bus client that never sends `timeout_ms` 0, say). The harness
 * plays every part itself: publisher, subscribers, handlers, services and callers.
 */
import { CaseFailure, CaseSkipped, defineCase, type Case } from '../cases/model.js';
import type { CaseContext, Session } from '../cases/context.js';
import { summarize } from '../cases/context.js';
import type { Message } from '../../reference/codec/message.js';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { expectEqual } from './checks.js';
import { inFlightLimitToReach } from '../cases/in-flight-limit.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { registryName } from '../../reference/codec/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';

let counter = 0;
const nextId = (prefix: string): string => `${prefix}-${++counter}`;

/** Sends a request and returns its id. */
export function send(s: Session, type: MessageName, payload: unknown, id = nextId(type.toLowerCase())): string {
  s.conn.send({ type, header: { id }, payload });
  return id;
}

/** The next frame on `s`, which must answer `re` with `type`. */
export async function answerOf(ctx: CaseContext, s: Session, re: string, type: MessageName, what: string): Promise<Message> {
  return ctx.expectMessage(s.conn, `${type} answering ${what} (re=${re})`, (m) => m.name === type && m.header.re === re);
}

/** The next frame on `s`, which must be a request of `type` the broker sends. */
export async function incoming(ctx: CaseContext, s: Session, type: MessageName, what: string, timeoutMs?: number): Promise<Message> {
  return ctx.expectMessage(s.conn, `${type} ${what}`, (m) => m.name === type, timeoutMs);
}

/** Answers a request the broker sent with `type`. */
export function reply(s: Session, to: Message, type: MessageName, payload: unknown): void {
  s.conn.send({ type, header: { id: nextId('answer'), re: to.header.id }, payload });
}

/** Proves nothing is pending on `s`: a PING answered by PONG before anything else (the broker handles a connection's frames in order). */
export async function nothingYet(ctx: CaseContext, s: Session, what: string): Promise<void> {
  const id = nextId('quiet');
  s.conn.send({ type: 'PING', header: { id } });
  const r = await ctx.receive(s.conn, `PONG re=${id}`);
  if (r.kind === 'message' && r.message.name === 'PONG' && r.message.header.re === id) return;
  throw new CaseFailure(`${what}; got ${r.kind === 'message' ? summarize(r.message) : r.kind}`, 'nothing before the PONG', r.kind === 'message' ? summarize(r.message) : r.kind);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The ERROR a handler or service answers with, with details, to be carried unchanged. */
export function handlerError(message: string): Record<string, unknown> {
  return { code: 'INVALID_PARAMS' satisfies ErrorName, message, definite: true, details: { path: '/channel', rule: 'range', channel: 9 } };
}

async function subscribe(ctx: CaseContext, s: Session, eventType: string): Promise<string> {
  const id = send(s, 'BUS_SUBSCRIBE', { event_type: eventType });
  const m = await answerOf(ctx, s, id, 'BUS_SUBSCRIBED', `BUS_SUBSCRIBE ${eventType}`);
  return (m.payload as { subscription_id: string }).subscription_id;
}

async function registerHandler(ctx: CaseContext, s: Session, type: string, category: 'command' | 'query'): Promise<void> {
  const id = send(s, 'BUS_REGISTER_HANDLER', { message_type: type, category });
  await answerOf(ctx, s, id, 'ACK', `BUS_REGISTER_HANDLER ${type}`);
}

/** Fails unless the bus exists: a broker without it answers BUS_SUBSCRIBE with UNSUPPORTED, and the case is skipped. */
async function busHosted(ctx: CaseContext, s: Session): Promise<boolean> {
  const id = send(s, 'BUS_SUBSCRIBE', { event_type: ctx.uniqueId('probe') });
  const m = await ctx.expectMessage(s.conn, `BUS_SUBSCRIBED or ERROR UNSUPPORTED answering ${id}`, (x) => x.header.re === id && (x.name === 'BUS_SUBSCRIBED' || x.name === 'ERROR'));
  if (m.name === 'BUS_SUBSCRIBED') return true;
  if (registryName((m.payload as { code: string }).code) === 'UNSUPPORTED') return false;
  throw new CaseFailure(`BUS_SUBSCRIBE refused with ${(m.payload as { code: string }).code}`, 'BUS_SUBSCRIBED', summarize(m));
}

function published(m: Message): { delivered: number; failed: number } {
  const p = m.payload as { delivered: number; failed?: number };
  return { delivered: p.delivered, failed: p.failed ?? 0 };
}

export const BUS_WIRE_CASES: Case[] = [
  defineCase({
    id: 'bus/subscriptions-separate',
    statements: ['BUS-3'],
    async run(ctx) {
      const a = await ctx.session('A');
      const p = await ctx.session('P');
      const t = ctx.uniqueId('evt');
      const first = await subscribe(ctx, a, t);
      const second = await subscribe(ctx, a, t);
      if (first === second) throw new CaseFailure('two BUS_SUBSCRIBEs of one type got the same subscription', 'two subscription ids', `${first} twice`);
      const id = send(p, 'BUS_PUBLISH', { event_type: t, payload: { n: 1 } });
      const got: string[] = [];
      for (let i = 0; i < 2; i++) {
        const e = await incoming(ctx, a, 'BUS_EVENT', `${i + 1} of 2 for the two subscriptions`);
        got.push((e.payload as { subscription_id: string }).subscription_id);
        reply(a, e, 'ACK', {});
      }
      expectEqual('the subscriptions the BUS_EVENTs name', [first, second].sort(), got.sort());
      expectEqual('BUS_PUBLISHED', { delivered: 2, failed: 0 }, published(await answerOf(ctx, p, id, 'BUS_PUBLISHED', 'the publish')));
    },
  }),
  defineCase({
    id: 'bus/unsubscribe-gone-or-foreign-acked',
    statements: ['BUS-4'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const t = ctx.uniqueId('evt');
      const q = ctx.uniqueId('qry');
      const sid = await subscribe(ctx, a, t);
      await registerHandler(ctx, a, q, 'query');
      // Another connection's subscription and handler: ACK, and both stay.
      await answerOf(ctx, b, send(b, 'BUS_UNSUBSCRIBE', { subscription_id: sid }), 'ACK', 'BUS_UNSUBSCRIBE of A\'s subscription');
      await answerOf(ctx, b, send(b, 'BUS_UNREGISTER_HANDLER', { message_type: q }), 'ACK', 'BUS_UNREGISTER_HANDLER of A\'s handler');
      // Already gone: ACK again.
      const gone = await subscribe(ctx, a, ctx.uniqueId('evt'));
      await answerOf(ctx, a, send(a, 'BUS_UNSUBSCRIBE', { subscription_id: gone }), 'ACK', 'BUS_UNSUBSCRIBE');
      await answerOf(ctx, a, send(a, 'BUS_UNSUBSCRIBE', { subscription_id: gone }), 'ACK', 'a second BUS_UNSUBSCRIBE of the same subscription');
      await answerOf(ctx, a, send(a, 'BUS_UNREGISTER_HANDLER', { message_type: ctx.uniqueId('never') }), 'ACK', 'BUS_UNREGISTER_HANDLER of a type without handler');
      const pub = send(b, 'BUS_PUBLISH', { event_type: t, payload: 1 });
      const e = await incoming(ctx, a, 'BUS_EVENT', 'to A\'s subscription, which B\'s unsubscribe left untouched');
      expectEqual('the subscription of the event', sid, (e.payload as { subscription_id: string }).subscription_id);
      reply(a, e, 'ACK', {});
      expectEqual('BUS_PUBLISHED', { delivered: 1, failed: 0 }, published(await answerOf(ctx, b, pub, 'BUS_PUBLISHED', 'the publish')));
      const query = send(b, 'BUS_QUERY', { message_type: q, payload: 'x' });
      const fwd = await incoming(ctx, a, 'BUS_QUERY', 'to A\'s handler, which B\'s unregister left untouched');
      reply(a, fwd, 'BUS_QUERY_RESULT', { result: 'still here' });
      expectEqual('the query result', { result: 'still here' }, (await answerOf(ctx, b, query, 'BUS_QUERY_RESULT', 'the query')).payload);
      // A's own unsubscribe ends delivery: B's publish reaches nobody.
      await answerOf(ctx, a, send(a, 'BUS_UNSUBSCRIBE', { subscription_id: sid }), 'ACK', 'A\'s BUS_UNSUBSCRIBE of its own subscription');
      const after = send(b, 'BUS_PUBLISH', { event_type: t, payload: 2 });
      expectEqual('BUS_PUBLISHED after the only subscription was unsubscribed', { delivered: 0, failed: 0 }, published(await answerOf(ctx, b, after, 'BUS_PUBLISHED', 'the publish after the unsubscribe')));
      await nothingYet(ctx, a, 'no BUS_EVENT after A unsubscribed');
    },
  }),
  defineCase({
    id: 'bus/close-removes-only-its-own',
    statements: ['BUS-7', 'BUS-10', 'HS-19', 'REG-4'],
    async run(ctx) {
      // A closing connection takes its own subscriptions, handlers and services (HS-19) and nobody else's.
      const [a, b, c, e] = [await ctx.session('A-closes'), await ctx.session('B-stays'), await ctx.session('C-handler-and-service'), await ctx.session('E-publisher')];
      const t = ctx.uniqueId('evt');
      const q = ctx.uniqueId('qry');
      const svc = ctx.uniqueId('svc');
      const kept = await subscribe(ctx, b, t);
      await subscribe(ctx, a, t);
      await registerHandler(ctx, c, q, 'query');
      const reg = send(c, 'SERVICE_REGISTER', { service: { name: svc, service_type: 'conformance', version: '1.0.0', max_concurrent: 0, healthy: true } });
      const regAnswer = await ctx.expectMessage(c.conn, `ACK or ERROR answering SERVICE_REGISTER (re=${reg})`, (m) => m.header.re === reg);
      const registry = regAnswer.name === 'ACK';
      if (!registry && registryName((regAnswer.payload as { code: string }).code) !== 'UNSUPPORTED') throw new CaseFailure(`SERVICE_REGISTER refused with ${(regAnswer.payload as { code: string }).code}`, 'ACK (or UNSUPPORTED without the registry)', summarize(regAnswer));
      // D, which holds nothing, closes; then A closes. Time for the broker to see both closes.
      (await ctx.session('D-holds-nothing')).conn.destroy();
      await sleep(150);
      a.conn.destroy();
      await sleep(150);
      const pub = send(e, 'BUS_PUBLISH', { event_type: t, payload: 'after the closes' });
      const ev = await incoming(ctx, b, 'BUS_EVENT', 'to B, whose subscription no other connection\'s close removes');
      expectEqual('the subscription of the event', kept, (ev.payload as { subscription_id: string }).subscription_id);
      reply(b, ev, 'ACK', {});
      expectEqual('BUS_PUBLISHED after A closed (A\'s subscription gone with it, B\'s kept: HS-19, BUS-7)', { delivered: 1, failed: 0 }, published(await answerOf(ctx, e, pub, 'BUS_PUBLISHED', 'the publish after the closes')));
      const query = send(e, 'BUS_QUERY', { message_type: q, payload: 'still there?' });
      reply(c, await incoming(ctx, c, 'BUS_QUERY', 'to C\'s handler, which the closes of D and A leave registered (HS-19, BUS-10)'), 'BUS_QUERY_RESULT', { result: 'yes' });
      expectEqual('the query result', { result: 'yes' }, (await answerOf(ctx, e, query, 'BUS_QUERY_RESULT', 'the query after the closes')).payload);
      if (!registry) return;
      const d = send(e, 'SERVICE_DISPATCH', { service_name: svc, method: 'still-there', payload: 1 });
      const got = await ctx.expectMessage(c.conn, `the SERVICE_DISPATCH to ${svc} at C (or, wrongly, an answer at E)`, (m) => m.name === 'SERVICE_DISPATCH');
      reply(c, got, 'SERVICE_RESULT', { result: 'yes' });
      const m = await ctx.expectMessage(e.conn, `the answer to SERVICE_DISPATCH re=${d}`, (x) => x.header.re === d);
      if (m.name !== 'SERVICE_RESULT') throw new CaseFailure('the SERVICE_DISPATCH to C\'s service was refused after other connections closed (HS-19, REG-4)', 'SERVICE_RESULT', summarize(m));
    },
  }),
  defineCase({
    id: 'bus/published-after-every-event-settles',
    statements: ['BUS-6', 'BUS-7'],
    async run(ctx) {
      const p = await ctx.session('publisher');
      const [slow, failing, leaving] = [await ctx.session('acks-late'), await ctx.session('answers-error'), await ctx.session('disconnects')];
      const t = ctx.uniqueId('evt');
      for (const s of [slow, failing, leaving]) await subscribe(ctx, s, t);
      const none = send(p, 'BUS_PUBLISH', { event_type: ctx.uniqueId('nobody'), payload: 0 });
      expectEqual('BUS_PUBLISHED of a type without subscriber', { delivered: 0, failed: 0 }, published(await answerOf(ctx, p, none, 'BUS_PUBLISHED', 'the publish to nobody')));
      const id = send(p, 'BUS_PUBLISH', { event_type: t, payload: { n: 1 } });
      const held = await incoming(ctx, slow, 'BUS_EVENT', 'to the subscriber that answers last');
      reply(failing, await incoming(ctx, failing, 'BUS_EVENT', 'to the failing subscriber'), 'ERROR', handlerError('subscriber failed'));
      await incoming(ctx, leaving, 'BUS_EVENT', 'to the subscriber that disconnects');
      leaving.conn.destroy();
      await sleep(150); // time for the broker to see the ERROR and the close
      await nothingYet(ctx, p, 'BUS_PUBLISHED must wait for the subscriber that has not answered yet (BUS-6)');
      reply(slow, held, 'ACK', {});
      const m = await ctx.expectMessage(p.conn, `BUS_PUBLISHED re=${id}`, (x) => x.header.re === id);
      if (m.name !== 'BUS_PUBLISHED') throw new CaseFailure('a subscriber\'s failure reached the publisher (BUS-7)', 'BUS_PUBLISHED', summarize(m));
      expectEqual('BUS_PUBLISHED (3 events: one ACK, one ERROR, one disconnect)', { delivered: 3, failed: 2 }, published(m));
    },
  }),
  defineCase({
    id: 'bus/no-handler',
    statements: ['BUS-9', 'BUS-12'],
    async run(ctx) {
      const s = await ctx.session();
      await answerOf(ctx, s, send(s, 'BUS_SEND', { message_type: ctx.uniqueId('nobody'), payload: 1 }), 'ACK', 'BUS_SEND of a type without handler');
      const q = send(s, 'BUS_QUERY', { message_type: ctx.uniqueId('nobody'), payload: 1 });
      await ctx.expectError(s.conn, 'NO_HANDLER', { re: q, closes: false });
    },
  }),
  defineCase({
    id: 'bus/forwarded-to-the-handler',
    statements: ['BUS-10'],
    async run(ctx) {
      const r = await ctx.session('requester');
      const h = await ctx.session('handler');
      const c = ctx.uniqueId('cmd');
      const q = ctx.uniqueId('qry');
      await registerHandler(ctx, h, c, 'command');
      await registerHandler(ctx, h, q, 'query');
      for (const [type, name, answer, payload] of [['BUS_SEND', c, 'ACK', {}], ['BUS_QUERY', q, 'BUS_QUERY_RESULT', { result: { v: 42 } }]] as const satisfies readonly (readonly [MessageName, string, MessageName, unknown])[]) {
        const id = send(r, type, { message_type: name, payload: { x: [1, 'two'] } });
        const fwd = await incoming(ctx, h, type, `forwarded to the handler of ${name}`);
        if (fwd.header.src !== r.clientId) throw new CaseFailure(`the forwarded ${type} does not name the sender in src`, r.clientId, String(fwd.header.src));
        expectEqual(`the forwarded ${type}'s payload`, { x: [1, 'two'] }, (fwd.payload as { payload?: unknown }).payload);
        await sleep(50);
        await nothingYet(ctx, r, `the ${type} must be answered only once the handler has answered`);
        reply(h, fwd, answer, payload);
        const m = await answerOf(ctx, r, id, answer, type);
        if (type === 'BUS_QUERY') expectEqual('the query result', { result: { v: 42 } }, m.payload);
      }
    },
  }),
  defineCase({
    id: 'bus/query-from-cbor-sender-to-json-handler',
    statements: ['BUS-10', 'ENC-2'],
    async run(ctx) {
      // A CBOR sender's BUS_QUERY reaches a JSON-only handler in JSON (ENC-2), its payload equal.
      const r = await ctx.session('cbor-requester', { encodings: ['cbor', 'json'] });
      if (r.ack['encoding'] !== 'cbor') throw new CaseSkipped('the broker does not speak CBOR');
      const h = await ctx.session('json-handler', { encodings: ['json'] });
      const q = ctx.uniqueId('qry');
      await registerHandler(ctx, h, q, 'query');
      const id = nextId('cbor-query');
      r.conn.send({ type: 'BUS_QUERY', header: { id }, payload: { message_type: q, payload: { x: [1, 'two'] } }, encoding: 'cbor' });
      const fwd = await incoming(ctx, h, 'BUS_QUERY', `from a CBOR sender, at a handler whose INIT_ACK chose json`);
      if (fwd.encoding !== 'json') throw new CaseFailure('the broker sent a CBOR payload on a connection whose INIT_ACK chose json (ENC-2)', 'encoding json', `encoding ${fwd.encoding}`);
      expectEqual('the forwarded BUS_QUERY\'s payload', { x: [1, 'two'] }, (fwd.payload as { payload?: unknown }).payload);
      reply(h, fwd, 'BUS_QUERY_RESULT', { result: 'from json' });
      expectEqual('the query result at the CBOR sender', { result: 'from json' }, (await answerOf(ctx, r, id, 'BUS_QUERY_RESULT', 'the CBOR query')).payload);
    },
  }),
  defineCase({
    id: 'bus/handler-error-carried-unchanged',
    statements: ['BUS-11'],
    async run(ctx) {
      const r = await ctx.session('requester');
      const h = await ctx.session('handler');
      const c = ctx.uniqueId('cmd');
      const q = ctx.uniqueId('qry');
      await registerHandler(ctx, h, c, 'command');
      await registerHandler(ctx, h, q, 'query');
      for (const [type, name] of [['BUS_SEND', c], ['BUS_QUERY', q]] as const satisfies readonly (readonly [MessageName, string])[]) {
        const id = send(r, type, { message_type: name, payload: 9 });
        const error = handlerError(`${type} failed: channel 9 does not exist`);
        reply(h, await incoming(ctx, h, type, `forwarded to the handler of ${name}`), 'ERROR', error);
        const m = await ctx.expectError(r.conn, 'HANDLER_FAILED', { re: id, closes: false });
        expectEqual(`details.error of the HANDLER_FAILED answering ${type}`, error, (m.payload as { details?: { error?: unknown } }).details?.error);
      }
    },
  }),
  defineCase({
    id: 'bus/refused-query-result-answers-the-asker-at-once',
    statements: ['BUS-10', 'ERR-9'],
    async run(ctx) {
      // The handler answers a forwarded BUS_QUERY with a BUS_QUERY_RESULT its schema refuses (a member
      // additionalProperties false forbids): the handler gets SCHEMA_VIOLATION naming it (ERR-9), and the
      // asker its answer now (BUS-10: the handler has answered), not a TIMEOUT 30 s later.
      const r = await ctx.session('requester');
      const h = await ctx.session('handler');
      const q = ctx.uniqueId('qry');
      await registerHandler(ctx, h, q, 'query');
      const id = send(r, 'BUS_QUERY', { message_type: q, payload: 'ask' });
      const fwd = await incoming(ctx, h, 'BUS_QUERY', `forwarded to the handler of ${q}`);
      ctx.sendUnchecked(h.conn, 'BUS_QUERY_RESULT', { id: 'faulty-result', re: fwd.header.id }, '{"result":1,"not_in_the_schema":2}');
      const v = await ctx.expectError(h.conn, 'SCHEMA_VIOLATION', { re: 'faulty-result', closes: false });
      const d = (v.payload as { details?: { path?: unknown; rule?: unknown } }).details;
      expectEqual('details.path and details.rule of the SCHEMA_VIOLATION (ERR-9)', { path: '/not_in_the_schema', rule: 'additionalProperties' }, { path: d?.path, rule: d?.rule });
      const m = await ctx.expectMessage(r.conn, `an answer to the BUS_QUERY (re=${id}) once its handler's answer was refused, within the frame timeout (its own timeout is 30,000 ms)`, (x) => x.header.re === id);
      if (m.name !== 'ERROR') throw new CaseFailure('the asker got a result from an answer the broker refused', 'ERROR', summarize(m));
    },
  }),
  defineCase({
    id: 'bus/query-timeout-zero-is-default',
    statements: ['BUS-13'],
    async run(ctx) {
      const r = await ctx.session('requester');
      const h = await ctx.session('handler');
      const q = ctx.uniqueId('qry');
      await registerHandler(ctx, h, q, 'query');
      const zero = send(r, 'BUS_QUERY', { message_type: q, payload: 'zero', timeout_ms: 0 });
      const absent = send(r, 'BUS_QUERY', { message_type: q, payload: 'absent' });
      const held = [await incoming(ctx, h, 'BUS_QUERY', 'with timeout_ms 0'), await incoming(ctx, h, 'BUS_QUERY', 'without timeout_ms')];
      await sleep(300);
      await nothingYet(ctx, r, 'a BUS_QUERY with timeout_ms 0 or none must wait the default 30,000 ms, 0 never meaning "expire now"');
      for (const m of held) reply(h, m, 'BUS_QUERY_RESULT', { result: (m.payload as { payload: unknown }).payload });
      const answers = [await ctx.receive(r.conn, 'the two query results'), await ctx.receive(r.conn, 'the two query results')];
      const got = answers.map((a) => (a.kind === 'message' && a.message.name === 'BUS_QUERY_RESULT' ? `${a.message.header.re}=${JSON.stringify((a.message.payload as { result: unknown }).result)}` : a.kind === 'message' ? summarize(a.message) : a.kind)).sort();
      expectEqual('the answers', [`${absent}="absent"`, `${zero}="zero"`].sort(), got);
      const short = send(r, 'BUS_QUERY', { message_type: q, payload: 'short', timeout_ms: 100 });
      await incoming(ctx, h, 'BUS_QUERY', 'with timeout_ms 100 (never answered)');
      const m = await ctx.expectError(r.conn, 'TIMEOUT', { re: short, closes: false });
      expectEqual('details.timeout_ms of the TIMEOUT', 100, (m.payload as { details?: { timeout_ms?: unknown } }).details?.timeout_ms);
    },
  }),
  defineCase({
    id: 'handshake/init-ack-announces-max-subscriptions',
    statements: ['HS-7'],
    async run(ctx) {
      const s = await ctx.session();
      const announced = s.ack['max_subscriptions'];
      if (typeof announced === 'number' && Number.isInteger(announced) && announced >= 1) return;
      if (!(await busHosted(ctx, s))) throw new CaseSkipped('the broker does not host the bus (BUS_SUBSCRIBE answered UNSUPPORTED)');
      throw new CaseFailure('the broker hosts the bus but its INIT_ACK does not announce max_subscriptions', 'an integer >= 1', JSON.stringify(announced));
    },
  }),
  defineCase({
    id: 'limits/max-subscriptions',
    statements: ['LIM-9'],
    async run(ctx) {
      const s = await ctx.session();
      const announced = s.ack['max_subscriptions'];
      const limit = typeof announced === 'number' ? announced : DEFAULT_LIMITS.max_subscriptions;
      if (limit > 65_536) throw new CaseSkipped(`max_subscriptions ${limit} is too many to reach in bounded time`);
      const t = ctx.uniqueId('evt');
      // In batches, so a large limit never waits behind one burst longer than the frame timeout.
      for (let done = 0; done < limit;) {
        const ids = Array.from({ length: Math.min(64, limit - done) }, () => send(s, 'BUS_SUBSCRIBE', { event_type: t }));
        for (const id of ids) await answerOf(ctx, s, id, 'BUS_SUBSCRIBED', `BUS_SUBSCRIBE ${++done} of max_subscriptions ${limit}`);
      }
      const over = send(s, 'BUS_SUBSCRIBE', { event_type: t });
      await ctx.expectError(s.conn, 'OVERLOADED', { re: over, closes: false });
      // The limit is per connection: another connection still subscribes.
      const other = await ctx.session('another');
      await subscribe(ctx, other, t);
    },
  }),
  defineCase({
    id: 'limits/bus-requests-answered-free-their-in-flight-slot',
    statements: ['LIM-7'],
    async run(ctx) {
      // max_in_flight bus requests, each answered (BUS_PUBLISH to a type without subscriber), then one
      // more: a broker that never releases an answered bus request's slot refuses it with OVERLOADED.
      const s = await ctx.session('publisher');
      const limit = inFlightLimitToReach(s.ack, 'skip');
      if (!(await busHosted(ctx, s))) throw new CaseSkipped('the broker does not host the bus (BUS_SUBSCRIBE answered UNSUPPORTED)');
      const t = ctx.uniqueId('nobody');
      // In batches of 64 answered before the next: never near the limit at once.
      for (let done = 0; done < limit;) {
        const ids = Array.from({ length: Math.min(64, limit - done) }, () => send(s, 'BUS_PUBLISH', { event_type: t, payload: done }));
        for (const id of ids) await answerOf(ctx, s, id, 'BUS_PUBLISHED', `BUS_PUBLISH ${++done} of max_in_flight ${limit}, to a type without subscriber`);
      }
      const more = send(s, 'BUS_PUBLISH', { event_type: t, payload: 'after' });
      const m = await ctx.expectMessage(s.conn, `the answer to the BUS_PUBLISH after ${limit} answered ones (re=${more})`, (x) => x.header.re === more);
      if (m.name !== 'BUS_PUBLISHED') throw new CaseFailure(`a BUS_PUBLISH with none open was refused after ${limit} answered bus requests: their in-flight slots were not freed (LIM-7)`, 'BUS_PUBLISHED', summarize(m));
    },
  }),
  defineCase({
    id: 'requests/broker-request-ids-unique',
    statements: ['REQ-3'],
    async run(ctx) {
      // The broker is the requester of BUS_EVENT: eight events open at once on one connection (four
      // publishes to two subscriptions, none answered yet) need eight ids.
      const a = await ctx.session('S');
      const p = await ctx.session('P');
      if (!(await busHosted(ctx, a))) throw new CaseSkipped('the broker does not host the bus (BUS_SUBSCRIBE answered UNSUPPORTED)');
      const t = ctx.uniqueId('evt');
      await subscribe(ctx, a, t);
      await subscribe(ctx, a, t);
      const pubs = [0, 1, 2, 3].map((n) => send(p, 'BUS_PUBLISH', { event_type: t, payload: { n } }));
      const events: Message[] = [];
      for (let i = 0; i < 8; i++) events.push(await incoming(ctx, a, 'BUS_EVENT', `${i + 1} of 8, none answered yet`));
      const ids = events.map((e) => e.header.id);
      const repeated = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
      if (repeated.length > 0) throw new CaseFailure(`the broker gave open BUS_EVENTs on one connection the same id: ${repeated.map((x) => JSON.stringify(x)).join(', ')}`, '8 distinct ids', ids.join(', '));
      for (const e of events) reply(a, e, 'ACK', {});
      const answered: string[] = [];
      for (let i = 0; i < pubs.length; i++) answered.push(String((await ctx.expectMessage(p.conn, `BUS_PUBLISHED ${i + 1} of ${pubs.length}`, (m) => m.name === 'BUS_PUBLISHED')).header.re));
      expectEqual('the publishes answered', [...pubs].sort(), answered.sort());
    },
  }),
];
