/**
 * Graceful SHUTDOWN sent by a client to the broker, with requests in flight to a responder the harness
 * also plays (HS-12, HS-13, HS-14, HS-15, LIM-13), at the in-flight limit too (LIM-7). The broker's own
 * shutdown (HS-16, HS-17) cannot be triggered over the wire, so no case here can show it.
 */
import type { Message } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { inFlightLimitToReach } from './in-flight-limit.js';
import type { CaseContext, Session } from './context.js';
import { disagreementSignal, dispatchAtProvider, errorOf, expectSilence, requireDrainTime, expectTimeout, messageWithin, pairWithRequest, reasoning, reasoningAnswer, requestOrSkip, slack, session } from './runtime-helpers.js';
import { registryName } from '../../reference/codec/catalog.js';
import { MAX_LIMITS } from '../../spec/generated/catalog.js';
import type { MessageMatch } from '../replay/script.js';

/** SHUTDOWN_ACK answering `re` with these counts (an absent timed_out counts as 0), then the close. */
async function expectAckAndClose(ctx: CaseContext, s: Session, re: string, drained: number, timedOut: number, withinMs = ctx.timeoutMs): Promise<void> {
  const { m } = await messageWithin(ctx, s.conn, `SHUTDOWN_ACK with re=${re}`, withinMs, (x) => x.name === 'SHUTDOWN_ACK' && x.header.re === re);
  const p = m.payload as { drained?: number; timed_out?: number };
  if (p.drained !== drained || (p.timed_out ?? 0) !== timedOut) {
    throw new CaseFailure(`SHUTDOWN_ACK counts drained=${p.drained} timed_out=${p.timed_out ?? 0}; the drain answered ${drained} normally and ${timedOut} by TIMEOUT (HS-15)`, `drained=${drained} timed_out=${timedOut}`, `drained=${p.drained} timed_out=${p.timed_out ?? 0}`);
  }
  await ctx.expectClosed(s.conn, 'the close after SHUTDOWN_ACK (HS-15)');
}

function answerB(b: Session, forwarded: Message, id = 'b-answer'): void {
  b.conn.send({ type: 'REASONING_RESPONSE', header: { id, re: forwarded.header.id }, payload: reasoningAnswer(3) });
}

/** A's request open at B, then A's SHUTDOWN `bye` (with `drainMs` when given): A drains while B holds the request. */
async function drainingWithRequest(ctx: CaseContext, what: string, reason: string, drainMs?: number): Promise<{ a: Session; b: Session; forwarded: Message }> {
  requireDrainTime(ctx, what);
  const pair = await pairWithRequest(ctx);
  pair.a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason, ...(drainMs !== undefined ? { drain_ms: drainMs } : {}) } });
  return pair;
}

