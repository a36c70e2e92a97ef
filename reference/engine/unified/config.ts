/**
 * EngineConfig: the seeds' switches for a unified engine service (python_enabled, cpp_enabled,
 * load_balancing as `strategy`, the cache size, the timeout), from flags or a configuration file
 * (`concord engine serve --unified --config FILE`, keys as the flags without `--`).
 */
import { DEFAULT_LIMITS, LIMITS } from '../../../spec/generated/catalog.js';
import type { EngineLanguage } from './backend.js';
import { STRATEGIES, type Strategy } from './strategy.js';

/** What a unified engine service runs with. */
export interface EngineConfig {
  /** Engines of each language are used only when enabled (all are by default). */
  python_enabled: boolean;
  cpp_enabled: boolean;
  typescript_enabled: boolean;
  strategy: Strategy;
  /** Results the LRU cache holds (0 turns it off). */
  cache_size: number;
  /** How long one engine may take to answer. */
  timeout_ms: number;
  /** MTL rounds above it send DISAGREEMENT_SIGNAL (none when absent). */
  disagreement_threshold?: number;
}

/** The settings of a unified service's configuration file, with the kind of each. */
export const ENGINE_CONFIG_KEYS = {
  host: 'string', port: 'string', id: 'string', token: 'string', engines: 'string', local: 'boolean', strategy: 'string', 'cache-size': 'string',
  'timeout-ms': 'string', 'disagreement-threshold': 'string', observers: 'string', 'python-enabled': 'boolean', 'cpp-enabled': 'boolean',
  'typescript-enabled': 'boolean', unified: 'boolean',
} as const;

/** A setting checked against the range of its limit in spec/limits.json. */
function integer(name: string, v: unknown, limit: 'engine_cache_max' | 'engine_timeout_ms'): number {
  const { min, max } = LIMITS.find((l) => l.name === limit)!;
  if (v === undefined) return DEFAULT_LIMITS[limit];
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`${name} ${String(v)} is not an integer ${min} to ${max}`);
  return n;
}

/** An EngineConfig from flag values (command line over configuration file); RangeError names a bad value. */
export function engineConfigOf(values: Record<string, string | boolean | undefined>): EngineConfig {
  const strategy = (values['strategy'] as string | undefined) ?? 'round_robin';
  if (!(STRATEGIES as readonly string[]).includes(strategy)) throw new RangeError(`strategy ${strategy} is not one of ${STRATEGIES.join(', ')}`);
  const t = values['disagreement-threshold'];
  const threshold = t === undefined ? undefined : Number(t);
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new RangeError(`disagreement-threshold ${String(t)} is not a number in [0, 1]`);
  return {
    python_enabled: values['python-enabled'] !== false, cpp_enabled: values['cpp-enabled'] !== false, typescript_enabled: values['typescript-enabled'] !== false,
    strategy: strategy as Strategy,
    cache_size: integer('cache-size', values['cache-size'], 'engine_cache_max'),
    timeout_ms: integer('timeout-ms', values['timeout-ms'], 'engine_timeout_ms'),
    ...(threshold !== undefined ? { disagreement_threshold: threshold } : {}),
  };
}

/** Whether engines of `language` are enabled. */
export const languageEnabled = (c: EngineConfig, language: EngineLanguage): boolean => c[`${language}_enabled`];
