/**
 * The encoder of ENCODING_REQ (spec section engine, ENG-20): the memory's entry for the text when
 * there is one, else a hash encoder (FNV-1a 32 of the UTF-8 bytes seeding xorshift32). Exact in
 * float32, so every engine gives the same bits.
 */
import type { EngineMemory } from './memory.js';
import { Xorshift32 } from './prng.js';
import { INPUT_WIDTH } from './model.js';

/** What ENCODING_RSP carries: the vector and the name of the encoder that made it. */
export interface Encoded {
  elements: Float32Array;
  model: 'concord-memory' | 'concord-hash-encoder';
}

/** FNV-1a 32 over bytes. */
export function fnv1a32(bytes: Uint8Array): number {
  let h = 2166136261;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

/** The hash encoder alone: element i = ((draw_i >> 8) - 2^23) / 2^23. */
export function hashEncode(text: string, dim: number): Float32Array {
  const rng = new Xorshift32(fnv1a32(Buffer.from(text, 'utf8')));
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = ((rng.next() >>> 8) - 8388608) / 8388608;
  return out;
}

/** The encoding of a text at `dim` elements (64 when absent). */
export function encodeText(memory: EngineMemory, text: string, dim: number = INPUT_WIDTH): Encoded {
  const entry = memory.recall(text);
  if (!entry) return { elements: hashEncode(text, dim), model: 'concord-hash-encoder' };
  const out = new Float32Array(dim);
  out.set(entry.elements.subarray(0, dim));
  return { elements: out, model: 'concord-memory' };
}
