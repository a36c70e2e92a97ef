/**
 * The cluster-process suite (`conformance --suite cluster-process -- CMD ARGS`, section 19): what a
 * cluster owes its clients when a broker dies or the NATS server goes away, and what it puts on NATS.
 * Unlike the cluster suite, which judges a running cluster from its clients' side, each case here owns
 * the cluster (owned-cluster.ts): its own nats-server and three brokers from the command, `{host}`,
 * `{port}`, `{nats}` and `{id}` replaced; the k-th connection of a case goes to broker k mod 3.
 */
import { decodeMessage, encodeMessage } from '../../reference/codec/message.js';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Message } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import { summarize, type CaseContext, type Session } from './context.js';
import { errorOf, expectSilence, reasoning, reasoningAnswer, requestOrSkip } from './runtime-helpers.js';
import { CONTROL_SUBJECT, frameSubjectOf, tokenOf, withOwnedCluster, type OwnedBroker, type OwnedCluster } from './owned-cluster.js';
import { sleep } from '../bus/wire-rules.js';
import { codeOf, RELEASE_WITHIN_MS, RETRY_EVERY_MS, sessionsInOrder } from './cluster.cases.js';
import { DEFAULT_LIMITS, type ErrorName } from '../../spec/generated/catalog.js';

/** Section 19's timings: a heartbeat every 500 ms; a broker silent for 2,000 ms is dead, seen by clients at most 2.5 s after it died. */
const HEARTBEAT_MS = 500;
const DEAD_WITHIN_MS = 2500;
/** Heartbeats watched over this window; each broker must send at least HEARTBEATS_AT_LEAST (6 nominal: two may be lost to a loaded machine). */
const WATCH_MS = 3000;
const HEARTBEATS_AT_LEAST = 4;
/** The longest gap between two heartbeats of one broker that still reads as "every 500 ms" on a loaded machine. */
const LONGEST_GAP_MS = 3 * HEARTBEAT_MS;
/** How long after the NATS server died a broker may still not know it: a closed TCP connection is seen at once. */
const OUTAGE_NOTICED_MS = 1000;
/** How long the NATS server stays down: past the 2,000 ms after which a broker that keeps judging others while cut off holds them dead. */
const OUTAGE_MS = 3000;
/** The spec sets no bound on the reconnection; NATS clients retry every 250 ms to 2 s. */
const RECONNECT_WITHIN_MS = 10_000;

const signal = { coordination_id: 'cluster-process', disagreement_score: 0.5, threshold: 0.25 };
/** Past CLU-4's 2,000 ms from every broker's start, with a margin: a broker never heard from is dead by then. */
const PAST_EVERY_START_UP_MS = 2500;
/** Time for the brokers to handle a control message the case published (one NATS delivery, on loopback). */
const FOREIGN_SETTLES_MS = 200;

/** The frame messages published for one broker id, as the harness (acting as that broker) receives them. */
class FrameMessagesTo {
  private readonly got: Uint8Array[] = [];
  private wake: (() => void) | undefined;
  private readonly sub: Subscription;

  constructor(nc: NatsConnection, broker: string) {
    this.sub = nc.subscribe(frameSubjectOf(broker), {
      callback: (err, msg) => {
        if (err !== null) return;
        this.got.push(msg.data);
        this.wake?.();
      },
    });
  }

