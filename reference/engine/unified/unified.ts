/**
 * The unified engine (seeds 000/001, spec section engine): one reason() over several engines with a
 * selection strategy, an LRU result cache, failover, redundant verification, multi-teacher
 * coordination, metrics and status. Every call resolves exactly once (ENG-9): with a result, or
 * with success false and an error naming each engine tried.
 */
import { NDArray } from '../../codec/ndarray.js';
import { DEFAULT_LIMITS } from '../../../spec/generated/catalog.js';
import type { ReasonResult, StateAck, MtlResult } from '../engine.js';
import { EngineError } from '../errors.js';
import { initialState } from '../model.js';
import { stateDigest } from '../digest.js';
import type { EngineBackend, EngineLanguage } from './backend.js';
import { ResultCache } from './cache.js';
import { Selector, type Strategy } from './strategy.js';
import type { ErrorName } from '../../../spec/generated/catalog.js';
import { receivedCode, registryName, type ReceivedCode } from '../../codec/catalog.js';

/** One teacher's answer in a coordination round (MTL_COORDINATE's teacher_outputs). */
export interface TeacherOutput {
  teacher_id: string;
  confidence: number;
  spike_count: number;
}

/** Which engine a call prefers: any (by the strategy), a language first, or two engines compared (`redundant`). */
export type EngineHint = 'auto' | EngineLanguage | 'redundant';

/** One engine that was asked and failed, on the way to a result or an error. */
export interface Attempt {
  engine: string;
  code: ErrorName | ReceivedCode;
  message: string;
}

/** Why a unified call failed, with every engine it tried. */
export interface UnifiedError {
  code: ErrorName | ReceivedCode;
  message: string;
  /** TIMEOUT: the same call may be retried. */
  retryable: boolean;
  attempts: Attempt[];
}

/** The result of {@link UnifiedEngine.reason}: the answer of the engine that gave it, or the error (`success` false). */
export interface UnifiedResult {
  success: boolean;
  engine: string | null;
  confidence: number | null;
  spike_count: number | null;
  firing_pattern: NDArray | null;
  state_digest: string | null;
  /** End-to-end time of this call, cache and failover included. */
  latency_ms: number;
  cached: boolean;
  error: UnifiedError | null;
  /** The chosen engine's whole answer (what a service sends back as REASONING_RESPONSE). */
  result: ReasonResult | null;
  /** Redundant mode when both engines answered: both results, in the pair's order, and whether they agree exactly (ENG-11). */
  redundant?: { results: ReasonResult[]; agreement: boolean };
}

/** How a {@link UnifiedEngine} picks engines, caches results and waits. */
export interface UnifiedOptions {
  /** Selection strategy for `auto` calls (default `round_robin`). */
  strategy?: Strategy;
  /** Results kept in the LRU cache (default: the spec limit `engine_cache_max`). */
  cacheSize?: number;
  /** How long one engine may take to answer (default: the spec limit `engine_timeout_ms`). */
  timeoutMs?: number;
  /** Seed all engines start from (the cache keys on its digest; without it, on the first answer's). */
  seed?: number;
  /** Whether the broker connection is up (getStatus' ipc_server_running). */
  connected?: () => boolean;
  /** A coordination round whose disagreement exceeds this is reported to `onDisagreement` (default: never). */
  disagreementThreshold?: number;
  /** Called once per round whose disagreement exceeds `disagreementThreshold` (a service sends DISAGREEMENT_SIGNAL). */
  onDisagreement?: (signal: DisagreementSignal) => void;
}

/** A round whose teachers disagreed beyond the threshold: the DISAGREEMENT_SIGNAL payload. */
export interface DisagreementSignal {
  coordination_id: string;
  disagreement_score: number;
  threshold: number;
  teacher_ids: string[];
}

/** Input refusals are the same on every engine: failing over would not help (ENG-12). */
const INPUT_ERRORS: ReadonlySet<ErrorName | ReceivedCode> = new Set<ErrorName>(['INVALID_ARRAY', 'SCHEMA_VIOLATION', 'INVALID_PARAMS']);

function errorOf(e: unknown): { code: ErrorName | ReceivedCode; message: string } {
  const x = e as { code?: unknown; message?: unknown };
  const code: ErrorName | ReceivedCode = typeof x?.code === 'string' ? receivedCode(x.code) : 'INTERNAL';
  return { code, message: typeof x?.message === 'string' ? x.message : String(e) };
}

function toVector(encoding: NDArray | Float32Array | readonly number[]): NDArray {
  if (encoding instanceof NDArray) return encoding;
  return NDArray.from('<f4', [encoding.length], encoding);
}

