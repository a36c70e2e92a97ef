/** How the wire's ERRORs become bus errors: HANDLER_FAILED of a send or query unwraps to the handler's own error (BUS-27). */
import { BusError } from '../errors.js';
import { receivedCode, registryName } from '../../codec/catalog.js';

export function fromRemote(e: unknown, unwrapHandler: boolean): BusError {
  const r = e as { code?: string; message?: string; details?: Record<string, unknown> } | null;
  if (!r || typeof r.code !== 'string') return new BusError('INTERNAL', e instanceof Error ? e.message : String(e));
  const inner = r.details?.['error'] as { code?: string; message?: string; details?: Record<string, unknown> } | undefined;
  if (unwrapHandler && registryName(r.code) === 'HANDLER_FAILED' && inner && typeof inner.code === 'string') {
    return new BusError(receivedCode(inner.code), inner.message ?? '', inner.details ?? {});
  }
  return new BusError(receivedCode(r.code), r.message ?? '', r.details ?? {});
}
