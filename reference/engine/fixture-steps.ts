/**
 * Fixture steps as wire requests, and the check of an engine's answer against a step's expectation.
 * Used by the engine suite (over the wire) and the TypeScript tests (in process), so both judge alike.
 */
import { NDArray } from '../codec/ndarray.js';
import type { EngineRequest } from './handler.js';
import { f32Hex, layerWeights, toFloat, type AckExpect, type EncodeExpect, type ReasonExpect, type Step } from './fixtures.js';
import type { MessageName } from '../../spec/generated/catalog.js';

export interface StepRequest {
  type: EngineRequest;
  payload: Record<string, unknown>;
}

export interface Answer {
  /** The response type name, or ERROR. */
  name: MessageName;
  payload: unknown;
}

const f32 = (values: (number | string)[]): NDArray => NDArray.from('<f4', [values.length], values.map(toFloat));

export function requestOf(step: Step): StepRequest {
  switch (step.op) {
    case 'reason':
      return { type: 'REASONING_REQUEST', payload: { encoding: f32(step.encoding), context: step.context, source: 'conformance' } };
    case 'feedback':
      return { type: 'FEEDBACK', payload: { encoding: f32(step.encoding), reward: step.reward, ...(step.learning_rate !== undefined ? { learning_rate: step.learning_rate } : {}) } };
    case 'parameter_sync':
      return { type: 'PARAMETER_SYNC', payload: { parameters: step.parameters, ...(step.state_version ? { state_version: BigInt(step.state_version) } : {}) } };
    case 'state_update':
      return { type: 'STATE_UPDATE', payload: { layer: step.layer, weights: layerWeights(step.layer, step.weights_seed), state_version: BigInt(step.state_version) } };
    case 'batch':
      return { type: 'BATCH_REASONING_REQ', payload: { items: step.items.map((it) => ({ encoding: f32(it.encoding), ...(it.context !== undefined ? { context: it.context } : {}) })), source: 'conformance' } };
    case 'mtl':
      return { type: 'MTL_COORDINATE', payload: { coordination_id: step.coordination_id, teacher_outputs: step.teacher_outputs, ...(step.encoding ? { encoding: f32(step.encoding) } : {}) } };
    case 'memory_update':
      return { type: 'MEMORY_UPDATE', payload: { key: step.key, encoding: f32(step.encoding), ...(step.content !== undefined ? { content: step.content } : {}) } };
    case 'encode':
      return { type: 'ENCODING_REQ', payload: { text: step.text, ...(step.dim !== undefined ? { dim: step.dim } : {}) } };
  }
}

/** Firing pattern bytes as hex, whether the engine sent uint8 or bool elements. */
export function patternHex(p: unknown): string {
  if (!(p instanceof NDArray)) return `<not an ndarray: ${JSON.stringify(p)?.slice(0, 60)}>`;
  return Buffer.from(Array.from(p.data as ArrayLike<number | boolean>, (v) => Number(v))).toString('hex');
}

/** Float32 vector elements as little-endian hex, whatever byte order the peer sent. */
function vectorHex(v: unknown): string {
  if (!(v instanceof NDArray) || !(v.data instanceof Float32Array)) return `<not a float32 ndarray: ${JSON.stringify(v)?.slice(0, 60)}>`;
  return f32Hex(v);
}

/** Where two hex strings of float32 elements first differ, as an element index. */
function firstElementDiff(got: string, want: string): string {
  const i = [...got].findIndex((c, k) => c !== want[k]);
  return `element ${Math.floor((i < 0 ? Math.min(got.length, want.length) : i) / 8)} (length ${got.length / 8}, expected ${want.length / 8})`;
}

function encodeDiff(expect: EncodeExpect, got: Record<string, unknown>): string | null {
  if (got['model'] !== expect.model) return `model ${String(got['model'])}, expected ${expect.model}`;
  const hex = vectorHex(got['encoding']);
  return hex === expect.encoding_hex ? null : `encoding differs from ${firstElementDiff(hex, expect.encoding_hex)}`;
}