/** Exact agreement of two results (ENG-11). */
export function agree(a: ReasonResult, b: ReasonResult): boolean {
  const pa = a.firing_pattern.data as ArrayLike<number | boolean>;
  const pb = b.firing_pattern.data as ArrayLike<number | boolean>;
  if (a.spike_count !== b.spike_count || a.confidence !== b.confidence || a.state_digest !== b.state_digest || pa.length !== pb.length) return false;
  for (let i = 0; i < pa.length; i++) if (Number(pa[i]) !== Number(pb[i])) return false;
  return true;
}

/** One `reason()` over several engines (ENG-10, ENG-11, ENG-12, ENG-13): a selection strategy, an LRU cache keyed on the state digest, failover, redundant verification and multi-teacher learning. */
export class UnifiedEngine {
  private readonly engines: EngineBackend[] = [];
  private readonly selectors = new Map<Strategy, Selector>();
  private readonly cache: ResultCache<ReasonResult>;
  private readonly timeoutMs: number;
  /** The engines' state digest as last learned: from a state change, else from the first answer. */
  private digest: string | undefined;
  private readonly counts = { total_reasoning: 0, python_reasoning: 0, cpp_reasoning: 0, typescript_reasoning: 0, failovers: 0, errors: 0, redundant_checks: 0, redundant_disagreements: 0, disagreement_signals: 0 };
  private latencySum = 0;
  private latencyN = 0;
  readonly strategy: Strategy;

  constructor(private readonly options: UnifiedOptions = {}) {
    this.strategy = options.strategy ?? 'round_robin';
    this.cache = new ResultCache(options.cacheSize ?? DEFAULT_LIMITS.engine_cache_max);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LIMITS.engine_timeout_ms;
    this.digest = options.seed !== undefined ? stateDigest(initialState(options.seed)) : undefined;
  }

  /** Adds an engine (names must differ); returns this engine for chaining. */
  attach(engine: EngineBackend): this {
    if (this.engines.some((e) => e.name === engine.name)) throw new RangeError(`engine ${engine.name} is attached already`);
    this.engines.push(engine);
    return this;
  }

  /** The attached engines, in attach order. */
  get attached(): readonly EngineBackend[] {
    return this.engines;
  }

  /** The digest every engine's state is expected to have (the cache keys on it). */
  get stateDigest(): string | undefined {
    return this.digest;
  }

  private selector(s: Strategy): Selector {
    let sel = this.selectors.get(s);
    if (!sel) this.selectors.set(s, (sel = new Selector(s)));
    return sel;
  }

  private live(): EngineBackend[] {
    const now = performance.now();
    return this.engines.filter((e) => e.live(now));
  }

  /** The engines to ask, in order, for a hint: a language puts its engines first. */
  private candidates(hint: EngineHint): EngineBackend[] {
    const live = this.live();
    if (hint === 'auto' || hint === 'redundant') return this.selector(hint === 'redundant' ? 'redundant' : this.strategy).order(live);
    return [...live.filter((e) => e.language === hint), ...live.filter((e) => e.language !== hint)];
  }

  /** Asks the first live engine the hint and strategy choose, failing over to the next on a connection-level failure; never throws (errors are in the result). */
  async reason(encoding: NDArray | Float32Array | readonly number[], context = '', engine: EngineHint = 'auto'): Promise<UnifiedResult> {
    const started = performance.now();
    const vector = toVector(encoding);
    const redundant = engine === 'redundant' || (engine === 'auto' && this.strategy === 'redundant');
    const key = this.digest === undefined ? undefined : ResultCache.key(vector, context, this.digest);
    this.counts.total_reasoning++;
    if (!redundant) {
      const hit = key !== undefined ? this.cache.get(key) : this.cache.miss();
      if (hit) return this.finish(started, hit, true);
    }
    const order = this.candidates(redundant ? 'redundant' : engine);
    try {
      if (redundant) return await this.reasonRedundant(started, vector, context, order);
      const result = await this.firstAnswer(vector, context, order);
      this.digest ??= result.state_digest;
      // Only a result of the state the key names is cached (an engine out of sync is not).
      if (result.state_digest === this.digest) this.cache.set(key ?? ResultCache.key(vector, context, this.digest), result);
      return this.finish(started, result, false);
    } catch (e) {
      return this.fail(started, e);
    }
  }

