/** The unified engine over in-process engines: selection (ENG-10), cache (ENG-14), redundancy (ENG-11), metrics. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { NDArray } from '../../codec/ndarray.js';
import { Selector } from '../unified/strategy.js';
import { UnifiedEngine } from '../unified/unified.js';
import { LocalBackend } from '../unified/local.js';
import type { EngineBackend, EngineLanguage } from '../unified/backend.js';
import { encodingOf, toFloat, type EngineFixtures } from '../fixtures.js';
import { ReferenceEngine } from '../engine.js';

const FIXTURES = JSON.parse(readFileSync(new URL('../../../fixtures/engine/engine.json', import.meta.url), 'utf8')) as EngineFixtures;

/** Selection only reads name, language and liveness: plain descriptors are enough to count choices. */
function descriptors(spec: [string, EngineLanguage][]): EngineBackend[] {
  return spec.map(([name, language]) => ({ name, language, live: () => true }) as unknown as EngineBackend);
}

function tally(sel: Selector, engines: EngineBackend[], calls: number): Record<string, number> {
  const c: Record<string, number> = {};
  for (let i = 0; i < calls; i++) {
    const first = sel.order(engines)[0]!.name;
    c[first] = (c[first] ?? 0) + 1;
  }
  return c;
}

describe('strategies distribute as ENG-10 says', () => {
  const mixed = descriptors([['ts', 'typescript'], ['py', 'python'], ['cpp1', 'cpp'], ['cpp2', 'cpp']]);
  it('round_robin: one per call in attach order', () => {
    const sel = new Selector('round_robin');
    expect(sel.order(mixed).map((e) => e.name)).toEqual(['ts', 'py', 'cpp1', 'cpp2']);
    expect(sel.order(mixed).map((e) => e.name)).toEqual(['py', 'cpp1', 'cpp2', 'ts']);
    expect(tally(new Selector('round_robin'), mixed, 400)).toEqual({ ts: 100, py: 100, cpp1: 100, cpp2: 100 });
  });
  it('python_first: calls 0-3 of every 5 to python, call 4 to the others in turn', () => {
    expect(tally(new Selector('python_first'), mixed, 500)).toEqual({ py: 400, ts: 34, cpp1: 33, cpp2: 33 });
  });
  it('cpp_first: 80 % round robin over the C++ engines, 20 % over the rest', () => {
    expect(tally(new Selector('cpp_first'), mixed, 500)).toEqual({ cpp1: 200, cpp2: 200, ts: 50, py: 50 });
  });
  it('an empty preferred group gives way to the others', () => {
    expect(tally(new Selector('cpp_first'), descriptors([['a', 'typescript'], ['b', 'python']]), 10)).toEqual({ a: 5, b: 5 });
  });
  it('performance: engines without answers first, then the lowest mean over the window', () => {
    const sel = new Selector('performance');
    expect(sel.order(mixed)[0]!.name).toBe('ts');
    for (const [name, ms] of [['ts', 5], ['py', 3], ['cpp1', 9]] as const) sel.latency.record(name, ms);
    expect(sel.order(mixed).map((e) => e.name)).toEqual(['cpp2', 'py', 'ts', 'cpp1']);
    sel.latency.record('cpp2', 4);
    expect(sel.order(mixed)[0]!.name).toBe('py');
    for (let i = 0; i < 16; i++) sel.latency.record('py', 10); // the old 3 ms leaves the window of 16
    expect(sel.order(mixed)[0]!.name).toBe('cpp2');
  });
  it('failover order lists every live engine once', () => {
    const order = new Selector('python_first').order(mixed).map((e) => e.name);
    expect([...order].sort()).toEqual(['cpp1', 'cpp2', 'py', 'ts']);
  });
});

