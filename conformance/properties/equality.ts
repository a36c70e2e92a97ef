/**
 * Equality of decoded values as the spec defines it (D3): values, not bytes of JSON, not key order;
 * arrays by dtype, shape, meta and element bytes (so NaN payloads and -0 count).
 */
import { NDArray } from '../../reference/codec/ndarray.js';

function bytesOf(a: NDArray): Uint8Array {
  return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

/** Where two values first differ (a JSON pointer), or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (a instanceof NDArray || b instanceof NDArray) {
    if (!(a instanceof NDArray) || !(b instanceof NDArray)) return path || '/';
    if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) return path || '/';
    const x = bytesOf(a);
    const y = bytesOf(b);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) return `${path}/data`;
    return firstDifference(a.meta, b.meta, `${path}/meta`);
  }
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b)) ? null : path || '/';
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b ? null : path || '/';
  if (Array.isArray(a) !== Array.isArray(b)) return path || '/';
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return path || '/';
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], bb[i], `${path}/${i}`);
      if (d !== null) return d;
    }
    return null;
  }
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join('\u0000') !== kb.join('\u0000')) return path || '/';
  for (const k of ka) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}/${k}`);
    if (d !== null) return d;
  }
  return null;
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  return firstDifference(a, b) === null;
}
