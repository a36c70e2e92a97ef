/**
 * The engine suite (spec section engine): an engine peer under test on stdio (`--exec -- CMD`)
 * reproduces every scenario of fixtures/engine/ bit for bit, reaches the reference's digests after
 * a seeded random FEEDBACK sequence, and behind the unified engine (next to the in-process
 * TypeScript engine) is selected as the strategies say, with cache hits, misses and invalidations
 * visible in the metrics.
 */
import { readFileSync } from 'node:fs';
import { NDArray } from '../../reference/codec/ndarray.js';
import { messageByName } from '../../reference/codec/catalog.js';
import { repoFile } from '../../reference/paths.js';
import { requestOf, stepDiff, encodingOf, layerWeights, ReferenceEngine, WEIGHT_LIMIT, LocalBackend, UnifiedEngine, Xorshift32, type EngineFixtures, type ReasonResult, type StateAck, type MtlResult, type EngineBackend, type EngineLanguage, type TeacherConfidence } from '../oracle.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext, TesteeSession } from './context.js';
import { engineMessageCases, resultMismatch } from './engine-messages.cases.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { registryName } from '../../reference/codec/catalog.js';
import type { OpenReceiver } from './receiver.cases.js';

const fixtures = (): EngineFixtures => JSON.parse(readFileSync(repoFile('fixtures/engine/engine.json'), 'utf8')) as EngineFixtures;

/** Starts the peer and checks it declares the engine feature (ENG-17). */
export async function engineSession(ctx: CaseContext, options: { json?: boolean } = {}): Promise<TesteeSession> {
  const s = await ctx.testee('engine', options);
  const features = (s.init['features'] as string[] | undefined) ?? [];
  if (!features.includes('engine')) throw new CaseSkipped('the peer does not declare the feature engine');
  return s;
}

/** An engine as the receiver of the harness's frames (receiver.cases.ts): an engine session, its INIT_ACK choosing as asked. */
export const openEngine: OpenReceiver = async (ctx, ack) => {
  const s = await engineSession(ctx, { json: ack === 'json' });
  if (ack === 'cbor' && !s.encodings.includes('cbor')) throw new CaseSkipped('the engine does not offer cbor in its INIT');
  return { conn: s.conn, init: s.init };
};

/** One request to the peer and its answer (response or ERROR with re = the request's id). */
export async function ask(ctx: CaseContext, s: TesteeSession, type: MessageName, payload: unknown, id: string): Promise<{ name: MessageName; payload: unknown }> {
  s.conn.send({ type, header: { id }, payload } as never);
  const want = messageByName(type).response!;
  const m = await ctx.expectMessage(s.conn, `${want} or ERROR with re=${id}`, (x) => (x.name === want || x.name === 'ERROR') && x.header.re === id);
  return { name: m.name, payload: m.payload };
}

/** The peer as a backend of the unified engine, over its stdio connection. */
class PeerBackend implements EngineBackend {
  private n = 0;
  constructor(private readonly ctx: CaseContext, private readonly s: TesteeSession, readonly name: string, readonly language: EngineLanguage) {}
  live(): boolean {
    return true;
  }
  markFailed(): void {}
  private async call<T>(type: MessageName, payload: unknown): Promise<T> {
    const a = await ask(this.ctx, this.s, type, payload, `u${++this.n}`);
    if (a.name === 'ERROR') throw Object.assign(new Error((a.payload as { message: string }).message), { code: (a.payload as { code: string }).code });
    return a.payload as T;
  }
  reason(encoding: NDArray, context: string): Promise<ReasonResult> {
    return this.call('REASONING_REQUEST', { encoding, context, source: 'conformance' });
  }
  feedback(encoding: NDArray, reward: number): Promise<StateAck> {
    return this.call('FEEDBACK', { encoding, reward });
  }
  parameterSync(parameters: Record<string, number>): Promise<StateAck> {
    return this.call('PARAMETER_SYNC', { parameters });
  }
  mtlCoordinate(id: string, teachers: TeacherConfidence[], encoding: NDArray | undefined): Promise<MtlResult> {
    return this.call('MTL_COORDINATE', { coordination_id: id, teacher_outputs: teachers.map((t) => ({ ...t, spike_count: 0 })), ...(encoding ? { encoding } : {}) });
  }
}

