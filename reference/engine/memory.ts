/**
 * An engine's memory (spec section engine, ENG-19): MEMORY_UPDATE entries by key, ordered by when
 * they were last stored, at most engine_memory_max of them. Not part of the state digest.
 */
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { EngineError } from './errors.js';

/** One stored entry: the encoding's float32 elements and the text it stands for. */
export interface MemoryEntry {
  elements: Float32Array;
  content?: string;
}

/** An engine's memory (MEMORY_UPDATE, ENG-19): at most engine_memory_max entries, the oldest evicted first. */
export class EngineMemory {
  // A Map iterates in insertion order: deleting and setting again makes a key the most recent.
  private readonly entries = new Map<string, MemoryEntry>();

  constructor(readonly capacity: number = DEFAULT_LIMITS.engine_memory_max) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`EngineMemory: capacity ${capacity} is not a positive integer`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Stores (or replaces) an entry as the most recent; a new key when full evicts the least recently stored. */
  store(key: string, elements: ArrayLike<number>, content?: string): void {
    for (let i = 0; i < elements.length; i++) {
      if (!Number.isFinite(elements[i]!)) throw new EngineError('INVALID_ARRAY', `encoding element ${i} is not finite (${elements[i]})`, { path: `/encoding/${i}` });
    }
    const entry: MemoryEntry = { elements: Float32Array.from(elements), ...(content !== undefined ? { content } : {}) };
    if (!this.entries.delete(key) && this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
  }

  /** The most recently stored entry whose content is `text`, if any. */
  recall(text: string): MemoryEntry | undefined {
    let found: MemoryEntry | undefined;
    for (const e of this.entries.values()) if (e.content === text) found = e;
    return found;
  }
}
