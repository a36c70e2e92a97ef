/**
 * The limits the harness assumes of the peer under test: spec/limits.json's defaults, overridden by
 * `--limit NAME=VALUE` for what a broker does not announce (its handshake, request and drain timeouts;
 * its heartbeat when INIT_ACK lacks it). The embedded reference broker runs its timers at the lowest
 * values that keep every case meaningful, so the runtime cases take seconds, not minutes.
 */
import { DEFAULT_LIMITS, LIMITS } from '../spec/generated/catalog.js';
import type { BrokerOptions } from './oracle.js';

/** A limit name of spec/limits.json. */
export type LimitName = keyof typeof DEFAULT_LIMITS;
export type Limits = { readonly [K in LimitName]: number };

/** A `--limit` that names no limit, is not an integer, or lies outside the limit's range. */
export class LimitError extends Error {
  override name = 'LimitError';
}

function isLimitName(name: string): name is LimitName {
  return Object.prototype.hasOwnProperty.call(DEFAULT_LIMITS, name);
}

/** Parses `NAME=VALUE` arguments, each checked against the range of spec/limits.json. */
export function parseLimitArgs(args: readonly string[]): Partial<Record<LimitName, number>> {
  const given: Partial<Record<LimitName, number>> = {};
  for (const arg of args) {
    const m = /^([a-z_0-9]+)=(-?[0-9]+)$/.exec(arg);
    if (!m) throw new LimitError(`--limit takes NAME=VALUE with an integer VALUE, got ${JSON.stringify(arg)}`);
    const [, name, text] = m as unknown as [string, string, string];
    if (!isLimitName(name)) throw new LimitError(`--limit ${name}: no such limit (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    const info = LIMITS.find((l) => l.name === name)!;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < info.min || value > info.max) throw new LimitError(`--limit ${name}=${text}: must be an integer in ${info.min} .. ${info.max}`);
    given[name] = value;
  }
  return given;
}

/** Every limit: the given ones over the defaults. */
export function resolveLimits(given: Partial<Record<LimitName, number>> = {}): Limits {
  return { ...DEFAULT_LIMITS, ...given };
}

/**
 * Timers of the embedded reference broker (no --target, and selftest): low enough that the runtime cases
 * take seconds, high enough that a loaded machine gives no false verdict. request_timeout_ms is at its
 * minimum. The spec minimum of the others is not usable: at handshake_timeout_ms 100 the broker, still
 * busy with the previous case, closed the next case's connection before reading its INIT (every full core
 * run on a 2-core machine at load 15); at heartbeat_ms 100 a harness paused for 300 ms is disconnected
 * (HS-11); at shutdown_drain_ms 0 a drain ends before any answer can arrive, so the drain that succeeds
 * (HS-14) could not be shown.
 */
export const EMBEDDED_LIMITS: Partial<Record<LimitName, number>> = {
  heartbeat_ms: 500,
  handshake_timeout_ms: 1000,
  request_timeout_ms: LIMITS.find((l) => l.name === 'request_timeout_ms')!.min,
  shutdown_drain_ms: 1000,
};

/** The reference broker's options for these limits (its timers and the limits it enforces). */
export function brokerOptionsFor(l: Limits): BrokerOptions {
  return {
    heartbeatMs: l.heartbeat_ms, handshakeTimeoutMs: l.handshake_timeout_ms, requestTimeoutMs: l.request_timeout_ms,
    shutdownDrainMs: l.shutdown_drain_ms, maxFrame: l.max_frame, maxHeader: l.max_header, maxInFlight: l.max_in_flight,
    maxWriteBuffer: l.max_write_buffer, slowReaderTimeoutMs: l.slow_reader_timeout_ms,
  };
}