function peerLanguage(s: TesteeSession): EngineLanguage {
  const l = s.init['language'];
  return l === 'python' || l === 'cpp' ? l : 'typescript';
}

const scenarioCases = (): Case[] => fixtures().scenarios.map((sc) => defineCase({
  id: `engine/fixtures/${sc.id.replace('/', '-')}`,
  statements: sc.spec.includes('ENG-1') ? ['ENG-1', ...sc.spec.filter((x) => x !== 'ENG-1')] : sc.spec,
  async run(ctx) {
    const s = await engineSession(ctx);
    for (const [i, step] of sc.steps.entries()) {
      const req = requestOf(step);
      const diff = stepDiff(step, await ask(ctx, s, req.type, req.payload, `step-${i}`));
      if (diff) throw new CaseFailure(`scenario ${sc.id}, step ${i} (${step.op}): ${diff}`);
    }
  },
}));

export function engineCases(): Case[] {
  return [
    defineCase({
      id: 'engine/initial-digest',
      statements: ['ENG-4', 'ENG-17'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const a = await ask(ctx, s, 'REASONING_REQUEST', { encoding: NDArray.from('<f4', [1], [0]), context: '', source: 'conformance' }, 'd');
        const digest = (a.payload as { state_digest?: string }).state_digest;
        if (digest !== fixtures().initial_digest) throw new CaseFailure('the digest of a fresh engine (seed 42) differs', fixtures().initial_digest, String(digest));
      },
    }),
    ...scenarioCases(),
    defineCase({
      id: 'engine/random-feedback-digests-agree',
      statements: ['ENG-3', 'ENG-4'],
      async run(ctx) {
        // A FEEDBACK sequence drawn from the run's seed (replay with --seed): the peer's digest after each must equal the reference's.
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const rng = new Xorshift32(ctx.seed >>> 0 || 1);
        for (let i = 0; i < 12; i++) {
          const n = 1 + (rng.next() % 1024);
          const e = NDArray.from('<f4', [n], encodingOf(rng.next(), n));
          const reward = ((rng.next() % 513) - 256) / 256;
          const lr = rng.next() % 3 === 0 ? (1 + (rng.next() % 65536)) / 65536 : undefined;
          const want = ref.feedback(e, reward, lr);
          const a = await ask(ctx, s, 'FEEDBACK', { encoding: e, reward, ...(lr !== undefined ? { learning_rate: lr } : {}) }, `fb-${i}`);
          const got = a.payload as { state_digest?: string; state_version?: bigint };
          if (a.name !== 'ACK' || got.state_digest !== want.state_digest) throw new CaseFailure(`digest after FEEDBACK ${i} (seed ${ctx.seed}, reward ${reward}, learning_rate ${lr}) differs from the reference`, want.state_digest, String(got.state_digest ?? a.name));
        }
      },
    }),
    defineCase({
      id: 'engine/unknown-parameter-named',
      statements: ['ENG-6'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const a = await ask(ctx, s, 'PARAMETER_SYNC', { parameters: { 'threshold.layer9': 1 } }, 'p');
        const p = a.payload as { code?: string; details?: { param?: string } };
        if (a.name !== 'ERROR' || registryName(p.code) !== 'INVALID_PARAMS' || p.details?.param !== 'threshold.layer9') {
          throw new CaseFailure('an unknown parameter must be refused with INVALID_PARAMS naming it in details.param', 'ERROR INVALID_PARAMS param threshold.layer9', JSON.stringify(a));
        }
      },
    }),
    defineCase({
      id: 'engine/unified-strategies-distribute',
      statements: ['ENG-10', 'ENG-15'],
      async run(ctx) {
        // The peer and the in-process engine behind one unified engine: 20 calls per strategy.
        const s = await engineSession(ctx);
        const language = peerLanguage(s);
        const peer = new PeerBackend(ctx, s, 'peer', language);
        const expectations: [ConstructorParameters<typeof UnifiedEngine>[0] & object, Record<string, number>][] = [
          [{ strategy: 'round_robin', cacheSize: 0 }, { typescript: 10, peer: 10 }],
          [{ strategy: 'python_first', cacheSize: 0 }, language === 'python' ? { peer: 16, typescript: 4 } : { typescript: 10, peer: 10 }],
          [{ strategy: 'cpp_first', cacheSize: 0 }, language === 'cpp' ? { peer: 16, typescript: 4 } : { typescript: 10, peer: 10 }],
        ];
        for (const [options, want] of expectations) {
          const u = new UnifiedEngine(options).attach(new LocalBackend('harness-local')).attach(peer);
          const got: Record<string, number> = {};
          for (let i = 0; i < 20; i++) {
            const r = await u.reason(encodingOf(i + 1, 64), 'strategy');
            if (!r.success) throw new CaseFailure(`call ${i} under ${options.strategy} failed: ${r.error?.code} ${r.error?.message}`);
            const who = r.engine === 'harness-local' ? 'typescript' : 'peer';
            got[who] = (got[who] ?? 0) + 1;
          }
          if (JSON.stringify(got, Object.keys(want).sort()) !== JSON.stringify(want, Object.keys(want).sort())) {
            throw new CaseFailure(`${options.strategy} distributed 20 calls wrongly (peer language ${language})`, JSON.stringify(want), JSON.stringify(got));
          }
          const m = u.getMetrics();
          if (m[`${language}_reasoning`]! < (language === 'typescript' ? 20 : want['peer']!)) throw new CaseFailure(`getMetrics() does not count the peer's answers under ${language}_reasoning`, String(want['peer']), String(m[`${language}_reasoning`]));
        }
      },
    }),
    defineCase({
      id: 'engine/unified-cache-metrics',
      statements: ['ENG-14', 'ENG-15', 'ENG-11'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const peer = new PeerBackend(ctx, s, 'peer', peerLanguage(s));
        const local = new LocalBackend('harness-local');
        const u = new UnifiedEngine({ strategy: 'round_robin' }).attach(peer).attach(local);
        const enc = encodingOf(77, 768);
        const first = await u.reason(enc, 'c');
        const second = await u.reason(enc, 'c');
        if (!first.success || first.cached || !second.cached) throw new CaseFailure('the repeated call is not a cache hit', 'miss then hit', `${first.cached} then ${second.cached}`);
        const sync = await u.feedback(enc, 0.75);
        if (!sync.synchronized) throw new CaseFailure('after the same FEEDBACK the peer and the reference report different digests', sync.acks['harness-local']!.state_digest, sync.acks['peer']!.state_digest);
        const third = await u.reason(enc, 'c');
        const m = u.getMetrics();
        if (third.cached || m['cache_hits'] !== 1 || m['cache_misses'] !== 2 || m['cache_invalidations'] !== 1) {
          throw new CaseFailure('hits, misses and invalidations in getMetrics() are not 1, 2, 1', '{hits 1, misses 2, invalidations 1}', JSON.stringify(m));
        }
        const red = await new UnifiedEngine({ strategy: 'redundant' }).attach(peer).attach(local).reason(enc, 'r');
        if (red.redundant?.agreement !== true) throw new CaseFailure('redundant mode over the peer and the reference does not agree', 'agreement true', JSON.stringify(red.error ?? red.redundant?.results.map((r) => r.spike_count)));
      },
    }),
    ...engineLimitCases(),
    ...engineMessageCases(),
  ];
}

