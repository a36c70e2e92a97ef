/**
 * A broker's own answers: STATS (SYS-2), ACK only once done (SYS-1), UNSUPPORTED (ERR-8), ERRORs with
 * codes it does not know (ERR-10), the check order (ERR-1), header and id limits at and past them
 * (LIM-4, LIM-5), version negotiation (VER-1, VER-2), nothing sent beyond the negotiated version (VER-3)
 * and no token echoed (SEC-4).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageType } from '../../spec/generated/catalog.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import { describeLaterParts, partsLaterThan } from '../../reference/codec/versions.js';
import type { CaseContext, Session } from './context.js';
import type { Message } from '../../reference/codec/message.js';
import { arrival, errorOf, rawFrame, reasoning, reasoningAnswer, requestOrSkip, requireDrainTime, session } from './runtime-helpers.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { registryName } from '../../reference/codec/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';

interface StatsEntry { client_id: string }

async function stats(ctx: CaseContext, s: Session, payload: Record<string, unknown>): Promise<StatsEntry[]> {
  const id = ctx.uniqueId('stats');
  s.conn.send({ type: 'STATS_REQUEST', header: { id }, payload });
  const m = await ctx.expectMessage(s.conn, `STATS_RESPONSE with re=${id}`, (x) => x.name === 'STATS_RESPONSE' && x.header.re === id);
  return (m.payload as { clients: StatsEntry[] }).clients;
}

/** The entry's latency quantiles, which SYS-3 requires once an answer has left: both finite, p99 >= p50. */
function latencyOf(entry: StatsEntry | undefined, when: string): { p50: number; p99: number } {
  if (entry === undefined) throw new CaseFailure(`STATS_REQUEST naming the client must return its entry (${when})`, '1 entry', 'none');
  const { latency_p50_us: p50, latency_p99_us: p99 } = entry as unknown as Record<string, unknown>;
  for (const [field, value] of [['latency_p50_us', p50], ['latency_p99_us', p99]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new CaseFailure(`${field} is ${JSON.stringify(value) ?? 'absent'} ${when} (SYS-3: given once an answer has left, in microseconds)`, 'a number of microseconds', JSON.stringify(value) ?? 'absent');
  }
  if ((p99 as number) < (p50 as number)) throw new CaseFailure(`latency_p99_us ${String(p99)} is below latency_p50_us ${String(p50)} ${when}`, 'p99 >= p50', `${String(p99)} < ${String(p50)}`);
  return { p50: p50 as number, p99: p99 as number };
}

const count = (entries: StatsEntry[], id: string): number => entries.filter((e) => e.client_id === id).length;

/** A header of exactly `bytes` bytes: `{"id":ID,"pad":"xxx..."}` (unknown keys are ignored, BODY-6). */
function paddedHeader(id: string, bytes: number): Uint8Array {
  const base = JSON.stringify({ id, pad: '' });
  const header = JSON.stringify({ id, pad: 'x'.repeat(bytes - Buffer.byteLength(base)) });
  return new TextEncoder().encode(header);
}

/** The k-th smallest (1-based) of `values`. */
/** Slack on each latency bound of msg-system/stats-count-the-traffic: under half the 60 ms between two ranks. */
const LATENCY_SLACK_MS = 25;

const kth = (values: number[], k: number): number => [...values].sort((x, y) => x - y)[k - 1]!;

/** One STATS_RESPONSE entry as SYS-3 reads it: counters as numbers (u64 strings in JSON). */
interface CountedEntry { language: string; frames_in: number; frames_out: number; bytes_in: number; bytes_out: number; in_flight: number; latency_p50_us?: number; latency_p99_us?: number }

function counted(entry: Record<string, unknown>): CountedEntry {
  const n = (key: string): number => Number(entry[key]);
  return {
    language: String(entry['language']), frames_in: n('frames_in'), frames_out: n('frames_out'), bytes_in: n('bytes_in'), bytes_out: n('bytes_out'), in_flight: n('in_flight'),
    ...(entry['latency_p50_us'] !== undefined ? { latency_p50_us: n('latency_p50_us') } : {}),
    ...(entry['latency_p99_us'] !== undefined ? { latency_p99_us: n('latency_p99_us') } : {}),
  };
}

/** A range a value must fall in, inclusive; the failure names the field and how the bounds were found. */
function within(problems: string[], field: string, value: number | undefined, low: number, high: number, why: string): void {
  if (value === undefined || !Number.isFinite(value) || value < low || value > high) problems.push(`${field} is ${value} where ${why} puts it in [${low}, ${high}]`);
}

export const runtimeSystemCases: Case[] = [
  defineCase({
    id: 'msg-system/stats-one-entry-per-client',
    statements: ['SYS-2'],
    async run(ctx) {
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      const gone = await session(ctx, 'C');
      gone.conn.destroy();
      // The broker may take a moment to see C go: ask until it is gone, for at most the frame timeout.
      const until = Date.now() + ctx.timeoutMs;
      let all = await stats(ctx, a, {});
      while (count(all, gone.clientId) > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        all = await stats(ctx, a, {});
      }
      for (const s of [a, b]) if (count(all, s.clientId) !== 1) throw new CaseFailure(`STATS_RESPONSE has ${count(all, s.clientId)} entries for connected client ${s.clientId}`, '1', String(count(all, s.clientId)));
      if (count(all, gone.clientId) !== 0) throw new CaseFailure(`STATS_RESPONSE still lists ${gone.clientId} after it disconnected`, '0 entries', String(count(all, gone.clientId)));
      const one = await stats(ctx, a, { client_id: b.clientId });
      if (one.length !== 1 || one[0]!.client_id !== b.clientId) throw new CaseFailure(`STATS_REQUEST naming ${b.clientId} must return only its entry`, `[${b.clientId}]`, JSON.stringify(one.map((e) => e.client_id)));
      const none = await stats(ctx, a, { client_id: ctx.uniqueId('absent') });
      if (none.length !== 0) throw new CaseFailure('STATS_REQUEST naming a client that is not connected must return an empty list', '[]', JSON.stringify(none.map((e) => e.client_id)));
    },
  }),
  // A request that ends outside any read of its requester (its target's connection drops) must leave
  // STATS answerable: a broker that times such an end with a clock it reads only inside reads records a
  // latency that is not a number, and then cannot build STATS_RESPONSE (SYS-2, SYS-3).
  defineCase({
    id: 'msg-system/stats-after-a-request-ended-by-peer-gone',
    statements: ['SYS-2', 'HS-18', 'SYS-3'],
    async run(ctx) {
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'ended-by-close', dst: b.clientId }, payload: reasoning() });
      await ctx.expectMessage(b.conn, 'the request at B', (m) => m.name === 'REASONING_REQUEST');
      b.conn.destroy();
      await ctx.expectMessage(a.conn, 'ERROR PEER_GONE with re=ended-by-close', (m) => m.name === 'ERROR' && m.header.re === 'ended-by-close');
      const entries = await stats(ctx, a, { client_id: a.clientId });
      if (entries.length !== 1) throw new CaseFailure(`STATS_REQUEST naming ${a.clientId} must return its entry`, '1 entry', `${entries.length} entries`);
      for (const field of ['latency_p50_us', 'latency_p99_us'] as const) {
        const value: unknown = (entries[0] as unknown as Record<string, unknown>)[field];
        if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) throw new CaseFailure(`${field} is ${JSON.stringify(value)} after a request ended by PEER_GONE (SYS-3: microseconds)`, 'absent, or a number of microseconds', JSON.stringify(value));
      }
    },
  }),
  // SYS-3 counts every answer that left, PEER_GONE included, and measures it to its departure: a broker
  // that samples only normal answers omits the latency, one that stamps the departure with the time of
  // its last read (before B's close) reports about nothing.
  defineCase({
    id: 'msg-system/stats-latency-of-a-request-ended-by-peer-gone',
    statements: ['SYS-3', 'HS-18'],
    async run(ctx) {
      const held = 300;
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'held-then-gone', dst: b.clientId }, payload: reasoning() });
      await ctx.expectMessage(b.conn, 'the request at B', (m) => m.name === 'REASONING_REQUEST');
      await sleep(held);
      b.conn.destroy();
      await ctx.expectMessage(a.conn, 'ERROR PEER_GONE with re=held-then-gone', (m) => m.name === 'ERROR' && m.header.re === 'held-then-gone');
      const [entry] = await stats(ctx, a, { client_id: a.clientId });
      const latency = latencyOf(entry, 'after its only routed request was answered PEER_GONE');
      // The request arrived before B read it and its answer left after B closed, `held` ms later (1 ms of clock granularity).
      if (latency.p50 < (held - 1) * 1000) throw new CaseFailure(`latency_p50_us is ${latency.p50} for a request answered PEER_GONE at least ${held} ms after it arrived (SYS-3: to the departure of its answer)`, `>= ${(held - 1) * 1000}`, String(latency.p50));
    },
  }),
  // Quantiles over more answers than a broker may keep samples of: both must still be given, p99 >= p50.
  defineCase({
    id: 'msg-system/stats-latency-after-many-answers',
    statements: ['SYS-3'],
    async run(ctx) {
      const answers = 1100;
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      // In batches below max_in_flight (LIM-7), which the handshake cases judge.
      const limit = Number(a.ack['max_in_flight']);
      const batch = Number.isInteger(limit) && limit >= 1 ? Math.min(100, limit) : 1;
      for (let sent = 0; sent < answers; sent += batch) {
        const ids = Array.from({ length: Math.min(batch, answers - sent) }, (_, i) => `many-${sent + i}`);
        for (const id of ids) a.conn.send({ type: 'REASONING_REQUEST', header: { id, dst: b.clientId }, payload: reasoning() });
        for (const id of ids) {
          const asked = await ctx.expectMessage(b.conn, `request ${id} at B`, (m) => m.name === 'REASONING_REQUEST');
          b.conn.send({ type: 'REASONING_RESPONSE', header: { id: `answer-${id}`, re: asked.header.id }, payload: reasoningAnswer(1) });
        }
        for (const id of ids) await ctx.expectMessage(a.conn, `the answer to ${id}`, (m) => m.name === 'REASONING_RESPONSE' && m.header.re === id);
      }
      const [entry] = await stats(ctx, a, { client_id: a.clientId });
      latencyOf(entry, `after ${answers} routed requests were answered`);
    },
  }),
  defineCase({
    id: 'msg-system/stats-count-the-traffic',
    statements: ['SYS-3'],
    async run(ctx) {
      const startedBefore = performance.now();
      const a = await session(ctx, 'A', { language: 'perl' });
      const b = await session(ctx, 'B');
      const c = await session(ctx, 'C');
      // C asks about itself (in a cluster it may sit on another broker, whose counts of A are its own,
      // CLU-9) now and once A's traffic is done: uptime_ms must grow by the time between (2 ms of clock
      // granularity). A broker without STATS skips the case here.
      const ask = async (id: string): Promise<{ message: Message; sent: number; got: number }> => {
        const sent = performance.now();
        const message = await requestOrSkip(ctx, c, 'STATS_REQUEST', { client_id: c.clientId }, 'STATS', id);
        if (message.name !== 'STATS_RESPONSE') throw new CaseFailure(`STATS_REQUEST ${id} was answered by ${message.name}`, 'STATS_RESPONSE', message.name);
        return { message, sent, got: performance.now() };
      };
      const first = await ask('st1');
      // A asks B four times at once, then once more; B answers each after its own delay, so the broker's
      // latency of each request lies between that delay and A's round trip (ms), whatever else it does.
      // The last request is the quickest: the samples do not arrive in order.
      const delays = [100, 160, 220, 280, 40];
      const sentAt: number[] = [];
      const high: number[] = [];
      for (const batch of [[0, 1, 2, 3], [4]]) {
        for (const i of batch) {
          a.conn.send({ type: 'REASONING_REQUEST', header: { id: `s${i}`, dst: b.clientId }, payload: reasoning(`d${i}`) });
          sentAt[i] = performance.now();
        }
        const answered: Promise<void>[] = [];
        for (let n = 0; n < batch.length; n++) {
          const asked = await ctx.expectMessage(b.conn, `request ${n + 1} of ${batch.length} at B`, (m) => m.name === 'REASONING_REQUEST');
          const i = Number((asked.payload as { context: string }).context.slice(1));
          answered.push(sleep(delays[i]!).then(() => b.conn.send({ type: 'REASONING_RESPONSE', header: { id: `r${i}`, re: asked.header.id }, payload: reasoningAnswer(i) })));
        }
        for (let n = 0; n < batch.length; n++) {
          const m = await ctx.expectMessage(a.conn, `answer ${n + 1} of ${batch.length} at A`, (x) => x.name === 'REASONING_RESPONSE');
          high.push(performance.now() - sentAt[Number(String(m.header.re).slice(1))]! + 1);
        }
        await Promise.all(answered);
      }
      const low = delays.map((d) => d - 1);
      // One request left open: in_flight 1.
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'open', dst: b.clientId }, payload: reasoning('open') });
      await ctx.expectMessage(b.conn, 'request open at B', (m) => m.name === 'REASONING_REQUEST' && (m.payload as { context: string }).context === 'open');
      const second = await ask('st2');
      // A asks about itself once (its own earlier STATS_REQUESTs would be requests of its own to count).
      const before = { ...a.conn.traffic };
      const id = 'stats-a';
      a.conn.send({ type: 'STATS_REQUEST', header: { id }, payload: { client_id: a.clientId } });
      const sent = { ...a.conn.traffic };
      const own = await arrival(ctx, a.conn, `STATS_RESPONSE re=${id}`, (m) => m.name === 'STATS_RESPONSE' && m.header.re === id, ctx.timeoutMs);
      if (own === undefined) throw new CaseFailure(`A's STATS_REQUEST ${id} got no answer`, 'STATS_RESPONSE', 'nothing');
      // A's PONGs to the broker's PINGs may follow its STATS_REQUEST: what A wrote until the answer came.
      const untilAnswer = { ...a.conn.traffic };
      const entries = ((own.message.payload as Record<string, unknown>)['clients'] as Record<string, unknown>[] | undefined) ?? [];
      if (entries.length !== 1) throw new CaseFailure(`STATS_RESPONSE naming A has ${entries.length} entries`, '1', String(entries.length));
      const e = counted(entries[0]!);
      const problems: string[] = [];
      if (e.language !== 'perl') problems.push(`language is ${JSON.stringify(e.language)}; A's INIT declared "perl"`);
      // The STATS_REQUEST being answered has been received (it counts in), not yet answered (it may count in flight).
      within(problems, 'in_flight', e.in_flight, 1, 2, 'A\'s one forwarded request without an answer (and its STATS_REQUEST)');
      within(problems, 'frames_in', e.frames_in, sent.framesOut, untilAnswer.framesOut, 'the frames A wrote (INIT and this STATS_REQUEST included)');
      within(problems, 'bytes_in', e.bytes_in, sent.bytesOut, untilAnswer.bytesOut, 'the bytes A wrote (length prefixes included)');
      within(problems, 'frames_out', e.frames_out, before.framesIn, own.before.frames + 1, 'the frames A read (INIT_ACK included, its STATS_RESPONSE perhaps)');
      within(problems, 'bytes_out', e.bytes_out, before.bytesIn, own.before.bytes + own.bodyLength + 4, 'the bytes A read (its STATS_RESPONSE perhaps included)');
      // Five samples: the median is the 3rd smallest, the 99th percentile between the 4th and the 5th.
      // Each bound gets LATENCY_SLACK_MS: a broker may read its clock a little after it wrote the answer,
      // and the harness's own timers and clock readings lag on a loaded machine (a p50 2.6 ms above A's
      // round trip was seen in CI), yet a neighbouring rank lies 60 ms away.
      const lowUs = (k: number): number => Math.floor((kth(low, k) - LATENCY_SLACK_MS) * 1000);
      const highUs = (k: number): number => Math.ceil((kth(high, k) + LATENCY_SLACK_MS) * 1000);
      within(problems, 'latency_p50_us', e.latency_p50_us, lowUs(3), highUs(3), `B's delays and A's round trips (ms: ${delays.join(', ')}), ${LATENCY_SLACK_MS} ms either side`);
      within(problems, 'latency_p99_us', e.latency_p99_us, lowUs(4), highUs(5), `B's delays and A's round trips, ${LATENCY_SLACK_MS} ms either side`);
      const uptime = (m: Message): number => Number((m.payload as Record<string, unknown>)['uptime_ms']);
      within(problems, 'uptime_ms', uptime(second.message) - uptime(first.message), Math.floor(second.sent - first.got) - 2, Math.ceil(second.got - first.sent) + 2, 'the time between two STATS_REQUESTs (its growth)');
      // From below, the case: the broker was up before it began. From above, only the Unix epoch is sure.
      within(problems, 'uptime_ms', uptime(second.message), Math.floor(second.sent - startedBefore) - 2, Date.now(), 'the time since the case began and the time since 1970');
      if (problems.length > 0) throw new CaseFailure(`STATS_RESPONSE does not count A's traffic as SYS-3 says: ${problems.join('; ')}`, 'counts as SYS-3 defines them', problems[0]);
    },
  }),
  defineCase({
    id: 'msg-system/ack-after-the-effect',
    statements: ['SYS-1'],
    async run(ctx) {
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      const name = ctx.uniqueId('svc');
      const ack = await requestOrSkip(ctx, b, 'SERVICE_REGISTER', { service: { name, service_type: 'conformance', version: '1.0.0' } }, 'the service registry');
      if (ack.name !== 'ACK') throw new CaseFailure('SERVICE_REGISTER was not acknowledged', 'ACK', ack.name);
      // Right after the ACK, another client's request to the service must find it.
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-svc', dst: name }, payload: reasoning() });
      const m = await ctx.expectMessage(b.conn, `the request to ${name}, sent right after its registration was acknowledged`, (x) => x.name === 'REASONING_REQUEST');
      if (m.header.src !== a.clientId) throw new CaseFailure('the forwarded request does not name A in src', a.clientId, String(m.header.src));
    },
  }),
  defineCase({
    id: 'errors/unsupported-known-type',
    statements: ['ERR-8'],
    async run(ctx) {
      // INSTRUMENT_COMMAND addressed to the broker itself: a broker that hosts no instrument answers UNSUPPORTED.
      const { conn } = await session(ctx);
      conn.send({ type: 'INSTRUMENT_COMMAND', header: { id: 'to-broker' }, payload: { command: 'ping', params: {} } });
      const m = await ctx.expectMessage(conn, 'INSTRUMENT_RESPONSE (a broker hosting an instrument) or ERROR UNSUPPORTED', (x) => x.header.re === 'to-broker');
      if (m.name === 'INSTRUMENT_RESPONSE') return;
      if (m.name !== 'ERROR' || registryName(errorOf(m).code) !== 'UNSUPPORTED') throw new CaseFailure(`a known type the broker does not implement must get UNSUPPORTED; got ${m.name} ${m.name === 'ERROR' ? errorOf(m).code : ''}`, 'UNSUPPORTED', m.name === 'ERROR' ? errorOf(m).code : m.name);
      if (errorOf(m).definite !== true) throw new CaseFailure('UNSUPPORTED must be definite', 'definite true', String(errorOf(m).definite));
      await ctx.expectOpen(conn, 'the connection open after UNSUPPORTED');
    },
  }),
  defineCase({
    id: 'errors/unknown-error-code-forwarded',
    statements: ['ERR-10'],
    async run(ctx) {
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'q', dst: b.clientId }, payload: reasoning() });
      const f = await ctx.expectMessage(b.conn, 'the request at B', (m) => m.name === 'REASONING_REQUEST');
      // A code from a later minor version: the broker must pass it on as a failure, definite as given.
      b.conn.send({ type: 'ERROR', header: { id: 'future', re: f.header.id }, payload: { code: 'FUTURE_CONDITION', message: 'a code of a later version', definite: true } });
      const m = await ctx.expectMessage(a.conn, 'the ERROR FUTURE_CONDITION with re=q', (x) => x.name === 'ERROR' && x.header.re === 'q');
      const p = errorOf(m);
      if (p.code !== 'FUTURE_CONDITION' || p.definite !== true) throw new CaseFailure('the handler\'s ERROR must reach the requester with its code and definite', 'FUTURE_CONDITION definite=true', `${p.code} definite=${String(p.definite)}`);
      await ctx.expectOpen(b.conn, 'no ERROR back to B for an unknown code (the next frame is the PONG)');
    },
  }),
  ...([
    // [name, frame builder, expected code, re expected]
    ['header-and-type', (id: string) => rawFrame(0x0a, 'json', { id: `${'i'.repeat(128)}${id}` }, '{}'), 'INVALID_HEADER', undefined],
    ['type-and-encoding', (id: string) => rawFrame(0x0a, 'cbor', { id }, Uint8Array.of(0xa0)), 'UNKNOWN_TYPE', 're'],
    ['encoding-and-payload', (id: string) => rawFrame(MessageType.STATS_REQUEST, 'cbor', { id }, Uint8Array.of(0xff, 0xff)), 'UNSUPPORTED_ENCODING', 're'],
    ['schema-and-direction', (id: string) => rawFrame(MessageType.BUS_EVENT, 'json', { id }, '{"subscription_id": 5}'), 'SCHEMA_VIOLATION', 're'],
  ] as const satisfies readonly (readonly [string, (id: string) => Uint8Array, ErrorName, 're' | undefined])[]).map(([name, build, code, re]) =>
    defineCase({
      id: `errors/first-failing-step-wins/faults:${name}`,
      statements: ['ERR-1'],
      async run(ctx) {
        // A JSON-only session, so a CBOR payload is an encoding fault (step 5).
        const { conn } = await session(ctx, undefined, { encodings: ['json'] });
        const id = `two-faults-${name}`;
        conn.sendRaw(build(id), `a frame with two faults (${name}): the earlier check's error wins`);
        await ctx.expectError(conn, code, { ...(re ? { re: id } : {}), closes: false });
      },
    })),
  defineCase({
    id: 'errors/first-failing-step-wins/faults:lifecycle-and-routing',
    statements: ['ERR-1', 'HS-13'],
    async run(ctx) {
      requireDrainTime(ctx, 'for a request to be refused');
      const a = await session(ctx, 'A');
      const b = await session(ctx, 'B');
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'keep-open', dst: b.clientId }, payload: reasoning() });
      const f = await ctx.expectMessage(b.conn, 'the request at B', (m) => m.name === 'REASONING_REQUEST');
      a.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'check order', drain_ms: 600_000 } });
      // Draining (step 9) and an unknown destination (step 11): SHUTTING_DOWN wins.
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'nowhere', dst: ctx.uniqueId('absent') }, payload: reasoning() });
      await ctx.expectError(a.conn, 'SHUTTING_DOWN', { re: 'nowhere', closes: false });
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'a1', re: f.header.id }, payload: reasoningAnswer() });
      await ctx.expectMessage(a.conn, 'the answer to the request sent before SHUTDOWN', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'keep-open');
    },
  }),
  defineCase({
    id: 'limits/header-at-max-header-accepted',
    statements: ['LIM-4'],
    async run(ctx) {
      const { conn } = await session(ctx);
      const size = ctx.limits.max_header;
      conn.sendRaw(rawFrame(MessageType.PING, 'json', paddedHeader('at-max-header', size), new Uint8Array(0)), `PING with a header of exactly max_header = ${size} bytes`);
      await ctx.expectMessage(conn, `PONG with re=at-max-header (a header of ${size} bytes is within max_header)`, (m) => m.name === 'PONG' && m.header.re === 'at-max-header');
    },
  }),
  defineCase({
    id: 'limits/header-past-max-header-refused',
    statements: ['LIM-4'],
    async run(ctx) {
      const { conn } = await session(ctx);
      const size = ctx.limits.max_header + 1;
      conn.sendRaw(rawFrame(MessageType.PING, 'json', paddedHeader('past-max-header', size), new Uint8Array(0)), `PING with a header of max_header + 1 = ${size} bytes`);
      await ctx.expectError(conn, 'INVALID_HEADER', { closes: false });
    },
  }),
  // The first frame is read before any INIT_ACK: a broker that checks its header against a fixed 4,096
  // bytes instead of its own max_header, or not at all, lets an INIT past the limit in (LIM-4, HS-3).
  defineCase({
    id: 'limits/first-frame-header-past-max-header-refused',
    statements: ['LIM-4', 'HS-3'],
    async run(ctx) {
      const conn = await ctx.open();
      const size = ctx.limits.max_header + 1;
      conn.sendRaw(rawFrame(MessageType.INIT, 'json', paddedHeader('init-past-max-header', size), JSON.stringify(ctx.initPayload(ctx.uniqueId()))), `INIT with a header of max_header + 1 = ${size} bytes`);
      await ctx.expectError(conn, 'INVALID_HEADER', { closes: true });
    },
  }),
  // ... and one that checks it against less than max_header refuses a first frame it must read: a PING
  // first, with a header of exactly max_header, is a PROTOCOL_VIOLATION answering the PING (HS-2).
  defineCase({
    id: 'limits/first-frame-header-at-max-header-read',
    statements: ['LIM-4', 'HS-2'],
    async run(ctx) {
      const conn = await ctx.open();
      const size = ctx.limits.max_header;
      conn.sendRaw(rawFrame(MessageType.PING, 'json', paddedHeader('first-at-max-header', size), new Uint8Array(0)), `a first frame PING with a header of exactly max_header = ${size} bytes`);
      await ctx.expectError(conn, 'PROTOCOL_VIOLATION', { re: 'first-at-max-header', closes: true });
    },
  }),
  ...([
    ['128-bytes-64-chars', 'ü'.repeat(64), true],
    ['129-bytes-128-chars', `${'a'.repeat(127)}é`, false],
    ['130-bytes-65-chars', 'ü'.repeat(65), false],
  ] as const).map(([name, id, ok]) =>
    defineCase({
      id: `limits/id-bytes/id:${name}`,
      statements: ['LIM-5'],
      async run(ctx) {
        // max_id_bytes counts UTF-8 bytes, not characters.
        const { conn } = await session(ctx);
        conn.sendRaw(rawFrame(MessageType.PING, 'json', { id }, new Uint8Array(0)), `PING whose id is ${name.replace(/-/g, ' ')}`);
        if (ok) await ctx.expectMessage(conn, `PONG with re equal to the ${Buffer.byteLength(id)}-byte id`, (m) => m.name === 'PONG' && m.header.re === id);
        else await ctx.expectError(conn, 'INVALID_HEADER', { closes: false });
      },
    })),
  defineCase({
    id: 'limits/re-past-128-bytes-refused',
    statements: ['LIM-5'],
    async run(ctx) {
      const { conn } = await session(ctx);
      // An over-long re is a header fault (step 3), found before the response is matched (step 10).
      conn.sendRaw(rawFrame(MessageType.PONG, 'json', { id: 'long-re', re: 'r'.repeat(129) }, new Uint8Array(0)), 'PONG whose re is 129 bytes');
      await ctx.expectError(conn, 'INVALID_HEADER', { closes: false });
    },
  }),
  ...([
    ['missing-client-id', (p: Record<string, unknown>) => { delete p['client_id']; }],
    ['unknown-field-no-json', (p: Record<string, unknown>) => { p['encodings'] = ['cbor']; p['future_field'] = true; }],
    ['major-0', (p: Record<string, unknown>) => { p['protocol_version'] = '0.9'; delete p['role']; }],
  ] as const).map(([name, spoil]) =>
    defineCase({
      id: `versioning/major-checked-before-schema/init:${name}`,
      statements: ['VER-1', 'HS-4'],
      async run(ctx) {
        const conn = await ctx.open();
        const payload = ctx.initPayload(ctx.uniqueId(), { protocol_version: '2.0' });
        spoil(payload);
        ctx.sendUnchecked(conn, 'INIT', { id: 'init-other-major' }, JSON.stringify(payload));
        await ctx.expectError(conn, 'VERSION_MISMATCH', { re: 'init-other-major', closes: true });
      },
    })),
  defineCase({
    id: 'versioning/minor-negotiated',
    statements: ['VER-2'],
    async run(ctx) {
      const ackOf = async (version: string): Promise<string> => {
        const { ack, conn } = await session(ctx, `v${version}`, { protocol_version: version });
        conn.destroy();
        return String(ack['protocol_version']);
      };
      // The broker's own minor: its answer to the largest minors (a broker echoing the client's is caught here).
      const top = await ackOf('1.999');
      const next = await ackOf('1.998');
      const m = /^1\.([0-9]{1,3})$/.exec(top);
      if (!m || top !== next) throw new CaseFailure(`INIT_ACK must give the smaller minor: 1.999 got ${top}, 1.998 got ${next}`, 'the broker\'s own 1.N both times', `${top}, ${next}`);
      const own = Number(m[1]);
      for (const [asked, minor] of [['1.0', 0], ['1.1', 1], ['1.9', 9], ['1.10', 10], ['1.010', 10]] as const) {
        const got = await ackOf(asked);
        const expected = `1.${Math.min(own, minor)}`;
        if (got !== expected) throw new CaseFailure(`INIT ${asked} (minor ${minor}, compared as a decimal integer) against a broker of 1.${own} must be answered with ${expected}`, expected, got);
      }
    },
  }),
  defineCase({
    id: 'versioning/nothing-later-than-negotiated',
    statements: ['VER-3'],
    async run(ctx) {
      // A 1.0 session: every frame the broker sends must be a type of 1.0 without a field added later (the
      // catalog's `since` of types and fields). A 1.0 peer would refuse such a field: payload objects are closed.
      const s = await session(ctx, 'v1.0', { protocol_version: '1.0' });
      const negotiated = String(s.ack['protocol_version']);
      if (!/^1\.0+$/.test(negotiated)) throw new CaseFailure(`INIT 1.0 must be answered with 1.0 (VER-2), got ${negotiated}`, '1.0', negotiated);
      const check = (m: { name: MessageName; payload: unknown }): void => {
        const later = partsLaterThan(m.name, m.payload, negotiated);
        if (later.length > 0) throw new CaseFailure(`the broker sent ${describeLaterParts(m.name, later)} on a 1.0 connection`, 'types and fields of 1.0 only', describeLaterParts(m.name, later));
      };
      check({ name: 'INIT_ACK', payload: s.ack });
      const ping = ctx.uniqueId('ping');
      s.conn.send({ type: 'PING', header: { id: ping } });
      check(await ctx.expectMessage(s.conn, `PONG with re=${ping}`, (m) => m.name === 'PONG' && m.header.re === ping));
      const statsId = ctx.uniqueId('stats');
      s.conn.send({ type: 'STATS_REQUEST', header: { id: statsId }, payload: {} });
      check(await ctx.expectMessage(s.conn, `STATS_RESPONSE with re=${statsId}`, (m) => m.name === 'STATS_RESPONSE' && m.header.re === statsId));
      const lost = ctx.uniqueId('nobody');
      s.conn.send({ type: 'REASONING_REQUEST', header: { id: lost, dst: ctx.uniqueId('absent') }, payload: reasoning() });
      check(await ctx.expectMessage(s.conn, `an answer with re=${lost}`, (m) => m.header.re === lost));
    },
  }),
  defineCase({
    id: 'security/token-never-echoed',
    statements: ['SEC-4'],
    async run(ctx) {
      // The broker's own token (--token) when it has one, else a token it was not given; and a wrong one.
      const own = ctx.options.token ?? `sec4-${ctx.uniqueId('secret')}-${ctx.seed.toString(36)}`;
      const wrong = `w${own.replace(/./g, (c) => (c === 'q' ? 'z' : 'q'))}`;
      const leaks = (m: { header: unknown; payload: unknown }): string[] => {
        const text = JSON.stringify([m.header, m.payload], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        return [own, wrong].filter((t) => text.includes(t)).map((t) => (t === own ? 'the token' : 'the wrong token'));
      };
      const check = (m: { name: MessageName; header: unknown; payload: unknown }, what: string): void => {
        const found = leaks(m);
        if (found.length > 0) throw new CaseFailure(`${what}: the broker's ${m.name} carries ${found.join(' and ')} the client sent`, 'no token in any frame', m.name);
      };
      // An INIT that fails its schema (max_frame below its minimum) but carries the token: the ERROR must not quote it.
      const bad = await ctx.open('schema-fault');
      ctx.sendUnchecked(bad, 'INIT', { id: 'init' }, JSON.stringify({ ...ctx.initPayload(ctx.uniqueId('sec4')), token: own, max_frame: 1 }));
      check(await ctx.expectMessage(bad, 'ERROR answering an INIT whose max_frame is below its minimum', (m) => m.name === 'ERROR'), 'a refused INIT');
      // A wrong token: refused (a broker with a token) or accepted (one without); either answer must not echo it.
      const other = await ctx.open('wrong-token');
      other.send({ type: 'INIT', header: { id: 'init' }, payload: { ...ctx.initPayload(ctx.uniqueId('sec4')), token: wrong } });
      check(await ctx.expectMessage(other, 'INIT_ACK or ERROR answering an INIT with a wrong token', (m) => m.header.re === 'init'), 'an INIT with a wrong token');
      // A session holding the token, and another asking for everyone's STATS: no entry, no answer names it.
      const holder = await session(ctx, 'holder', { token: own });
      check({ name: 'INIT_ACK', header: {}, payload: holder.ack }, 'the INIT_ACK');
      const asker = await session(ctx, 'asker');
      const id = ctx.uniqueId('stats');
      asker.conn.send({ type: 'STATS_REQUEST', header: { id }, payload: {} });
      check(await ctx.expectMessage(asker.conn, `STATS_RESPONSE with re=${id}`, (m) => m.name === 'STATS_RESPONSE' && m.header.re === id), 'STATS');
    },
  }),
];
