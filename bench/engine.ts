/**
 * Engine benchmark (npm run bench): reason() throughput of the unified engine per strategy over the
 * in-process TypeScript engine and engine processes (TypeScript, Python, and C++ when built) behind
 * a broker on loopback, and for cache hits, measured in interleaved rounds of the same run and
 * reported as ratios (never absolute targets). Bounded in rounds, calls and time.
 */
import { performance } from 'node:perf_hooks';
import { NDArray } from '../reference/codec/ndarray.js';
import { startCluster } from '../reference/engine/cluster.js';
import { engineAvailable } from '../reference/engine/processes.js';
import { encodingOf } from '../reference/engine/fixtures.js';
import { ReferenceEngine } from '../reference/engine/engine.js';
import { UnifiedEngine } from '../reference/engine/unified/unified.js';
import { LocalBackend } from '../reference/engine/unified/local.js';
import { STRATEGIES, type Strategy } from '../reference/engine/unified/strategy.js';
import type { EngineLanguage } from '../reference/engine/unified/backend.js';

const ROUNDS = 5;
const CALLS = 60;
const CONCURRENCY = 8;
const TIME_BUDGET_MS = 90_000;

export interface EngineBenchResult {
  report: Record<string, unknown>;
  table: string;
}

export async function runEngineBench(): Promise<EngineBenchResult> {
  const remote: EngineLanguage[] = ['typescript', 'python', ...(engineAvailable('cpp') ? ['cpp' as const] : [])];
  const cluster = await startCluster({ remote, local: true });
  try {
    const items = Array.from({ length: CALLS }, (_, i) => ({ encoding: NDArray.from('<f4', [768], encodingOf(50_000 + i, 768)) }));
    const byStrategy = new Map<Strategy, UnifiedEngine>(STRATEGIES.map((s) => [s, cluster.backends.reduce((u, b) => u.attach(b), new UnifiedEngine({ strategy: s, cacheSize: 0 }))]));
    const cached = new UnifiedEngine({ strategy: 'round_robin' }).attach(new LocalBackend('cache-local'));
    const uncached = new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0 }).attach(new LocalBackend('nocache-local'));
    await cached.reasonBatch(items, 'auto', 1); // fills the cache: the measured calls are all hits
    const direct = new ReferenceEngine('direct');
    const variants: [string, () => Promise<unknown>][] = [
      ['direct_local_reason', async () => items.forEach((it) => direct.reason(it.encoding))],
      ...STRATEGIES.map((s) => [`unified_${s}`, () => byStrategy.get(s)!.reasonBatch(items, 'auto', CONCURRENCY)] as [string, () => Promise<unknown>]),
      ['unified_local_cache_hit', () => cached.reasonBatch(items, 'auto', CONCURRENCY)],
      ['unified_local_cache_miss', () => uncached.reasonBatch(items, 'auto', CONCURRENCY)],
    ];
    const samples = new Map<string, number[]>(variants.map(([n]) => [n, []]));
    const began = performance.now();
    let rounds = 0;
    for (; rounds < ROUNDS && performance.now() - began < TIME_BUDGET_MS; rounds++) {
      for (const [name, run] of variants) {
        const t0 = performance.now();
        await run();
        samples.get(name)!.push(CALLS / ((performance.now() - t0) / 1000));
      }
      process.stderr.write(`\rbench engine: round ${rounds + 1}/${ROUNDS}`);
    }
    process.stderr.write('\n');
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const perSecond = Object.fromEntries([...samples].map(([k, v]) => [k, median(v)]));
    const rr = perSecond['unified_round_robin']!;
    const ratios: Record<string, number> = {
      ...Object.fromEntries(STRATEGIES.filter((s) => s !== 'round_robin').map((s) => [`engine_${s}_vs_round_robin_throughput_ratio`, perSecond[`unified_${s}`]! / rr])),
      engine_cache_hit_vs_miss_throughput_ratio: perSecond['unified_local_cache_hit']! / perSecond['unified_local_cache_miss']!,
      engine_unified_local_vs_direct_throughput_ratio: perSecond['unified_local_cache_miss']! / perSecond['direct_local_reason']!,
    };
    const table = [
      `engine: ${cluster.backends.map((b) => b.name).join(', ')}; ${CALLS} calls per sample, concurrency ${CONCURRENCY}, ${rounds} rounds`,
      ...Object.entries(perSecond).map(([k, v]) => `${k.padEnd(40)} ${v.toFixed(0).padStart(9)} calls/s`),
      '',
      ...Object.entries(ratios).map(([k, v]) => `${k.padEnd(56)} ${v.toFixed(2).padStart(7)}x`),
    ].join('\n');
    return { report: { ...ratios, engine_bench: { engines: cluster.backends.map((b) => b.name), rounds, calls: CALLS, concurrency: CONCURRENCY, median_calls_per_second: perSecond } }, table };
  } finally {
    await cluster.close();
  }
}
