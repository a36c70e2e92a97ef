/**
 * The engine's test vectors (fixtures/engine/engine.json), written by `npm run gen` from the
 * TypeScript reference engine and reproduced by every other engine (ENG-1, ENG-2, ENG-3, ENG-4, ENG-5, ENG-6, ENG-7, ENG-8, ENG-18, ENG-19, ENG-20). Each scenario starts
 * from a fresh engine with seed 42 and applies its steps in order; every step names what it expects.
 */
import { NDArray } from '../codec/ndarray.js';
import { ReferenceEngine, type StateAck } from './engine.js';
import { EngineError } from './errors.js';
import { Xorshift32 } from './prng.js';
import { DEFAULT_SEED, LAYER_INPUTS, LAYER_SIZES } from './model.js';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';

export type Step =
  | { op: 'reason'; encoding: number[]; context: string; expect: ReasonExpect }
  | { op: 'reason'; encoding: (number | string)[]; context: string; expect_error: string }
  | { op: 'feedback'; encoding: number[]; reward: number; learning_rate?: number; expect: AckExpect }
  | { op: 'parameter_sync'; parameters: Record<string, number>; state_version?: string; expect?: AckExpect; expect_error?: string }
  | { op: 'state_update'; layer: number; weights_seed: number; state_version: string; expect: AckExpect }
  | { op: 'batch'; items: { encoding: (number | string)[]; context?: string }[]; expect: ({ ok: true; result: ReasonExpect } | { ok: false; code: string })[] }
  | { op: 'mtl'; coordination_id: string; teacher_outputs: { teacher_id: string; confidence: number; spike_count: number }[]; encoding?: number[]; expect: MtlExpect }
  | { op: 'memory_update'; key: string; encoding: (number | string)[]; content?: string; expect?: AckExpect; expect_error?: string }
  | { op: 'encode'; text: string; dim?: number; expect: EncodeExpect };

export interface ReasonExpect { spike_count: number; confidence: number; firing_pattern_hex: string; activations_hex: string; state_digest: string }
/** ENCODING_RSP: the encoder's name and the vector's float32 little-endian bytes. */
export interface EncodeExpect { model: string; encoding_hex: string }
export interface AckExpect { state_digest: string; state_version: string }
export interface MtlExpect { teacher_count: number; disagreement: number; learning_rates: Record<string, number>; state_digest: string; state_version: string }

export interface EngineFixtures {
  description: string;
  spec: string[];
  seed: number;
  initial_digest: string;
  prng: { seed: number; draws: number[] }[];
  scenarios: { id: string; description: string; spec: string[]; steps: Step[] }[];
}

/** A deterministic encoding of float32-exact values (multiples of 1/512 in [-4, 4)). */
export function encodingOf(seed: number, length: number): number[] {
  const rng = new Xorshift32(seed);
  return Array.from({ length }, () => ((rng.next() >>> 20) - 2048) / 512);
}

/** Weights for a STATE_UPDATE step: drawn like the engine's, from xorshift32(seed), for one layer. */
export function layerWeights(layer: number, seed: number): NDArray {
  const rng = new Xorshift32(seed);
  const rows = LAYER_SIZES[layer]!;
  const cols = LAYER_INPUTS[layer]!;
  const data = new Int32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = (rng.next() >>> 16) - 32768;
  return new NDArray('<i4', [rows, cols], data);
}

/** Float32 elements as little-endian bytes in hex: how fixtures pin float vectors bit for bit. */
export function f32Hex(a: NDArray): string {
  const data = a.data as Float32Array;
  const b = Buffer.alloc(data.length * 4);
  data.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b.toString('hex');
}

/** Typed-JSON floats ("NaN", "Infinity") to numbers; the fixture keeps JSON-safe text for them. */
export const toFloat = (v: number | string): number => (typeof v === 'number' ? v : Number(v));
const f32 = (values: (number | string)[]): NDArray => NDArray.from('<f4', [values.length], values.map(toFloat));