  /** Asks engines in order until one answers (ENG-12); input refusals and timeouts end the call. */
  private async firstAnswer(vector: NDArray, context: string, order: EngineBackend[]): Promise<ReasonResult> {
    const attempts: Attempt[] = [];
    if (order.length === 0) throw Object.assign(new EngineError('SERVICE_UNHEALTHY', 'no engine is attached and live'), { attempts });
    for (const [i, e] of order.entries()) {
      if (i > 0) this.counts.failovers++;
      const t0 = performance.now();
      try {
        const r = await e.reason(vector, context, this.timeoutMs);
        this.selector(this.strategy).latency.record(e.name, performance.now() - t0);
        this.countEngine(e.language);
        return r;
      } catch (err) {
        const { code, message } = errorOf(err);
        attempts.push({ engine: e.name, code, message });
        if (INPUT_ERRORS.has(code)) throw Object.assign(new EngineError(code as never, message), { attempts });
        if (registryName(code) === 'TIMEOUT') throw Object.assign(new EngineError('TIMEOUT', `engine ${e.name} did not answer within ${this.timeoutMs} ms; the call may be retried`, {}, true), { attempts });
        e.markFailed(performance.now());
      }
    }
    throw Object.assign(new EngineError('PEER_GONE', `every engine failed: ${attempts.map((a) => `${a.engine}: ${a.code} ${a.message}`).join('; ')}`), { attempts });
  }

  /** Two engines at once (ENG-11): both answers compared, the more confident one returned; one failing leaves the other's answer. */
  private async reasonRedundant(started: number, vector: NDArray, context: string, order: EngineBackend[]): Promise<UnifiedResult> {
    const pair = order.slice(0, 2);
    if (pair.length === 0) throw Object.assign(new EngineError('SERVICE_UNHEALTHY', 'redundant mode found no live engine'), { attempts: [] });
    const settled = await Promise.allSettled(pair.map((e) => e.reason(vector, context, this.timeoutMs)));
    const attempts: Attempt[] = [];
    settled.forEach((s, i) => {
      if (s.status === 'rejected') {
        attempts.push({ engine: pair[i]!.name, ...errorOf(s.reason) });
        pair[i]!.markFailed(performance.now());
      } else this.countEngine(pair[i]!.language);
    });
    if (attempts.length === pair.length) {
      // Both refused the input (INVALID_ARRAY, ...): that refusal, as firstAnswer gives it, not PEER_GONE.
      const refusal = attempts.find((a) => INPUT_ERRORS.has(a.code));
      if (refusal) throw Object.assign(new EngineError(refusal.code as never, refusal.message), { attempts });
      throw Object.assign(new EngineError('PEER_GONE', `redundant call failed: ${attempts.map((a) => `${a.engine}: ${a.code}`).join('; ')}`), { attempts });
    }
    const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    if (results.length === 1) {
      // One engine live, or one of the two failed: the survivor's answer (ENG-11).
      this.counts.failovers++;
      return this.finish(started, results[0]!, false);
    }
    const [a, b] = results as [ReasonResult, ReasonResult];
    const agreement = agree(a, b);
    this.counts.redundant_checks++;
    if (!agreement) this.counts.redundant_disagreements++;
    return { ...this.finish(started, b.confidence > a.confidence ? b : a, false), redundant: { results, agreement } };
  }

  private countEngine(language: EngineLanguage): void {
    this.counts[`${language}_reasoning`]++;
  }

  private finish(started: number, r: ReasonResult, cached: boolean): UnifiedResult {
    const latency = performance.now() - started;
    this.latencySum += latency;
    this.latencyN++;
    return { success: true, engine: r.engine, confidence: r.confidence, spike_count: r.spike_count, firing_pattern: r.firing_pattern, state_digest: r.state_digest, latency_ms: latency, cached, error: null, result: r };
  }

  private fail(started: number, e: unknown): UnifiedResult {
    this.counts.errors++;
    const { code, message } = errorOf(e);
    const attempts = (e as { attempts?: Attempt[] }).attempts ?? [];
    const retryable = e instanceof EngineError && e.retryable;
    return { success: false, engine: null, confidence: null, spike_count: null, firing_pattern: null, state_digest: null, latency_ms: performance.now() - started, cached: false, error: { code, message, retryable, attempts }, result: null };
  }

