/**
 * The cluster suite (`conformance --suite cluster --target H:P1,H:P2[,...]`, section 19): what a cluster
 * of brokers owes its clients across brokers, judged from the clients' side only, with no broker or NATS
 * server stopped. The k-th connection of a case goes to entry k mod N of the target (target.ts), so the
 * cases open their sessions in a fixed order: the comment at each says which broker each lands on.
 * Cases of one broker's rules spread over the cluster are the core suite's business (CLU-1); these
 * check what only a cluster can get wrong: the atomic claims of client ids, service names and handler
 * types (CLU-3, CLU-10, CLU-13), their release, look-ups before a refusal (CLU-2, CLU-12, CLU-13),
 * requests the brokers answer together (CLU-11) and STATS of the whole cluster (CLU-9).
 */
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext, Session } from './context.js';
import { summarize } from './context.js';
import type { Message } from '../../reference/codec/message.js';
import type { WireConnection } from '../wire/connection.js';
import type { MessageMatch } from '../replay/script.js';
import { errorOf, reasoning, reasoningAnswer, requestOrSkip, session } from './runtime-helpers.js';
import { answerOf, handlerError, incoming, reply, send, sleep } from '../bus/wire-rules.js';
import { registryName } from '../../reference/codec/catalog.js';
import type { ErrorName, MessageName } from '../../spec/generated/catalog.js';

/** Races per claim case: each pair of entries the rounds reach is raced once, whoever sends first alternating. */
const RACE_ROUNDS = 3;
/** A released claim is free again within this (the spec sets no bound; a release is one write to the store). */
export const RELEASE_WITHIN_MS = 2000;
/** Between two tries to take a released claim. */
export const RETRY_EVERY_MS = 50;
/** How long the provider of the slow dispatch takes, and that dispatch's timeout_ms, far above it (a slow machine keeps the verdict). */
const SLOW_ANSWER_MS = 2500;
const SLOW_DISPATCH_TIMEOUT_MS = 8 * SLOW_ANSWER_MS;
/**
 * How long STATS may lag behind a client's join on another broker: CLU-4's heartbeat (500 ms) carries
 * each broker's count, so two heartbeats beside the frame timeout.
 */
const STATS_LAG_MS = 1000;

/** The number of brokers the target names; a target of one broker skips the case. */
function brokersOf(ctx: CaseContext): number {
  const target = ctx.options.target;
  const n = target.kind === 'cluster' ? target.entries.length : 1;
  if (n < 2) throw new CaseSkipped('the cluster suite needs two or more brokers of one cluster: --target HOST:PORT,HOST:PORT[,...]');
  return n;
}

/** A session per label, the i-th on entry i mod N (when the case opened no connection before them). */
export async function sessionsInOrder(ctx: CaseContext, labels: string[]): Promise<Session[]> {
  const out: Session[] = [];
  for (const label of labels) out.push(await session(ctx, label));
  return out;
}

/** An ERROR's code name (its registry name), or the message's type name. */
export function codeOf(m: Message): string {
  return m.name === 'ERROR' ? registryName(errorOf(m).code) ?? String(errorOf(m).code) : m.name;
}

/** The answer to request `id` on `s` (the next frame must be it). */
function answerTo(ctx: CaseContext, s: Session, id: string, what: string): Promise<Message> {
  return ctx.expectMessage(s.conn, `the answer to ${what} (re=${id})`, (m) => m.header.re === id);
}

/** A request the case needs granted: UNSUPPORTED skips the case (requestOrSkip), any answer but `ok` fails it. */
async function granted(ctx: CaseContext, s: Session, type: MessageName, payload: unknown, feature: string, ok: MessageName): Promise<Message> {
  const m = await requestOrSkip(ctx, s, type, payload, feature);
  if (m.name !== ok) throw new CaseFailure(`${type} was not answered with ${ok}`, ok, summarize(m));
  return m;
}

/** Expects ERROR `code` answering `id`, the connection staying open (ERR-5). */
async function refused(ctx: CaseContext, s: Session, id: string, code: ErrorName, statement: string): Promise<void> {
  await ctx.expectError(s.conn, code, { re: id, closes: false, statement });
}

/**
 * Sends `type` from both sessions at once, `first` leading, and checks that exactly one is acknowledged
 * with `ok` and the other refused with `code`: an atomic claim in the cluster, not two local ones.
 */
async function race(ctx: CaseContext, pair: [Session, Session], type: MessageName, payload: unknown, ok: MessageName, code: ErrorName, statement: string, from = 'from two brokers'): Promise<Session> {
  const ids = pair.map((s) => send(s, type, payload));
  const answers = await Promise.all(pair.map((s, i) => answerTo(ctx, s, ids[i]!, `${type} sent at once ${from}`)));
  const names = answers.map(codeOf);
  const acked = names.filter((n) => n === ok).length;
  if (acked !== 1 || !names.includes(code)) {
    throw new CaseFailure(`[${statement}] ${type} of one name ${from} at once must be granted once and refused once with ${code}`, `one ${ok}, one ERROR ${code}`, answers.map(summarize).join(' | '));
  }
  return pair[names.indexOf(ok)]!;
}

/** Sends `type` with a payload of its own from each session at once; both must be acknowledged (ACK): the names differ, so neither is taken. */
async function bothGranted(ctx: CaseContext, pair: [Session, Session], type: MessageName, payloads: unknown[], statement: string): Promise<void> {
  const ids = pair.map((s, i) => send(s, type, payloads[i]));
  const answers = await Promise.all(pair.map((s, i) => answerTo(ctx, s, ids[i]!, `${type} of a name of its own, sent at once with another client's of the same broker`)));
  if (answers.some((m) => m.name !== 'ACK')) {
    throw new CaseFailure(`[${statement}] ${type} of two different names from two clients of one broker at once must both be acknowledged: neither name is held`, 'ACK, ACK', answers.map(summarize).join(' | '));
  }
}

