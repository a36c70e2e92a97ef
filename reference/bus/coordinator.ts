/**
 * The in-process coordinator (section coordinator-semantics): a registry of service descriptors and
 * dispatch to a service's handler with existence, health and max_concurrent checks, a timeout per
 * attempt, retries with a stated backoff and priority order; broadcast and request go through the bus
 * by type name. The seed's coordinator defects (dispatch that cannot report a missing handler, routing
 * by class name, ignored max_concurrent and priority, immediate retries mutating the target) are what
 * SVC-1, SVC-2, SVC-3, SVC-4, SVC-5, SVC-6, SVC-7, SVC-8, SVC-9, SVC-10, SVC-11, SVC-12, SVC-13 rule out.
 */
import { BusError, asBusError } from './errors.js';
import { withTimeout } from './bus.js';
import { DISPATCH_DEFAULTS, dispatchBackoffMs } from '../../spec/generated/catalog.js';
import type { CommandBus } from './types.js';
import { registryName } from '../codec/catalog.js';

/** Dispatch priorities, highest first (SVC-5). */
export const PRIORITIES = ['realtime', 'high', 'normal', 'low', 'idle'] as const;
/** A dispatch priority (see {@link PRIORITIES}). */
export type Priority = (typeof PRIORITIES)[number];

/** Defaults of a dispatch target (SVC-6, SVC-7) and of the backoff (SVC-8). */
export const DEFAULT_DISPATCH_TIMEOUT_MS = DISPATCH_DEFAULTS.timeout_ms;
/** Retries of a dispatch target that gives none (SVC-7). */
export const DEFAULT_MAX_RETRIES = DISPATCH_DEFAULTS.max_retries;
/** Base of the retry backoff, in ms (SVC-8). */
export const DEFAULT_BACKOFF_BASE_MS = DISPATCH_DEFAULTS.backoff_base_ms;
/** Longest wait between retries, in ms (SVC-8). */
export const MAX_BACKOFF_MS = DISPATCH_DEFAULTS.backoff_max_ms;

/** A service as the coordinator registers it: name, type, capabilities, limits and health. */
export interface ServiceDescriptor {
  name: string;
  service_type: string;
  version?: string;
  capabilities?: string[];
  /** 0 means unlimited. */
  max_concurrent?: number;
  current_load?: number;
  healthy?: boolean;
  metadata?: Record<string, unknown>;
}

/** Where and how to dispatch: the service, its method, priority, timeout per attempt and retries. */
export interface DispatchTarget {
  readonly service_name: string;
  readonly method: string;
  readonly priority?: Priority;
  readonly timeout_ms?: number;
  readonly max_retries?: number;
}

