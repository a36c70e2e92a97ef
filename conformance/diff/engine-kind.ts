/**
 * Engines (spec section engine): every input is a short sequence of engine requests (reasoning,
 * batches, FEEDBACK, STATE_UPDATE, PARAMETER_SYNC, MTL_COORDINATE) that starts from a reset: a
 * PARAMETER_SYNC back to seed 42, the default learning rate, zero thresholds and version 0, which
 * ENG-6 makes the state of a fresh engine. So every run, and every shrink, starts from the same
 * state without starting the engines again. The spec's answers come from the reference engine
 * (bit for bit, ENG-1, ENG-2, ENG-3, ENG-4, ENG-5, ENG-6, ENG-7, ENG-8); an engine's name and latency are left to each implementation.
 */
import fc from 'fast-check';
import { NDArray } from '../../reference/codec/ndarray.js';
import { messageByName } from '../../reference/codec/catalog.js';
import { decodePayload, encodePayload, payloadToFixture } from '../../reference/codec/payload.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import type { Encoding } from '../../reference/codec/body.js';
import { ReferenceEngine, encodingOf, layerWeights, handleEngineRequest, errorPayloadFor, type EngineRequest } from '../oracle.js';
import type { DiffKind, Expected, Step } from './kind.js';
import type { MessageName } from '../../spec/generated/catalog.js';

/** An encoding drawn like the engine suite's (float32-exact values), optionally with one non-finite element (ENG-2). */
interface Vector { n: number; seed: number; nonFinite?: { at: number; value: 'NaN' | 'Infinity' | '-Infinity' } }

export type EngineCommand =
  | { op: 'reason'; vector: Vector; context: string }
  | { op: 'batch'; items: Vector[] }
  | { op: 'feedback'; vector: Vector; reward: number; learningRate?: number }
  | { op: 'update'; layer: number; seed: number; version: number }
  | { op: 'params'; seed?: number; learningRate?: number; thresholds: (number | undefined)[]; unknown?: string }
  | { op: 'mtl'; id: string; teachers: { confidence: number; spikes: number }[]; vector?: Vector };

export interface EngineInput {
  commands: { command: EngineCommand; encoding: Encoding }[];
}

/** Learning rates are multiples of 1/65536 (so lr_q is exact), rewards of 1/256. */
const LR_STEPS = 65536;
/** The default learning rate of a fresh engine: lr_q 655 (spec section engine). */
const DEFAULT_LEARNING_RATE = 655 / LR_STEPS;

const RESET = { type: 'PARAMETER_SYNC' as const satisfies MessageName, payload: { parameters: { seed: 42, learning_rate: DEFAULT_LEARNING_RATE, 'threshold.layer0': 0, 'threshold.layer1': 0, 'threshold.layer2': 0 }, state_version: 0n } };

const vectorArb = (nonFinite: boolean): fc.Arbitrary<Vector> => fc.record({ n: fc.integer({ min: 1, max: 160 }), seed: fc.integer({ min: 1, max: 0xffff }) }).chain((v) =>
  nonFinite ? fc.option(fc.record({ at: fc.integer({ min: 0, max: v.n - 1 }), value: fc.constantFrom('NaN' as const, 'Infinity' as const, '-Infinity' as const) }), { nil: undefined, freq: 4 }).map((bad) => (bad ? { ...v, nonFinite: bad } : v)) : fc.constant(v));

const commandArb: fc.Arbitrary<EngineCommand> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('reason' as const), vector: vectorArb(true), context: fc.constantFrom('', 'ctx') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('batch' as const), items: fc.array(vectorArb(true), { minLength: 1, maxLength: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('feedback' as const), vector: vectorArb(false), reward: fc.integer({ min: -256, max: 256 }).map((r) => r / 256), learningRate: fc.option(fc.integer({ min: 1, max: LR_STEPS }).map((l) => l / LR_STEPS), { nil: undefined }) }, { requiredKeys: ['op', 'vector', 'reward'] }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('update' as const), layer: fc.integer({ min: 0, max: 3 }), seed: fc.integer({ min: 1, max: 0xffff }), version: fc.integer({ min: 0, max: 1000 }) }) },
  { weight: 2, arbitrary: fc.record({
    op: fc.constant('params' as const), seed: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }), learningRate: fc.option(fc.integer({ min: 1, max: LR_STEPS }).map((l) => l / LR_STEPS), { nil: undefined }),
    thresholds: fc.array(fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: undefined }), { minLength: 3, maxLength: 3 }), unknown: fc.option(fc.constantFrom('threshold.layer3', 'momentum'), { nil: undefined, freq: 6 }),
  }, { requiredKeys: ['op', 'thresholds'] }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mtl' as const), id: fc.constantFrom('m', 'mtl_001'), teachers: fc.array(fc.record({ confidence: fc.integer({ min: 0, max: 256 }).map((c) => c / 256), spikes: fc.nat(896) }), { minLength: 2, maxLength: 5 }), vector: fc.option(vectorArb(false), { nil: undefined }) }, { requiredKeys: ['op', 'id', 'teachers'] }) },
);

function vectorOf(v: Vector): NDArray {
  const data = encodingOf(v.seed, v.n);
  if (v.nonFinite) data[v.nonFinite.at] = Number(v.nonFinite.value);
  return NDArray.from('<f4', [v.n], data);
}

