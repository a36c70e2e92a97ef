/**
 * Client-side enforcement of the broker's max_in_flight (LIM-7): a request takes a slot before it
 * is written and gives it back when it is settled. Requests beyond the limit wait, first come first
 * served, in a bounded queue; beyond `maxQueued` waiting requests, `enqueue` refuses with
 * OverloadedError rather than queue without bound. While the client is disconnected (reconnecting)
 * the limiter is paused and requests wait for the new connection.
 * @module
 */
import { MAX_TIMER_MS } from './backoff.js';
import { OverloadedError, RequestTimeoutError } from './errors.js';

/** A place in line for one in-flight slot. */
export interface Ticket {
  /** Resolves when the slot is granted; rejects on timeout or when the limiter closes. */
  readonly ready: Promise<void>;
  /** Gives the slot back (idempotent; a no-op when the slot was never granted). */
  release(): void;
}

interface Waiter {
  grant: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Bounds the requests in flight on a connection. */
export class InFlightLimiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private paused: boolean;
  private closedWith: Error | null = null;

  constructor(
    private limit: number,
    private readonly maxQueued: number,
    paused = false,
  ) {
    this.paused = paused;
  }

  /** Slots in use. */
  get inUse(): number {
    return this.active;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** The current limit (the broker's max_in_flight). */
  get max(): number {
    return this.limit;
  }

  /**
   * Takes a place in line. Throws OverloadedError when `maxQueued` requests already wait, and the
   * close error once the limiter is closed. `ready` rejects with RequestTimeoutError (definite: the
   * request was never written) when no slot is granted within `timeoutMs`.
   */
  enqueue(type: string, timeoutMs: number): Ticket {
    if (this.closedWith) throw this.closedWith;
    let granted = false;
    let released = false;
    const release = (): void => {
      if (!granted || released) return;
      released = true;
      this.active--;
      this.pump();
    };
    if (!this.paused && this.active < this.limit && this.waiting.length === 0) {
      this.active++;
      granted = true;
      return { ready: Promise.resolve(), release };
    }
    if (this.waiting.length >= this.maxQueued) {
      throw new OverloadedError(`${this.waiting.length} requests already wait for one of ${this.limit} in-flight slots`, this.maxQueued);
    }
    const ready = new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          granted = true;
          resolve();
        },
        reject: (e) => {
          clearTimeout(waiter.timer);
          reject(e);
        },
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new RequestTimeoutError(type, timeoutMs, { definite: true }));
        }, Math.min(timeoutMs, MAX_TIMER_MS)),
      };
      this.waiting.push(waiter);
    });
    return { ready, release };
  }

  /** Stops granting slots (the connection is gone); waiting requests keep waiting. */
  pause(): void {
    this.paused = true;
  }

  /** Grants slots again under a (new) limit. */
  resume(limit: number): void {
    this.limit = limit;
    this.paused = false;
    this.pump();
  }

  /** Refuses every waiting and future request with `error`. */
  close(error: Error): void {
    this.closedWith ??= error;
    for (const w of this.waiting.splice(0)) w.reject(error);
  }

  private pump(): void {
    while (!this.paused && !this.closedWith && this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!.grant();
    }
  }
}