export const shutdownCases: Case[] = [
  defineCase({
    id: 'handshake/shutdown-drain-awaits-answers',
    statements: ['HS-14', 'HS-15', 'HS-9'],
    async run(ctx) {
      const { a, b, forwarded } = await drainingWithRequest(ctx, 'for an answer to arrive', 'conformance: drain with a request in flight');
      // While draining, PING is still answered (HS-9).
      await ctx.expectOpen(a.conn, 'PONG while draining (HS-9)');
      answerB(b, forwarded);
      await ctx.expectMessage(a.conn, 'the answer to q-open, delivered during the drain (HS-14)', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'q-open');
      await expectAckAndClose(ctx, a, 'bye', 1, 0);
      await ctx.expectOpen(b.conn, 'B untouched by A\'s shutdown');
    },
  }),
  defineCase({
    id: 'handshake/shutdown-drain-awaits-requests-forwarded-to-it',
    statements: ['HS-14', 'HS-15'],
    async run(ctx) {
      requireDrainTime(ctx, 'for an answer to arrive');
      // B, the responder, is the one leaving: the broker awaits B's answer to the request it forwarded.
      const { a, b, forwarded } = await pairWithRequest(ctx);
      b.conn.send({ type: 'SHUTDOWN', header: { id: 'bye-b' }, payload: { reason: 'conformance: responder leaves with a request to answer' } });
      await expectSilence(ctx, b.conn, 'no SHUTDOWN_ACK while a request forwarded to B is unanswered', Math.min(200, ctx.limits.shutdown_drain_ms / 4));
      answerB(b, forwarded);
      await ctx.expectMessage(a.conn, 'B\'s answer, forwarded during B\'s drain', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'q-open');
      await expectAckAndClose(ctx, b, 'bye-b', 0, 0);
    },
  }),
  defineCase({
    id: 'handshake/shutdown-refuses-new-requests',
    statements: ['HS-13', 'HS-12'],
    async run(ctx) {
      requireDrainTime(ctx, 'for a request to be refused');
      const { a, b, forwarded } = await pairWithRequest(ctx);
      const c = await session(ctx, 'C');
      a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'conformance: new requests after SHUTDOWN', drain_ms: 600_000 } });
      await ctx.expectOpen(a.conn, 'PONG while draining');
      // HS-13: a request A starts after its SHUTDOWN is refused, and B never sees it.
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'after-bye', dst: b.clientId }, payload: reasoning() });
      await ctx.expectError(a.conn, 'SHUTTING_DOWN', { re: 'after-bye', closes: false });
      // HS-12: the broker starts no new request on A's draining connection: C's request to A is answered
      // with an ERROR and never reaches A.
      c.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-draining', dst: a.clientId }, payload: reasoning() });
      const refused = await ctx.expectMessage(c.conn, 'an ERROR for a request to a draining client (HS-12)', (m) => m.header.re === 'to-draining');
      if (refused.name !== 'ERROR') throw new CaseFailure('a request to a draining client was answered, so it was forwarded', 'ERROR', refused.name);
      await ctx.expectOpen(b.conn, 'B did not receive A\'s request sent after SHUTDOWN');
      answerB(b, forwarded);
      await ctx.expectMessage(a.conn, 'the answer to the request sent before SHUTDOWN', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'q-open');
      await expectAckAndClose(ctx, a, 'bye', 1, 0);
    },
  }),
  defineCase({
    id: 'handshake/shutdown-leaves-notifications-alone',
    statements: ['HS-12', 'REQ-2', 'REQ-7'],
    async run(ctx) {
      const { a, b, forwarded } = await drainingWithRequest(ctx, 'for a notification to pass', 'conformance: notifications while draining', MAX_LIMITS.shutdown_drain_ms);
      await ctx.expectOpen(a.conn, 'PONG while draining');
      // HS-12 and HS-13 stop requests only: a broker that refuses every frame of a draining connection
      // answers this notification (REQ-2) and never forwards it.
      a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'signal-while-draining', dst: b.clientId }, payload: disagreementSignal('drain') });
      await ctx.expectMessage(b.conn, 'A\'s DISAGREEMENT_SIGNAL sent after its SHUTDOWN, forwarded to B', (m) => m.name === 'DISAGREEMENT_SIGNAL' && m.header.src === a.clientId);
      await ctx.expectOpen(a.conn, 'no answer to A\'s notification (the next frame is the PONG, REQ-2)');
      answerB(b, forwarded);
      await ctx.expectMessage(a.conn, 'the answer to the request sent before SHUTDOWN', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'q-open');
      await expectAckAndClose(ctx, a, 'bye', 1, 0);
    },
  }),
  // The requests a drain awaits include those the broker answers itself: a SERVICE_DISPATCH waits on
  // its provider like a routed request waits on its destination. A broker that counts routed requests
  // only acknowledges the SHUTDOWN at once and closes, and the dispatch is never answered (HS-14).
  ...([
    { id: 'handshake/shutdown-drain-awaits-a-dispatch', statements: ['HS-14', 'HS-15', 'REG-4'], answered: true },
    { id: 'handshake/shutdown-drain-times-out-a-dispatch', statements: ['HS-14', 'HS-15'], answered: false },
  ] as const).map(({ id, statements, answered }) =>
    defineCase({
      id,
      statements: [...statements],
      async run(ctx) {
        requireDrainTime(ctx, 'for a dispatch to be answered during the drain');
        const { a, b, asked } = await dispatchAtProvider(ctx, 'd-open', 'wait');
        // Answered: the drain may wait as long as it likes (its bound is the broker's own); not answered,
        // it must end at the SHUTDOWN's drain_ms with the dispatch's TIMEOUT.
        const drain = answered ? MAX_LIMITS.shutdown_drain_ms : Math.min(300, ctx.limits.shutdown_drain_ms);
        const since = Date.now();
        a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'conformance: drain with a dispatch open', drain_ms: drain } });
        if (!answered) {
          await expectTimeout(ctx, a.conn, 'd-open', drain + slack(ctx, drain), since);
          await expectAckAndClose(ctx, a, 'bye', 0, 1);
          return;
        }
        await ctx.expectOpen(a.conn, 'no SHUTDOWN_ACK while the dispatch A sent before it is open (HS-14)');
        b.conn.send({ type: 'SERVICE_RESULT', header: { id: 'result', re: asked.header.id }, payload: { result: 'done' } });
        await ctx.expectMessage(a.conn, 'SERVICE_RESULT with re=d-open, before SHUTDOWN_ACK', (m) => m.name === 'SERVICE_RESULT' && m.header.re === 'd-open');
        await expectAckAndClose(ctx, a, 'bye', 1, 0);
      },
    })),
  // The same for a request the broker answers from another client's answer: A's BUS_QUERY, answered by
  // H's handler during A's drain. The drain ends with that answer, not at its drain_ms (HS-14, HS-15).
  defineCase({
    id: 'handshake/shutdown-drain-awaits-a-bus-query',
    statements: ['HS-14', 'HS-15', 'BUS-10'],
    async run(ctx) {
      requireDrainTime(ctx, 'for a query to be answered during the drain');
      const a = await session(ctx, 'A');
      const h = await session(ctx, 'H');
      const type = ctx.uniqueId('qry');
      const registered = await requestOrSkip(ctx, h, 'BUS_REGISTER_HANDLER', { message_type: type, category: 'query' }, 'the command bus');
      if (registered.name !== 'ACK') throw new CaseFailure(`BUS_REGISTER_HANDLER of ${type} was not acknowledged`, 'ACK', registered.name);
      a.conn.send({ type: 'BUS_QUERY', header: { id: 'q-open' }, payload: { message_type: type, payload: 'during the drain' } });
      const asked = await ctx.expectMessage(h.conn, 'the BUS_QUERY at the handler H', (m) => m.name === 'BUS_QUERY');
      a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'conformance: drain with a query open', drain_ms: MAX_LIMITS.shutdown_drain_ms } });
      await ctx.expectOpen(a.conn, 'no SHUTDOWN_ACK while the query A sent before it is open (HS-14)');
      h.conn.send({ type: 'BUS_QUERY_RESULT', header: { id: 'result', re: asked.header.id }, payload: { result: 'done' } });
      await ctx.expectMessage(a.conn, 'BUS_QUERY_RESULT with re=q-open, before SHUTDOWN_ACK', (m) => m.name === 'BUS_QUERY_RESULT' && m.header.re === 'q-open');
      await expectAckAndClose(ctx, a, 'bye', 1, 0);
    },
  }),
  // HS-12 binds the broker too: once B has sent SHUTDOWN, the broker may send it no request of its own
  // but PING. A broker that goes on delivering BUS_EVENTs to a draining subscriber starts a request the
  // client may no longer have to answer. B's drain is held open by A's request, which B answers last.
  defineCase({
    id: 'handshake/no-bus-event-to-a-draining-subscriber',
    statements: ['HS-12'],
    async run(ctx) {
      requireDrainTime(ctx, 'for a publish during the drain');
      const { a, b, forwarded } = await pairWithRequest(ctx);
      const eventType = ctx.uniqueId('drain-event');
      const subscribed = await requestOrSkip(ctx, b, 'BUS_SUBSCRIBE', { event_type: eventType }, 'the command bus');
      if (subscribed.name !== 'BUS_SUBSCRIBED') throw new CaseFailure(`B's BUS_SUBSCRIBE got ${subscribed.name}`, 'BUS_SUBSCRIBED', subscribed.name);
      b.conn.send({ type: 'SHUTDOWN', header: { id: 'bye-b' }, payload: { reason: 'conformance: a subscriber leaves', drain_ms: MAX_LIMITS.shutdown_drain_ms } });
      await ctx.expectOpen(b.conn, 'PONG while B drains (its SHUTDOWN read before the publish)');
      a.conn.send({ type: 'BUS_PUBLISH', header: { id: 'publish-while-b-drains' }, payload: { event_type: eventType, payload: { n: 1 } } });
      await expectSilence(ctx, b.conn, 'no BUS_EVENT at B, which sent SHUTDOWN (HS-12)', Math.min(500, ctx.timeoutMs));
      await ctx.expectMessage(a.conn, 'BUS_PUBLISHED with re=publish-while-b-drains', (m) => m.name === 'BUS_PUBLISHED' && m.header.re === 'publish-while-b-drains');
      answerB(b, forwarded);
      await ctx.expectMessage(a.conn, 'the answer B gave while draining', (m) => m.name === 'REASONING_RESPONSE');
      const ack = await ctx.expectMessage(b.conn, "B's SHUTDOWN_ACK, with no BUS_EVENT before it (HS-12)", (m) => m.name === 'SHUTDOWN_ACK' || m.name === 'BUS_EVENT');
      if (ack.name === 'BUS_EVENT') throw new CaseFailure('the broker sent B a BUS_EVENT after B had sent SHUTDOWN (HS-12: no new request but PING)', 'SHUTDOWN_ACK', ack.name);
    },
  }),
  defineCase({
    id: 'handshake/shutdown-drain-times-out',
    statements: ['HS-14', 'HS-15', 'REQ-16'],
    async run(ctx) {
      const { a, b, forwarded } = await pairWithRequest(ctx);
      // The smaller of the SHUTDOWN's drain_ms and the broker's own shutdown_drain_ms applies.
      const drain = Math.min(300, ctx.limits.shutdown_drain_ms);
      const since = Date.now();
      a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'conformance: drain runs out', drain_ms: drain } });
      const { at } = await expectTimeout(ctx, a.conn, 'q-open', drain + slack(ctx, drain), since);
      if (at < drain * 0.9) throw new CaseFailure(`TIMEOUT came ${at} ms after SHUTDOWN, before its drain_ms of ${drain} ms ran out (HS-14)`, `>= ${drain} ms`, `${at} ms`);
      await expectAckAndClose(ctx, a, 'bye', 0, 1);
      // REQ-16: B's answer, now late, is discarded: no ERROR to B.
      answerB(b, forwarded, 'late-answer');
      await ctx.expectOpen(b.conn, 'no answer to B\'s late answer (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'handshake/shutdown-drain-times-out-requests-forwarded-to-it',
    statements: ['HS-14'],
    async run(ctx) {
      // B, the responder, leaves and never answers: when B's drain runs out, A's request is answered
      // with the drain's TIMEOUT, not left open until its own timeout (30 s for REASONING_REQUEST).
      const { a, b } = await pairWithRequest(ctx);
      const drain = Math.min(300, ctx.limits.shutdown_drain_ms);
      const since = Date.now();
      b.conn.send({ type: 'SHUTDOWN', header: { id: 'bye-b' }, payload: { reason: 'conformance: responder leaves without answering', drain_ms: drain } });
      const { m } = await expectTimeout(ctx, a.conn, 'q-open', drain + slack(ctx, drain), since);
      const named = errorOf(m).details?.['timeout_ms'];
      if (named !== undefined && named !== drain) throw new CaseFailure(`the TIMEOUT of B's drain names timeout_ms ${String(named)}; B's drain_ms was ${drain} (HS-14)`, String(drain), String(named));
    },
  }),
  defineCase({
    id: 'limits/shutdown-drain-at-most-own-limit',
    statements: ['LIM-13', 'HS-14'],
    async run(ctx) {
      const { a } = await pairWithRequest(ctx);
      const own = ctx.limits.shutdown_drain_ms;
      const since = Date.now();
      // The client asks for the longest drain; the broker's own shutdown_drain_ms must bound it.
      a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'conformance: drain bounded by the broker', drain_ms: 600_000 } });
      const { m } = await expectTimeout(ctx, a.conn, 'q-open', own + slack(ctx, own), since);
      const named = errorOf(m).details?.['timeout_ms'];
      if (named !== undefined && named !== own) throw new CaseFailure(`the drain's TIMEOUT names timeout_ms ${String(named)}; shutdown_drain_ms is ${own}`, String(own), String(named));
      await expectAckAndClose(ctx, a, 'bye', 0, 1);
    },
  }),
  defineCase({
    id: 'limits/ping-and-shutdown-at-in-flight-limit',
    statements: ['LIM-7', 'HS-9', 'ERR-8', 'REQ-2', 'HS-14', 'HS-15'],
    async run(ctx) {
      // A holds max_in_flight requests open at B, which never answers. LIM-7 counts requests only and
      // never refuses PING or SHUTDOWN, so at the limit a PING is answered (HS-9), a notification is
      // handled as below it, and a SHUTDOWN starts the drain (HS-14, HS-15).
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      const limit = inFlightLimitToReach(a.ack, 'fail');
      const open = new Set<string>();
      for (let i = 0; i < limit; i++) {
        open.add(`held-${i}`);
        a.conn.send({ type: 'REASONING_REQUEST', header: { id: `held-${i}`, dst: b.clientId }, payload: reasoning() });
      }
      // Frames of one connection are handled in order (REQ-17): the PING meets all `limit` requests open,
      // and A's next frame must be its PONG (no OVERLOADED for the PING nor for a request within the limit).
      // The PONG waits behind `limit` requests routed first: a millisecond each on top of the frame timeout
      // (through a proxy on a loaded machine, 1,024 of them took longer than a frame timeout of 1 s).
      a.conn.send({ type: 'PING', header: { id: 'ping-at-limit' } });
      await ctx.expectMessage(a.conn, `PONG with re=ping-at-limit, with ${limit} requests in flight (LIM-7 never refuses PING; HS-9)`, { name: 'PONG', re: 'ping-at-limit' } satisfies MessageMatch, ctx.timeoutMs + limit);
      // A notification the broker itself receives (INSTRUMENT_EVENT without dst) adds no open request:
      // it is handled as below the limit, answered by UNSUPPORTED where the broker does not implement
      // the type (ERR-8) or by nothing (REQ-2), never by OVERLOADED.
      a.conn.send({ type: 'INSTRUMENT_EVENT', header: { id: 'event-at-limit' }, payload: { event: 'ready', worker: a.clientId } });
      a.conn.send({ type: 'PING', header: { id: 'after-event' } });
      const next = await ctx.expectMessage(a.conn, 'ERROR UNSUPPORTED with re=event-at-limit (ERR-8) or no answer to it (REQ-2), then PONG with re=after-event', (m) => (m.name === 'ERROR' && m.header.re === 'event-at-limit') || (m.name === 'PONG' && m.header.re === 'after-event'));
      if (next.name === 'ERROR') {
        const { code } = errorOf(next);
        if (registryName(code) !== 'UNSUPPORTED') throw new CaseFailure(`a notification sent at the in-flight limit got ERROR ${code}; LIM-7 counts requests only`, 'UNSUPPORTED (ERR-8) or no answer (REQ-2)', `ERROR ${code}`);
        await ctx.expectMessage(a.conn, 'PONG with re=after-event', { name: 'PONG', re: 'after-event' } satisfies MessageMatch);
      }
      a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye-at-limit' }, payload: { reason: 'conformance: shutdown at the in-flight limit', drain_ms: 0 } });
      // B never answers: the drain (drain_ms 0) ends at once and answers every open request with TIMEOUT.
      for (let i = 0; i < limit; i++) {
        const m = await ctx.expectMessage(a.conn, `the drain's TIMEOUT ${i + 1} of ${limit} (HS-14; LIM-7 never refuses SHUTDOWN)`, (x) => x.name === 'ERROR');
        const { code } = errorOf(m);
        if (m.header.re === 'bye-at-limit') throw new CaseFailure(`SHUTDOWN was refused with ${code} at the in-flight limit; LIM-7 never refuses SHUTDOWN`, 'the drain\'s TIMEOUTs, then SHUTDOWN_ACK', `ERROR ${code} re=bye-at-limit`);
        if (registryName(code) !== 'TIMEOUT' || !open.delete(String(m.header.re))) throw new CaseFailure(`expected the drain's TIMEOUT for one of the ${limit} open requests (HS-14, REQ-1); got ERROR ${code} re=${String(m.header.re)}`, 'TIMEOUT re=held-N, once each', `${code} re=${String(m.header.re)}`);
      }
      await expectAckAndClose(ctx, a, 'bye-at-limit', 0, limit);
    },
  }),
];
