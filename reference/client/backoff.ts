/**
 * Exponential backoff with jitter, and an abortable sleep, for connection attempts.
 * @module
 */
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';

/** The longest delay a Node timer takes (2^31 - 1 ms); longer timeouts are clamped to it. */
export const MAX_TIMER_MS = 2_147_483_647;

/** How long to wait between connection attempts. */
export interface BackoffOptions {
  /** Delay before the first retry, in milliseconds. */
  initialMs: number;
  /** Upper bound of any delay, in milliseconds. */
  maxMs: number;
  /** Growth factor from one retry to the next (>= 1). */
  factor: number;
  /** Random spread as a fraction of the delay, 0 .. 1: the delay is scaled by a factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

/** reconnect_backoff_base_ms (100 ms), doubling, capped at reconnect_backoff_max_ms (5 s), +-20 % (HS-23). */
export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: DEFAULT_LIMITS.reconnect_backoff_base_ms,
  maxMs: DEFAULT_LIMITS.reconnect_backoff_max_ms,
  factor: 2,
  jitter: 0.2,
};

/** Fills in the defaults and checks the ranges. */
export function resolveBackoff(options: Partial<BackoffOptions> = {}): BackoffOptions {
  const b = { ...DEFAULT_BACKOFF, ...options };
  if (!(b.initialMs >= 0) || !(b.maxMs >= 0) || !(b.factor >= 1) || !(b.jitter >= 0 && b.jitter <= 1)) {
    throw new RangeError(`backoff: invalid options ${JSON.stringify(b)}`);
  }
  return b;
}

/**
 * The delay before retry number `retry` (1 for the first retry):
 * `min(maxMs, initialMs * factor^(retry-1))`, scaled by the jitter and capped at maxMs again.
 *
 * @example
 * backoffDelay(3, { initialMs: 100, maxMs: 5000, factor: 2, jitter: 0 }); // 400
 */
export function backoffDelay(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, retry - 1));
  const spread = options.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(options.maxMs, Math.round(base * (1 + spread))));
}

/** Resolves after `ms` milliseconds; rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