/** What a service's handler is called with for one attempt. */
export interface DispatchCall {
  readonly method: string;
  readonly payload: unknown;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** A service's handler: its result answers the dispatch, a throw is a failed attempt. */
export type DispatchHandler = (call: DispatchCall) => unknown;

/** The answer of a dispatch and the attempts it took. */
export interface DispatchResult {
  result: unknown;
  attempts: number;
}

/** The answer of a request through the bus: a result or an error, never a throw. */
export type RequestOutcome = { result: unknown } | { error: { code: string; message: string } };

/** The coordinator operations, in process (Coordinator) and over the wire (WireCoordinator). */
export interface ServiceCoordinator {
  /** Registers (or replaces) a service, with the handler dispatches to it run. */
  registerService(descriptor: ServiceDescriptor, handler?: DispatchHandler): Promise<void>;
  /** Removes a service; resolves false when there was none. */
  unregisterService(name: string): Promise<boolean>;
  /** Marks a service healthy or not: an unhealthy service is not dispatched to (SVC-3). */
  setHealth(name: string, healthy: boolean): Promise<void>;
  /** The descriptor of a service, current load included. */
  getService(name: string): Promise<ServiceDescriptor | undefined>;
  /** The services, optionally of one type or healthy only. */
  listServices(filter?: { service_type?: string; healthy_only?: boolean }): Promise<ServiceDescriptor[]>;
  /** Calls a service's handler with existence, health and max_concurrent checks, a timeout per attempt and retries with backoff. */
  dispatch(target: DispatchTarget, payload: unknown): Promise<DispatchResult>;
  /** Publishes an event on the bus. */
  broadcast(eventType: string, payload: unknown): Promise<void>;
  /** Sends a query on the bus and returns its answer or error as a value. */
  request(serviceName: string, queryType: string, payload: unknown, timeoutMs?: number): Promise<RequestOutcome>;
}

/** The wait before the r-th retry (r >= 1): min(base x 2^(r-1), MAX_BACKOFF_MS) ms (SVC-8). */
export const backoffMs: (retry: number, baseMs?: number) => number = dispatchBackoffMs;

/** The rank of a priority: 0 for realtime; absent counts as normal. */
export function priorityRank(p: Priority | undefined): number {
  const i = PRIORITIES.indexOf(p ?? 'normal');
  return i < 0 ? 2 : i;
}

interface Service {
  descriptor: ServiceDescriptor;
  handler: DispatchHandler | undefined;
  load: number;
}

interface Waiting {
  rank: number;
  seq: number;
  start: () => void;
}

/** Options of a {@link Coordinator}. */
export interface CoordinatorOptions {
  /** Base of the retry backoff in ms (SVC-8); 100 when absent. */
  backoffBaseMs?: number;
  /** Observes every load change, for tests of SVC-4 and SVC-5. */
  onLoad?: (service: string, load: number) => void;
}

/** The in-process coordinator: a service registry and dispatch over a {@link CommandBus}. */
export class Coordinator implements ServiceCoordinator {
  private readonly services = new Map<string, Service>();
  private waiting: Waiting[] = [];
  private drainScheduled = false;
  private seq = 0;
  private readonly backoffBaseMs: number;

  constructor(readonly bus: CommandBus, private readonly options: CoordinatorOptions = {}) {
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
  }

  async registerService(descriptor: ServiceDescriptor, handler?: DispatchHandler): Promise<void> {
    if (this.services.has(descriptor.name)) throw new BusError('SERVICE_EXISTS', `service ${descriptor.name} is already registered`, { statement: 'SVC-1' });
    const { current_load: _ignored, ...rest } = descriptor;
    this.services.set(descriptor.name, { descriptor: { max_concurrent: 10, healthy: true, version: '1.0.0', capabilities: [], metadata: {}, ...structuredClone(rest) }, handler, load: 0 });
  }

  /** A handler for a registered service (the seed's register_handler). */
  registerHandler(serviceName: string, handler: DispatchHandler): void {
    const s = this.services.get(serviceName);
    if (!s) throw new BusError('SERVICE_NOT_FOUND', `no service ${serviceName} is registered`);
    s.handler = handler;
  }

  async unregisterService(name: string): Promise<boolean> {
    return this.services.delete(name);
  }

  async setHealth(name: string, healthy: boolean): Promise<void> {
    const s = this.services.get(name);
    if (!s) throw new BusError('SERVICE_NOT_FOUND', `no service ${name} is registered`);
    s.descriptor.healthy = healthy;
  }

  async getService(name: string): Promise<ServiceDescriptor | undefined> {
    const s = this.services.get(name);
    return s ? view(s) : undefined;
  }

