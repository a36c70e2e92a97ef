/** The reference engine against its definition and its fixtures, each step through real frames. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { encodeMessageFrame, FrameDecoder, decodeMessage, NDArray } from '../../codec/index.js';
import { ReferenceEngine } from '../engine.js';
import { EngineError } from '../errors.js';
import { handleEngineRequest } from '../handler.js';
import { Xorshift32 } from '../prng.js';
import { messageByName } from '../../codec/catalog.js';
import { fnv1a32, hashEncode } from '../encoder.js';
import { coordinate } from '../mtl.js';
import { requestOf, stepDiff, type Answer } from '../fixture-steps.js';
import { encodingOf, type EngineFixtures } from '../fixtures.js';
import { engineFixturesText } from '../gen-fixtures.js';
import { propertySeed } from '../../properties/seed.js';
import type { MessageName } from '../../../spec/generated/catalog.js';

const FIXTURES = JSON.parse(readFileSync(new URL('../../../fixtures/engine/engine.json', import.meta.url), 'utf8')) as EngineFixtures;

/** Encodes a message to a frame and decodes it again, as a remote peer would receive it. */
function overTheWire(type: string, payload: unknown, encoding: 'json' | 'cbor'): { name: MessageName; payload: unknown } {
  const frame = encodeMessageFrame({ type, header: { id: 'x', re: 'y' }, payload, encoding } as Parameters<typeof encodeMessageFrame>[0]);
  const [body] = new FrameDecoder().push(frame);
  const m = decodeMessage(body!);
  return { name: m.name, payload: m.payload };
}

function answer(engine: ReferenceEngine, type: MessageName, payload: unknown, encoding: 'json' | 'cbor'): Answer {
  const req = overTheWire(type, payload, encoding);
  try {
    const response = handleEngineRequest(engine, req.name as never, req.payload as Record<string, unknown>);
    return overTheWire(messageByName(type).response!, response, encoding);
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    return { name: 'ERROR', payload: { code: e.code, message: e.message } };
  }
}

describe('xorshift32', () => {
  it('draws the sequence its definition gives for seed 1 (worked by hand: 1 ^ 1<<13 = 8193, ^ >>17, ^ <<5 = 270369)', () => {
    const r = new Xorshift32(1);
    expect([r.next(), r.next(), r.next()]).toEqual([270369, 67634689, 2647435461]);
  });
  it('replaces seed 0, which would stay 0 forever', () => {
    expect(new Xorshift32(0).next()).not.toBe(0);
  });
});

describe('fixtures/engine/engine.json', () => {
  it('is what the generator writes now (the committed vectors are current)', () => {
    expect(readFileSync(new URL('../../../fixtures/engine/engine.json', import.meta.url), 'utf8')).toBe(engineFixturesText());
  });
  it('has the initial digest of a fresh engine with seed 42', () => {
    expect(new ReferenceEngine('t', 42).stateDigest).toBe(FIXTURES.initial_digest);
    expect(new ReferenceEngine('t', 43).stateDigest).not.toBe(FIXTURES.initial_digest);
  });
  for (const encoding of ['json', 'cbor'] as const) {
    it.each(FIXTURES.scenarios.map((s) => [s.id, s] as const))(`%s, every step through ${encoding} frames`, (_id, scenario) => {
      const engine = new ReferenceEngine('typescript', FIXTURES.seed);
      for (const [i, step] of scenario.steps.entries()) {
        const req = requestOf(step);
        expect(stepDiff(step, answer(engine, req.type, req.payload, encoding)), `step ${i} (${step.op})`).toBeNull();
      }
    });
  }
  it('catches an engine whose state differs (the check can fail)', () => {
    const engine = new ReferenceEngine('typescript', FIXTURES.seed);
    engine.parameterSync({ 'threshold.layer2': 1 });
    const step = FIXTURES.scenarios[0]!.steps[3]!;
    const req = requestOf(step);
    expect(stepDiff(step, answer(engine, req.type, req.payload, 'json'))).toMatch(/state_digest|spike_count|confidence|firing_pattern/);
  });
});

