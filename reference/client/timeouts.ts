/**
 * The timeout of a request (REQ-14): the payload's own timeout where the type has one, else the
 * catalog's `timeout_ms` of the type, else request_timeout_ms.
 * @module
 */
import { DEFAULT_LIMITS, messageByName } from '../codec/index.js';
import { DISPATCH_DEFAULTS, dispatchBackoffMs } from '../../spec/generated/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';

/**
 * The timeout a payload sets for itself: BUS_QUERY's `timeout_ms` when above 0 (BUS-13), and for
 * SERVICE_DISPATCH the whole dispatch as the broker runs it: every attempt's `timeout_ms` plus the
 * backoffs between them (REG-5, REG-6, REG-7), so the client never gives up before the broker answers.
 */
export function payloadTimeout(type: MessageName, payload: unknown): number | undefined {
  const p = (payload ?? {}) as { timeout_ms?: unknown; max_retries?: unknown };
  const own = typeof p.timeout_ms === 'number' && p.timeout_ms > 0 ? p.timeout_ms : undefined;
  if (type === 'BUS_QUERY') return own;
  if (type === 'SERVICE_DISPATCH') {
    const retries = typeof p.max_retries === 'number' ? p.max_retries : DISPATCH_DEFAULTS.max_retries;
    let total = (retries + 1) * (own ?? DISPATCH_DEFAULTS.timeout_ms);
    for (let r = 1; r <= retries; r++) total += dispatchBackoffMs(r);
    return total;
  }
  return undefined;
}

/**
 * The timeout of one request: the call's `timeoutMs`, else the payload's (see
 * {@link payloadTimeout}), else the client-wide `requestTimeoutMs`, else the catalog's `timeout_ms`
 * of the type, else request_timeout_ms.
 */
export function requestTimeout(type: MessageName, payload: unknown, callMs: number | undefined, clientMs: number | undefined): number {
  return callMs ?? payloadTimeout(type, payload) ?? clientMs ?? messageByName(type).timeout_ms ?? DEFAULT_LIMITS.request_timeout_ms;
}
