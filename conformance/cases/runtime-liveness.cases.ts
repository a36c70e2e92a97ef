/**
 * Liveness of a broker: heartbeat PINGs and the close after three unanswered ones (HS-10, HS-11), the
 * heartbeat it announces (LIM-11, LIM-1), and the handshake timeout (LIM-10). Timed against the
 * heartbeat_ms of INIT_ACK and the handshake_timeout_ms given with --limit.
 */
import { encodeMessageFrame, type Message } from '../../reference/codec/message.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { messageByName } from '../../reference/codec/catalog.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import type { CaseContext, Session } from './context.js';
import { announcedHeartbeat, closedWithin, messageWithin, slack, session } from './runtime-helpers.js';
import type { ErrorName, MessageName } from '../../spec/generated/catalog.js';
import { MIN_LIMITS, MAX_LIMITS, DEFAULT_LIMITS } from '../../spec/generated/catalog.js';

/** A session whose PINGs the case sees (and answers, or not) itself. */
async function manualSession(ctx: CaseContext, label: string): Promise<Session & { hb: number }> {
  const s = await session(ctx, label);
  s.conn.answerPings = false;
  return { ...s, hb: announcedHeartbeat(s.ack) };
}

/**
 * Cases that last several heartbeats, handshake timeouts or drains: minutes against a broker at the
 * spec's default timers (heartbeat_ms 10,000), seconds against one run with low timers and --limit.
 */
export const SLOW_AT_DEFAULT_LIMITS = [
  'handshake/ping-after-each-heartbeat-of-silence', 'handshake/three-unanswered-pings-close', 'handshake/answered-pings-keep-the-connection',
  'handshake/any-frame-counts-as-liveness', 'limits/handshake-timeout', 'limits/shutdown-drain-at-most-own-limit',
  'handshake/partial-frame-is-silence', 'requests/answers-to-a-broker-ping',
];

const isPing = (m: { name: MessageName; header: { re?: string } }): boolean => m.name === 'PING' && m.header.re === undefined;

/** A STATS_REQUEST (id `padded`) whose payload `{}` is padded with JSON whitespace to `body` bytes of body. */
function paddedStatsRequest(body: number): Uint8Array {
  const type = messageByName('STATS_REQUEST').code;
  const bare = encodeEnvelope(type, 'json', { id: 'padded' }, new TextEncoder().encode('{}')).length;
  return encodeFrame(encodeEnvelope(type, 'json', { id: 'padded' }, new TextEncoder().encode(`{}${' '.repeat(body - bare)}`)));
}