describe('engine semantics', () => {
  const seed = propertySeed();
  it('spike_count is the number of ones in firing_pattern, confidence is output spikes / 128, context is not an input', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 1, max: 2000 }), (s, n) => {
      const e = new ReferenceEngine('t');
      const enc = NDArray.from('<f4', [n], encodingOf(s, n));
      const r = e.reason(enc);
      const bits = r.firing_pattern.data as Uint8Array;
      expect(bits.length).toBe(896);
      expect(bits.reduce((a, b) => a + b, 0)).toBe(r.spike_count);
      expect(r.confidence).toBe(bits.subarray(768).reduce((a, b) => a + b, 0) / 128);
    }), { seed, numRuns: 50 });
  });
  it('activations: 128 values in [-1, 1], positive exactly where an output neuron fired (threshold 0)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 1, max: 2000 }), (s, n) => {
      const r = new ReferenceEngine('t').reason(NDArray.from('<f4', [n], encodingOf(s, n)));
      const a = r.activations.data as Float32Array;
      const bits = (r.firing_pattern.data as Uint8Array).subarray(768);
      expect(a.length).toBe(128);
      a.forEach((v, i) => {
        expect(Math.abs(v)).toBeLessThanOrEqual(1);
        expect(v > 0 ? 1 : 0).toBe(bits[i]);
      });
    }), { seed, numRuns: 30 });
  });
  it('reward 0 changes the version, not the weights', () => {
    const e = new ReferenceEngine('t');
    const before = e.stateDigest;
    const ack = e.feedback(NDArray.from('<f4', [3], [1, 2, 3]), 0);
    expect(ack).toEqual({ state_digest: before, state_version: 1n });
  });
  it('a refused PARAMETER_SYNC changes nothing, even its valid parameters', () => {
    const e = new ReferenceEngine('t');
    const before = e.stateDigest;
    expect(() => e.parameterSync({ learning_rate: 0.5, 'threshold.layerx': 1 })).toThrow(/threshold.layerx/);
    expect(e.stateDigest).toBe(before);
    expect(e.stateVersion).toBe(0n);
  });
  it('MTL disagreement is the population standard deviation; the less confident teacher learns faster', () => {
    const o = coordinate([{ teacher_id: 'a', confidence: 0.25 }, { teacher_id: 'b', confidence: 0.75 }], 65536 / 100);
    expect(o.disagreement).toBe(0.25);
    expect(o.learningRates['a']!).toBeGreaterThan(o.learningRates['b']!);
    expect(o.reward).toBe(0);
  });
});

describe('memory and encoder', () => {
  it('FNV-1a 32 gives the published values ("" and "a")', () => {
    expect(fnv1a32(new Uint8Array())).toBe(0x811c9dc5);
    expect(fnv1a32(Buffer.from('a'))).toBe(0xe40c292c);
  });
  it('the hash encoder is deterministic, in [-1, 1), and its prefix does not depend on dim', () => {
    const long = hashEncode('some text', 100);
    expect(Array.from(hashEncode('some text', 10))).toEqual(Array.from(long.subarray(0, 10)));
    expect(long.every((v) => v >= -1 && v < 1)).toBe(true);
    expect(Array.from(hashEncode('some text!', 10))).not.toEqual(Array.from(long.subarray(0, 10)));
  });
  it('a memory of 2 entries keeps the 2 most recently stored, at the limit and one past it', () => {
    const e = new ReferenceEngine('t', 42, 2);
    e.memoryUpdate('a', NDArray.from('<f4', [1], [0.25]), 'A');
    e.memoryUpdate('b', NDArray.from('<f4', [1], [0.5]), 'B');
    expect([e.encode('A', 1).model, e.encode('B', 1).model]).toEqual(['concord-memory', 'concord-memory']);
    e.memoryUpdate('c', NDArray.from('<f4', [1], [0.75]), 'C');
    expect([e.encode('A', 1).model, e.encode('B', 1).model, e.encode('C', 1).model]).toEqual(['concord-hash-encoder', 'concord-memory', 'concord-memory']);
  });
  it('a refused MEMORY_UPDATE changes nothing; an accepted one leaves the digest and version alone', () => {
    const e = new ReferenceEngine('t');
    const ack = e.memoryUpdate('k', NDArray.from('<f4', [2], [1, 2]), 'text');
    expect(ack).toEqual({ state_digest: e.stateDigest, state_version: 0n });
    expect(() => e.memoryUpdate('k', NDArray.from('<f4', [2], [1, Number.POSITIVE_INFINITY]), 'text')).toThrow(EngineError);
    expect(Array.from(e.encode('text', 3).encoding.data as Float32Array)).toEqual([1, 2, 0]);
  });
  it('the fixture check catches a wrong activation and a wrong encoding element', () => {
    const engine = new ReferenceEngine('typescript', FIXTURES.seed);
    const step = FIXTURES.scenarios[0]!.steps[0]!;
    const got = answer(engine, 'REASONING_REQUEST', requestOf(step).payload, 'json');
    const p = got.payload as { activations: NDArray };
    (p.activations.data as Float32Array)[5] = -(p.activations.data as Float32Array)[5]! || 0.5;
    expect(stepDiff(step, got)).toMatch(/activations differ from element 5/);
    const enc = FIXTURES.scenarios.find((s) => s.id === 'memory/encoder')!.steps[0]!;
    const rsp = answer(engine, 'ENCODING_REQ', requestOf(enc).payload, 'json');
    const elements = (rsp.payload as { encoding: NDArray }).encoding.data as Float32Array;
    elements[2] = elements[2]! + 1;
    expect(stepDiff(enc, rsp)).toMatch(/encoding differs from element 2/);
  });
});