  /** The next one whose body is a message `match` accepts (others skipped), within the frame timeout. */
  async next(c: CaseContext, what: string, match: (m: Message) => boolean): Promise<Message> {
    const until = Date.now() + c.timeoutMs;
    for (;;) {
      for (let data = this.got.shift(); data !== undefined; data = this.got.shift()) {
        try {
          const m = decodeMessage(data.subarray(2 + (data[1] ?? 0)));
          if (match(m)) return m;
        } catch {
          // not a frame message the harness can read: not the one awaited
        }
      }
      const left = until - Date.now();
      if (left <= 0) throw new CaseFailure(`expected ${what}; nothing came within ${c.timeoutMs} ms`, what, 'nothing');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = undefined;
    }
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

/** The harness as a broker of another implementation on the cluster's NATS server, speaking section 19's format. */
class ForeignBroker {
  /** What the brokers publish for F. */
  readonly frames: FrameMessagesTo;

  constructor(
    readonly nc: NatsConnection,
    readonly id: string,
  ) {
    this.frames = new FrameMessagesTo(nc, id);
  }

  /** A control message of `kind` in this broker's name. */
  control(m: Record<string, unknown>): void {
    this.nc.publish(CONTROL_SUBJECT, JSON.stringify({ v: 1, broker: this.id, ...m }));
  }

  /** Publishes `body` (a frame body) as a frame message of format 1 from this broker to broker `to`. */
  frameTo(to: string, body: Uint8Array): void {
    const sender = Buffer.from(this.id, 'utf8');
    this.nc.publish(frameSubjectOf(to), Buffer.concat([Buffer.from([1, sender.length]), sender, body]));
  }

  /** Once the brokers have handled what was published (one NATS delivery on loopback). */
  async settled(): Promise<void> {
    await this.nc.flush();
    await sleep(FOREIGN_SETTLES_MS);
  }

  close(): void {
    this.frames.close();
  }
}

/** What a foreign-broker case works with: its owned cluster, sessions A and B (brokers 0 and 1), and F. */
interface ForeignScene {
  c: CaseContext;
  cl: OwnedCluster;
  a: Session;
  b: Session;
  /** A's broker. */
  first: OwnedBroker;
  f: ForeignBroker;
}

/** Runs `body` on a cluster of the case's own, the harness joining it as foreign broker F (section 19). */
function withForeignBroker(ctx: CaseContext, body: (scene: ForeignScene) => Promise<void>): Promise<void> {
  return withOwnedCluster(ctx, async (cl) => {
    const nc = await cl.natsClient();
    const [a, b] = await sessionsInOrder(cl.ctx, ['A', 'B']);
    const f = new ForeignBroker(nc, cl.ctx.uniqueId('foreign-broker'));
    try {
      await body({ c: cl.ctx, cl, a: a!, b: b!, first: cl.brokers[0]!, f });
    } finally {
      f.close();
    }
  });
}

/** A client of a foreign broker as a join or a claim gives it (section 19). */
const foreignClient = (id: string) => ({ id, cbor: false, max_frame: DEFAULT_LIMITS.max_frame, language: 'other' });

/** A's request to `dst` must reach B, a client of a reference broker, and B's answer come back; `after` says what came before. */
async function reachesB(c: CaseContext, a: Session, b: Session, dst: string, after: string): Promise<void> {
  const id = c.uniqueId('to-b');
  a.conn.send({ type: 'REASONING_REQUEST', header: { id, dst }, payload: reasoning('cluster') });
  const r = await b.conn.next(c.timeoutMs);
  if (r.kind !== 'message' || r.message.name !== 'REASONING_REQUEST') throw new CaseFailure(`[CLU-2] after ${after}, A's request to ${dst} (B, on another broker) did not reach B`, 'the request forwarded to B', r.kind === 'message' ? summarize(r.message) : r.kind);
  b.conn.send({ type: 'REASONING_RESPONSE', header: { id: c.uniqueId('r'), re: r.message.header.id }, payload: reasoningAnswer(1) });
  await answerTo(c, a, id, `B's answer to ${id}, after ${after}`, c.timeoutMs);
}

/** Whether `m` is ERROR `code`. */
const is = (m: Message, code: ErrorName): boolean => m.name === 'ERROR' && codeOf(m) === code;

/** The next frame on `s`, which must answer `re`; a frame answering `held` instead fails the case with `heldMessage`. */
async function answerTo(c: CaseContext, s: Session, re: string, what: string, ms: number, held?: { re: string; message: string }): Promise<Message> {
  const m = await c.expectMessage(s.conn, what, (x) => x.header.re === re || (held !== undefined && x.header.re === held.re), ms);
  if (held !== undefined && m.header.re === held.re) throw new CaseFailure(held.message, `nothing for ${held.re} yet`, summarize(m));
  return m;
}

/** Slices of the wait in firstOf: short, so that neither connection's frame waits long behind the other's. */
const POLL_SLICE_MS = 25;

/** The first frame on either session within `ms` (each read in turn, none consumed from the other); undefined when none came. */
async function firstOf(a: Session, b: Session, what: string, ms: number): Promise<{ at: 'A' | 'B'; m: Message } | undefined> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const [at, s] of [['A', a], ['B', b]] as const) {
      const r = await s.conn.next(POLL_SLICE_MS);
      if (r.kind === 'timeout') continue;
      if (r.kind !== 'message') throw new CaseFailure(`expected ${what}; ${at}'s connection ${r.kind === 'closed' ? `closed (${r.reason})` : 'got a frame that breaks the spec'}`, what, r.kind);
      return { at, m: r.message };
    }
  }
  return undefined;
}