export const livenessCases: Case[] = [
  // A broker that takes any bytes read as a sign of life, not only a whole frame (HS-10), never pings a
  // client stalled inside a frame: one byte now and then keeps it from ever being found dead (HS-11).
  defineCase({
    id: 'handshake/partial-frame-is-silence',
    statements: ['HS-10'],
    async run(ctx) {
      const { conn, hb } = await manualSession(ctx, 'trickling');
      const frame = paddedStatsRequest(1000);
      const since = Date.now();
      conn.sendRaw(frame.subarray(0, 4), 'the length prefix of a 1,000-byte STATS_REQUEST, its body to follow a byte at a time');
      let sent = 4;
      let ping: Message | undefined;
      // One byte of the body every quarter heartbeat, for three heartbeats (the body is far longer).
      const until = since + 3 * hb;
      while (ping === undefined && Date.now() < until) {
        const r = await conn.next(Math.max(1, Math.min(Math.floor(hb / 4), until - Date.now())));
        if (r.kind === 'timeout') {
          conn.sendRaw(frame.subarray(sent, sent + 1), `byte ${sent - 4} of the body`);
          sent++;
        } else if (r.kind === 'message' && isPing(r.message)) ping = r.message;
        else throw new CaseFailure('expected nothing but a PING while the frame trickles in', 'PING', r.kind === 'message' ? r.message.name : r.kind);
      }
      if (ping === undefined) throw new CaseFailure(`no PING in ${3 * hb} ms, three times heartbeat_ms, while the connection sent one byte of a frame every ${Math.floor(hb / 4)} ms and no whole frame (HS-10: bytes are not a frame)`, `PING within ${hb} ms`, 'no PING');
      // The rest of the frame, then the PONG: both answered, the connection kept. The silence went on
      // until the rest arrived, so the broker may have sent more PINGs meanwhile: each gets its PONG.
      conn.sendRaw(frame.subarray(sent), 'the rest of the STATS_REQUEST');
      conn.send({ type: 'PONG', header: { id: 'pong-partial', re: ping.header.id } });
      conn.answerPings = true;
      await messageWithin(ctx, conn, 'STATS_RESPONSE with re=padded', ctx.timeoutMs, (m) => m.name === 'STATS_RESPONSE' && m.header.re === 'padded');
      await ctx.expectOpen(conn);
    },
  }),
  defineCase({
    id: 'limits/announced-limits',
    statements: ['LIM-1', 'HS-6'],
    async run(ctx) {
      const { ack } = await session(ctx);
      const announced = ['max_frame', 'max_in_flight', 'heartbeat_ms'] as const;
      const ranges: [string, number, number][] = announced.map((k) => [k, MIN_LIMITS[k], MAX_LIMITS[k]]);
      const wrong = ranges.filter(([k, lo, hi]) => typeof ack[k] !== 'number' || !Number.isInteger(ack[k]) || (ack[k] as number) < lo || (ack[k] as number) > hi);
      if (wrong.length > 0) throw new CaseFailure(`INIT_ACK does not announce ${wrong.map(([k]) => k).join(', ')} within the limits table's range`, wrong.map(([k, lo, hi]) => `${k} in ${lo}..${hi}`).join('; '), wrong.map(([k]) => `${k}=${JSON.stringify(ack[k])}`).join('; '));
      if (ack['max_subscriptions'] !== undefined && !(Number.isInteger(ack['max_subscriptions']) && (ack['max_subscriptions'] as number) >= MIN_LIMITS.max_subscriptions && (ack['max_subscriptions'] as number) <= MAX_LIMITS.max_subscriptions)) {
        const range = `${MIN_LIMITS.max_subscriptions}..${MAX_LIMITS.max_subscriptions}`;
        throw new CaseFailure(`INIT_ACK announces max_subscriptions outside ${range}`, range, JSON.stringify(ack['max_subscriptions']));
      }
    },
  }),
  defineCase({
    id: 'limits/heartbeat-as-configured',
    statements: ['LIM-11'],
    async run(ctx) {
      const { ack } = await session(ctx);
      const hb = announcedHeartbeat(ack);
      const expected = ctx.limits.heartbeat_ms;
      if (hb !== expected) throw new CaseFailure(`INIT_ACK announces heartbeat_ms ${hb}; the broker is configured with ${expected} (the default ${DEFAULT_LIMITS.heartbeat_ms} unless --limit heartbeat_ms says otherwise)`, String(expected), String(hb));
    },
  }),
  defineCase({
    id: 'handshake/ping-after-each-heartbeat-of-silence',
    statements: ['HS-10', 'LIM-11'],
    async run(ctx) {
      const { conn, hb } = await manualSession(ctx, 'silent');
      let since = Date.now();
      const gaps: number[] = [];
      for (const n of [1, 2, 3]) {
        const { at } = await messageWithin(ctx, conn, `PING ${n} after ${hb} ms of silence (heartbeat_ms of INIT_ACK)`, hb + slack(ctx, hb), isPing, since);
        if (n > 1) gaps.push(at);
        since = Date.now();
      }
      // A broker that pings at a rate other than the one it announced does not use that heartbeat (LIM-11).
      // Both gaps must be short to say so: one short gap can be a harness that read two PINGs late at once.
      if (gaps.every((g) => g < hb / 2)) throw new CaseFailure(`PINGs came ${gaps.join(' and ')} ms apart; the broker announced heartbeat_ms ${hb} (LIM-11)`, `about ${hb} ms apart`, `${gaps.join(', ')} ms`);
    },
  }),
  defineCase({
    id: 'handshake/three-unanswered-pings-close',
    statements: ['HS-11'],
    async run(ctx) {
      const { conn, hb } = await manualSession(ctx, 'silent');
      let since = Date.now();
      let gap = 0;
      for (const n of [1, 2, 3]) {
        ({ at: gap } = await messageWithin(ctx, conn, `unanswered PING ${n} of 3`, hb + slack(ctx, hb), isPing, since));
        since = Date.now();
      }
      const at = await closedWithin(ctx, conn, 'the close when a fourth PING is due', hb + slack(ctx, hb), since);
      // Timed only when the third PING itself came a heartbeat after the second (the harness read it in time).
      if (at < hb / 2 && gap >= hb / 2) throw new CaseFailure(`the broker closed ${at} ms after the third PING, before a fourth was due (heartbeat_ms ${hb})`, `close about ${hb} ms after the third PING`, `${at} ms`);
    },
  }),
  defineCase({
    id: 'handshake/answered-pings-keep-the-connection',
    statements: ['HS-11', 'HS-10'],
    async run(ctx) {
      const { conn, hb } = await manualSession(ctx, 'answering');
      let since = Date.now();
      // Four answered PINGs: past the point where a broker counting PINGs rather than silence closes.
      for (const n of [1, 2, 3, 4]) {
        const { m } = await messageWithin(ctx, conn, `PING ${n} of 4 (each answered with PONG)`, hb + slack(ctx, hb), isPing, since);
        conn.send({ type: 'PONG', header: { id: `pong-${n}`, re: m.header.id } });
        since = Date.now();
      }
      conn.answerPings = true;
      await ctx.expectOpen(conn, 'the connection open after four answered PINGs');
    },
  }),
  defineCase({
    id: 'requests/answers-to-a-broker-ping',
    statements: ['REQ-5', 'REQ-1', 'ERR-6'],
    async run(ctx) {
      // The broker's PING is a request like any other: an answer of the wrong type is refused and leaves
      // it open (REQ-5), an ERROR is its one answer and is not answered (REQ-1, ERR-6), so a PONG after
      // that answers nothing open (REQ-5). A broker that takes any frame with the PING's re as its PONG,
      // or ignores an ERROR to it, accepts one of these silently.
      const { conn, hb } = await manualSession(ctx, 'answering-oddly');
      const { m: ping } = await messageWithin(ctx, conn, 'the broker\'s PING after a heartbeat of silence', hb + slack(ctx, hb), isPing);
      conn.answerPings = true; // later PINGs (and any already queued) get their PONG from the connection; this one is the case's
      conn.send({ type: 'SHUTDOWN_ACK', header: { id: 'ack-to-ping', re: ping.header.id }, payload: { drained: 0 } });
      await ctx.expectError(conn, 'UNEXPECTED_MESSAGE', { re: 'ack-to-ping', closes: false, statement: 'REQ-5' });
      conn.send({ type: 'ERROR', header: { id: 'error-to-ping', re: ping.header.id }, payload: { code: 'INTERNAL' satisfies ErrorName, message: 'the PING answered with an ERROR', definite: false } });
      conn.send({ type: 'PONG', header: { id: 'pong-after-error', re: ping.header.id } });
      await ctx.expectError(conn, 'UNEXPECTED_MESSAGE', { re: 'pong-after-error', closes: false, statement: 'REQ-5' });
    },
  }),
  defineCase({
    id: 'handshake/any-frame-counts-as-liveness',
    statements: ['HS-11'],
    async run(ctx) {
      const { conn, hb } = await manualSession(ctx, 'chatty');
      // The harness never answers the broker's PINGs but sends PINGs of its own: every frame received
      // resets the count, so the broker must not close.
      const until = Date.now() + 4 * hb + hb / 2;
      let n = 0;
      let answered = '';
      const closed = (): CaseFailure => new CaseFailure(`the broker closed a connection that sent a frame every ${Math.round(hb / 3)} ms (its heartbeat_ms is ${hb}) because its PINGs went unanswered`, 'open', 'closed');
      while (Date.now() < until) {
        const id = `own-ping-${++n}`;
        conn.send({ type: 'PING', header: { id } });
        const wait = Date.now() + Math.max(hb / 3, 1);
        while (Date.now() < wait) {
          const r = await conn.next(Math.max(1, wait - Date.now()));
          if (r.kind === 'closed') throw closed();
          if (r.kind === 'message' && r.message.name === 'PONG') answered = String(r.message.header.re);
        }
      }
      // The PONG to the last PING may still be on its way (a slow link, --faults): read up to it, so the
      // probe below is answered next.
      while (answered !== `own-ping-${n}`) {
        const r = await conn.next(ctx.timeoutMs);
        if (r.kind === 'closed') throw closed();
        if (r.kind === 'timeout') break;
        if (r.kind === 'message' && r.message.name === 'PONG') answered = String(r.message.header.re);
      }
      conn.answerPings = true;
      await ctx.expectOpen(conn, 'the connection open after 4 heartbeats of traffic');
    },
  }),
  defineCase({
    id: 'limits/handshake-timeout/no-frame',
    statements: ['LIM-10'],
    async run(ctx) {
      const t = ctx.limits.handshake_timeout_ms;
      const conn = await ctx.open('no-init');
      await closedWithin(ctx, conn, `the close of a connection that sent nothing (handshake_timeout_ms ${t})`, t + slack(ctx, t));
    },
  }),
  defineCase({
    id: 'limits/handshake-timeout/partial-init',
    statements: ['LIM-10'],
    async run(ctx) {
      const t = ctx.limits.handshake_timeout_ms;
      const conn = await ctx.open('partial-init');
      const since = Date.now();
      const frame = encodeMessageFrame({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(ctx.uniqueId()) });
      conn.sendRaw(frame.subarray(0, Math.floor(frame.length / 2)), 'the first half of an INIT');
      await closedWithin(ctx, conn, `the close of a connection that sent half an INIT (handshake_timeout_ms ${t})`, t + slack(ctx, t), since);
    },
  }),
  defineCase({
    id: 'limits/handshake-timeout/trickled-init',
    statements: ['LIM-10'],
    async run(ctx) {
      const t = ctx.limits.handshake_timeout_ms;
      const conn = await ctx.open('trickle');
      const since = Date.now();
      const frame = encodeMessageFrame({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(ctx.uniqueId()) });
      // One byte every t/5: bytes keep coming, but no complete INIT within t. A broker whose timer
      // restarts on every read never closes.
      const deadline = since + t + slack(ctx, t);
      for (let i = 0; i < frame.length - 1 && Date.now() < deadline; i++) {
        conn.sendRaw(frame.subarray(i, i + 1), `INIT byte ${i}`);
        const r = await conn.next(Math.max(1, Math.min(t / 5, deadline - Date.now())));
        if (r.kind === 'closed') return;
        if (r.kind !== 'timeout') throw new CaseFailure('expected nothing before INIT is complete', 'nothing', r.kind);
      }
      throw new CaseFailure(`a connection trickling an INIT byte by byte was still open ${Date.now() - since} ms after it opened (handshake_timeout_ms ${t})`, 'closed', 'open');
    },
  }),
  defineCase({
    id: 'limits/handshake-timeout/init-in-time-stays-open',
    statements: ['LIM-10'],
    async run(ctx) {
      const t = ctx.limits.handshake_timeout_ms;
      const conn = await ctx.open('late-but-in-time');
      const since = Date.now();
      await new Promise((r) => setTimeout(r, Math.floor(t / 3)));
      conn.send({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(ctx.uniqueId()) });
      await messageWithin(ctx, conn, 'INIT_ACK to an INIT sent within handshake_timeout_ms', ctx.timeoutMs, (m) => m.name === 'INIT_ACK');
      conn.answerPings = true;
      // Past the handshake timeout: a broker that never stops the timer closes the connection now.
      const r = await conn.next(Math.max(1, since + Math.ceil(t * 1.5) - Date.now()));
      if (r.kind === 'closed') throw new CaseFailure(`the broker closed a connection whose INIT came within handshake_timeout_ms (${t} ms), ${Date.now() - since} ms after it opened`, 'open', 'closed');
      if (r.kind !== 'timeout') throw new CaseFailure('expected nothing after INIT_ACK', 'nothing', r.kind === 'message' ? r.message.name : r.kind);
      await ctx.expectOpen(conn, 'the connection open after the handshake timeout passed');
    },
  }),
];
