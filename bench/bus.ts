/**
 * The bus benchmark (issue 7), run by `npm run bench`: publish fan-out and query round trip, measured
 * side by side in one run with interleaved rounds and reported as ratios, never absolute targets:
 *
 *   - publish to 1 and to 8 subscribers, in process (InMemoryBus) and over the wire (WireBus through the
 *     reference broker on loopback, subscribers spread over two clients);
 *   - query round trip, in process and over the wire, against a PING round trip to the same broker
 *     (one hop) as the wire baseline: a bus query is two hops (caller -> broker -> handler and back).
 *
 * One operation in flight at a time; every loop bounded in count and the whole run in time.
 */
import { performance } from 'node:perf_hooks';
import { Broker } from '../reference/broker/index.js';
import { ConcordClient } from '../reference/client/client.js';
import { InMemoryBus } from '../reference/bus/bus.js';
import { WireBus } from '../reference/bus/wire/wire-bus.js';
import type { CommandBus } from '../reference/bus/types.js';

const ROUNDS = 7;
const OPS = 300;
const TIME_BUDGET_MS = 60_000;
const FANOUT = 8;

export interface BusBenchResult {
  report: Record<string, unknown>;
  table: string;
}

type Variant = { name: string; op: () => Promise<unknown> };

async function subscribeN(buses: CommandBus[], type: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await buses[i % buses.length]!.subscribe(type, () => undefined);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export async function runBusBench(): Promise<BusBenchResult> {
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
  const port = (await broker.listen()).port!;
  const clients: ConcordClient[] = [];
  try {
    for (const id of ['bench-bus-a', 'bench-bus-b']) clients.push(await ConcordClient.connect({ host: '127.0.0.1', port, clientId: id }));
    const [a, b] = clients.map((c) => new WireBus(c)) as [WireBus, WireBus];
    const local = new InMemoryBus();
    await subscribeN([local], 'one', 1);
    await subscribeN([local], 'eight', FANOUT);
    await subscribeN([a, b], 'one', 1);
    await subscribeN([a, b], 'eight', FANOUT);
    await local.registerHandler('q', 'query', (m) => m.payload);
    await b.registerHandler('q', 'query', (m) => m.payload);
    const variants: Variant[] = [
      { name: 'inproc_publish_fanout_1', op: () => local.publish('one', 1) },
      { name: 'inproc_publish_fanout_8', op: () => local.publish('eight', 1) },
      { name: 'wire_publish_fanout_1', op: () => a.publish('one', 1) },
      { name: 'wire_publish_fanout_8', op: () => a.publish('eight', 1) },
      { name: 'inproc_query_round_trip', op: () => local.query('q', 1) },
      { name: 'wire_ping_round_trip', op: () => clients[0]!.ping() },
      { name: 'wire_query_round_trip', op: () => a.query('q', 1) },
    ];
    const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (const v of variants) for (let i = 0; i < 50; i++) await v.op(); // warm-up
    const started = performance.now();
    let rounds = 0;
    for (; rounds < ROUNDS && performance.now() - started < TIME_BUDGET_MS; rounds++) {
      // Rotated each round, so whatever the first variant of a round absorbs is spread over all of them.
      for (const v of [...variants.slice(rounds % variants.length), ...variants.slice(0, rounds % variants.length)]) {
        const t0 = performance.now();
        for (let i = 0; i < OPS; i++) await v.op();
        samples.get(v.name)!.push(((performance.now() - t0) * 1000) / OPS);
      }
      process.stderr.write(`\rbench bus: round ${rounds + 1}/${ROUNDS}`);
    }
    process.stderr.write('\n');
    const us = Object.fromEntries([...samples].map(([k, v]) => [k, median(v)])) as Record<string, number>;
    const ratios = {
      bus_wire_publish_fanout_8_vs_1_ratio: us['wire_publish_fanout_8']! / us['wire_publish_fanout_1']!,
      bus_inproc_publish_fanout_8_vs_1_ratio: us['inproc_publish_fanout_8']! / us['inproc_publish_fanout_1']!,
      bus_wire_vs_inproc_publish_fanout_8_ratio: us['wire_publish_fanout_8']! / us['inproc_publish_fanout_8']!,
      bus_wire_query_vs_ping_ratio: us['wire_query_round_trip']! / us['wire_ping_round_trip']!,
      bus_wire_vs_inproc_query_ratio: us['wire_query_round_trip']! / us['inproc_query_round_trip']!,
    };
    const table = [
      ...Object.entries(us).map(([k, v]) => `${k.padEnd(42)} ${v.toFixed(2).padStart(9)} us/op`),
      '',
      ...Object.entries(ratios).map(([k, v]) => `${k.padEnd(42)} ${v.toFixed(2).padStart(9)}x`),
    ].join('\n');
    return { report: { bus: { rounds, ops_per_round: OPS, fanout: FANOUT, median_us_per_op: us, ...ratios } }, table };
  } finally {
    await Promise.all(clients.map((c) => c.close({ drainMs: 0 })));
    await broker.close();
  }
}

// `tsx bench/bus.ts` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runBusBench();
  console.log(r.table);
}
