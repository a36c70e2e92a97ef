/**
 * A ServiceCoordinator whose registry is the broker's (section 9.7): services are registered by a
 * provider client that answers the forwarded SERVICE_DISPATCH; dispatch, list and get are asked by the
 * caller client; broadcast and request go through the wire bus (REG-13).
 */
import type { ConcordClient } from '../../client/client.js';
import { RemoteError } from '../../client/errors.js';
import { BusError, asBusError } from '../errors.js';
import type { WireBus } from './wire-bus.js';
import { fromRemote } from './errors.js';
import type { DispatchHandler, DispatchResult, DispatchTarget, RequestOutcome, ServiceCoordinator, ServiceDescriptor } from '../coordinator.js';
import { DEFAULT_DISPATCH_TIMEOUT_MS, DEFAULT_MAX_RETRIES, MAX_BACKOFF_MS } from '../coordinator.js';
import type { ServiceDispatchPayload } from '../../../spec/generated/types.js';
import { registryName } from '../../codec/catalog.js';

export class WireCoordinator implements ServiceCoordinator {
  private readonly handlers = new Map<string, DispatchHandler>();

  constructor(private readonly caller: ConcordClient, private readonly provider: ConcordClient, private readonly bus: WireBus) {
    provider.on('SERVICE_DISPATCH', async (p: ServiceDispatchPayload) => {
      const h = this.handlers.get(p.service_name);
      if (!h) throw new BusError('NO_HANDLER', `no handler for service ${p.service_name}`);
      const result = await h({ method: p.method, payload: p.payload ?? null, attempt: 0 });
      return result === undefined ? {} : { result: result as Record<string, unknown> };
    });
  }

  async registerService(d: ServiceDescriptor, handler?: DispatchHandler): Promise<void> {
    const { current_load: _ignored, ...rest } = d;
    try {
      await this.provider.request('SERVICE_REGISTER', { service: { version: '1.0.0', max_concurrent: 10, healthy: true, ...rest } });
    } catch (e) {
      throw fromRemote(e, false);
    }
    if (handler) this.handlers.set(d.name, handler);
  }

  async unregisterService(name: string): Promise<boolean> {
    try {
      await this.provider.request('SERVICE_UNREGISTER', { name });
      this.handlers.delete(name);
      return true;
    } catch (e) {
      if (e instanceof RemoteError && registryName(e.code) === 'SERVICE_NOT_FOUND') return false;
      throw fromRemote(e, false);
    }
  }

  async setHealth(name: string, healthy: boolean): Promise<void> {
    try {
      await this.provider.request('SERVICE_HEALTH', { name, healthy });
    } catch (e) {
      throw fromRemote(e, false);
    }
  }

  async getService(name: string): Promise<ServiceDescriptor | undefined> {
    const r = await this.caller.request('SERVICE_LIST', { name });
    return r.services[0];
  }

  async listServices(filter: { service_type?: string; healthy_only?: boolean } = {}): Promise<ServiceDescriptor[]> {
    const r = await this.caller.request('SERVICE_LIST', filter.service_type !== undefined ? { service_type: filter.service_type } : {});
    return r.services.filter((s) => !(filter.healthy_only ?? true) || s.healthy !== false);
  }

  async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const timeoutMs = t.timeout_ms || DEFAULT_DISPATCH_TIMEOUT_MS; // SVC-6: absent or 0 is the default (the wire's minimum is 1)
    const retries = t.max_retries ?? DEFAULT_MAX_RETRIES;
    // The whole dispatch, every attempt and backoff included, plus a margin: the broker answers first.
    const bound = (timeoutMs + 1000) * (retries + 1) + retries * MAX_BACKOFF_MS + 5000;
    try {
      const r = await this.caller.request('SERVICE_DISPATCH', {
        service_name: t.service_name, method: t.method, timeout_ms: timeoutMs, max_retries: retries,
        ...(t.priority !== undefined ? { priority: t.priority } : {}), ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
      }, { timeoutMs: bound });
      return { result: r.result ?? null, attempts: r.attempts ?? 1 };
    } catch (e) {
      throw fromRemote(e, false);
    }
  }

  async broadcast(eventType: string, payload: unknown): Promise<void> {
    await this.bus.publish(eventType, payload);
  }

  async request(_service: string, queryType: string, payload: unknown, timeoutMs?: number): Promise<RequestOutcome> {
    try {
      return { result: await this.bus.query(queryType, payload, timeoutMs !== undefined ? { timeoutMs } : {}) };
    } catch (e) {
      const err = asBusError(e);
      return { error: { code: err.code, message: err.message } };
    }
  }
}
