/**
 * Engine selection (ENG-10). Each strategy orders the live engines for one call: the first is asked,
 * the rest are the failover order (ENG-12).
 */
import { DEFAULT_LIMITS } from '../../../spec/generated/catalog.js';
import type { EngineBackend, EngineLanguage } from './backend.js';

/** The selection strategies of a unified engine (ENG-10). */
export const STRATEGIES = ['round_robin', 'python_first', 'cpp_first', 'performance', 'redundant'] as const;
/** A selection strategy (see {@link STRATEGIES}). */
export type Strategy = (typeof STRATEGIES)[number];

/** Rotates a list so that index `k mod n` comes first. */
function rotate<T>(list: T[], k: number): T[] {
  if (list.length === 0) return list;
  const i = k % list.length;
  return [...list.slice(i), ...list.slice(0, i)];
}

/** Mean latency over the last `window` successful answers of each engine. */
export class LatencyWindow {
  private readonly samples = new Map<string, number[]>();
  constructor(readonly window = DEFAULT_LIMITS.engine_perf_window) {}

  record(engine: string, ms: number): void {
    const s = this.samples.get(engine) ?? [];
    s.push(ms);
    if (s.length > this.window) s.shift();
    this.samples.set(engine, s);
  }

  /** undefined when the engine has not answered yet. */
  mean(engine: string): number | undefined {
    const s = this.samples.get(engine);
    return s?.length ? s.reduce((a, b) => a + b, 0) / s.length : undefined;
  }
}

export class Selector {
  private calls = 0;
  private readonly groupCalls = new Map<string, number>();
  readonly latency = new LatencyWindow();

  constructor(readonly strategy: Strategy) {}

  private nextIn(group: string): number {
    const k = this.groupCalls.get(group) ?? 0;
    this.groupCalls.set(group, k + 1);
    return k;
  }

  /** The order in which to ask the live engines for this call (all of them, for failover). */
  order(live: EngineBackend[]): EngineBackend[] {
    const k = this.calls++;
    switch (this.strategy) {
      case 'round_robin':
        return rotate(live, k);
      case 'python_first':
      case 'cpp_first': {
        const lang: EngineLanguage = this.strategy === 'python_first' ? 'python' : 'cpp';
        const preferred = live.filter((e) => e.language === lang);
        const others = live.filter((e) => e.language !== lang);
        const toPreferred = k % 5 !== 4;
        const [first, second] = toPreferred ? [preferred, others] : [others, preferred];
        if (first.length === 0) return rotate(second, this.nextIn(toPreferred ? 'others' : 'preferred'));
        return [...rotate(first, this.nextIn(toPreferred ? 'preferred' : 'others')), ...second];
      }
      case 'performance': {
        const rank = (e: EngineBackend): number => this.latency.mean(e.name) ?? -1;
        // Array.prototype.sort is stable: ties keep attach order.
        return [...live].sort((a, b) => rank(a) - rank(b));
      }
      case 'redundant':
        return live;
    }
  }
}