// ---- Limits, edges and phases of section 16 the fixtures leave out ----------------------------------

type Answer = { name: MessageName; payload: unknown };
const fields = (a: Answer): Record<string, unknown> => (a.payload ?? {}) as Record<string, unknown>;
const shown = (a: Answer): string => (a.name === 'ERROR' ? `ERROR ${String(fields(a)['code'])} (${String(fields(a)['message'])})` : a.name);
const f32 = (values: number[]): NDArray => NDArray.from('<f4', [values.length], values);
const seeded = (seed: number, length: number): NDArray => f32(encodingOf(seed, length));
const versionOf = (a: Answer): string => String(fields(a)['state_version']);

/** Where a REASONING_RESPONSE differs from the reference engine's result on the same state (resultMismatch, then the activations), or null. */
function reasonMismatch(a: Answer, want: ReasonResult): string | null {
  if (a.name !== 'REASONING_RESPONSE') return `${shown(a)} instead of REASONING_RESPONSE`;
  const p = fields(a);
  const m = resultMismatch(p as unknown as ReasonResult, want);
  if (m) return m;
  const acts = p['activations'];
  const gotActs = acts instanceof NDArray ? Array.from(acts.data as ArrayLike<number>) : [];
  const wantActs = Array.from(want.activations.data as ArrayLike<number>);
  const k = wantActs.findIndex((v, i) => !Object.is(gotActs[i], v));
  if (k >= 0 || gotActs.length !== wantActs.length) return `/activations differ from element ${k < 0 ? wantActs.length : k}`;
  return null;
}