/** The request a command stands for. */
export function requestOf(c: EngineCommand): { type: EngineRequest; payload: Record<string, unknown> } {
  switch (c.op) {
    case 'reason':
      return { type: 'REASONING_REQUEST', payload: { encoding: vectorOf(c.vector), context: c.context, source: 'diff' } };
    case 'batch':
      return { type: 'BATCH_REASONING_REQ', payload: { items: c.items.map((v) => ({ encoding: vectorOf(v) })), source: 'diff' } };
    case 'feedback':
      return { type: 'FEEDBACK', payload: { encoding: vectorOf(c.vector), reward: c.reward, ...(c.learningRate !== undefined ? { learning_rate: c.learningRate } : {}) } };
    case 'update':
      return { type: 'STATE_UPDATE', payload: { layer: c.layer, weights: layerWeights(Math.min(c.layer, 2), c.seed), state_version: BigInt(c.version) } };
    case 'params': {
      const parameters: Record<string, number> = {};
      if (c.seed !== undefined) parameters['seed'] = c.seed;
      if (c.learningRate !== undefined) parameters['learning_rate'] = c.learningRate;
      c.thresholds.forEach((t, i) => t !== undefined && (parameters[`threshold.layer${i}`] = t));
      if (c.unknown !== undefined || Object.keys(parameters).length === 0) parameters[c.unknown ?? 'threshold.layer0'] = 0;
      return { type: 'PARAMETER_SYNC', payload: { parameters } };
    }
    case 'mtl':
      return { type: 'MTL_COORDINATE', payload: { coordination_id: c.id, teacher_outputs: c.teachers.map((t, i) => ({ teacher_id: `t${i}`, confidence: t.confidence, spike_count: t.spikes })), ...(c.vector ? { encoding: vectorOf(c.vector) } : {}) } };
  }
}

/** The statement an engine's answer to `type` falls under (ENG-1, ENG-3, ENG-5, ENG-6, ENG-7, ENG-8, ENG-19, ENG-20). */
const STATEMENT_OF: Record<EngineRequest, string> = {
  REASONING_REQUEST: 'ENG-1', BATCH_REASONING_REQ: 'ENG-7', FEEDBACK: 'ENG-3', STATE_UPDATE: 'ENG-5', PARAMETER_SYNC: 'ENG-6', MTL_COORDINATE: 'ENG-8',
  MEMORY_UPDATE: 'ENG-19', ENCODING_REQ: 'ENG-20',
};

function fieldStatement(type: EngineRequest): (field: string) => string | undefined {
  return (field) => {
    if (field === 'definite') return 'ERR-2';
    if (field === 're') return 'ERR-3';
    if (field === '/state_digest') return 'ENG-4';
    return undefined;
  };
}

/** The reference engine's answer to one request, as a peer's decoded answer would be. */
function referenceAnswer(engine: ReferenceEngine, type: EngineRequest, payload: Record<string, unknown>, encoding: Encoding, id: string): Expected {
  try {
    const info = messageByName(messageByName(type).response!);
    const response = handleEngineRequest(engine, type, payload);
    // Through the codec and back: the value a peer's answer decodes to (uint64 as bigint, arrays as NDArray).
    const decoded = decodePayload(info, encoding, encodePayload(info, encoding, response));
    // The spec does not say in which encoding an engine answers: peers differing only there show a spec gap.
    return { statement: STATEMENT_OF[type], fieldStatement: fieldStatement(type), answer: { kind: 'message', type: info.name, encoding, re: id, payload: decoded }, open: ['encoding'] };
  } catch (e) {
    const p = errorPayloadFor(e);
    const details = p.details as { path?: unknown; rule?: unknown; param?: unknown } | undefined;
    // A refused reasoning request is ENG-2's (a non-finite element); every other refusal is its request's statement.
    return { statement: type === 'REASONING_REQUEST' ? 'ENG-2' : STATEMENT_OF[type], fieldStatement: fieldStatement(type), answer: { kind: 'error', code: p.code, definite: p.definite, re: id, path: details?.path, rule: details?.rule, param: details?.param } };
  }
}

const bigints = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

export function engineKind(encodings: readonly Encoding[]): DiffKind<EngineInput> {
  const withEncoding = fc.record({ command: commandArb, encoding: fc.constantFrom(...encodings) });
  return {
    name: 'engine',
    inputs: () => fc.record({ commands: fc.array(withEncoding, { minLength: 1, maxLength: 6 }) }),
    steps: (input, run) => [RESET, ...input.commands.map(({ command, encoding }) => ({ ...requestOf(command), encoding }))].map((r, i): Step => {
      const id = `d${run}-${i}`;
      const encoding = 'encoding' in r ? r.encoding : 'json';
      return { id, frame: encodeMessageFrame({ type: r.type, header: { id }, payload: r.payload, encoding }), note: i === 0 ? 'PARAMETER_SYNC (the reset to a fresh engine)' : `${r.type} (${encoding})` };
    }),
    oracle: (input, steps) => {
      const engine = new ReferenceEngine('reference');
      const requests = [{ ...RESET, encoding: 'json' as Encoding }, ...input.commands.map(({ command, encoding }) => ({ ...requestOf(command), encoding }))];
      return requests.map((r, i) => referenceAnswer(engine, r.type as EngineRequest, r.payload, r.encoding, steps[i]!.id));
    },
    // Step 0 is the reset, step k the command k - 1.
    upTo: (input, step) => ({ commands: input.commands.slice(0, step) }),
    free: [/^\/engine$/, /^\/latency_ms$/, /^\/results\/\d+\/result\/(engine|latency_ms)$/, /^\/results\/\d+\/error\/message$/],
    show: (input) => ['PARAMETER_SYNC (the reset to a fresh engine)', ...input.commands.map(({ command, encoding }) => {
      const r = requestOf(command);
      return `${r.type} (${encoding}) ${JSON.stringify(payloadToFixture(messageByName(r.type), r.payload), bigints).slice(0, 300)}`;
    })].map((l, i) => `  ${i}. ${l}`).join('\n'),
  };
}
