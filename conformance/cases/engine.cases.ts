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
import { requestOf, stepDiff, encodingOf, ReferenceEngine, LocalBackend, UnifiedEngine, Xorshift32, type EngineFixtures, type ReasonResult, type StateAck, type MtlResult, type EngineBackend, type EngineLanguage, type TeacherConfidence } from '../oracle.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext, TesteeSession } from './context.js';
import { engineMessageCases } from './engine-messages.cases.js';
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
    ...engineMessageCases(),
  ];
}