  /** Reasons over every item; results in item order, at most `concurrency` calls at once. */
  async reasonBatch(items: readonly { encoding: NDArray | Float32Array | readonly number[]; context?: string }[], engine: EngineHint = 'auto', concurrency = 32): Promise<UnifiedResult[]> {
    const results = new Array<UnifiedResult>(items.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const i = next++;
        results[i] = await this.reason(items[i]!.encoding, items[i]!.context ?? '', engine);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    return results;
  }

  /** Applies one state change to every engine; the cache is emptied and the new digest adopted (ENG-14). */
  private async everywhere<T extends StateAck | MtlResult>(op: (e: EngineBackend) => Promise<T>): Promise<{ acks: Record<string, T>; synchronized: boolean }> {
    this.cache.invalidate();
    // In the engines' order, whichever answers first: the first engine's ACK answers a change (section 16).
    const results = await Promise.all(this.engines.map((e) => op(e)));
    const acks: Record<string, T> = {};
    this.engines.forEach((e, i) => {
      acks[e.name] = results[i]!;
    });
    const digests = new Set(Object.values(acks).map((a) => a.state_digest));
    const first = Object.values(acks)[0];
    if (first) this.digest = first.state_digest;
    this.cache.invalidate();
    return { acks, synchronized: digests.size === 1 };
  }

  /** Sends FEEDBACK to every engine; `synchronized` says whether all report the same state digest. */
  async feedback(encoding: NDArray | Float32Array | readonly number[], reward: number, learningRate?: number): Promise<{ acks: Record<string, StateAck>; synchronized: boolean }> {
    const v = toVector(encoding);
    return this.everywhere((e) => e.feedback(v, reward, learningRate, this.timeoutMs));
  }

  /** Sends PARAMETER_SYNC to every engine; `synchronized` says whether all report the same state digest. */
  async parameterSync(parameters: Record<string, number>): Promise<{ acks: Record<string, StateAck>; synchronized: boolean }> {
    return this.everywhere((e) => e.parameterSync(parameters, this.timeoutMs));
  }

  /** Sends STATE_UPDATE to every engine (each must support it); `synchronized` says whether all report the same state digest. */
  async stateUpdate(layer: number, weights: NDArray, version: bigint): Promise<{ acks: Record<string, StateAck>; synchronized: boolean }> {
    return this.everywhere((e) => {
      if (!e.stateUpdate) throw new EngineError('UNSUPPORTED', `engine ${e.name} does not take STATE_UPDATE`);
      return e.stateUpdate(layer, weights, version, this.timeoutMs);
    });
  }

  /**
   * Multi-teacher learning: every engine answers the encoding as a teacher, then each applies the
   * MTL_COORDINATE update to the same outputs, so all states move together (ENG-8).
   */
  async mtlCoordinate(encoding: NDArray | Float32Array | readonly number[], coordinationId = `mtl-${Date.now()}`): Promise<{ teacher_outputs: TeacherOutput[]; disagreement: number; learning_rates: Record<string, number>; state_digest: string; synchronized: boolean; signalled: boolean }> {
    const v = toVector(encoding);
    const outputs = await Promise.all(this.engines.map(async (e) => {
      const r = await e.reason(v, 'mtl', this.timeoutMs);
      return { teacher_id: e.name, confidence: r.confidence, spike_count: r.spike_count };
    }));
    return { teacher_outputs: outputs, ...(await this.coordinate(coordinationId, outputs, v)) };
  }

  /**
   * One coordination round over given teacher outputs (a client's MTL loop): every engine applies the
   * update; a disagreement above the threshold is reported once through `onDisagreement`.
   */
  async coordinate(coordinationId: string, outputs: TeacherOutput[], encoding?: NDArray): Promise<{ disagreement: number; learning_rates: Record<string, number>; state_digest: string; state_version: bigint; synchronized: boolean; signalled: boolean }> {
    const { acks, synchronized } = await this.everywhere((e) => e.mtlCoordinate(coordinationId, outputs, encoding, this.timeoutMs));
    const first = Object.values(acks)[0];
    if (!first) throw new EngineError('SERVICE_UNHEALTHY', 'no engine is attached');
    const threshold = this.options.disagreementThreshold;
    const signalled = threshold !== undefined && first.disagreement > threshold;
    if (signalled) {
      this.counts.disagreement_signals++;
      this.options.onDisagreement?.({ coordination_id: coordinationId, disagreement_score: first.disagreement, threshold, teacher_ids: outputs.map((o) => o.teacher_id) });
    }
    return { disagreement: first.disagreement, learning_rates: first.learning_rates, state_digest: first.state_digest, state_version: first.state_version, synchronized, signalled };
  }

  /** Counters of calls, failovers, errors, redundant checks and the cache. */
  getMetrics(): Record<string, number> {
    return {
      ...this.counts,
      avg_latency_ms: this.latencyN ? this.latencySum / this.latencyN : 0,
      cache_hits: this.cache.hits, cache_misses: this.cache.misses, cache_invalidations: this.cache.invalidations, cache_evictions: this.cache.evictions,
    };
  }

  /** Which engines are live, by language, and the connection and cache state. */
  getStatus(): Record<string, unknown> {
    const now = performance.now();
    const live = (l: EngineLanguage): EngineBackend[] => this.engines.filter((e) => e.language === l && e.live(now));
    return {
      python_engine_active: live('python').length > 0,
      cpp_engines_active: live('cpp').length,
      typescript_engine_active: live('typescript').length > 0,
      ipc_server_running: this.options.connected?.() ?? false,
      connected_cpp_clients: live('cpp').length,
      cache_size: this.cache.size,
      cache_max: this.cache.maxSize,
      strategy: this.strategy,
      state_digest: this.digest,
      engines: this.engines.map((e) => ({ name: e.name, language: e.language, live: e.live(now) })),
    };
  }
}
