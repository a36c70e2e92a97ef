/**
 * The seeds' seven example scenarios on a unified engine over real engines: auto selection, batch
 * with load balancing, redundant verification, MTL coordination, performance comparison, cache
 * effectiveness and monitoring. Each returns a JSON summary; `concord engine run` prints them.
 */
import { encodingOf } from './fixtures.js';
import type { EngineBackend } from './unified/backend.js';
import { UnifiedEngine, type DisagreementSignal } from './unified/unified.js';
import { LocalBackend } from './unified/local.js';
import type { Strategy } from './unified/strategy.js';

export const SCENARIOS = ['auto', 'batch', 'redundant', 'mtl', 'performance', 'cache', 'monitoring'] as const;
export type Scenario = (typeof SCENARIOS)[number];

type Summary = Record<string, unknown>;

/** The MTL example signals a round whose disagreement (a standard deviation of confidences) exceeds this. */
export const MTL_EXAMPLE_THRESHOLD = 0.01;

let connected: (() => boolean) | undefined;

const unified = (backends: EngineBackend[], strategy: Strategy = 'round_robin'): UnifiedEngine => {
  const u = new UnifiedEngine({ strategy, ...(connected ? { connected } : {}) });
  for (const b of backends) u.attach(b);
  return u;
};

const countBy = (names: (string | null)[]): Record<string, number> => names.reduce<Record<string, number>>((c, n) => ({ ...c, [n ?? 'failed']: (c[n ?? 'failed'] ?? 0) + 1 }), {});

/** `isConnected` reports whether the broker connection is up (getStatus' ipc_server_running). */
export async function runScenario(name: Scenario, backends: EngineBackend[], requests: number, isConnected?: () => boolean): Promise<Summary> {
  connected = isConnected;
  switch (name) {
    case 'auto': {
      const u = unified(backends, 'performance');
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await u.reason(encodingOf(i + 1, 768), `auto ${i}`));
      return { strategy: 'performance', answers: results.map((r) => ({ engine: r.engine, confidence: r.confidence, spike_count: r.spike_count, latency_ms: r.latency_ms })) };
    }
    case 'batch': {
      const u = unified(backends, 'round_robin');
      const results = await u.reasonBatch(Array.from({ length: requests }, (_, i) => ({ encoding: encodingOf(1000 + i, 768), context: `item ${i}` })));
      return { strategy: 'round_robin', items: results.length, succeeded: results.filter((r) => r.success).length, by_engine: countBy(results.map((r) => r.engine)) };
    }
    case 'redundant': {
      const u = unified(backends, 'redundant');
      const r = await u.reason(encodingOf(7, 768), 'verify');
      return { engines: r.redundant?.results.map((x) => x.engine), agreement: r.redundant?.agreement ?? null, error: r.error };
    }
    case 'mtl': {
      // Two more teachers drawn from other seeds than the engines' 42, so that teachers can disagree.
      const signals: DisagreementSignal[] = [];
      const u = new UnifiedEngine({ disagreementThreshold: MTL_EXAMPLE_THRESHOLD, onDisagreement: (s) => signals.push(s), ...(connected ? { connected } : {}) });
      for (const b of [...backends, new LocalBackend('teacher-seed-7', 7), new LocalBackend('teacher-seed-1234', 1234)]) u.attach(b);
      const r = await u.mtlCoordinate(encodingOf(8, 768), 'mtl-example');
      return { teachers: r.teacher_outputs, disagreement: r.disagreement, threshold: MTL_EXAMPLE_THRESHOLD, disagreement_signals: signals, learning_rates: r.learning_rates, state_digest: r.state_digest, synchronized: r.synchronized };
    }
    case 'performance': {
      const per: Record<string, number> = {};
      for (const b of backends) {
        const u = unified([b]);
        const t0 = performance.now();
        for (let i = 0; i < requests; i++) await u.reason(encodingOf(2000 + i, 768), 'perf');
        per[b.name] = (performance.now() - t0) / requests;
      }
      const fastest = Math.min(...Object.values(per));
      return { mean_ms_per_request: per, relative_to_fastest: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, v / fastest])) };
    }
    case 'cache': {
      const u = unified(backends);
      const items = Array.from({ length: 50 }, (_, i) => ({ encoding: encodingOf(3000 + i, 768), context: 'cached' }));
      await u.reasonBatch(items);
      await u.reasonBatch(items);
      const before = u.getMetrics();
      await u.feedback(encodingOf(3000, 768), 0.5);
      await u.reasonBatch(items.slice(0, 10));
      const m = u.getMetrics();
      return { first_pass_misses: 50, after_repeat: { cache_hits: before['cache_hits'], cache_misses: before['cache_misses'] }, after_feedback: { cache_invalidations: m['cache_invalidations'], cache_misses: m['cache_misses'] } };
    }
    case 'monitoring': {
      const u = unified(backends, 'round_robin');
      await u.reasonBatch(Array.from({ length: 20 }, (_, i) => ({ encoding: encodingOf(4000 + (i % 10), 768) })));
      return { metrics: u.getMetrics(), status: u.getStatus() };
    }
  }
}
