/**
 * The harness's writes to a peer under a fault schedule: sends held back and written together,
 * cut into chunks, with pauses between them. Bytes always leave in the order they were sent.
 */
import type { Writable } from 'node:stream';
import type { ConnectionFaults } from './schedule.js';
import { COALESCE_HOLD_MS, describeStep } from './schedule.js';

export class FaultyWriter {
  private readonly queue: Uint8Array[] = [];
  /** Chunks of the write in progress not written yet. */
  private current: Uint8Array[] = [];
  /** Index of the first send still queued. */
  private next = 0;
  private pumping = false;
  private ending = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private idlers: (() => void)[] = [];

  constructor(private readonly out: Writable, private readonly faults: ConnectionFaults, private readonly note: (text: string) => void) {}

  write(bytes: Uint8Array): void {
    if (this.stopped) {
      this.out.write(bytes);
      return;
    }
    this.queue.push(bytes);
    this.wake?.();
    if (!this.pumping) void this.pump();
  }

  /** Half-closes the output once every queued byte is written. */
  end(): void {
    if (this.stopped) {
      this.out.end();
      return;
    }
    this.ending = true;
    this.wake?.();
    if (!this.pumping) void this.pump();
  }

  /** Resolves once every byte sent so far has been handed to the stream. */
  idle(): Promise<void> {
    if (this.stopped || (!this.pumping && this.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  private settle(): void {
    for (const resolve of this.idlers.splice(0)) resolve();
  }

  /**
   * Writes whatever is still held back at once, in order, and stops perturbing (the connection is
   * being closed, or handed to another case with faults of its own).
   */
  flushNow(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const chunk of [...this.current, ...this.queue]) this.out.write(chunk);
    this.current = [];
    this.queue.length = 0;
    this.wake?.();
    if (this.ending) this.out.end();
    this.settle();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      // A pause of 0 still yields, so that the peer may read each chunk on its own.
      const timer = ms > 0 ? setTimeout(done, ms) : undefined;
      const immediate = ms > 0 ? undefined : setImmediate(done);
      this.wake = () => {
        if (this.stopped) done();
      };
      function done(): void {
        clearTimeout(timer);
        if (immediate) clearImmediate(immediate);
        resolve();
      }
    });
  }

  /** Waits until `count` sends are queued, COALESCE_HOLD_MS at most. */
  private gather(count: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, COALESCE_HOLD_MS);
      const check = (): void => {
        if (this.stopped || this.ending || this.queue.length >= count) done();
      };
      this.wake = check;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const first = this.next;
        const want = this.faults.coalesce(first);
        if (want > 1 && this.queue.length < want) await this.gather(want);
        if (this.stopped) return;
        const group = this.queue.splice(0, Math.min(want, this.queue.length));
        this.next += group.length;
        const bytes = Buffer.concat(group);
        const { cuts, delays } = this.faults.chunks(first, group.length, bytes.length);
        if (group.length > 1) this.note(describeStep({ kind: 'coalesce', write: first, count: group.length }));
        if (cuts.length > 0) this.note(describeStep({ kind: 'split', write: first, cuts }));
        if (delays.some((ms) => ms > 0)) this.note(describeStep({ kind: 'delay', write: first, ms: delays }));
        const edges = [0, ...cuts, bytes.length];
        this.current = edges.slice(1).map((end, i) => bytes.subarray(edges[i]!, end));
        for (let i = 0; this.current.length > 0; i++) {
          if (cuts.length > 0 || (delays[i] ?? 0) > 0) await this.pause(delays[i] ?? 0);
          if (this.stopped) return;
          this.out.write(this.current.shift()!);
        }
      }
      if (this.ending && !this.stopped) {
        this.stopped = true;
        this.out.end();
      }
    } finally {
      this.wake = null;
      this.pumping = false;
      this.settle();
    }
  }
}
