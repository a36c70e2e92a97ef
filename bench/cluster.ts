/**
 * The broker cluster (issue 17), measured side by side in one run: one broker alone against two brokers
 * joined through a NATS server, all child processes, with requesters and responders (TypeScript clients
 * in this process) on the same broker or on different ones. Reported as ratios without a target: on a
 * 2-core machine the load generator, NATS and the brokers compete for the same cores, so nothing here
 * shows scale-out; the numbers say what a hop through NATS costs. Bounded in count and time.
 */
import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { ConcordClient } from '../reference/client/index.js';
import { NatsProcess } from '../reference/broker/cluster/nats-process.js';
import { messageByName, payloadFromFixture } from '../reference/codec/index.js';
import { startBrokerProcess, stopProcess } from './broker-process.js';

const ROUNDS = 5;
const SEQUENTIAL = 1_000;
const PIPELINED = 10_000;
const IN_FLIGHT = 32;
const TIME_BUDGET_MS = 90_000;
const START_TIMEOUT_MS = 20_000;

export interface ClusterBenchResult {
  report: Record<string, unknown>;
  table: string;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const REQUEST = { text: 'bench', dim: 4 };
const rspInfo = messageByName('ENCODING_RSP');
const RESPONSE = payloadFromFixture(rspInfo, rspInfo.examples[0] as Record<string, unknown>) as never;

let seq = 0;
const ids = new WeakMap<ConcordClient, string>();
/** A client, retrying while a cluster broker is still joining (its id claims are refused until then). */
async function client(port: number): Promise<ConcordClient> {
  const clientId = `bench-cluster-${process.pid}-${++seq}`;
  const c = await ConcordClient.connect({ host: '127.0.0.1', port, clientId, retries: 40, backoff: { initialMs: 100, maxMs: 500 } });
  ids.set(c, clientId);
  return c;
}

/** A responder answering every ENCODING_REQ at once. */
async function responder(port: number): Promise<ConcordClient> {
  const c = await client(port);
  c.on('ENCODING_REQ', () => RESPONSE);
  return c;
}

async function sequential(from: ConcordClient, to: string, n: number): Promise<number> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await from.request('ENCODING_REQ', REQUEST as never, { dst: to });
    us.push((performance.now() - t) * 1000);
  }
  return median(us);
}

/** Requests per second of `pairs` requester -> responder pairs running at once, IN_FLIGHT each. */
async function pipelined(pairs: [ConcordClient, string][], perPair: number): Promise<number> {
  const t = performance.now();
  await Promise.all(pairs.map(async ([from, to]) => {
    let sent = 0;
    const lane = async (): Promise<void> => {
      while (sent < perPair) {
        sent++;
        await from.request('ENCODING_REQ', REQUEST as never, { dst: to });
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  }));
  return (pairs.length * perPair) / ((performance.now() - t) / 1000);
}

export async function runClusterBench(log: (t: string) => void = (t) => void process.stderr.write(t)): Promise<ClusterBenchResult> {
  const nats = await NatsProcess.start();
  const children: ChildProcess[] = [];
  const clients: ConcordClient[] = [];
  try {
    const alone = await startBrokerProcess([], START_TIMEOUT_MS);
    const b1 = await startBrokerProcess(['--cluster', nats.url, '--broker-id', 'bench-1'], START_TIMEOUT_MS);
    const b2 = await startBrokerProcess(['--cluster', nats.url, '--broker-id', 'bench-2'], START_TIMEOUT_MS);
    children.push(alone.child, b1.child, b2.child);
    const track = async (p: Promise<ConcordClient>): Promise<ConcordClient> => { const c = await p; clients.push(c); return c; };
    // One broker: two requester/responder pairs on it. Two brokers: one pair on each (all local).
    const single = [await track(client(alone.port)), await track(responder(alone.port)), await track(client(alone.port)), await track(responder(alone.port))];
    const local = [await track(client(b1.port)), await track(responder(b1.port)), await track(client(b2.port)), await track(responder(b2.port))];
    // Cross: the requester on bench-1, its responder on bench-2.
    const crossTo = await track(responder(b2.port));
    const id = (c: ConcordClient): string => ids.get(c)!;
    const pairsOne: [ConcordClient, string][] = [[single[0]!, id(single[1]!)], [single[2]!, id(single[3]!)]];
    const pairsTwo: [ConcordClient, string][] = [[local[0]!, id(local[1]!)], [local[2]!, id(local[3]!)]];
    // Warm-up, which also waits until each broker routes to the other's clients.
    await sequential(local[0]!, id(crossTo), 200);
    await sequential(local[0]!, id(local[1]!), 200);
    await sequential(single[0]!, id(single[1]!), 200);
    const rate = { one: [] as number[], two: [] as number[] };
    const p50 = { local: [] as number[], cross: [] as number[] };
    const started = Date.now();
    for (let r = 0; r < ROUNDS && Date.now() - started < TIME_BUDGET_MS; r++) {
      const order = r % 2 === 0 ? ['one', 'two'] as const : ['two', 'one'] as const;
      for (const which of order) rate[which].push(await pipelined(which === 'one' ? pairsOne : pairsTwo, PIPELINED / 2));
      const lat = r % 2 === 0 ? ['local', 'cross'] as const : ['cross', 'local'] as const;
      for (const which of lat) p50[which].push(await sequential(local[0]!, which === 'local' ? id(local[1]!) : id(crossTo), SEQUENTIAL));
      log(`bench cluster: round ${r + 1}/${ROUNDS}\n`);
    }
    const c = {
      rounds: rate.one.length, sequential_per_round: SEQUENTIAL, pipelined_per_round: PIPELINED, in_flight_per_requester: IN_FLIGHT,
      one_broker_per_s: median(rate.one), two_brokers_per_s: median(rate.two),
      local_p50_us: median(p50.local), cross_p50_us: median(p50.cross),
    };
    const report = {
      cluster: c,
      cluster_2_vs_1_throughput_ratio: c.two_brokers_per_s / c.one_broker_per_s,
      cluster_cross_vs_local_p50_ratio: c.cross_p50_us / c.local_p50_us,
    };
    const table = [
      'broker cluster over NATS (ENCODING_REQ -> ENCODING_RSP between clients; medians of rounds; no target: 2 cores shared by load, NATS and brokers)',
      `  two pairs, ${IN_FLIGHT} in flight each   1 broker ${Math.round(c.one_broker_per_s).toString().padStart(8)} /s   2 brokers (a pair on each) ${Math.round(c.two_brokers_per_s).toString().padStart(8)} /s   2/1 ${report.cluster_2_vs_1_throughput_ratio.toFixed(2)}x`,
      `  round trip p50                  same broker ${c.local_p50_us.toFixed(1).padStart(8)} us   across brokers ${c.cross_p50_us.toFixed(1).padStart(8)} us   cross/local ${report.cluster_cross_vs_local_p50_ratio.toFixed(2)}x`,
    ].join('\n');
    return { report, table };
  } finally {
    await Promise.all(clients.map((c) => c.close({ drainMs: 0 }).catch(() => undefined)));
    await Promise.all(children.map((c) => stopProcess(c, 5000)));
    await nats.dispose();
  }
}

// `npx tsx bench/cluster.ts`: this benchmark alone.
if (process.argv[1]?.endsWith('cluster.ts') && import.meta.url.endsWith('/bench/cluster.ts')) {
  const r = await runClusterBench();
  console.log(r.table);
  console.log(JSON.stringify(r.report, null, 2));
}
