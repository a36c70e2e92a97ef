/**
 * The bus's typed error: every failure of a bus or coordinator operation carries a code of the error
 * registry (spec/errors.json), so in-process callers, adapters and the wire all speak the same names.
 */
import type { ErrorName } from '../../spec/generated/catalog.js';
import { receivedCode, type ReceivedCode } from '../codec/catalog.js';

/** The error of every failed bus or coordinator operation; `code` names an entry of the error registry. */
export class BusError extends Error {
  override name = 'BusError';

  constructor(
    readonly code: ErrorName | ReceivedCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Any thrown value as a BusError: one with a code keeps it, anything else is INTERNAL. */
export function asBusError(e: unknown): BusError {
  if (e instanceof BusError) return e;
  const x = e as { code?: unknown; message?: unknown; details?: unknown } | null;
  if (x && typeof x.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(x.code)) {
    return new BusError(receivedCode(x.code), typeof x.message === 'string' ? x.message : String(e), (x.details as Record<string, unknown>) ?? {});
  }
  return new BusError('INTERNAL', e instanceof Error ? e.message : String(e));
}