function reasonDiff(expect: ReasonExpect, got: Record<string, unknown>, where: string): string | null {
  if (got['spike_count'] !== expect.spike_count) return `${where}spike_count ${String(got['spike_count'])}, expected ${expect.spike_count}`;
  if (got['confidence'] !== expect.confidence) return `${where}confidence ${String(got['confidence'])}, expected ${expect.confidence}`;
  const hex = patternHex(got['firing_pattern']);
  if (hex !== expect.firing_pattern_hex) {
    const i = [...hex].findIndex((c, k) => c !== expect.firing_pattern_hex[k]);
    return `${where}firing_pattern differs from neuron ${Math.floor(i / 2)} (length ${hex.length / 2}, expected ${expect.firing_pattern_hex.length / 2})`;
  }
  const activations = vectorHex(got['activations']);
  if (activations !== expect.activations_hex) return `${where}activations differ from ${firstElementDiff(activations, expect.activations_hex)}`;
  if (got['state_digest'] !== expect.state_digest) return `${where}state_digest ${String(got['state_digest'])}, expected ${expect.state_digest}`;
  return null;
}

function ackDiff(expect: AckExpect, got: Record<string, unknown>): string | null {
  if (got['state_digest'] !== expect.state_digest) return `state_digest ${String(got['state_digest'])}, expected ${expect.state_digest}`;
  if (String(got['state_version']) !== expect.state_version) return `state_version ${String(got['state_version'])}, expected ${expect.state_version}`;
  return null;
}

/** null when the answer is what the step expects, else what differs. */
export function stepDiff(step: Step, answer: Answer): string | null {
  const p = (answer.payload ?? {}) as Record<string, unknown>;
  const wantError = 'expect_error' in step ? step.expect_error : undefined;
  if (wantError !== undefined) {
    if (answer.name !== 'ERROR') return `expected ERROR ${wantError}, got ${answer.name}`;
    return p['code'] === wantError ? null : `expected ERROR ${wantError}, got ERROR ${String(p['code'])}`;
  }
  if (answer.name === 'ERROR') return `expected an answer, got ERROR ${String(p['code'])}: ${String(p['message'])}`;
  switch (step.op) {
    case 'reason':
      return 'expect' in step ? reasonDiff(step.expect, p, '') : null;
    case 'feedback':
    case 'state_update':
      return ackDiff(step.expect, p);
    case 'parameter_sync':
    case 'memory_update':
      return step.expect ? ackDiff(step.expect, p) : null;
    case 'encode':
      return encodeDiff(step.expect, p);
    case 'batch': {
      const results = p['results'] as Record<string, unknown>[] | undefined;
      if (!Array.isArray(results) || results.length !== step.expect.length) return `expected ${step.expect.length} results, got ${results?.length}`;
      for (const [i, want] of step.expect.entries()) {
        const got = results[i]!;
        if (got['ok'] !== want.ok) return `item ${i}: ok ${String(got['ok'])}, expected ${want.ok}`;
        if (want.ok) {
          const d = reasonDiff(want.result, got['result'] as Record<string, unknown>, `item ${i}: `);
          if (d) return d;
        } else if ((got['error'] as { code?: string } | undefined)?.code !== want.code) return `item ${i}: error ${JSON.stringify(got['error'])}, expected ${want.code}`;
      }
      return null;
    }
    case 'mtl': {
      const e = step.expect;
      if (p['teacher_count'] !== e.teacher_count) return `teacher_count ${String(p['teacher_count'])}, expected ${e.teacher_count}`;
      if (p['disagreement'] !== e.disagreement) return `disagreement ${String(p['disagreement'])}, expected ${e.disagreement}`;
      const rates = p['learning_rates'] as Record<string, number>;
      for (const [t, r] of Object.entries(e.learning_rates)) if (rates?.[t] !== r) return `learning rate of ${t} ${rates?.[t]}, expected ${r}`;
      return ackDiff({ state_digest: e.state_digest, state_version: e.state_version }, p);
    }
  }
}