function reasonExpect(e: ReferenceEngine, encoding: (number | string)[]): ReasonExpect {
  const r = e.reason(f32(encoding));
  return { spike_count: r.spike_count, confidence: r.confidence, firing_pattern_hex: Buffer.from(r.firing_pattern.data as Uint8Array).toString('hex'), activations_hex: f32Hex(r.activations), state_digest: r.state_digest };
}

/** Runs steps on a fresh engine, filling in each expectation. */
function scenario(id: string, description: string, spec: string[], build: (e: ReferenceEngine) => Step[]): EngineFixtures['scenarios'][number] {
  return { id, description, spec, steps: build(new ReferenceEngine('typescript', DEFAULT_SEED)) };
}

const reason = (e: ReferenceEngine, encoding: number[], context = ''): Step => ({ op: 'reason', encoding, context, expect: reasonExpect(e, encoding) });
const ackOf = (a: StateAck): AckExpect => ({ state_digest: a.state_digest, state_version: a.state_version.toString() });
const feedback = (e: ReferenceEngine, encoding: number[], reward: number, learning_rate?: number): Step => ({
  op: 'feedback', encoding, reward, ...(learning_rate !== undefined ? { learning_rate } : {}), expect: ackOf(e.feedback(f32(encoding), reward, learning_rate)),
});

const memoryUpdate = (e: ReferenceEngine, key: string, encoding: (number | string)[], content?: string): Step => {
  const step = { op: 'memory_update' as const, key, encoding, ...(content !== undefined ? { content } : {}) };
  try {
    return { ...step, expect: ackOf(e.memoryUpdate(key, f32(encoding), content)) };
  } catch (err) {
    if (err instanceof EngineError) return { ...step, expect_error: err.code };
    throw err;
  }
};
const encode = (e: ReferenceEngine, text: string, dim?: number): Step => {
  const r = e.encode(text, dim);
  return { op: 'encode', text, ...(dim !== undefined ? { dim } : {}), expect: { model: r.model, encoding_hex: f32Hex(r.encoding) } };
};

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof EngineError) return e.code;
    throw e;
  }
  throw new Error('fixture step expected a refusal');
}