/** Where an ACK differs from the reference's state after the same change, or null. */
function ackMismatch(a: Answer, want: StateAck): string | null {
  if (a.name !== 'ACK') return `${shown(a)} instead of ACK`;
  const p = fields(a);
  if (p['state_digest'] !== want.state_digest) return `/state_digest ${String(p['state_digest'])}, expected ${want.state_digest}`;
  if (p['state_version'] === undefined || BigInt(p['state_version'] as bigint) !== want.state_version) return `/state_version ${versionOf(a)}, expected ${want.state_version}`;
  return null;
}

/** A layer's weights drawn from `seed` (as the fixtures draw them), with `edits` (index, value) applied. */
function weightsWith(layer: number, seed: number, edits: [number, number][], shape?: number[], dtype = '<i4'): NDArray {
  const base = layerWeights(layer, seed);
  const data = Array.from(base.data as Int32Array);
  for (const [i, v] of edits) data[i < 0 ? data.length + i : i] = v;
  return NDArray.from(dtype, shape ?? [...base.shape], data);
}

const LIMIT = WEIGHT_LIMIT;

export function engineLimitCases(): Case[] {
  return [
    defineCase({
      id: 'engine/state-update-limits',
      statements: ['ENG-5'],
      async run(ctx) {
        // Weights at +-1048576 are taken; one past, a layer above 2, float32 weights or a transposed
        // matrix (the same element count) are refused INVALID_PARAMS naming the field, changing nothing.
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const v = ctx.verdict();
        const probe = seeded(61, 256);
        const atLimit = weightsWith(2, 11, [[0, LIMIT], [-1, -LIMIT], [4097, LIMIT]]);
        const taken = await ask(ctx, s, 'STATE_UPDATE', { layer: 2, weights: atLimit, state_version: 7n }, 'su-limit');
        const wantTaken = ref.stateUpdate(2, atLimit, 7n);
        const d = ackMismatch(taken, wantTaken);
        v.check(d === null, 'ENG-5', `a STATE_UPDATE of layer 2 whose weights include exactly ${LIMIT} and -${LIMIT} (the limits, inside the range) must be applied and answered ACK with the digest after it and state_version 7: ${d}`, `ACK ${wantTaken.state_digest} version 7`, shown(taken));
        const refusals: [string, Record<string, unknown>, string][] = [
          ['a weight of 1048577 (one past the limit) at the last index of layer 2', { layer: 2, weights: weightsWith(2, 12, [[-1, LIMIT + 1]]), state_version: 8n }, 'weights'],
          ['a weight of -1048577 at index 0 of layer 1', { layer: 1, weights: weightsWith(1, 13, [[0, -LIMIT - 1]]), state_version: 9n }, 'weights'],
          ['layer 3 (above 2) with weights shaped as layer 2', { layer: 3, weights: weightsWith(2, 14, []), state_version: 10n }, 'layer'],
          ['float32 weights of layer 0 (integral values)', { layer: 0, weights: weightsWith(0, 15, [], undefined, '<f4'), state_version: 11n }, 'weights'],
          ['layer 1 weights transposed to [512, 256] (the element count of [256, 512])', { layer: 1, weights: weightsWith(1, 16, [], [512, 256]), state_version: 12n }, 'weights'],
        ];
        for (const [i, [what, payload, param]] of refusals.entries()) {
          const a = await ask(ctx, s, 'STATE_UPDATE', payload, `su-bad-${i}`);
          const p = fields(a);
          const got = a.name === 'ERROR' ? `ERROR ${String(p['code'])} details.param ${String((p['details'] as { param?: unknown } | undefined)?.param)}` : shown(a);
          v.check(a.name === 'ERROR' && registryName(p['code']) === 'INVALID_PARAMS' && (p['details'] as { param?: unknown } | undefined)?.param === param, 'ENG-5',
            `${what} must be refused with ERROR INVALID_PARAMS, details.param ${param}`, `ERROR INVALID_PARAMS details.param ${param}`, got);
          const r = await ask(ctx, s, 'REASONING_REQUEST', { encoding: probe, context: '', source: 'conformance' }, `su-probe-${i}`);
          const m = reasonMismatch(r, ref.reason(probe));
          v.check(m === null, 'ENG-5', `after the refusal of ${what} the state must be unchanged (reasoning on it: ${m})`, 'the state of the last accepted STATE_UPDATE', m ?? '');
        }
        // The version too: a FEEDBACK of reward 0 changes no weight and adds 1 to the version of the last accepted update.
        const fb = await ask(ctx, s, 'FEEDBACK', { encoding: probe, reward: 0 }, 'su-version');
        const wantFb = ref.feedback(probe, 0);
        const f = ackMismatch(fb, wantFb);
        v.check(f === null, 'ENG-5', `refused STATE_UPDATEs must leave the weights and the version as the accepted one set them (version 7: a FEEDBACK of reward 0 after them gives 8 and the same digest): ${f}`, `ACK version ${wantFb.state_version}`, fb.name === 'ACK' ? `version ${versionOf(fb)}` : shown(fb));
        v.done();
      },
    }),
    defineCase({
      id: 'engine/feedback-learning-rate-edges',
      statements: ['ENG-3', 'ENG-4'],
      async run(ctx) {
        // learning_rate at its ends: below 1/65536 l_q is max(1, 0) = 1 (a negative reward still lowers
        // weights by floor(r_q / 256) = -1), exactly 1 gives 65536; rewards at -1, 1 and +-1/256. The
        // edge pairs come first, then pairs drawn from them by the run's seed (replay with --seed).
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const rates = [1e-6, 0.5 / 65536, 1 / 65536, 1, 65535 / 65536, 0.75];
        const rewards = [-0.5, 1, -1, -1 / 256, 1 / 256, 0.99609375];
        const pairs: [number, number][] = [[1e-6, -0.5], [1e-6, 1], [0.5 / 65536, -1], [0.5 / 65536, -1 / 256], [1, 1], [1, -1], [1 / 65536, -0.5]];
        const rng = new Xorshift32(ctx.seed >>> 0 || 1);
        for (let i = 0; i < 6; i++) pairs.push([rates[rng.next() % rates.length]!, rewards[rng.next() % rewards.length]!]);
        for (const [i, [lr, reward]] of pairs.entries()) {
          const e = seeded(700 + i, 64 + i * 37);
          const want = ref.feedback(e, reward, lr);
          const a = await ask(ctx, s, 'FEEDBACK', { encoding: e, reward, learning_rate: lr }, `lr-${i}`);
          const d = ackMismatch(a, want);
          if (d) throw new CaseFailure(`[ENG-3] FEEDBACK ${i} (seed ${ctx.seed}) with learning_rate ${lr} (l_q = max(1, floor(l x 65536)) = ${Math.max(1, Math.floor(lr * 65536))}) and reward ${reward} (r_q ${Math.floor(reward * 256)}, delta ${Math.floor((Math.floor(reward * 256) * Math.max(1, Math.floor(lr * 65536))) / 256)}): ${d}`, `ACK ${want.state_digest} version ${want.state_version}`, a.name === 'ACK' ? `ACK ${String(fields(a)['state_digest'])} version ${versionOf(a)}` : shown(a));
        }
      },
    }),
    defineCase({
      id: 'engine/mtl-rates-follow-learning-rate',
      statements: ['ENG-8', 'MTL-2'],
      async run(ctx) {
        // b = lr_q / 65536 is the state's learning rate as PARAMETER_SYNC set it (not the default 655),
        // each rate clamped to [0, 1] (at 0.75 and 1 a less confident teacher's rate passes 1), and the
        // update on the encoding runs at that rate.
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const v = ctx.verdict();
        const rounds: [number, number[], NDArray | undefined][] = [
          [0.75, [0, 1, 0.25], seeded(801, 128)],
          [1, [0.5, 0.5], seeded(802, 64)],
          [0.0001, [0.125, 0.875, 0.5, 0.25], undefined],
          [0.5, [1, 0, 0.75], seeded(803, 300)],
        ];
        for (const [k, [lr, confidences, encoding]] of rounds.entries()) {
          const sync = await ask(ctx, s, 'PARAMETER_SYNC', { parameters: { learning_rate: lr } }, `mtl-lr-${k}`);
          const wantSync = ref.parameterSync({ learning_rate: lr });
          const ds = ackMismatch(sync, wantSync);
          if (ds) { v.fail('ENG-6', `PARAMETER_SYNC learning_rate ${lr}: ${ds}`); break; }
          const teachers = confidences.map((c, i) => ({ teacher_id: `teacher-${k}-${i}`, confidence: c }));
          const want = ref.mtlCoordinate(`lr-round-${k}`, teachers, encoding);
          const a = await ask(ctx, s, 'MTL_COORDINATE', { coordination_id: `lr-round-${k}`, teacher_outputs: teachers.map((t) => ({ ...t, spike_count: 3 })), ...(encoding ? { encoding } : {}) }, `mtl-round-${k}`);
          if (a.name !== 'TEACHER_SYNC') { v.fail('ENG-8', `round ${k} (learning_rate ${lr}): ${shown(a)} instead of TEACHER_SYNC`); continue; }
          const p = fields(a);
          const rates = (p['learning_rates'] ?? {}) as Record<string, number>;
          const wrong = teachers.filter((t) => rates[t.teacher_id] !== want.learning_rates[t.teacher_id]);
          v.check(wrong.length === 0, 'ENG-8', `round ${k} after PARAMETER_SYNC learning_rate ${lr} (b = lr_q / 65536 = ${Math.max(1, Math.floor(lr * 65536)) / 65536}), confidences ${JSON.stringify(confidences)}: each teacher's rate must be clamp(b x (1 + (m - c)), 0, 1)`,
            JSON.stringify(wrong.map((t) => want.learning_rates[t.teacher_id])), JSON.stringify(wrong.map((t) => rates[t.teacher_id])));
          v.check(p['teacher_count'] === teachers.length, 'MTL-2', `round ${k}: /teacher_count must be ${teachers.length}`, String(teachers.length), String(p['teacher_count']));
          v.check(typeof p['disagreement'] === 'number' && Math.fround(p['disagreement']) === want.disagreement, 'ENG-8', `round ${k}: /disagreement must be D rounded to float32`, String(want.disagreement), String(p['disagreement']));
          const da = ackMismatch({ name: 'ACK', payload: p }, want);
          v.check(da === null, 'ENG-8', `round ${k}${encoding ? ' (with an encoding: one update at the state\'s learning rate)' : ''}: the digest and version after it: ${da}`, `${want.state_digest} version ${want.state_version}`, `${String(p['state_digest'])} version ${versionOf(a)}`);
        }
        v.done();
      },
    }),
    defineCase({
      id: 'engine/reason-after-each-change',
      statements: ['ENG-2', 'ENG-8', 'ENG-3', 'ENG-5', 'ENG-6'],
      async run(ctx) {
        // The same encoding and context asked twice before and after every kind of change: an engine
        // that keeps results (a cache) must not answer from before a change, whichever request made it.
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const e = seeded(901, 192);
        const changes: [string, MessageName, Record<string, unknown>, () => StateAck | undefined, string][] = [
          ['FEEDBACK of reward 0.5', 'FEEDBACK', { encoding: e, reward: 0.5 }, () => ref.feedback(e, 0.5), 'ENG-3'],
          ['MTL_COORDINATE with the encoding (teachers 0.125 and 0.875)', 'MTL_COORDINATE', { coordination_id: 'fresh-1', teacher_outputs: [{ teacher_id: 'a', confidence: 0.125, spike_count: 1 }, { teacher_id: 'b', confidence: 0.875, spike_count: 2 }], encoding: e },
            () => ref.mtlCoordinate('fresh-1', [{ teacher_id: 'a', confidence: 0.125 }, { teacher_id: 'b', confidence: 0.875 }], e), 'ENG-8'],
          ['PARAMETER_SYNC threshold.layer2', 'PARAMETER_SYNC', { parameters: { 'threshold.layer2': 3000 } }, () => ref.parameterSync({ 'threshold.layer2': 3000 }), 'ENG-6'],
          ['MTL_COORDINATE with the encoding (teachers 1, 0 and 0.5)', 'MTL_COORDINATE', { coordination_id: 'fresh-2', teacher_outputs: [{ teacher_id: 'a', confidence: 1, spike_count: 1 }, { teacher_id: 'b', confidence: 0, spike_count: 2 }, { teacher_id: 'c', confidence: 0.5, spike_count: 3 }], encoding: e },
            () => ref.mtlCoordinate('fresh-2', [{ teacher_id: 'a', confidence: 1 }, { teacher_id: 'b', confidence: 0 }, { teacher_id: 'c', confidence: 0.5 }], e), 'ENG-8'],
          ['STATE_UPDATE of layer 1', 'STATE_UPDATE', { layer: 1, weights: layerWeights(1, 17), state_version: 30n }, () => ref.stateUpdate(1, layerWeights(1, 17), 30n), 'ENG-5'],
          ['MTL_COORDINATE without an encoding', 'MTL_COORDINATE', { coordination_id: 'fresh-3', teacher_outputs: [{ teacher_id: 'a', confidence: 0.25, spike_count: 1 }, { teacher_id: 'b', confidence: 0.75, spike_count: 2 }] },
            () => ref.mtlCoordinate('fresh-3', [{ teacher_id: 'a', confidence: 0.25 }, { teacher_id: 'b', confidence: 0.75 }]), 'ENG-8'],
          ['MTL_COORDINATE with the encoding (teachers 0, 1, 1 and 0)', 'MTL_COORDINATE', { coordination_id: 'fresh-4', teacher_outputs: [0, 1, 1, 0].map((c, i) => ({ teacher_id: `t${i}`, confidence: c, spike_count: i })), encoding: e },
            () => ref.mtlCoordinate('fresh-4', [0, 1, 1, 0].map((c, i) => ({ teacher_id: `t${i}`, confidence: c })), e), 'ENG-8'],
        ];
        const twice = async (label: string, after: string, statement: string): Promise<void> => {
          const want = ref.reason(e);
          for (const round of [1, 2]) {
            const r = await ask(ctx, s, 'REASONING_REQUEST', { encoding: e, context: 'same', source: 'conformance' }, `${label}-${round}`);
            const d = reasonMismatch(r, want);
            if (d) throw new CaseFailure(`[${statement}] REASONING_REQUEST ${round} of 2 ${after} is not the result on the current state (the engine answers from an earlier state): ${d}`, `digest ${want.state_digest}, spike_count ${want.spike_count}`, `digest ${String(fields(r)['state_digest'])}, spike_count ${String(fields(r)['spike_count'])}`);
          }
        };
        await twice('start', 'on the fresh engine', 'ENG-2');
        for (const [i, [what, type, payload, apply, statement]] of changes.entries()) {
          const want = apply()!;
          const a = await ask(ctx, s, type, payload, `change-${i}`);
          const p = fields(a);
          if (a.name === 'ERROR' || p['state_digest'] !== want.state_digest) throw new CaseFailure(`[${statement}] ${what}: the answer does not carry the digest after the change`, want.state_digest, a.name === 'ERROR' ? shown(a) : String(p['state_digest']));
          await twice(`after-${i}`, `after ${what}`, statement);
        }
      },
    }),
    defineCase({
      id: 'engine/non-finite-changes-nothing',
      statements: ['ENG-2', 'ENG-3', 'ENG-7', 'ENG-8'],
      async run(ctx) {
        // -Infinity, +Infinity and NaN, at the first, a middle and the last index: every request fails
        // (REASONING_REQUEST with INVALID_ARRAY, a batch item in its entry), and a FEEDBACK or
        // MTL_COORDINATE that failed changed neither the weights nor the version.
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const v = ctx.verdict();
        const good = seeded(951, 96);
        const first = await ask(ctx, s, 'FEEDBACK', { encoding: good, reward: 0.75 }, 'nf-0');
        const d0 = ackMismatch(first, ref.feedback(good, 0.75));
        if (d0) throw new CaseFailure(`[ENG-3] the first FEEDBACK: ${d0}`);
        const bad = (at: number, value: number, n = 70): NDArray => { const x = encodingOf(952 + at, n); x[at < 0 ? n + at : at] = value; return f32(x); };
        const faulty: [string, NDArray][] = [['-Infinity at index 0', bad(0, -Infinity)], ['-Infinity at index 64', bad(64, -Infinity)], ['+Infinity at the last index', bad(-1, Infinity)], ['NaN at index 1', bad(1, Number.NaN)]];
        for (const [i, [what, enc]] of faulty.entries()) {
          const r = await ask(ctx, s, 'REASONING_REQUEST', { encoding: enc, context: '', source: 'conformance' }, `nf-reason-${i}`);
          v.check(r.name === 'ERROR' && registryName(fields(r)['code']) === 'INVALID_ARRAY', 'ENG-2', `a REASONING_REQUEST whose encoding has ${what} must be answered ERROR INVALID_ARRAY`, 'ERROR INVALID_ARRAY', shown(r));
          const b = await ask(ctx, s, 'BATCH_REASONING_REQ', { items: [{ encoding: good }, { encoding: enc }], source: 'conformance' }, `nf-batch-${i}`);
          const results = fields(b)['results'] as { ok?: boolean; error?: { code?: unknown } }[] | undefined;
          v.check(b.name === 'BATCH_REASONING_RSP' && results?.length === 2 && results[0]?.ok === true && results[1]?.ok === false && registryName(results[1]?.error?.code) === 'INVALID_ARRAY', 'ENG-7',
            `a batch of a sound item and one with ${what}: the second entry must fail with INVALID_ARRAY, the first succeed`, 'ok true, then ok false with INVALID_ARRAY', b.name === 'BATCH_REASONING_RSP' ? JSON.stringify(results?.map((x) => (x.ok ? 'ok' : String(x.error?.code)))) : shown(b));
          const f = await ask(ctx, s, 'FEEDBACK', { encoding: enc, reward: -0.5 }, `nf-feedback-${i}`);
          v.check(f.name === 'ERROR', 'ENG-3', `a FEEDBACK whose encoding has ${what} must fail (the forward pass of its update fails), not be applied`, 'ERROR', f.name === 'ACK' ? `ACK version ${versionOf(f)}` : shown(f));
          const m = await ask(ctx, s, 'MTL_COORDINATE', { coordination_id: `nf-${i}`, teacher_outputs: [{ teacher_id: 'a', confidence: 0.25, spike_count: 1 }, { teacher_id: 'b', confidence: 0.5, spike_count: 1 }], encoding: enc }, `nf-mtl-${i}`);
          v.check(m.name === 'ERROR', 'ENG-8', `an MTL_COORDINATE whose encoding has ${what} must fail (its update cannot run), not be applied`, 'ERROR', m.name === 'TEACHER_SYNC' ? `TEACHER_SYNC version ${versionOf(m)}` : shown(m));
        }
        const r = await ask(ctx, s, 'REASONING_REQUEST', { encoding: good, context: '', source: 'conformance' }, 'nf-after');
        const dr = reasonMismatch(r, ref.reason(good));
        v.check(dr === null, 'ENG-3', `after the failed requests the weights must be those of the first FEEDBACK: ${dr}`);
        const last = await ask(ctx, s, 'FEEDBACK', { encoding: good, reward: 0.25 }, 'nf-last');
        const wantLast = ref.feedback(good, 0.25);
        const dl = ackMismatch(last, wantLast);
        v.check(dl === null, 'ENG-3', `the failed FEEDBACKs and MTL_COORDINATEs must not count in the version: the next FEEDBACK after the one applied answers version ${wantLast.state_version}: ${dl}`, `ACK version ${wantLast.state_version}`, last.name === 'ACK' ? `ACK version ${versionOf(last)}` : shown(last));
        v.done();
      },
    }),
  ];
}