/** Sends `type` from `s` until it is answered `ok`, for at most RELEASE_WITHIN_MS plus the frame timeout. */
async function takeOnceReleased(ctx: CaseContext, s: Session, type: MessageName, payload: unknown, ok: MessageName, what: string, statement: string): Promise<void> {
  const until = Date.now() + RELEASE_WITHIN_MS + ctx.timeoutMs;
  for (;;) {
    const id = send(s, type, payload);
    const m = await answerTo(ctx, s, id, type);
    if (m.name === ok) return;
    if (Date.now() > until) throw new CaseFailure(`[${statement}] ${what} was still held in the cluster ${RELEASE_WITHIN_MS + ctx.timeoutMs} ms after its release was acknowledged`, ok, summarize(m));
    await sleep(RETRY_EVERY_MS);
  }
}

/**
 * INITs `clientId` on new connections to the broker `beside` reached until one is acknowledged, for at
 * most RELEASE_WITHIN_MS plus the frame timeout after `after` (each refusal closes its connection, HS-3).
 */
async function initOnceReleased(ctx: CaseContext, beside: WireConnection, clientId: string, label: string, after: string, statement: string): Promise<void> {
  const until = Date.now() + RELEASE_WITHIN_MS + ctx.timeoutMs;
  for (let attempt = 1; ; attempt++) {
    const again = await ctx.openBeside(beside, `${label}-${attempt}`);
    again.send({ type: 'INIT', header: { id: 'init-again' }, payload: ctx.initPayload(clientId) });
    const m = await ctx.expectMessage(again, 'INIT_ACK or ERROR answering init-again', (x) => x.header.re === 'init-again' && (x.name === 'INIT_ACK' || x.name === 'ERROR'));
    if (m.name === 'INIT_ACK') return;
    if (Date.now() > until) throw new CaseFailure(`[${statement}] the client id ${clientId} was still held in the cluster ${RELEASE_WITHIN_MS + ctx.timeoutMs} ms after ${after}`, 'INIT_ACK', summarize(m));
    again.destroy();
    await sleep(RETRY_EVERY_MS);
  }
}

/** A (entry 0) holding a new service, its registration granted, and B (entry 1); `service` is the SERVICE_REGISTER payload. */
async function serviceOnA(ctx: CaseContext): Promise<{ a: Session; b: Session; name: string; service: { service: Record<string, unknown> } }> {
  brokersOf(ctx);
  const [a, b] = await sessionsInOrder(ctx, ['A', 'B']);
  const name = ctx.uniqueId('svc');
  const service = { service: { name, service_type: 'conformance', version: '1.0.0' } };
  await granted(ctx, a!, 'SERVICE_REGISTER', service, 'the service registry', 'ACK');
  return { a: a!, b: b!, name, service };
}

/** Opens a connection and sends INIT for `clientId` without waiting. */
async function initFor(ctx: CaseContext, clientId: string, label: string): Promise<{ conn: WireConnection; id: string }> {
  const conn = await ctx.open(label);
  const id = `init-${label}`;
  conn.send({ type: 'INIT', header: { id }, payload: ctx.initPayload(clientId) });
  return { conn, id };
}

interface ClusterEntry { broker_id: string; clients: number }
interface Stats { broker_id: string; clients: { client_id: string }[]; cluster?: ClusterEntry[] }

async function stats(ctx: CaseContext, s: Session, payload: Record<string, unknown> = {}): Promise<Stats> {
  const id = ctx.uniqueId('stats');
  s.conn.send({ type: 'STATS_REQUEST', header: { id }, payload });
  const m = await ctx.expectMessage(s.conn, `STATS_RESPONSE with re=${id}`, (x) => x.name === 'STATS_RESPONSE' && x.header.re === id);
  return m.payload as Stats;
}

/** CLU-4's 2,000 ms after which a broker not heard from is dead, and a margin: past every broker's start-up window. */
const PAST_THE_DEAD_AFTER_MS = 2500;

/** Requests A sends B across brokers, each answered, before the traffic is counted. */
const TRAFFIC_FRAMES = 3;

/** Why a STATS_RESPONSE does not (yet) show the cluster as `sessions` on their brokers make it, or undefined. */
/** Clients the STATS case adds on the asker's broker: with S0 and S_N there, more than the rest of a cluster of up to 6 brokers. */
const BESIDE_THE_ASKER = 4;

function statsGap(got: Stats, sessions: Session[], brokerOf: Map<Session, string>, listsBrokers: boolean): string | undefined {
  for (const s of sessions) {
    const n = got.clients.filter((c) => c.client_id === s.clientId).length;
    if (n !== 1) return `clients has ${n} entries for ${s.clientId}, a client of broker ${brokerOf.get(s)}`;
  }
  if (!listsBrokers) return undefined;
  const cluster = got.cluster;
  if (!Array.isArray(cluster)) return 'no `cluster` list, to a client of protocol 1.1';
  if (cluster[0]?.broker_id !== got.broker_id) return `the first entry of \`cluster\` is ${JSON.stringify(cluster[0]?.broker_id)}, not the answering broker ${got.broker_id}`;
  const ids = cluster.map((e) => e.broker_id);
  if (new Set(ids).size !== ids.length) return `\`cluster\` names a broker twice: ${ids.join(', ')}`;
  for (const broker of new Set(brokerOf.values())) {
    const entry = cluster.find((e) => e.broker_id === broker);
    const here = sessions.filter((s) => brokerOf.get(s) === broker).length;
    if (!entry) return `\`cluster\` has no entry for broker ${broker}, where ${here} of the harness's clients are connected`;
    if (!(entry.clients >= here)) return `\`cluster\` counts ${entry.clients} clients on broker ${broker}, where ${here} of the harness's clients are connected`;
  }
  return undefined;
}