export const clusterProcessCases: Case[] = [
  defineCase({
    id: 'cluster/dead-broker-requests-answered-peer-gone',
    statements: ['CLU-6', 'CLU-4'],
    async run(ctx) {
      await withOwnedCluster(ctx, async (cl) => {
        const c = cl.ctx;
        const [a, b, cc] = await sessionsInOrder(cl.ctx, ['A', 'B', 'C']);
        // Two requests of A in flight across brokers: to B, whose broker is killed, and to C, whose broker lives on.
        a!.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-b', dst: b!.clientId }, payload: reasoning('cluster') });
        await c.expectMessage(b!.conn, "A's request, forwarded to B on broker 2", (m) => m.name === 'REASONING_REQUEST' && m.header.src === a!.clientId);
        a!.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-c', dst: cc!.clientId }, payload: reasoning('cluster') });
        const atC = await c.expectMessage(cc!.conn, "A's request, forwarded to C on broker 3", (m) => m.name === 'REASONING_REQUEST' && m.header.src === a!.clientId);
        const killedAt = Date.now();
        await cl.kill(1);
        const bound = DEAD_WITHIN_MS + c.timeoutMs;
        const gone = await answerTo(c, a!, 'to-b', `ERROR PEER_GONE answering A's request to B within ${bound} ms of the death of B's broker (CLU-6, CLU-4)`, bound);
        const took = Date.now() - killedAt;
        if (!is(gone, 'PEER_GONE')) throw new CaseFailure(`[CLU-6] A's request to B, whose broker died, was answered ${codeOf(gone)}`, 'ERROR PEER_GONE', summarize(gone));
        if (errorOf(gone).definite !== false) throw new CaseFailure('[ERR-2] PEER_GONE must carry definite false', 'definite false', String(errorOf(gone).definite));
        // The survivor's own traffic across brokers goes on.
        cc!.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'from-c', re: atC.header.id }, payload: reasoningAnswer(2) });
        const fromC = await answerTo(c, a!, 'to-c', "C's answer to A, across the surviving brokers", c.timeoutMs, { re: 'to-b', message: "[CLU-6] A's request to B was answered a second time" });
        if (fromC.name !== 'REASONING_RESPONSE') throw new CaseFailure("[CLU-6] A's request to C, on a broker that lives, did not get C's answer", 'REASONING_RESPONSE', summarize(fromC));
        // Exactly once: nothing more for to-b, and B is gone from the tables (REQ-8 once the survivors dropped its claim, CLU-7).
        await expectSilence(c, a!.conn, "nothing more for A's request to B (exactly one answer)", HEARTBEAT_MS);
        const until = Date.now() + RELEASE_WITHIN_MS + c.timeoutMs;
        for (let n = 1; ; n++) {
          const id = `after-${n}`;
          a!.conn.send({ type: 'REASONING_REQUEST', header: { id, dst: b!.clientId }, payload: reasoning('cluster') });
          const m = await answerTo(c, a!, id, `the answer to a request for B after its broker died (${id})`, c.timeoutMs, { re: 'to-b', message: "[CLU-6] A's request to B was answered a second time" });
          if (is(m, 'UNKNOWN_DESTINATION')) break;
          if (!is(m, 'PEER_GONE') || Date.now() > until) {
            throw new CaseFailure(`[CLU-6] ${took} ms after B's broker died, A's request to B was answered PEER_GONE, but B was still not dropped from the tables: a request to it ${Date.now() > until ? `${RELEASE_WITHIN_MS + c.timeoutMs} ms later` : 'then'} got ${codeOf(m)}`, 'ERROR UNKNOWN_DESTINATION (REQ-8)', summarize(m));
          }
          await sleep(RETRY_EVERY_MS);
        }
      });
    },
  }),

  defineCase({
    id: 'cluster/dead-brokers-services-dropped',
    statements: ['CLU-6', 'CLU-11'],
    async run(ctx) {
      await withOwnedCluster(ctx, async (cl) => {
        const c = cl.ctx;
        const [a, b] = await sessionsInOrder(cl.ctx, ['A', 'B']);
        const name = c.uniqueId('svc');
        const registered = await requestOrSkip(c, b!, 'SERVICE_REGISTER', { service: { name, service_type: 'conformance', version: '1.0.0' } }, 'the service registry');
        if (registered.name !== 'ACK') throw new CaseFailure(`SERVICE_REGISTER of ${name} was not acknowledged`, 'ACK', summarize(registered));
        // A dispatch from A, handed to B's broker (CLU-11) and held by B when that broker dies.
        a!.conn.send({ type: 'SERVICE_DISPATCH', header: { id: 'dispatch' }, payload: { service_name: name, method: 'run', payload: { n: 1 }, max_retries: 0 } });
        await c.expectMessage(b!.conn, `A's SERVICE_DISPATCH to ${name} at B, on another broker`, (m) => m.name === 'SERVICE_DISPATCH');
        await cl.kill(1);
        const bound = DEAD_WITHIN_MS + c.timeoutMs;
        const gone = await answerTo(c, a!, 'dispatch', `ERROR PEER_GONE answering A's SERVICE_DISPATCH handed to the broker that died, within ${bound} ms (CLU-6)`, bound);
        if (!is(gone, 'PEER_GONE')) throw new CaseFailure(`[CLU-6] a SERVICE_DISPATCH in flight to a service of a broker that died was answered ${codeOf(gone)}`, 'ERROR PEER_GONE', summarize(gone));
        // The service goes with its broker: no longer listed, and a dispatch to it refused SERVICE_NOT_FOUND.
        const until = Date.now() + RELEASE_WITHIN_MS + c.timeoutMs;
        for (let n = 1; ; n++) {
          const listed = await requestOrSkip(c, a!, 'SERVICE_LIST', {}, 'the service registry', `list-${n}`);
          const names = ((listed.payload as { services?: { name?: unknown }[] }).services ?? []).map((x) => x.name);
          const id = `again-${n}`;
          a!.conn.send({ type: 'SERVICE_DISPATCH', header: { id }, payload: { service_name: name, method: 'run', payload: { n: 2 }, max_retries: 0 } });
          const again = await answerTo(c, a!, id, `the answer to a SERVICE_DISPATCH to ${name} after its broker died`, c.timeoutMs, { re: 'dispatch', message: "[CLU-6] A's SERVICE_DISPATCH was answered a second time" });
          if (!names.includes(name) && is(again, 'SERVICE_NOT_FOUND')) break;
          if (Date.now() > until) {
            throw new CaseFailure(`[CLU-6] ${RELEASE_WITHIN_MS + c.timeoutMs} ms after the PEER_GONE, the service ${name} of the dead broker was ${names.includes(name) ? 'still listed by SERVICE_LIST' : 'no longer listed'} and a dispatch to it got ${codeOf(again)}`, 'not listed, and SERVICE_NOT_FOUND', summarize(again));
          }
          await sleep(RETRY_EVERY_MS);
        }
      });
    },
  }),

  defineCase({
    id: 'cluster/dead-brokers-client-ids-free-again',
    statements: ['CLU-7', 'CLU-3'],
    async run(ctx) {
      await withOwnedCluster(ctx, async (cl) => {
        const c = cl.ctx;
        // B and B2 on broker 2: B's id is taken again on a survivor, B2's on a broker started after the death.
        const [, b, cc, , b2] = await sessionsInOrder(cl.ctx, ['A', 'B', 'C', 'D', 'B2']);
        // B's id is held by a live broker: refused on broker 3 (CLU-3) before the death ...
        const before = await c.openBeside(cc!.conn, 'B-again-early');
        before.send({ type: 'INIT', header: { id: 'init' }, payload: c.initPayload(b!.clientId) });
        await c.expectError(before, 'DUPLICATE_CLIENT_ID', { re: 'init', statement: 'CLU-3' });
        const killedAt = Date.now();
        await cl.kill(1);
        // ... and free again on broker 3 after it, once the survivors removed the dead broker's claims.
        const bound = DEAD_WITHIN_MS + RELEASE_WITHIN_MS + c.timeoutMs;
        const until = Date.now() + bound;
        for (let n = 1; ; n++) {
          const conn = await c.openBeside(cc!.conn, `B-again-${n}`);
          conn.send({ type: 'INIT', header: { id: 'init' }, payload: c.initPayload(b!.clientId) });
          const m = await c.expectMessage(conn, `the answer to INIT with the client id of B, whose broker died (try ${n})`, (x) => x.header.re === 'init');
          if (m.name === 'INIT_ACK') break;
          if (!is(m, 'DUPLICATE_CLIENT_ID')) throw new CaseFailure(`[CLU-7] INIT with the id of a client whose broker died was answered ${codeOf(m)}`, 'INIT_ACK (or DUPLICATE_CLIENT_ID until the claim is removed)', summarize(m));
          conn.destroy();
          if (Date.now() > until) throw new CaseFailure(`[CLU-7] ${bound} ms after B's broker died, its client id was still claimed: INIT with it was refused DUPLICATE_CLIENT_ID`, 'INIT_ACK', summarize(m));
          await sleep(RETRY_EVERY_MS);
        }
        // A broker started once the survivors had their time has never heard of the dead one: only the
        // claims store tells it whether B2's id is taken, and the survivors must have removed that claim.
        await sleep(Math.max(0, killedAt + DEAD_WITHIN_MS + RELEASE_WITHIN_MS - Date.now()));
        const late = await cl.startBroker();
        await cl.announced([late]);
        const conn = await cl.openTo(late, 'B2-on-a-new-broker');
        conn.send({ type: 'INIT', header: { id: 'init' }, payload: c.initPayload(b2!.clientId) });
        const m = await c.expectMessage(conn, `the answer to INIT with the client id of B2 on a broker started ${Date.now() - killedAt} ms after B2's broker died`, (x) => x.header.re === 'init');
        if (m.name !== 'INIT_ACK') throw new CaseFailure(`[CLU-7] a broker started ${DEAD_WITHIN_MS + RELEASE_WITHIN_MS} ms after B2's broker died refused B2's id: the survivors left the dead broker's claim in the store`, 'INIT_ACK', summarize(m));
      });
    },
  }),

  defineCase({
    id: 'cluster/heartbeats-and-format-version-on-nats',
    statements: ['CLU-4', 'CLU-5'],
    async run(ctx) {
      await withOwnedCluster(ctx, async (cl) => {
        const c = cl.ctx;
        const nc = await cl.natsClient();
        const ids = cl.brokers.map((x) => x.id);
        const beats = new Map<string, number[]>(ids.map((id) => [id, []]));
        const problems: string[] = [];
        const sub = nc.subscribe('concord.v1.>', {
          callback: (_err, msg) => {
            if (msg.subject === CONTROL_SUBJECT) {
              let m: { v?: unknown; kind?: unknown; broker?: unknown };
              try {
                m = JSON.parse(Buffer.from(msg.data).toString('utf8')) as typeof m;
              } catch {
                problems.push(`a control message that is not JSON: ${Buffer.from(msg.data).toString('utf8').slice(0, 80)}`);
                return;
              }
              if (m.v !== 1) problems.push(`a control message of format ${JSON.stringify(m.v)}, not 1 (CLU-5): ${JSON.stringify(m).slice(0, 120)}`);
              if (m.kind === 'heartbeat' && typeof m.broker === 'string') beats.get(m.broker)?.push(Date.now());
            } else if (msg.subject.startsWith('concord.v1.frame.') && msg.data[0] !== 1) {
              problems.push(`a frame message on ${msg.subject} of format ${msg.data[0]}, not 1 (CLU-5)`);
            }
          },
        });
        // Traffic across brokers while watching, so that frame messages are seen too.
        const [a, b] = await sessionsInOrder(cl.ctx, ['A', 'B']);
        const start = Date.now();
        for (let n = 0; Date.now() - start < WATCH_MS; n++) {
          a!.conn.send({ type: 'REASONING_REQUEST', header: { id: `w${n}`, dst: b!.clientId }, payload: reasoning('cluster') });
          const fwd = await c.expectMessage(b!.conn, `A's request w${n} at B, on another broker`, (m) => m.name === 'REASONING_REQUEST');
          b!.conn.send({ type: 'REASONING_RESPONSE', header: { id: `r${n}`, re: fwd.header.id }, payload: reasoningAnswer(1) });
          await answerTo(c, a!, `w${n}`, `B's answer to w${n}`, c.timeoutMs);
          await sleep(HEARTBEAT_MS / 2);
        }
        const watched = Date.now() - start;
        sub.unsubscribe();
        for (const [id, at] of beats) {
          const gaps = at.slice(1).map((t, i) => t - at[i]!);
          const longest = Math.max(0, ...gaps);
          if (at.length < HEARTBEATS_AT_LEAST || longest > LONGEST_GAP_MS) {
            problems.push(`[CLU-4] broker ${id} sent ${at.length} heartbeats in ${watched} ms (every ${HEARTBEAT_MS} ms gives ${Math.floor(watched / HEARTBEAT_MS)}; at least ${HEARTBEATS_AT_LEAST} expected), the longest gap ${longest} ms (at most ${LONGEST_GAP_MS})`);
          }
        }
        if (problems.length > 0) throw new CaseFailure(problems.join('; '), `a heartbeat every ${HEARTBEAT_MS} ms from each broker, every message of format 1`, problems[0]!);
      });
    },
  }),

  defineCase({
    id: 'cluster/foreign-format-version-dropped',
    statements: ['CLU-5'],
    async run(ctx) {
      await withOwnedCluster(ctx, async (cl) => {
        const c = cl.ctx;
        const nc = await cl.natsClient();
        const [a, b] = await sessionsInOrder(cl.ctx, ['A', 'B']);
        const [first, second] = cl.brokers;
        // A `bye` of format 2 in the name of B's broker: handled, it would drop B's clients at once (the next
        // heartbeat brings them back, so each request follows its `bye` closely; three rounds).
        for (let n = 1; n <= 3; n++) {
          nc.publish(CONTROL_SUBJECT, JSON.stringify({ v: 2, kind: 'bye', broker: second!.id }));
          await nc.flush();
          await sleep(20);
          a!.conn.send({ type: 'REASONING_REQUEST', header: { id: `after-bye-${n}`, dst: b!.clientId }, payload: reasoning('cluster') });
          const r = await b!.conn.next(c.timeoutMs);
          if (r.kind !== 'message' || r.message.name !== 'REASONING_REQUEST') {
            const answer = await a!.conn.next(c.timeoutMs);
            throw new CaseFailure(`[CLU-5] after a control message {"v": 2, "kind": "bye"} in the name of broker ${second!.id}, A's request to B (a client of that broker) did not reach B`, 'the request forwarded to B (the message of format 2 dropped)', answer.kind === 'message' ? `A got ${summarize(answer.message)}` : `B: ${r.kind === 'message' ? summarize(r.message) : r.kind}`);
          }
          b!.conn.send({ type: 'REASONING_RESPONSE', header: { id: `r-bye-${n}`, re: r.message.header.id }, payload: reasoningAnswer(1) });
          await answerTo(c, a!, `after-bye-${n}`, `B's answer to after-bye-${n}`, c.timeoutMs);
        }
        // A frame message of format 2 for A, in the name of B's broker: dropped. The same bytes with format 1 arrive (the control).
        const body = encodeMessage({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'foreign', src: b!.clientId, dst: a!.clientId }, payload: signal, encoding: 'json' });
        const sender = Buffer.from(second!.id, 'utf8');
        const subject = frameSubjectOf(first!.id);
        const message = (version: number): Uint8Array => Buffer.concat([Buffer.from([version, sender.length]), sender, body]);
        nc.publish(subject, message(2));
        await nc.flush();
        await expectSilence(c, a!.conn, `nothing at A after a frame message of format 2 for it on ${subject} (CLU-5)`, c.timeoutMs);
        nc.publish(subject, message(1));
        await nc.flush();
        await c.expectMessage(a!.conn, `the same frame message with format 1 delivered to A (section 19's format; without it the drop above shows nothing)`, (m) => m.name === 'DISAGREEMENT_SIGNAL' && m.header.src === b!.clientId);
      });
    },
  }),

  defineCase({
    id: 'cluster/foreign-broker-speaking-section-19',
    statements: ['CLU-2', 'CLU-9'],
    async run(ctx) {
      // F: a broker of another implementation on the same NATS server, speaking section 19's format.
      await withForeignBroker(ctx, async ({ c, a, b, first, f }) => {
        const foreign = f.id;
        // F joins with its (empty) list of services: STATS still answers, every broker it lists with its count.
        f.control({ kind: 'services', services: [] });
        await f.settled();
        const id = c.uniqueId('stats');
        a.conn.send({ type: 'STATS_REQUEST', header: { id }, payload: {} });
        const stats = await answerTo(c, a, id, `STATS_RESPONSE after ${foreign}'s services message`, c.timeoutMs);
        const cluster = (stats.payload as { cluster?: { broker_id?: unknown; clients?: unknown }[] }).cluster ?? [];
        const uncounted = cluster.filter((e) => typeof e.clients !== 'number' && typeof e.clients !== 'bigint');
        if (stats.name !== 'STATS_RESPONSE' || uncounted.length > 0) throw new CaseFailure(`[CLU-9] STATS after a services message of broker ${foreign} must list every broker with its number of clients`, 'STATS_RESPONSE, each `cluster` entry with `clients`', stats.name !== 'STATS_RESPONSE' ? summarize(stats) : JSON.stringify(uncounted));
        // A frame from F's client Z, never announced: handled as coming from a client of F, by its src (section 19).
        const z = c.uniqueId('z');
        const body = encodeMessage({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'from-z', src: z, dst: a.clientId }, payload: signal, encoding: 'json' });
        f.frameTo(first.id, body);
        await c.expectMessage(a.conn, `the DISAGREEMENT_SIGNAL of ${z}, a client of broker ${foreign} never announced, delivered to A with src ${z} (CLU-2; section 19: by its src)`, (m) => m.name === 'DISAGREEMENT_SIGNAL' && m.header.src === z);
        // F says a client it never announced left, and lists a service whose owner it never announced:
        // neither may stop the broker handling the cluster's messages.
        f.control({ kind: 'leave', client: c.uniqueId('never-joined') });
        f.control({ kind: 'services', services: [{ owner: c.uniqueId('never-announced'), descriptor: { name: c.uniqueId('svc-of-nobody'), service_type: 'conformance', version: '1.0.0' } }] });
        await f.settled();
        await reachesB(c, a, b, b.clientId, `a leave of a client and a service of an owner broker ${foreign} never announced`);
        f.control({ kind: 'bye' });
        await f.settled();
      });
    },
  }),
  defineCase({
    id: 'cluster/claims-of-a-foreign-broker-routed',
    statements: ['CLU-2', 'CLU-12', 'CLU-3', 'REQ-8'],
    async run(ctx) {
      await withForeignBroker(ctx, async ({ c, a, first, f }) => {
        const startedAt = Date.now(); // after every broker joined
        const kvm = new Kvm(f.nc);
        const [clientClaims, serviceClaims] = await Promise.all([kvm.open('concord_claims_v1'), kvm.open('concord_services_v1')]);
        const foreign = f.id;
        // F is a live member (its services message), and claims client Z, and service S of its client P,
        // in the stores as section 19 writes them, announcing neither: only the claims can route to them.
        f.control({ kind: 'services', services: [] });
        const [z, p, svc] = [c.uniqueId('z'), c.uniqueId('p'), c.uniqueId('svc')];
        await clientClaims.create(tokenOf(z), JSON.stringify({ broker: foreign, client: foreignClient(z) }));
        await clientClaims.create(tokenOf(p), JSON.stringify({ broker: foreign, client: foreignClient(p) }));
        await serviceClaims.create(tokenOf(svc), JSON.stringify({ broker: foreign, owner: p, descriptor: { name: svc, service_type: 'conformance', version: '1.0.0' } }));
        await f.nc.flush();
        for (const [dst, what] of [[z, `${z}, a client F claimed`], [svc, `${svc}, a service F claimed for its client ${p}`]] as const) {
          const id = c.uniqueId('to-foreign');
          a.conn.send({ type: 'REASONING_REQUEST', header: { id, dst }, payload: reasoning('cluster') });
          const fwd = await f.frames.next(c, `A's request to ${what}, on F's frame subject (CLU-2, CLU-12: the claims say where it is)`, (m) => m.name === 'REASONING_REQUEST' && m.header.src === a.clientId);
          const answerer = dst === z ? z : p;
          const answer = encodeMessage({ type: 'REASONING_RESPONSE', header: { id: c.uniqueId('answer'), src: answerer, re: fwd.header.id }, payload: reasoningAnswer(1), encoding: 'json' });
          f.frameTo(first.id, answer);
          await answerTo(c, a, id, `the answer of ${answerer} (on F) to ${id}, its id restored (CLU-1)`, c.timeoutMs);
        }
        // A claim naming a broker never heard from is no live broker's (CLU-3): past every broker's first
        // 2,000 ms, a request to its client resolves to nothing.
        const y = c.uniqueId('y-of-a-ghost');
        await clientClaims.create(tokenOf(y), JSON.stringify({ broker: c.uniqueId('ghost-broker'), client: foreignClient(y) }));
        await sleep(Math.max(0, startedAt + PAST_EVERY_START_UP_MS - Date.now()));
        a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-ghost', dst: y }, payload: reasoning('cluster') });
        const refused = await answerTo(c, a, 'to-ghost', `the answer to a request for ${y}, claimed by a broker never heard from`, c.timeoutMs);
        if (!is(refused, 'UNKNOWN_DESTINATION')) throw new CaseFailure(`[CLU-3] a claim of a broker never heard from (not alive, CLU-4) must not route: the request for ${y} resolves to nothing (REQ-8)`, 'ERROR UNKNOWN_DESTINATION', summarize(refused));
      });
    },
  }),
  defineCase({
    id: 'cluster/foreign-broker-clients-come-and-go',
    statements: ['CLU-2', 'CLU-1', 'HS-18', 'REQ-8'],
    async run(ctx) {
      await withForeignBroker(ctx, async ({ c, a, b, first, f }) => {
        const foreign = f.id;
        const requestTo = (dst: string): string => {
          const id = c.uniqueId('to');
          a.conn.send({ type: 'REASONING_REQUEST', header: { id, dst }, payload: reasoning('cluster') });
          return id;
        };
        // W joins F: A's request to W goes to F, and F's answer comes back.
        const [w, v] = [c.uniqueId('w'), c.uniqueId('v')];
        f.control({ kind: 'services', services: [] });
        f.control({ kind: 'join', client: foreignClient(w) });
        await f.settled();
        const first1 = requestTo(w);
        const fwd = await f.frames.next(c, `A's request to ${w}, a client that joined broker ${foreign}, on F's frame subject (CLU-2)`, (m) => m.name === 'REASONING_REQUEST' && m.header.src === a.clientId);
        const answer = encodeMessage({ type: 'REASONING_RESPONSE', header: { id: c.uniqueId('answer'), src: w, re: fwd.header.id }, payload: reasoningAnswer(1), encoding: 'json' });
        f.frameTo(first.id, answer);
        await answerTo(c, a, first1, `${w}'s answer through F`, c.timeoutMs);
        // W leaves: nothing is left to route to (no claim names it either).
        f.control({ kind: 'leave', client: w });
        await f.settled();
        const afterLeave = requestTo(w);
        const gone = await answerTo(c, a, afterLeave, `the answer to a request for ${w} after F said it left`, c.timeoutMs);
        if (!is(gone, 'UNKNOWN_DESTINATION')) throw new CaseFailure(`[REQ-8] after broker ${foreign} said ${w} left, a request for ${w} resolves to nothing`, 'ERROR UNKNOWN_DESTINATION', summarize(gone));
        // V joins, A's request to V is in flight, and F's heartbeat lists no client: a heartbeat is a full
        // statement (section 19), so V is gone and the request ends with PEER_GONE (HS-18 across brokers, CLU-1).
        f.control({ kind: 'join', client: foreignClient(v) });
        await f.settled();
        const inFlight = requestTo(v);
        await f.frames.next(c, `A's request to ${v} on F's frame subject`, (m) => m.name === 'REASONING_REQUEST' && m.header.src === a.clientId);
        f.control({ kind: 'heartbeat', uptime_ms: 1000, clients: [], services: [] });
        const ended = await answerTo(c, a, inFlight, `the answer to A's request for ${v} after F's heartbeat no longer listed it`, c.timeoutMs);
        if (!is(ended, 'PEER_GONE')) throw new CaseFailure(`[HS-18] a heartbeat of broker ${foreign} that no longer lists ${v} says ${v} is gone: A's request in flight to it must end with PEER_GONE`, 'ERROR PEER_GONE', summarize(ended));
        // F's heartbeat speaks for F only: B, a client of another broker, is still there.
        await reachesB(c, a, b, b.clientId, `a heartbeat of broker ${foreign}`);
      });
    },
  }),
  defineCase({
    id: 'cluster/foreign-broker-services-come-and-go',
    statements: ['CLU-2', 'CLU-1', 'REQ-8'],
    async run(ctx) {
      await withForeignBroker(ctx, async ({ c, a, b, first, f }) => {
        const foreign = f.id;
        const descriptor = (name: string) => ({ name, service_type: 'conformance', version: '1.0.0' });
        // B (on a reference broker) provides one service; F's client P another, announced by F.
        const [ofB, ofF, p] = [c.uniqueId('svc-b'), c.uniqueId('svc-f'), c.uniqueId('p')];
        const registered = await requestOrSkip(c, b, 'SERVICE_REGISTER', { service: descriptor(ofB) }, 'the service registry');
        if (registered.name !== 'ACK') throw new CaseFailure('SERVICE_REGISTER was not acknowledged', 'ACK', summarize(registered));
        f.control({ kind: 'join', client: foreignClient(p) });
        f.control({ kind: 'services', services: [{ owner: p, descriptor: descriptor(ofF) }] });
        await f.settled();
        const toF = c.uniqueId('to-svc');
        a.conn.send({ type: 'REASONING_REQUEST', header: { id: toF, dst: ofF }, payload: reasoning('cluster') });
        const fwd = await f.frames.next(c, `A's request to ${ofF}, a service broker ${foreign} announced, on F's frame subject (CLU-2)`, (m) => m.name === 'REASONING_REQUEST' && m.header.src === a.clientId);
        const answer = encodeMessage({ type: 'REASONING_RESPONSE', header: { id: c.uniqueId('answer'), src: p, re: fwd.header.id }, payload: reasoningAnswer(1), encoding: 'json' });
        f.frameTo(first.id, answer);
        await answerTo(c, a, toF, `${p}'s answer through F`, c.timeoutMs);
        await reachesB(c, a, b, ofB, `broker ${foreign} announced its services`);
        // F's new list has none (a services message is the sender's whole list): its service is gone, B's stays.
        f.control({ kind: 'services', services: [] });
        await f.settled();
        const after = c.uniqueId('to-svc');
        a.conn.send({ type: 'REASONING_REQUEST', header: { id: after, dst: ofF }, payload: reasoning('cluster') });
        const gone = await answerTo(c, a, after, `the answer to a request for ${ofF} after broker ${foreign} announced no service`, c.timeoutMs);
        if (!is(gone, 'UNKNOWN_DESTINATION')) throw new CaseFailure(`[REQ-8] after broker ${foreign} announced no service, a request for ${ofF} (claimed nowhere) resolves to nothing`, 'ERROR UNKNOWN_DESTINATION', summarize(gone));
        await reachesB(c, a, b, ofB, `broker ${foreign} announced an empty list`);
      });
    },
  }),
  defineCase({
    id: 'cluster/nats-outage-local-traffic-served-remote-refused',
    statements: ['CLU-8', 'CLU-4'],
    async run(ctx) {
      await withOwnedCluster(ctx, async (cl) => {
        const c = cl.ctx;
        const [a, b] = await sessionsInOrder(cl.ctx, ['A', 'B']);
        const local = await c.sessionBeside(a!.conn, 'A2');
        // A request of A held by B across the outage: its answer must reach A afterwards, never PEER_GONE.
        a!.conn.send({ type: 'REASONING_REQUEST', header: { id: 'held', dst: b!.clientId }, payload: reasoning('cluster') });
        const held = await c.expectMessage(b!.conn, "A's request held by B, on another broker", (m) => m.name === 'REASONING_REQUEST');
        const heldGone = { re: 'held', message: "[CLU-4] A's request to B was answered while B and its broker lived: a broker cut off from NATS held the other brokers dead (it must give each 2,000 ms anew from the reconnection)" };
        const downAt = Date.now();
        await cl.stopNats();
        await sleep(OUTAGE_NOTICED_MS);
        // Remote traffic refused with OVERLOADED (CLU-8) ...
        a!.conn.send({ type: 'REASONING_REQUEST', header: { id: 'during', dst: b!.clientId }, payload: reasoning('cluster') });
        const during = await answerTo(c, a!, 'during', `ERROR OVERLOADED (CLU-8) answering a request for a client of another broker, ${OUTAGE_NOTICED_MS} ms into the NATS outage`, c.timeoutMs, heldGone);
        const details = (errorOf(during).details ?? {}) as { statement?: unknown };
        if (!is(during, 'OVERLOADED') || details.statement !== 'CLU-8') throw new CaseFailure('[CLU-8] while NATS is unreachable, a frame for a client of another broker must be refused with ERROR OVERLOADED, details.statement CLU-8', 'ERROR OVERLOADED, details.statement CLU-8', summarize(during));
        // ... traffic between the broker's own clients served ...
        a!.conn.send({ type: 'REASONING_REQUEST', header: { id: 'local', dst: local.clientId }, payload: reasoning('cluster') });
        const atLocal = await c.expectMessage(local.conn, "A's request at A2, on the same broker, during the outage (CLU-8)", (m) => m.name === 'REASONING_REQUEST');
        local.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'from-a2', re: atLocal.header.id }, payload: reasoningAnswer(1) });
        const fromLocal = await answerTo(c, a!, 'local', "A2's answer during the outage", c.timeoutMs, heldGone);
        if (fromLocal.name !== 'REASONING_RESPONSE') throw new CaseFailure("[CLU-8] a broker cut off from NATS must keep serving traffic between its own clients", 'REASONING_RESPONSE', summarize(fromLocal));
        // ... and an INIT it cannot claim refused with OVERLOADED, closing (HS-3).
        const fresh = await c.openBeside(a!.conn, 'new-during-outage');
        fresh.send({ type: 'INIT', header: { id: 'init' }, payload: c.initPayload(c.uniqueId('outage')) });
        await c.expectError(fresh, 'OVERLOADED', { re: 'init', closes: true, statement: 'CLU-8' });
        await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
        await cl.startNats();
        // Back: traffic between brokers resumes (OVERLOADED while the broker reconnects), B still known.
        const until = Date.now() + RECONNECT_WITHIN_MS + c.timeoutMs;
        for (let n = 1; ; n++) {
          const id = `back-${n}`;
          a!.conn.send({ type: 'REASONING_REQUEST', header: { id, dst: b!.clientId }, payload: reasoning('cluster') });
          const r = await firstOf(a!, b!, `A's request ${id} forwarded to B, or its answer at A`, c.timeoutMs);
          if (r === undefined) {
            // Published while B's broker was not yet back on NATS (core NATS keeps no message for a subscriber
            // that is away): the request ends with TIMEOUT at its catalog timeout, after this case. Try again.
            if (Date.now() > until) throw new CaseFailure(`[CLU-8] ${RECONNECT_WITHIN_MS + c.timeoutMs} ms after the NATS server came back, requests for a client of another broker were neither forwarded nor refused`, 'forwarded to B', 'nothing');
            continue;
          }
          if (r.at === 'A' && r.m.header.re === 'held') throw new CaseFailure(heldGone.message, "nothing for 'held' yet", summarize(r.m));
          if (r.at === 'A' && r.m.header.re !== id) throw new CaseFailure(`expected the answer to ${id}; got ${summarize(r.m)}`, `the answer to ${id}`, summarize(r.m));
          if (r.at === 'B') {
            b!.conn.send({ type: 'REASONING_RESPONSE', header: { id: `r-${id}`, re: r.m.header.id }, payload: reasoningAnswer(1) });
            await answerTo(c, a!, id, `B's answer to ${id}`, c.timeoutMs, heldGone);
            break;
          }
          if (!is(r.m, 'OVERLOADED')) throw new CaseFailure(`[CLU-4] after the NATS outage, a request for B (connected all along to its live broker) got ${codeOf(r.m)}: B was dropped while its broker was only out of reach`, 'forwarded to B (or OVERLOADED while reconnecting)', summarize(r.m));
          if (Date.now() > until) throw new CaseFailure(`[CLU-8] ${RECONNECT_WITHIN_MS + c.timeoutMs} ms after the NATS server came back, a request for a client of another broker was still refused: the broker did not reconnect`, 'forwarded to B', summarize(r.m));
          await sleep(RETRY_EVERY_MS);
        }
        b!.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'r-held', re: held.header.id }, payload: reasoningAnswer(4) });
        const answer = await answerTo(c, a!, 'held', "B's answer to the request it held across the outage", c.timeoutMs);
        if (answer.name !== 'REASONING_RESPONSE') throw new CaseFailure('[CLU-4] the request B held across the NATS outage was not answered by B', 'REASONING_RESPONSE', summarize(answer));
      });
    },
  }),
];