export function buildEngineFixtures(): EngineFixtures {
  const edge = [1e6, -1e6, 0.001, -0.001, -0, 0.00390625, -0.00390625, 127.99, -128.5, 3.4028234663852886e38];
  const scenarios = [
    scenario('reason/encodings', 'Forward passes over encodings of several lengths, folding and clamping included.', ['ENG-1', 'ENG-2', 'ENG-18'], (e) => [
      reason(e, [0.5], 'one element'),
      reason(e, encodingOf(1, 3), 'three'),
      reason(e, encodingOf(2, 64), 'exactly the input width'),
      reason(e, encodingOf(3, 768), 'an embedding'),
      reason(e, encodingOf(4, 1000), 'longer than the width, folded'),
      reason(e, edge, 'floor, clamp and -0'),
      reason(e, Array.from({ length: 4096 }, () => 100), 'every fold sum clamped'),
    ]),
    scenario('reason/non-finite', 'An encoding with NaN or an infinity is refused with INVALID_ARRAY.', ['ENG-2'], (e) => [
      { op: 'reason', encoding: [0.5, 'NaN', 1], context: '', expect_error: refusal(() => e.reason(f32([0.5, 'NaN', 1]))) },
      { op: 'reason', encoding: ['Infinity'], context: '', expect_error: refusal(() => e.reason(f32(['Infinity']))) },
      reason(e, encodingOf(5, 16)),
    ]),
    scenario('learning/feedback-sequence', 'FEEDBACK with positive and negative rewards and an explicit learning rate, then reasoning on the changed state.', ['ENG-3', 'ENG-4', 'ENG-1'], (e) => {
      const a = encodingOf(10, 768);
      const b = encodingOf(11, 768);
      return [
        feedback(e, a, 1), feedback(e, b, -0.5), feedback(e, a, 0.25, 0.5), feedback(e, b, 0.75, 0.0000001), feedback(e, encodingOf(12, 30), -1),
        reason(e, a), reason(e, b),
        ...Array.from({ length: 20 }, (_, i) => feedback(e, encodingOf(100 + (i % 4), 768), i % 3 === 0 ? -0.8 : 0.9, 1)),
        reason(e, a),
      ];
    }),
    scenario('state/parameter-sync', 'PARAMETER_SYNC of thresholds, learning rate and seed; unknown names and bad values refused without change.', ['ENG-6', 'ENG-4'], (e) => {
      const enc = encodingOf(20, 768);
      const steps: Step[] = [];
      const sync = (parameters: Record<string, number>, state_version?: string): void => {
        steps.push({ op: 'parameter_sync', parameters, ...(state_version ? { state_version } : {}), expect: ackOf(e.parameterSync(parameters, state_version ? BigInt(state_version) : undefined)) });
      };
      const refuse = (parameters: Record<string, number>): void => {
        steps.push({ op: 'parameter_sync', parameters, expect_error: refusal(() => e.parameterSync(parameters)) });
      };
      sync({ 'threshold.layer0': 100000, 'threshold.layer1': -50000, 'threshold.layer2': 25000 });
      steps.push(reason(e, enc));
      sync({ learning_rate: 0.5 }, '40');
      steps.push(feedback(e, enc, 0.5));
      refuse({ 'threshold.layer3': 1 });
      refuse({ learning_rate: 1.5 });
      refuse({ 'threshold.layer0': 0.5, learning_rate: 0.25 });
      refuse({ seed: -1 });
      sync({ seed: 7, 'threshold.layer0': 0 });
      steps.push(reason(e, enc));
      return steps;
    }),
    scenario('state/state-update', 'STATE_UPDATE replaces each layer; the digest follows the new weights.', ['ENG-5', 'ENG-4'], (e) => {
      const steps: Step[] = [];
      const enc = encodingOf(30, 768);
      for (const [layer, seed] of [[2, 7], [0, 8], [1, 9]] as const) {
        const state_version = String(100 + layer);
        steps.push({ op: 'state_update', layer, weights_seed: seed, state_version, expect: ackOf(e.stateUpdate(layer, layerWeights(layer, seed), BigInt(state_version))) });
        steps.push(reason(e, enc));
      }
      return steps;
    }),
    scenario('batch/order-and-partial-failure', 'A batch answers every item at its index; the non-finite item fails alone.', ['ENG-7', 'ENG-18'], (e) => {
      const items: { encoding: (number | string)[]; context?: string }[] = [
        { encoding: encodingOf(40, 768), context: 'first' }, { encoding: [1, '-Infinity'] }, { encoding: encodingOf(41, 10) }, { encoding: encodingOf(40, 768), context: 'again' },
      ];
      const expect = items.map((it) => {
        try {
          return { ok: true as const, result: reasonExpect(e, it.encoding) };
        } catch (err) {
          if (err instanceof EngineError) return { ok: false as const, code: err.code };
          throw err;
        }
      });
      return [{ op: 'batch', items, expect }];
    }),
    scenario('mtl/coordinate', 'Disagreement, learning rates and the update of MTL_COORDINATE, without and with an encoding.', ['ENG-8'], (e) => {
      const teachers = (cs: number[]): { teacher_id: string; confidence: number; spike_count: number }[] => cs.map((c, i) => ({ teacher_id: ['python-teacher', 'cpp-teacher-1', 'cpp-teacher-2', 'ts-teacher'][i]!, confidence: Math.fround(c), spike_count: 40 + i }));
      const steps: Step[] = [];
      const mtl = (id: string, cs: number[], encoding?: number[]): void => {
        const teacher_outputs = teachers(cs);
        const r = e.mtlCoordinate(id, teacher_outputs, encoding ? f32(encoding) : undefined);
        steps.push({ op: 'mtl', coordination_id: id, teacher_outputs, ...(encoding ? { encoding } : {}), expect: { teacher_count: r.teacher_count, disagreement: r.disagreement, learning_rates: r.learning_rates, state_digest: r.state_digest, state_version: r.state_version.toString() } });
      };
      mtl('mtl_001', [0.82, 0.79, 0.85]);
      mtl('mtl_002', [0.1, 0.9], encodingOf(50, 768));
      mtl('mtl_003', [0.5, 0.5, 0.5, 0.5], encodingOf(51, 768));
      mtl('mtl_004', [1, 0, 0.25], encodingOf(52, 100));
      steps.push(reason(e, encodingOf(50, 768)));
      return steps;
    }),
    scenario('memory/encoder', 'The hash encoder at several dims and texts (empty, non-ASCII, long), then a forward pass over an encoding it made.', ['ENG-20', 'MEM-2'], (e) => [
      encode(e, 'hello world', 4), encode(e, 'hello world'), encode(e, ''), encode(e, 'grüße, 世界 🚀', 7), encode(e, 'x'.repeat(5000), 768), encode(e, 'one element', 1),
      reason(e, Array.from(e.encode('hello world', 768).encoding.data as Float32Array)),
    ]),
    scenario('memory/update-and-recall', 'MEMORY_UPDATE leaves the digest and version alone; ENCODING_REQ recalls the most recent entry whose content is the text, cut or padded to dim; a replaced key no longer answers; a non-finite element is refused.', ['ENG-19', 'ENG-20', 'MEM-1'], (e) => [
      feedback(e, encodingOf(60, 768), 0.5),
      memoryUpdate(e, 'fact:1', [0.5, -0.25, 0.125], 'water boils'),
      encode(e, 'water boils', 2), encode(e, 'water boils', 5), encode(e, 'water boils'),
      memoryUpdate(e, 'fact:2', encodingOf(61, 16), 'water boils'),
      encode(e, 'water boils', 16),
      memoryUpdate(e, 'fact:2', [1], 'ice melts'),
      encode(e, 'water boils', 3), encode(e, 'ice melts', 3),
      memoryUpdate(e, 'fact:1', [2, 'NaN'], 'water boils'),
      encode(e, 'water boils', 3),
      memoryUpdate(e, 'fact:3', [0.75]),
      encode(e, 'fact:3', 1),
    ]),
    scenario('memory/eviction', 'At engine_memory_max entries, a new key evicts the least recently stored entry; storing an existing key again makes it the most recent.', ['ENG-19'], (e) => {
      const max = DEFAULT_LIMITS.engine_memory_max;
      const steps: Step[] = [];
      for (let i = 0; i < max; i++) steps.push(memoryUpdate(e, `k${i}`, [i / 512], `c${i}`));
      steps.push(memoryUpdate(e, 'k0', [0.5], 'c0'));
      steps.push(encode(e, 'c0', 1), encode(e, 'c1', 1));
      steps.push(memoryUpdate(e, `k${max}`, [1.5], `c${max}`));
      steps.push(encode(e, 'c0', 1), encode(e, 'c1', 1), encode(e, 'c2', 1), encode(e, `c${max}`, 1));
      return steps;
    }),
  ];
  const draws = (seed: number): number[] => {
    const r = new Xorshift32(seed);
    return Array.from({ length: 5 }, () => r.next());
  };
  return {
    description: 'Reference engine vectors (spec section engine): PRNG draws, the initial state digest, and scenarios of reasoning, learning, state sync, batches and multi-teacher coordination. Generated by npm run gen from reference/engine; every engine must reproduce them bit for bit.',
    spec: ['engine'],
    seed: DEFAULT_SEED,
    initial_digest: new ReferenceEngine('typescript', DEFAULT_SEED).stateDigest,
    prng: [draws(1), draws(0), draws(DEFAULT_SEED)].map((d, i) => ({ seed: [1, 0, DEFAULT_SEED][i]!, draws: d })),
    scenarios,
  };
}
