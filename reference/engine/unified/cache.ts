/** The unified engine's LRU result cache (ENG-14): a Map keeps insertion order, re-inserting marks use. */
import { createHash } from 'node:crypto';
import type { NDArray } from '../../codec/ndarray.js';

export class ResultCache<V> {
  private readonly map = new Map<string, V>();
  hits = 0;
  misses = 0;
  evictions = 0;
  invalidations = 0;

  constructor(readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 0) throw new RangeError(`cache size ${maxSize} is not a non-negative integer`);
  }

  /** SHA-256 of the encoding's float32 little-endian bytes, the context and the state digest. */
  static key(encoding: NDArray, context: string, digest: string): string {
    const data = encoding.data as Float32Array;
    const bytes = new Uint8Array(data.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
    return createHash('sha256').update(bytes).update('\0').update(context).update('\0').update(digest).digest('hex');
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** Counts a miss without a lookup (no key can be formed yet). */
  miss(): undefined {
    this.misses++;
    return undefined;
  }

  set(key: string, value: V): void {
    if (this.maxSize === 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.maxSize) {
      this.map.delete(this.map.keys().next().value!);
      this.evictions++;
    }
  }

  /** Drops every entry (a state change); counts the entries dropped. */
  invalidate(): void {
    this.invalidations += this.map.size;
    this.map.clear();
  }
}