export const clusterCases: Case[] = [
  defineCase({
    id: 'cluster/client-id-held-on-another-broker',
    statements: ['CLU-3', 'HS-5'],
    async run(ctx) {
      brokersOf(ctx);
      const [a] = await sessionsInOrder(ctx, ['A']); // entry 0
      const { conn, id } = await initFor(ctx, a!.clientId, 'B-same-id'); // entry 1
      await ctx.expectError(conn, 'DUPLICATE_CLIENT_ID', { re: id, closes: true, statement: 'CLU-3' });
      await ctx.expectOpen(a!.conn, 'the first holder of the id untouched');
      // Closed, A holds nothing: its id is free on the other broker again (HS-5: held by an open connection).
      a!.conn.destroy();
      await initOnceReleased(ctx, conn, a!.clientId, 'B-after-close', 'its connection closed', 'CLU-3');
    },
  }),
  defineCase({
    id: 'cluster/client-id-free-when-its-connection-closes-during-the-claim',
    statements: ['CLU-3', 'HS-19'],
    async run(ctx) {
      // A broker claims an id before INIT_ACK (CLU-3); a connection that closes meanwhile never opened, and
      // the claim made for it must be given back like that of a client that closed (HS-19).
      brokersOf(ctx);
      const [a, b] = await sessionsInOrder(ctx, ['A', 'B']); // entries 0 and 1
      const clientId = ctx.uniqueId('gone-early');
      const early = await ctx.openBeside(a!.conn, 'early');
      early.send({ type: 'INIT', header: { id: 'init-early' }, payload: ctx.initPayload(clientId) });
      early.end(); // the INIT first, then the close, while the claim is on its way
      await initOnceReleased(ctx, b!.conn, clientId, 'B-after-early-close', 'the connection that sent its INIT closed before INIT_ACK', 'HS-19');
    },
  }),
  defineCase({
    id: 'cluster/claims-held-past-the-start-up-window',
    statements: ['CLU-3', 'CLU-4', 'CLU-10', 'CLU-13'],
    async run(ctx) {
      // A broker counts another alive while it hears its heartbeats (CLU-4); one that only trusted its own
      // first 2,000 ms would hand a live broker's client ids, names and types to the next asker after them.
      brokersOf(ctx);
      const [a] = await sessionsInOrder(ctx, ['A']); // entry 0
      const name = ctx.uniqueId('svc');
      const type = ctx.uniqueId('cmd');
      await granted(ctx, a!, 'SERVICE_REGISTER', { service: { name, service_type: 'conformance', version: '1.0.0' } }, 'the service registry', 'ACK');
      await granted(ctx, a!, 'BUS_REGISTER_HANDLER', { message_type: type, category: 'command' }, 'the bus', 'ACK');
      await sleep(PAST_THE_DEAD_AFTER_MS);
      const [b] = await sessionsInOrder(ctx, ['B']); // entry 1
      for (const [id, statement] of [[a!.clientId, 'CLU-3'], [name, 'CLU-10']] as const) {
        const { conn, id: initId } = await initFor(ctx, id, `C-${statement}`); // entries 2, 3 (0, 1 of two)
        await ctx.expectError(conn, 'DUPLICATE_CLIENT_ID', { re: initId, closes: true, statement });
      }
      await refused(ctx, b!, send(b!, 'BUS_REGISTER_HANDLER', { message_type: type, category: 'command' }), 'HANDLER_EXISTS', 'CLU-13');
      await ctx.expectOpen(a!.conn, 'the holder of the id, the name and the type untouched');
    },
  }),
  defineCase({
    id: 'cluster/client-id-raced-on-two-brokers',
    statements: ['CLU-3', 'HS-5'],
    async run(ctx) {
      brokersOf(ctx);
      for (let round = 0; round < RACE_ROUNDS; round++) {
        // Connections 2r and 2r+1: two different entries of the target in every round.
        const clientId = ctx.uniqueId('raced');
        const tries = [await initFor(ctx, clientId, `r${round}-x`), await initFor(ctx, clientId, `r${round}-y`)];
        const answers = await Promise.all(tries.map((t) => ctx.expectMessage(t.conn, `INIT_ACK or ERROR answering ${t.id}`, (m) => m.header.re === t.id && (m.name === 'INIT_ACK' || m.name === 'ERROR'))));
        const names = answers.map(codeOf);
        if (names.filter((n) => n === ('INIT_ACK' satisfies MessageName)).length !== 1 || !names.includes('DUPLICATE_CLIENT_ID' satisfies ErrorName)) {
          throw new CaseFailure(`[CLU-3] INITs for one client id on two brokers at once (round ${round + 1}) must be accepted once and refused once`, 'one INIT_ACK, one ERROR DUPLICATE_CLIENT_ID', answers.map(summarize).join(' | '));
        }
        const loser = tries[names.indexOf('DUPLICATE_CLIENT_ID' satisfies ErrorName)]!;
        await ctx.expectClosed(loser.conn, 'the refused connection closed (HS-5)');
      }
    },
  }),
  defineCase({
    id: 'cluster/frame-to-a-client-just-joined-elsewhere',
    statements: ['CLU-2', 'CLU-1', 'REQ-13'],
    async run(ctx) {
      brokersOf(ctx);
      const [a, b] = await sessionsInOrder(ctx, ['A', 'B']); // entries 0 and 1
      // Sent the moment B's INIT_ACK arrived: B is a client of the cluster from then on (CLU-3).
      a!.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-b', dst: b!.clientId }, payload: reasoning('cluster') });
      const fwd = await ctx.expectMessage(b!.conn, `REASONING_REQUEST routed to ${b!.clientId} on another broker, src=${a!.clientId}`, { name: 'REASONING_REQUEST', src: a!.clientId } satisfies MessageMatch);
      b!.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'from-b', re: fwd.header.id }, payload: reasoningAnswer(3) });
      await ctx.expectMessage(a!.conn, 'REASONING_RESPONSE with re=to-b (the id restored across brokers)', { name: 'REASONING_RESPONSE', re: 'to-b' } satisfies MessageMatch);
    },
  }),
  defineCase({
    id: 'cluster/broadcast-once-to-every-client',
    statements: ['CLU-2', 'REQ-18'],
    async run(ctx) {
      const n = brokersOf(ctx);
      // Entries 0, 1, ..., N: the sender's broker holds two clients, every other broker at least one.
      const [a, ...others] = await sessionsInOrder(ctx, ['A', ...Array.from({ length: n }, (_, i) => `R${i + 1}`)]);
      const signal = (id: string): Record<string, unknown> => ({ coordination_id: id, disagreement_score: 0.5, threshold: 0.25 });
      a!.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'first', dst: '*' }, payload: signal('first') });
      a!.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'second', dst: '*' }, payload: signal('second') });
      for (const r of others) {
        // Each copy once; the spec orders the handling of a connection's frames (REQ-17), not their delivery across brokers.
        const got: unknown[] = [];
        for (let i = 0; i < 2; i++) {
          const m = await ctx.expectMessage(r.conn, `the broadcasts at ${r.clientId}, each once (src=${a!.clientId}; ${i + 1} of 2)`, (x) => x.name === 'DISAGREEMENT_SIGNAL' && x.header.src === a!.clientId);
          got.push((m.payload as { coordination_id?: unknown }).coordination_id);
        }
        if (JSON.stringify([...got].sort()) !== '["first","second"]') throw new CaseFailure(`[CLU-2] ${r.clientId} got one broadcast twice`, 'first and second, once each', JSON.stringify(got));
        await ctx.expectOpen(r.conn, 'no third copy (the next frame is the PONG)');
      }
      await ctx.expectOpen(a!.conn, 'no copy back to the sender (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'cluster/stats-of-the-whole-cluster',
    statements: ['CLU-9', 'SYS-2'],
    async run(ctx) {
      const n = brokersOf(ctx);
      const sessions = await sessionsInOrder(ctx, Array.from({ length: n + 1 }, (_, i) => `S${i}`)); // entries 0..N-1, then 0
      const brokerOf = new Map<Session, string>();
      for (const s of sessions) brokerOf.set(s, (await stats(ctx, s, { client_id: s.clientId })).broker_id);
      const asker = sessions[0]!;
      // More clients on the asker's broker than on all the others together: its own count in `cluster` must
      // be at least theirs, which a broker counting the other brokers' clients as its own falls short of.
      for (let i = 0; i < BESIDE_THE_ASKER; i++) {
        const s = await ctx.sessionBeside(asker.conn, `S0-beside-${i}`);
        sessions.push(s);
        brokerOf.set(s, brokerOf.get(asker)!);
      }
      const listsBrokers = asker.ack['protocol_version'] !== '1.0';
      const until = Date.now() + ctx.timeoutMs + STATS_LAG_MS;
      let got = await stats(ctx, asker);
      let gap = statsGap(got, sessions, brokerOf, listsBrokers);
      while (gap !== undefined && Date.now() < until) {
        await sleep(RETRY_EVERY_MS);
        got = await stats(ctx, asker);
        gap = statsGap(got, sessions, brokerOf, listsBrokers);
      }
      if (gap !== undefined) throw new CaseFailure(`[CLU-9] STATS_RESPONSE from broker ${got.broker_id} does not show the cluster ${ctx.timeoutMs + STATS_LAG_MS} ms after every client joined: ${gap}`, 'every client once; `cluster` with every broker, the answering one first', JSON.stringify({ clients: got.clients.map((c) => c.client_id), cluster: got.cluster }));
      const remote = sessions[1]!;
      const one = await stats(ctx, asker, { client_id: remote.clientId });
      if (one.clients.length !== 1 || one.clients[0]!.client_id !== remote.clientId) throw new CaseFailure(`[CLU-9] STATS_REQUEST naming ${remote.clientId}, a client of another broker, must return its entry only (SYS-2)`, `[${remote.clientId}]`, JSON.stringify(one.clients.map((c) => c.client_id)));
    },
  }),
  defineCase({
    id: 'cluster/stats-count-the-traffic-with-a-client-of-another-broker',
    statements: ['CLU-9', 'SYS-3'],
    async run(ctx) {
      // B is a client of another broker: A's broker hands A's requests to B's broker and gets B's answers
      // back, and counts both in B's entry (CLU-9: "with the traffic this broker exchanged with it").
      brokersOf(ctx);
      const [a, b] = await sessionsInOrder(ctx, ['A', 'B']); // entries 0 and 1
      for (let i = 0; i < TRAFFIC_FRAMES; i++) {
        a!.conn.send({ type: 'REASONING_REQUEST', header: { id: `to-b-${i}`, dst: b!.clientId }, payload: reasoning('cluster') });
        const fwd = await ctx.expectMessage(b!.conn, `REASONING_REQUEST ${i + 1} of ${TRAFFIC_FRAMES} from ${a!.clientId}`, { name: 'REASONING_REQUEST', src: a!.clientId } satisfies MessageMatch);
        b!.conn.send({ type: 'REASONING_RESPONSE', header: { id: `from-b-${i}`, re: fwd.header.id }, payload: reasoningAnswer(i) });
        await ctx.expectMessage(a!.conn, `REASONING_RESPONSE with re=to-b-${i}`, { name: 'REASONING_RESPONSE', re: `to-b-${i}` } satisfies MessageMatch);
      }
      const got = await stats(ctx, a!, { client_id: b!.clientId });
      const entry = got.clients.find((c) => c.client_id === b!.clientId) as Record<string, unknown> | undefined;
      if (entry === undefined) throw new CaseFailure(`[CLU-9] STATS_REQUEST naming ${b!.clientId}, a client of another broker, returned no entry for it`, `[${b!.clientId}]`, JSON.stringify(got.clients));
      // Each frame is at least its 4-byte length prefix and a byte of body (section 3). The bytes received
      // are left out: B's bytes reach this broker inside another broker's NATS messages, and the spec leaves open which of them count.
      const counts = ['frames_out', 'bytes_out', 'frames_in'].map((k) => Number(entry[k]));
      const least = [TRAFFIC_FRAMES, 5 * TRAFFIC_FRAMES, TRAFFIC_FRAMES];
      if (counts.some((n, i) => !Number.isSafeInteger(n) || n < least[i]!)) {
        throw new CaseFailure(`[CLU-9] STATS on ${a!.clientId}'s broker must count the ${TRAFFIC_FRAMES} requests it handed to ${b!.clientId}, a client of another broker, and the ${TRAFFIC_FRAMES} answers it got from it`,
          `frames_out >= ${least[0]}, bytes_out >= ${least[1]}, frames_in >= ${least[2]}`, `frames_out ${counts[0]}, bytes_out ${counts[1]}, frames_in ${counts[2]}`);
      }
    },
  }),
  defineCase({
    id: 'cluster/service-name-held-on-another-broker',
    statements: ['CLU-10', 'REG-1', 'HS-22'],
    async run(ctx) {
      const { a, b, name, service } = await serviceOnA(ctx);
      await refused(ctx, b, send(b, 'SERVICE_REGISTER', service), 'SERVICE_EXISTS', 'CLU-10');
      const { conn, id } = await initFor(ctx, name, 'C-service-name'); // entry 2 (0 of two)
      await ctx.expectError(conn, 'DUPLICATE_CLIENT_ID', { re: id, closes: true, statement: 'CLU-10' });
      await answerOf(ctx, a, send(a, 'SERVICE_UNREGISTER', { name }), 'ACK', `SERVICE_UNREGISTER ${name}`);
      await takeOnceReleased(ctx, b, 'SERVICE_REGISTER', service, 'ACK', `the service name ${name}`, 'CLU-10');
    },
  }),
  defineCase({
    id: 'cluster/service-name-raced-on-two-brokers',
    statements: ['CLU-10', 'REG-1'],
    async run(ctx) {
      brokersOf(ctx);
      const [a, b] = await sessionsInOrder(ctx, ['A', 'B']); // entries 0 and 1
      await granted(ctx, a!, 'SERVICE_LIST', {}, 'the service registry', 'SERVICE_LIST_RESULT');
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const service = { service: { name: ctx.uniqueId('raced-svc'), service_type: 'conformance', version: '1.0.0' } };
        await race(ctx, round % 2 === 0 ? [a!, b!] : [b!, a!], 'SERVICE_REGISTER', service, 'ACK', 'SERVICE_EXISTS', 'CLU-10');
      }
    },
  }),
  defineCase({
    id: 'cluster/service-name-raced-on-one-broker-stays-claimed',
    statements: ['CLU-10', 'REG-1', 'HS-22'],
    async run(ctx) {
      // Two clients of one broker race for a name: the claims store grants it to that broker twice, so a
      // broker that lets both claims run and then refuses the loser locally may release the claim the
      // winner holds; a client of another broker may then take the name as its client id.
      const n = brokersOf(ctx);
      const labels = Array.from({ length: n + 1 }, (_, i) => (i === 0 ? 'A' : i === n ? 'A2' : `S${i}`));
      const sessions = await sessionsInOrder(ctx, labels); // A and A2 on entry 0, S1 on entry 1
      const [a, other, a2] = [sessions[0]!, sessions[1]!, sessions[n]!];
      await granted(ctx, a, 'SERVICE_LIST', {}, 'the service registry', 'SERVICE_LIST_RESULT');
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const service = { service: { name: ctx.uniqueId('raced-here'), service_type: 'conformance', version: '1.0.0' } };
        const winner = await race(ctx, round % 2 === 0 ? [a, a2] : [a2, a], 'SERVICE_REGISTER', service, 'ACK', 'SERVICE_EXISTS', 'REG-1', 'from two clients of one broker');
        await refused(ctx, other, send(other, 'SERVICE_REGISTER', service), 'SERVICE_EXISTS', 'CLU-10');
        // A client id is checked against the claims, not against a broker's directory of services (CLU-10, HS-22).
        const { conn, id } = await initFor(ctx, service.service.name, `C-${round}`); // entry n + 1 + round mod n
        await ctx.expectError(conn, 'DUPLICATE_CLIENT_ID', { re: id, closes: true, statement: 'CLU-10' });
        await ctx.expectOpen(winner.conn, `the winner ${winner.clientId} untouched`);
      }
    },
  }),
  defineCase({
    id: 'cluster/two-names-claimed-at-once-on-one-broker',
    statements: ['CLU-10', 'CLU-13'],
    async run(ctx) {
      // A broker that keeps one claim of a kind on the way at a time (so that two clients racing for one
      // name cannot both win) must key it by the name: two different names claimed at once are both free.
      brokersOf(ctx);
      const [a] = await sessionsInOrder(ctx, ['A']); // entry 0
      const a2 = await ctx.sessionBeside(a!.conn, 'A2');
      await granted(ctx, a!, 'SERVICE_LIST', {}, 'the service registry', 'SERVICE_LIST_RESULT');
      await granted(ctx, a2, 'BUS_SUBSCRIBE', { event_type: ctx.uniqueId('probe') }, 'the bus', 'BUS_SUBSCRIBED');
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const services = [a!, a2].map(() => ({ service: { name: ctx.uniqueId('at-once-svc'), service_type: 'conformance', version: '1.0.0' } }));
        await bothGranted(ctx, [a!, a2], 'SERVICE_REGISTER', services, 'CLU-10');
        const handlers = [a!, a2].map(() => ({ message_type: ctx.uniqueId('at-once-cmd'), category: 'command' }));
        await bothGranted(ctx, [a!, a2], 'BUS_REGISTER_HANDLER', handlers, 'CLU-13');
      }
    },
  }),
  defineCase({
    id: 'cluster/handler-type-held-on-another-broker',
    statements: ['CLU-13', 'BUS-2'],
    async run(ctx) {
      brokersOf(ctx);
      const [a, b, c] = await sessionsInOrder(ctx, ['A', 'B', 'C']); // entries 0, 1, 2 (0 of two)
      const type = ctx.uniqueId('cmd');
      const handler = { message_type: type, category: 'command' };
      await granted(ctx, a!, 'BUS_REGISTER_HANDLER', handler, 'the bus', 'ACK');
      await refused(ctx, b!, send(b!, 'BUS_REGISTER_HANDLER', handler), 'HANDLER_EXISTS', 'CLU-13');
      // Sent the moment the handler's ACK arrived: the type is looked up in the cluster, not refused as unhandled.
      const sent = send(c!, 'BUS_SEND', { message_type: type, payload: { n: 1 } });
      reply(a!, await incoming(ctx, a!, 'BUS_SEND', `to A's handler on another broker, sent right after its registration`), 'ACK', {});
      await answerOf(ctx, c!, sent, 'ACK', `BUS_SEND ${type}`);
      await answerOf(ctx, a!, send(a!, 'BUS_UNREGISTER_HANDLER', { message_type: type }), 'ACK', `BUS_UNREGISTER_HANDLER ${type}`);
      await takeOnceReleased(ctx, b!, 'BUS_REGISTER_HANDLER', handler, 'ACK', `the handler type ${type}`, 'CLU-13');
      const query = send(c!, 'BUS_QUERY', { message_type: type, payload: 'who?' });
      reply(b!, await incoming(ctx, b!, 'BUS_QUERY', `to B, the type's new handler`), 'BUS_QUERY_RESULT', { result: 'B' });
      const result = await answerOf(ctx, c!, query, 'BUS_QUERY_RESULT', `BUS_QUERY ${type}`);
      if ((result.payload as { result?: unknown }).result !== 'B') throw new CaseFailure('[CLU-13] the BUS_QUERY_RESULT is not the new handler\'s', '"B"', JSON.stringify(result.payload));
    },
  }),
  defineCase({
    id: 'cluster/handler-type-raced-on-two-brokers',
    statements: ['CLU-13', 'BUS-2'],
    async run(ctx) {
      brokersOf(ctx);
      const [a, b] = await sessionsInOrder(ctx, ['A', 'B']); // entries 0 and 1
      await granted(ctx, a!, 'BUS_SUBSCRIBE', { event_type: ctx.uniqueId('probe') }, 'the bus', 'BUS_SUBSCRIBED');
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const handler = { message_type: ctx.uniqueId('raced-cmd'), category: round % 2 === 0 ? 'command' : 'query' };
        await race(ctx, round % 2 === 0 ? [a!, b!] : [b!, a!], 'BUS_REGISTER_HANDLER', handler, 'ACK', 'HANDLER_EXISTS', 'CLU-13');
      }
    },
  }),
  defineCase({
    id: 'cluster/dispatch-right-after-registration-elsewhere',
    statements: ['CLU-12', 'CLU-10'],
    async run(ctx) {
      const { a, b, name } = await serviceOnA(ctx);
      // Both sent the moment the ACK arrived, before the provider's broker can have announced the service.
      const dispatched = send(b, 'SERVICE_DISPATCH', { service_name: name, method: 'run', payload: { n: 1 }, max_retries: 0 });
      b.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-svc', dst: name }, payload: reasoning('cluster') });
      // The two reach A by different paths (the dispatch through the registry, the request routed by name): in either order.
      const arrived: Message[] = [];
      for (let i = 0; i < 2; i++) {
        arrived.push(await ctx.expectMessage(a.conn, `SERVICE_DISPATCH and REASONING_REQUEST (src=${b.clientId}) to ${name}, sent from another broker right after its registration (${i + 1} of 2)`,
          (m) => !arrived.some((x) => x.name === m.name) && (m.name === 'SERVICE_DISPATCH' || (m.name === 'REASONING_REQUEST' && m.header.src === b.clientId))));
      }
      reply(a, arrived.find((m) => m.name === 'SERVICE_DISPATCH')!, 'SERVICE_RESULT', { result: 'ran', attempts: 1 });
      const result = await answerTo(ctx, b, dispatched, `SERVICE_DISPATCH to ${name}`);
      if (result.name !== 'SERVICE_RESULT') throw new CaseFailure(`[CLU-12] SERVICE_DISPATCH to ${name}, registered on another broker, was not dispatched`, 'SERVICE_RESULT', summarize(result));
    },
  }),
  defineCase({
    id: 'cluster/publish-reaches-every-broker',
    statements: ['CLU-11', 'BUS-5', 'BUS-7'],
    async run(ctx) {
      brokersOf(ctx);
      const [p, ...subscribers] = await sessionsInOrder(ctx, ['P', 'B', 'C', 'D']); // entries 0, 1, 2, 3 mod N
      const type = ctx.uniqueId('event');
      const probe = await granted(ctx, subscribers[0]!, 'BUS_SUBSCRIBE', { event_type: type }, 'the bus', 'BUS_SUBSCRIBED');
      const subscriptions = [(probe.payload as { subscription_id: string }).subscription_id];
      for (const s of subscribers.slice(1)) {
        const m = await answerOf(ctx, s, send(s, 'BUS_SUBSCRIBE', { event_type: type }), 'BUS_SUBSCRIBED', `BUS_SUBSCRIBE ${type}`);
        subscriptions.push((m.payload as { subscription_id: string }).subscription_id);
      }
      if (new Set(subscriptions).size !== subscriptions.length) throw new CaseFailure('[CLU-11] subscriptions on different brokers got the same id', 'ids unique in the cluster', subscriptions.join(', '));
      const published = send(p!, 'BUS_PUBLISH', { event_type: type, payload: { n: 1 } });
      for (const [i, s] of subscribers.entries()) {
        const ev = await incoming(ctx, s, 'BUS_EVENT', `at ${s.clientId}, a subscriber on another broker than the publisher's or on its own`);
        const got = (ev.payload as { subscription_id?: unknown }).subscription_id;
        if (got !== subscriptions[i]) throw new CaseFailure(`[BUS-5] the BUS_EVENT at ${s.clientId} names another subscription`, subscriptions[i], JSON.stringify(got));
        reply(s, ev, 'ACK', {});
      }
      const done = await answerOf(ctx, p!, published, 'BUS_PUBLISHED', `BUS_PUBLISH ${type}`);
      const counts = done.payload as { delivered?: unknown; failed?: unknown };
      if (counts.delivered !== subscribers.length || (counts.failed ?? 0) !== 0) throw new CaseFailure('[CLU-11] BUS_PUBLISHED must count the subscriptions of the whole cluster', `delivered ${subscribers.length}, failed 0`, JSON.stringify(counts));
      for (const s of subscribers) await ctx.expectOpen(s.conn, 'one BUS_EVENT per subscription (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'cluster/service-list-of-every-broker',
    statements: ['CLU-11', 'CLU-10'],
    async run(ctx) {
      brokersOf(ctx);
      const [a, b, c] = await sessionsInOrder(ctx, ['A', 'B', 'C']); // entries 0, 1, 2 (0 of two)
      const kind = ctx.uniqueId('kind');
      const names = [b!, c!].map(() => ctx.uniqueId('listed'));
      for (const [i, s] of [b!, c!].entries()) {
        await granted(ctx, s, 'SERVICE_REGISTER', { service: { name: names[i], service_type: kind, version: '1.0.0' } }, 'the service registry', 'ACK');
      }
      const listed = await answerOf(ctx, a!, send(a!, 'SERVICE_LIST', { service_type: kind }), 'SERVICE_LIST_RESULT', `SERVICE_LIST of type ${kind}`);
      const services = (listed.payload as { services: { name: string; current_load?: unknown }[] }).services;
      const got = services.map((s) => s.name).sort();
      if (JSON.stringify(got) !== JSON.stringify([...names].sort())) throw new CaseFailure('[CLU-11] SERVICE_LIST must list the services of every broker', JSON.stringify([...names].sort()), JSON.stringify(got));
      const busy = services.filter((s) => s.current_load !== 0);
      if (busy.length > 0) throw new CaseFailure('[CLU-11] an idle service listed with a load', 'current_load 0', JSON.stringify(busy));
    },
  }),
  defineCase({
    id: 'cluster/service-name-free-when-its-provider-closes',
    statements: ['CLU-10'],
    async run(ctx) {
      const { a, b, name, service } = await serviceOnA(ctx);
      await refused(ctx, b, send(b, 'SERVICE_REGISTER', service), 'SERVICE_EXISTS', 'CLU-10');
      const c = await ctx.sessionBeside(a.conn, 'C'); // on A's broker, which claimed the name first
      a.conn.destroy();
      await takeOnceReleased(ctx, b, 'SERVICE_REGISTER', service, 'ACK', `the service name ${name} of a provider that closed`, 'CLU-10');
      // And back: the broker that held the name before may claim it again once B closes.
      b.conn.destroy();
      await takeOnceReleased(ctx, c, 'SERVICE_REGISTER', service, 'ACK', `the service name ${name}, back on the broker that held it first, after its second provider closed`, 'CLU-10');
    },
  }),
  defineCase({
    id: 'cluster/handler-type-free-when-its-client-closes',
    statements: ['CLU-13'],
    async run(ctx) {
      brokersOf(ctx);
      const [a, b] = await sessionsInOrder(ctx, ['A', 'B']); // entries 0 and 1
      const handler = { message_type: ctx.uniqueId('cmd'), category: 'query' };
      await granted(ctx, a!, 'BUS_REGISTER_HANDLER', handler, 'the bus', 'ACK');
      await refused(ctx, b!, send(b!, 'BUS_REGISTER_HANDLER', handler), 'HANDLER_EXISTS', 'CLU-13');
      const c = await ctx.sessionBeside(a!.conn, 'C'); // on A's broker, which claimed the type first
      a!.conn.destroy();
      await takeOnceReleased(ctx, b!, 'BUS_REGISTER_HANDLER', handler, 'ACK', `the handler type ${handler.message_type} of a client that closed`, 'CLU-13');
      b!.conn.destroy();
      await takeOnceReleased(ctx, c, 'BUS_REGISTER_HANDLER', handler, 'ACK', `the handler type ${handler.message_type}, back on the broker that held it first, after its second handler closed`, 'CLU-13');
    },
  }),
  defineCase({
    id: 'cluster/handler-error-relayed-unchanged',
    statements: ['CLU-11', 'BUS-11'],
    async run(ctx) {
      brokersOf(ctx);
      const [a, b] = await sessionsInOrder(ctx, ['A', 'B']); // entries 0 and 1
      const type = ctx.uniqueId('query');
      await granted(ctx, a!, 'BUS_REGISTER_HANDLER', { message_type: type, category: 'query' }, 'the bus', 'ACK');
      const query = send(b!, 'BUS_QUERY', { message_type: type, payload: { n: 1 } });
      const error = handlerError('refused by the handler on another broker');
      reply(a!, await incoming(ctx, a!, 'BUS_QUERY', `to A's handler, from B on another broker`), 'ERROR', error);
      const m = await ctx.expectError(b!.conn, 'HANDLER_FAILED', { re: query, closes: false, statement: 'BUS-11' });
      const carried = (m.payload as { details?: { error?: unknown } }).details?.error;
      if (JSON.stringify(carried) !== JSON.stringify(error)) throw new CaseFailure('[CLU-11] the handler\'s ERROR did not reach the requester on another broker unchanged (details.error, BUS-11)', JSON.stringify(error), JSON.stringify(carried));
    },
  }),
  defineCase({
    id: 'cluster/slow-dispatch-answered-across-brokers',
    statements: ['CLU-11', 'REG-5'],
    async run(ctx) {
      // A dispatch relayed to the provider's broker, answered after SLOW_ANSWER_MS: late for a relay bounded
      // by a fixed few seconds (the reference's failure detector waits 2 s), well within the dispatch's own
      // timeout_ms, which alone bounds the attempt (REG-5). The answer must reach the caller.
      const { a, b, name } = await serviceOnA(ctx);
      const dispatched = send(b, 'SERVICE_DISPATCH', { service_name: name, method: 'run', payload: { n: 1 }, timeout_ms: SLOW_DISPATCH_TIMEOUT_MS, max_retries: 0 });
      const attempt = await incoming(ctx, a, 'SERVICE_DISPATCH', `to ${name} on A's broker, from B on another broker`);
      await sleep(SLOW_ANSWER_MS);
      reply(a, attempt, 'SERVICE_RESULT', { result: 'slow', attempts: 1 });
      const result = await answerTo(ctx, b, dispatched, `SERVICE_DISPATCH to ${name} (timeout_ms ${SLOW_DISPATCH_TIMEOUT_MS}), answered by its provider on another broker after ${SLOW_ANSWER_MS} ms`);
      if (result.name !== 'SERVICE_RESULT') throw new CaseFailure(`[CLU-11] a dispatch whose provider, on another broker, answered after ${SLOW_ANSWER_MS} ms, within its timeout_ms ${SLOW_DISPATCH_TIMEOUT_MS}, did not get the provider's answer (REG-5 bounds the attempt by timeout_ms only)`, 'SERVICE_RESULT', summarize(result));
    },
  }),
  defineCase({
    id: 'cluster/refusals-after-a-look-up',
    statements: ['CLU-12', 'CLU-13', 'BUS-12', 'REQ-8'],
    async run(ctx) {
      brokersOf(ctx);
      const [a] = await sessionsInOrder(ctx, ['A']); // entry 0
      // Names nobody holds anywhere: once looked up in the cluster, each is refused at once, never left unanswered.
      const nobody = ctx.uniqueId('nobody');
      const probe = await requestOrSkip(ctx, a!, 'BUS_QUERY', { message_type: nobody, payload: null }, 'the bus');
      if (codeOf(probe) !== ('NO_HANDLER' satisfies ErrorName)) throw new CaseFailure(`[BUS-12] a BUS_QUERY for a type no broker of the cluster handles must be refused with NO_HANDLER`, 'ERROR NO_HANDLER', summarize(probe));
      await answerOf(ctx, a!, send(a!, 'BUS_SEND', { message_type: nobody, payload: null }), 'ACK', `BUS_SEND of a type no broker handles (BUS-9)`);
      const dispatched = await requestOrSkip(ctx, a!, 'SERVICE_DISPATCH', { service_name: nobody, method: 'run', payload: null }, 'the service registry');
      if (codeOf(dispatched) !== ('SERVICE_NOT_FOUND' satisfies ErrorName)) throw new CaseFailure('[CLU-12] a SERVICE_DISPATCH to a name no broker of the cluster holds must be refused with SERVICE_NOT_FOUND', 'ERROR SERVICE_NOT_FOUND', summarize(dispatched));
      a!.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-nobody', dst: nobody }, payload: reasoning('cluster') });
      await ctx.expectError(a!.conn, 'UNKNOWN_DESTINATION', { re: 'to-nobody', closes: false, statement: 'REQ-8' });
    },
  }),
];