describe('unified engine over two in-process engines', () => {
  const two = (options: ConstructorParameters<typeof UnifiedEngine>[0] = {}): { u: UnifiedEngine; a: LocalBackend; b: LocalBackend } => {
    const a = new LocalBackend('a');
    const b = new LocalBackend('b');
    return { u: new UnifiedEngine(options).attach(a).attach(b), a, b };
  };

  it('answers with the reference result, and counts cache hits, misses and invalidations in getMetrics()', async () => {
    const { u } = two({ strategy: 'round_robin' });
    const enc = encodingOf(1, 768);
    const r1 = await u.reason(enc, 'ctx');
    const r2 = await u.reason(enc, 'ctx');
    const r3 = await u.reason(enc, 'other context');
    expect(r1).toMatchObject({ success: true, cached: false, error: null });
    expect(r2.cached).toBe(true);
    expect(r3.cached).toBe(false);
    const direct = new ReferenceEngine('x').reason(NDArray.from('<f4', [768], enc));
    expect(r2.spike_count).toBe(direct.spike_count);
    expect(r2.confidence).toBe(direct.confidence);
    expect(u.getMetrics()).toMatchObject({ total_reasoning: 3, cache_hits: 1, cache_misses: 2, cache_invalidations: 0 });
    const sync = await u.feedback(enc, 1);
    expect(sync.synchronized).toBe(true);
    expect(u.getMetrics()['cache_invalidations']).toBe(2);
    const r4 = await u.reason(enc, 'ctx');
    expect(r4.cached).toBe(false);
    expect(r4.state_digest).toBe(sync.acks['a']!.state_digest);
    expect(u.getStatus()).toMatchObject({ cache_size: 1, typescript_engine_active: true, python_engine_active: false, cpp_engines_active: 0 });
  });

  it('evicts the least recently used entry beyond the cache size', async () => {
    const { u } = two({ cacheSize: 2 });
    const [x, y, z] = [encodingOf(1, 8), encodingOf(2, 8), encodingOf(3, 8)];
    await u.reason(x);
    await u.reason(y);
    expect((await u.reason(x)).cached).toBe(true); // x is now the most recent
    await u.reason(z); // evicts y
    expect((await u.reason(x)).cached).toBe(true);
    expect((await u.reason(y)).cached).toBe(false);
    expect(u.getMetrics()['cache_evictions']).toBe(2);
    expect(u.getStatus()['cache_size']).toBe(2);
  });

  it('redundant mode agrees on every fixture encoding, and disagrees once one engine is perturbed', async () => {
    const { u, b } = two({ strategy: 'redundant' });
    const encodings = FIXTURES.scenarios[0]!.steps.map((s) => (s as { encoding: (number | string)[] }).encoding.map(toFloat));
    for (const e of encodings) {
      const r = await u.reason(e);
      expect(r.redundant?.agreement).toBe(true);
      expect(r.redundant?.results.map((x) => x.engine)).toEqual(['a', 'b']);
    }
    b.engine.parameterSync({ 'threshold.layer2': 1_000 });
    const verdicts = await Promise.all(encodings.map(async (e) => (await u.reason(e)).redundant!.agreement));
    expect(verdicts.every((v) => v === false)).toBe(true); // the digests differ, whatever the spikes
    expect(u.getMetrics()).toMatchObject({ redundant_checks: encodings.length * 2, redundant_disagreements: encodings.length });
  });

  it('refuses a non-finite encoding once, without failing over (ENG-12)', async () => {
    const { u } = two();
    const r = await u.reason([1, Number.NaN]);
    expect(r).toMatchObject({ success: false, error: { code: 'INVALID_ARRAY', retryable: false } });
    expect(r.error!.attempts).toHaveLength(1);
    expect(u.getMetrics()['failovers']).toBe(0);
  });

  it('in redundant mode, a non-finite encoding both engines refuse fails with their INVALID_ARRAY, not PEER_GONE', async () => {
    const { u } = two();
    const r = await u.reason([1, Number.NaN], '', 'redundant');
    expect(r).toMatchObject({ success: false, error: { code: 'INVALID_ARRAY', retryable: false } });
    expect(r.error!.attempts.map((a) => a.code)).toEqual(['INVALID_ARRAY', 'INVALID_ARRAY']);
  });

  it('reasonBatch keeps item order under concurrency', async () => {
    const { u } = two();
    const items = Array.from({ length: 100 }, (_, i) => ({ encoding: encodingOf(500 + i, 64) }));
    const results = await u.reasonBatch(items, 'auto', 8);
    const ref = new ReferenceEngine('r');
    results.forEach((r, i) => expect(r.spike_count).toBe(ref.reason(NDArray.from('<f4', [64], items[i]!.encoding)).spike_count));
    expect(u.getMetrics()['typescript_reasoning']).toBe(100);
  });

  it('MTL coordination moves every engine to the same state', async () => {
    const { u, a, b } = two();
    const r = await u.mtlCoordinate(encodingOf(9, 768), 'round-1');
    expect(r.synchronized).toBe(true);
    expect(a.engine.stateDigest).toBe(b.engine.stateDigest);
    expect(r.teacher_outputs).toHaveLength(2);
    expect(r.disagreement).toBe(0);
  });
});

describe('redundant mode with a failing or disagreeing engine (ENG-11)', () => {
  /** A local engine that fails every reason() with a connection-level error. */
  class Dead extends LocalBackend {
    override async reason(): Promise<never> {
      throw Object.assign(new Error('gone'), { code: 'PEER_GONE' });
    }
  }
  const enc = NDArray.from('<f4', [768], encodingOf(5, 768));

  it('one engine of the pair failing gives the other\'s result, without a comparison, counted as a failover', async () => {
    for (const order of [['dead', 'live'], ['live', 'dead']]) {
      const u = new UnifiedEngine({ strategy: 'redundant' });
      for (const name of order) u.attach(name === 'dead' ? new Dead(name) : new LocalBackend(name));
      const r = await u.reason(enc);
      expect(r.success, JSON.stringify(r.error)).toBe(true);
      expect(r.engine).toBe('live');
      expect(r.redundant).toBeUndefined();
      expect(u.getMetrics()['failovers']).toBe(1);
    }
  });
  it('both failing fails the call, naming both', async () => {
    const r = await new UnifiedEngine({ strategy: 'redundant' }).attach(new Dead('x')).attach(new Dead('y')).reason(enc);
    expect(r.success).toBe(false);
    expect(r.error!.attempts.map((a) => a.engine)).toEqual(['x', 'y']);
  });
  it('a single engine answers alone', async () => {
    const r = await new UnifiedEngine({ strategy: 'redundant' }).attach(new LocalBackend('only')).reason(enc);
    expect([r.success, r.engine, r.redundant]).toEqual([true, 'only', undefined]);
  });
  it('disagreeing engines: the more confident answer, ties to the first of the pair', async () => {
    const a = new LocalBackend('a');
    const b = new LocalBackend('b');
    const u = new UnifiedEngine({ strategy: 'redundant' }).attach(a).attach(b);
    const tie = await u.reason(enc);
    expect([tie.engine, tie.redundant?.agreement]).toEqual(['a', true]);
    b.engine.parameterSync({ 'threshold.layer2': -100_000_000 }); // every output neuron of b fires: confidence 1
    const r = await u.reason(NDArray.from('<f4', [768], encodingOf(6, 768)));
    expect(r.redundant?.agreement).toBe(false);
    expect(r.redundant?.results.map((x) => x.engine)).toEqual(['a', 'b']);
    expect(r.engine).toBe(r.redundant!.results[1]!.confidence > r.redundant!.results[0]!.confidence ? 'b' : 'a');
    expect(r.confidence).toBe(1);
  });
});