  async listServices(filter: { service_type?: string; healthy_only?: boolean } = {}): Promise<ServiceDescriptor[]> {
    const healthyOnly = filter.healthy_only ?? true;
    return [...this.services.values()]
      .filter((s) => (filter.service_type === undefined || s.descriptor.service_type === filter.service_type) && (!healthyOnly || s.descriptor.healthy !== false))
      .map(view)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The load of a service now (SVC-5), or undefined when it is not registered. */
  load(name: string): number | undefined {
    return this.services.get(name)?.load;
  }

  async dispatch(target: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const service = this.accept(target);
    // SVC-10: wait for this turn's dispatches to be collected, then start in priority order.
    await new Promise<void>((start) => this.enqueue(priorityRank(target.priority), start));
    const limit = service.descriptor.max_concurrent ?? 0;
    if (limit > 0 && service.load >= limit) {
      throw new BusError('OVERLOADED', `${target.service_name} already runs ${service.load} dispatches (max_concurrent ${limit})`, { limit, statement: 'SVC-3' });
    }
    this.setLoad(service, service.load + 1);
    try {
      return await this.attempts(service, service.handler!, target, payload);
    } finally {
      this.setLoad(service, service.load - 1); // exactly once, whatever the outcome (SVC-5)
    }
  }

  async broadcast(eventType: string, payload: unknown): Promise<void> {
    await this.bus.publish(eventType, payload); // by type name (SVC-12)
  }

  async request(_serviceName: string, queryType: string, payload: unknown, timeoutMs?: number): Promise<RequestOutcome> {
    try {
      return { result: await this.bus.query(queryType, payload, timeoutMs !== undefined ? { timeoutMs } : {}) };
    } catch (e) {
      const err = asBusError(e);
      return { error: { code: err.code, message: err.message } }; // never raises (SVC-13)
    }
  }

  /** SVC-3's checks made when the dispatch is accepted: existence, health, handler. */
  private accept(target: DispatchTarget): Service {
    const service = this.services.get(target.service_name);
    if (!service) throw new BusError('SERVICE_NOT_FOUND', `no service ${target.service_name} is registered`, { statement: 'SVC-3' });
    if (service.descriptor.healthy === false) throw new BusError('SERVICE_UNHEALTHY', `${target.service_name} is unhealthy`, { statement: 'SVC-3' });
    if (!service.handler) throw new BusError('NO_HANDLER', `${target.service_name} has no dispatch handler`, { statement: 'SVC-3' });
    return service;
  }

  private async attempts(service: Service, handler: DispatchHandler, target: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const timeoutMs = target.timeout_ms || DEFAULT_DISPATCH_TIMEOUT_MS; // SVC-6: absent or 0 is the default
    const maxRetries = target.max_retries ?? DEFAULT_MAX_RETRIES;
    let last: BusError | undefined;
    for (let attempt = 1; attempt <= maxRetries + 1; attempt++) {
      if (attempt > 1) await sleep(backoffMs(attempt - 1, this.backoffBaseMs));
      // A copy per attempt: the caller's payload is never altered (SVC-9).
      const call: DispatchCall = { method: target.method, payload: structuredClone(payload), attempt };
      try {
        const result = await withTimeout(Promise.resolve().then(() => handler(call)), timeoutMs, `${service.descriptor.name}.${target.method}`);
        return { result, attempts: attempt };
      } catch (e) {
        const err = asBusError(e);
        if (registryName(err.code) === 'TIMEOUT' && err.details['timeout_ms'] === timeoutMs) throw new BusError('TIMEOUT', err.message, { timeout_ms: timeoutMs, attempts: attempt, statement: 'SVC-6' });
        last = err;
      }
    }
    throw new BusError('HANDLER_FAILED', `${service.descriptor.name}.${target.method} failed ${maxRetries + 1} times`, { error: { code: last!.code, message: last!.message }, attempts: maxRetries + 1, statement: 'SVC-7' });
  }

  private enqueue(rank: number, start: () => void): void {
    this.waiting.push({ rank, seq: this.seq++, start });
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      const turn = this.waiting.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
      this.waiting = [];
      for (const w of turn) w.start();
    });
  }

  private setLoad(service: Service, load: number): void {
    service.load = load;
    this.options.onLoad?.(service.descriptor.name, load);
  }
}

function view(s: Service): ServiceDescriptor {
  return { ...structuredClone(s.descriptor), current_load: s.load };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
