/**
 * Deliberately broken buses and coordinators, each breaking one rule of sections bus-semantics and
 * coordinator-semantics (several are the seed's own defects). Each must be caught by that rule's case.
 */
import { InMemoryBus, BusError, Coordinator, abortedError, runPipeline, withTimeout, asBusError } from '../../reference/bus/index.js';
import type { BusMessage, Handler, DispatchTarget, DispatchResult, Middleware, Outcome, ServiceDescriptor } from '../../reference/bus/index.js';

/** BUS-19: a second registration replaces the first. */
export class ReplacingHandlers extends InMemoryBus {
  override async registerHandler(t: string, category: 'command' | 'query', h: Handler): Promise<void> {
    this.handlers.set(t, { category, handler: h });
  }
}

/** BUS-21: the same function subscribed twice is kept once. */
export class DedupingSubscribers extends InMemoryBus {
  override async subscribe(t: string, h: Handler): Promise<() => Promise<void>> {
    if (this.subscriptions.some((s) => s.eventType === t && s.handler === h)) return async () => undefined;
    return super.subscribe(t, h);
  }
}

/** BUS-22: unsubscribe removes every subscription of the type. */
export class UnsubscribeByType extends InMemoryBus {
  override async subscribe(t: string, h: Handler): Promise<() => Promise<void>> {
    await super.subscribe(t, h);
    return async () => {
      this.subscriptions = this.subscriptions.filter((s) => s.eventType !== t);
    };
  }
}

/** BUS-23: publish does not wait for its subscribers (the seed's fire-and-forget reading). */
export class PublishWithoutWaiting extends InMemoryBus {
  override async publish(t: string, payload: unknown): Promise<void> {
    for (const s of this.subscriptions.filter((x) => x.eventType === t)) void Promise.resolve().then(() => s.handler({ type: t, category: 'event', payload })).catch(() => undefined);
  }
}

/** BUS-24: the first subscriber failure stops the rest and reaches the publisher. */
export class SubscriberErrorsPropagate extends InMemoryBus {
  override async publish(t: string, payload: unknown): Promise<void> {
    for (const s of this.subscriptions.filter((x) => x.eventType === t)) await s.handler({ type: t, category: 'event', payload });
  }
}

/** BUS-26: send without a handler fails. */
export class SendNeedsHandler extends InMemoryBus {
  override async send(t: string, payload: unknown): Promise<void> {
    if (!this.handlers.has(t)) throw new BusError('NO_HANDLER', `no handler for ${t}`);
    return super.send(t, payload);
  }
}

/** BUS-27: handler errors are wrapped, losing their code. */
export class WrappedHandlerErrors extends InMemoryBus {
  override async query(t: string, payload: unknown): Promise<unknown> {
    try {
      return await super.query(t, payload);
    } catch (e) {
      throw new BusError('INTERNAL', `handler failed: ${(e as Error).message}`);
    }
  }
}

/** BUS-28: a query without handler answers null (the seed's coordinator could never report it). */
export class QueryWithoutHandlerIsNull extends InMemoryBus {
  override async query(t: string, payload: unknown, o?: { timeoutMs?: number }): Promise<unknown> {
    if (!this.handlers.has(t)) return null;
    return super.query(t, payload, o);
  }
}

/** BUS-29: a timeout of 0 expires at once. */
export class ZeroExpiresNow extends InMemoryBus {
  override async query(t: string, payload: unknown, o: { timeoutMs?: number } = {}): Promise<unknown> {
    if (o.timeoutMs === 0) throw new BusError('TIMEOUT', 'expired', { timeout_ms: 0 });
    return super.query(t, payload, o);
  }
}

/** BUS-30: after hooks run in registration order, not reversed. */
export class AfterInRegistrationOrder extends InMemoryBus {
  override async query(t: string, payload: unknown): Promise<unknown> {
    const entry = this.handlers.get(t);
    if (!entry) throw new BusError('NO_HANDLER', t);
    const reversed = [...this.middleware].reverse().map((m) => ({ ...(m.before ? { before: m.before.bind(m) } : {}), ...(m.after ? { after: m.after.bind(m) } : {}) }));
    // Befores in order, afters reversed twice = registration order.
    const befores = this.middleware.map((m) => ({ ...(m.before ? { before: m.before.bind(m) } : {}) }));
    const afters = reversed.map((m) => ({ ...(m.after ? { after: m.after.bind(m) } : {}) }));
    const outcome = await runPipeline([...befores, ...afters], { type: t, category: 'query', payload }, async (m: BusMessage) => entry.handler(m));
    if (outcome.aborted) throw abortedError(t);
    if (outcome.error) throw outcome.error;
    return outcome.result;
  }
}

/** BUS-31: an aborted query answers null instead of ABORTED. */
export class AbortIsNull extends InMemoryBus {
  override async query(t: string, payload: unknown, o?: { timeoutMs?: number }): Promise<unknown> {
    try {
      return await super.query(t, payload, o);
    } catch (e) {
      if (asBusError(e).code === 'ABORTED') return null;
      throw e;
    }
  }
}

/** BUS-34: the handler is looked up after middleware, by the replaced message's type. */
export class RoutesAfterMiddleware extends InMemoryBus {
  override async query(t: string, payload: unknown, o: { timeoutMs?: number } = {}): Promise<unknown> {
    const outcome = await runPipeline(this.middleware, { type: t, category: 'query', payload }, async (m: BusMessage) => {
      const entry = this.handlers.get(m.type);
      if (!entry) throw new BusError('NO_HANDLER', m.type);
      return withTimeout(Promise.resolve().then(() => entry.handler(m)), o.timeoutMs || this.queryTimeoutMs, t);
    });
    if (outcome.aborted) throw abortedError(t);
    if (outcome.error) throw outcome.error;
    return outcome.result;
  }
}

/** BUS-36: clear leaves the middleware in place. */
export class ClearKeepsMiddleware extends InMemoryBus {
  override async clear(): Promise<void> {
    const kept = this.middleware;
    await super.clear();
    this.middleware = kept;
  }
}

/** SVC-4: max_concurrent ignored (the seed's coordinator). */
export class UnboundedCoordinator extends Coordinator {
  override async registerService(d: Parameters<Coordinator['registerService']>[0], h?: Parameters<Coordinator['registerService']>[1]): Promise<void> {
    return super.registerService({ ...d, max_concurrent: 0 }, h);
  }
}

/** SVC-6: a timed-out attempt is retried (the seed retried every failure at once). */
export class RetryingTimeouts extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    let last: unknown;
    for (let i = 0; i <= (t.max_retries ?? 3); i++) {
      try {
        return await super.dispatch({ ...t, max_retries: 0 }, payload);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }
}

/** SVC-10: priority ignored, first come first served. */
export class NoPriority extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const { priority: _p, ...rest } = t;
    return super.dispatch(rest, payload);
  }
}

/** SVC-3: a dispatch beyond max_concurrent waits for a free slot instead of being refused. */
export class QueueingCoordinator extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const limit = (await this.getService(t.service_name))?.max_concurrent ?? 0;
    while (limit > 0 && (this.load(t.service_name) ?? 0) >= limit) await new Promise((r) => setTimeout(r, 5));
    return super.dispatch(t, payload);
  }
}

/** BUS-1 (and BUS-18): routes by the type's namespace (the part before the first dot), as a class would. */
export class RoutesByNamespace extends InMemoryBus {
  override async query(t: string, payload: unknown, o?: { timeoutMs?: number }): Promise<unknown> {
    const ns = t.split('.')[0];
    const first = [...this.handlers.keys()].find((k) => k.split('.')[0] === ns);
    return super.query(first ?? t, payload, o);
  }
}

/** BUS-16 (and BUS-33): an after hook's returned result or error is ignored, the handler's stays. */
export class AfterReturnsIgnored extends InMemoryBus {
  override use(m: Middleware): void {
    const after = m.after?.bind(m);
    const ignored: Middleware['after'] = after ? async (ctx, msg, result, error) => void (await after(ctx, msg, result, error)) : undefined;
    super.use({ ...(m.before ? { before: m.before.bind(m) } : {}), ...(ignored ? { after: ignored } : {}) });
  }
}

/** BUS-15 (and BUS-32): a before hook's failure is reported as ABORTED instead of as its own error. */
export class FailedHookAborts extends InMemoryBus {
  override async query(t: string, payload: unknown, o?: { timeoutMs?: number }): Promise<unknown> {
    try {
      return await super.query(t, payload, o);
    } catch (e) {
      if (asBusError(e).code === 'UNAUTHORIZED') throw abortedError(t);
      throw e;
    }
  }
}

/**
 * BUS-22 (with BUS-21): unsubscribe removes the first subscription of the same function and type, as
 * `list.remove(handler)` does, so calling a handle again ends the function's other subscription.
 */
export class UnsubscribeFirstOfFunction extends InMemoryBus {
  override async subscribe(t: string, h: Handler): Promise<() => Promise<void>> {
    await super.subscribe(t, h);
    return async () => {
      const i = this.subscriptions.findIndex((s) => s.eventType === t && s.handler === h);
      if (i >= 0) this.subscriptions = this.subscriptions.filter((_, j) => j !== i);
    };
  }
}

/**
 * The middleware chain as nested calls (an "onion": each hook wraps the rest). `unwind` is the defect of
 * OnionMiddleware: a `before` hook's failure runs the `after` hooks of the middleware entered before it
 * (BUS-32). `ownLayer` gives each `after` hook the message its own layer received, where the reference
 * chain gives every one the message the handler got; no statement fixes which, so a bus doing either conforms.
 */
async function onionPipeline(middleware: readonly Middleware[], message: BusMessage, core: (m: BusMessage) => Promise<unknown>, how: { unwind: boolean; ownLayer: boolean }): Promise<Outcome> {
  const ctx = { messageType: message.type, category: message.category, metadata: {} };
  let last = message;
  /** A before hook's failure on its way out, past every after hook (BUS-32). */
  class Skipping { constructor(readonly error: BusError) {} }
  const layer = async (i: number, current: BusMessage): Promise<Outcome> => {
    last = current;
    if (i === middleware.length) {
      try {
        return { aborted: false, result: await core(current), error: undefined };
      } catch (e) {
        return { aborted: false, result: undefined, error: asBusError(e) };
      }
    }
    const m = middleware[i]!;
    let inner: Outcome;
    try {
      const next = m.before ? await m.before(ctx, current) : current;
      if (next === undefined || next === null) return { aborted: true };
      inner = await layer(i + 1, next);
      if (inner.aborted) return inner;
    } catch (e) {
      if (e instanceof Skipping) throw e;
      if (!how.unwind) throw new Skipping(asBusError(e));
      return { aborted: false, result: undefined, error: asBusError(e) }; // this layer's after is skipped, the outer layers' run
    }
    if (!m.after) return inner;
    const out = await m.after(ctx, how.ownLayer ? current : last, inner.result, inner.error);
    if (!out) return inner;
    return { aborted: false, result: 'result' in out ? out.result : inner.result, error: 'error' in out ? (out.error ? asBusError(out.error) : undefined) : inner.error };
  };
  try {
    return await layer(0, message);
  } catch (e) {
    if (e instanceof Skipping) return { aborted: false, result: undefined, error: e.error };
    throw e;
  }
}

/** BUS-32: an onion chain, whose failing `before` hook still runs the `after` hooks of the middleware before it. */
export class OnionMiddleware extends InMemoryBus {
  protected onion = { unwind: true, ownLayer: false };

  override async publish(t: string, payload: unknown): Promise<void> {
    const subscribers = this.subscriptions.filter((s) => s.eventType === t);
    const outcome = await onionPipeline(this.middleware, { type: t, category: 'event', payload }, async (m) => {
      await Promise.all(subscribers.map(async (s) => { try { await s.handler(m); } catch { /* BUS-24 */ } }));
      return undefined;
    }, this.onion);
    if (!outcome.aborted && outcome.error) throw outcome.error;
  }

  override async send(t: string, payload: unknown): Promise<void> {
    const entry = this.handlers.get(t);
    const outcome = await onionPipeline(this.middleware, { type: t, category: 'command', payload }, async (m) => {
      if (entry) await entry.handler(m);
      return undefined;
    }, this.onion);
    if (outcome.aborted) throw abortedError(t);
    if (outcome.error) throw outcome.error;
  }

  override async query(t: string, payload: unknown, o: { timeoutMs?: number } = {}): Promise<unknown> {
    const entry = this.handlers.get(t);
    const outcome = await onionPipeline(this.middleware, { type: t, category: 'query', payload }, async (m) => {
      if (!entry) throw new BusError('NO_HANDLER', t);
      return withTimeout(Promise.resolve().then(() => entry.handler(m)), o.timeoutMs || this.queryTimeoutMs, t);
    }, this.onion);
    if (outcome.aborted) throw abortedError(t);
    if (outcome.error) throw outcome.error;
    return outcome.result;
  }
}

/**
 * Not broken: an onion chain done right (a failing `before` hook skips every `after` hook), whose `after`
 * hooks each see the message their own layer received. No case may fail it (no false verdicts).
 */
export class ConformingOnion extends OnionMiddleware {
  protected override onion = { unwind: false, ownLayer: true };
}

/** BUS-32: publish swallows every failure, a `before` hook's included (BUS-24 read as "publish never fails"). */
export class PublishNeverFails extends InMemoryBus {
  override async publish(t: string, payload: unknown): Promise<void> {
    try {
      await super.publish(t, payload);
    } catch {
      // swallowed
    }
  }
}

/** BUS-26, BUS-28: without a handler, send returns and query fails before any middleware runs. */
export class NoHandlerSkipsMiddleware extends InMemoryBus {
  override async send(t: string, payload: unknown): Promise<void> {
    if (!this.handlers.has(t)) return;
    return super.send(t, payload);
  }

  override async query(t: string, payload: unknown, o?: { timeoutMs?: number }): Promise<unknown> {
    if (!this.handlers.has(t)) throw new BusError('NO_HANDLER', `no handler for ${t}`);
    return super.query(t, payload, o);
  }
}

/** The coordinator's own table of services (private in the reference), for defects of the load counter and the handler. */
function servicesOf(c: Coordinator): Map<string, { load: number; handler: unknown; descriptor: { healthy?: boolean } }> {
  return (c as unknown as { services: Map<string, { load: number; handler: unknown; descriptor: { healthy?: boolean } }> }).services;
}

/** SVC-3: the handler checked before the health: an unhealthy service without a handler is refused NO_HANDLER. */
export class HandlerCheckedBeforeHealth extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const s = servicesOf(this).get(t.service_name);
    if (s && !s.handler) throw new BusError('NO_HANDLER', `${t.service_name} has no dispatch handler`);
    return super.dispatch(t, payload);
  }
}

/** SVC-3: a dispatch to a service without a handler calls nothing and fails as a failed attempt (the seed's coordinator). */
export class MissingHandlerAsFailure extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const s = servicesOf(this).get(t.service_name);
    if (s && !s.handler && s.descriptor.healthy !== false) throw new BusError('HANDLER_FAILED', `${t.service_name}: handler is not a function`, { error: { code: 'INTERNAL', message: 'handler is not a function' } });
    return super.dispatch(t, payload);
  }
}

/** SVC-5: the load is lowered only when a dispatch succeeds; a failed or timed-out one keeps its slot. */
export class LoadKeptOnFailure extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    try {
      return await super.dispatch(t, payload);
    } catch (e) {
      const code = asBusError(e).code;
      const s = servicesOf(this).get(t.service_name);
      if (s && (code === 'HANDLER_FAILED' || code === 'TIMEOUT')) s.load++; // undoes the reference's lowering
      throw e;
    }
  }
}

/** SVC-2: the listing gives every service the load it was registered with (0), not its current load. */
export class ListingWithoutLoad extends Coordinator {
  override async listServices(filter?: { service_type?: string; healthy_only?: boolean }): Promise<ServiceDescriptor[]> {
    return (await super.listServices(filter)).map((s) => ({ ...s, current_load: 0 }));
  }
}

/** SVC-7: `max_retries || 3`: a target's max_retries 0 is taken as absent, so a failing dispatch is tried 4 times. */
export class ZeroRetriesMeansDefault extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    return super.dispatch({ ...t, max_retries: t.max_retries || 3 }, payload);
  }
}

/** SVC-7: a target without max_retries is not retried (the default taken as 0 instead of 3). */
export class AbsentRetriesMeansNone extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    return super.dispatch({ ...t, max_retries: t.max_retries ?? 0 }, payload);
  }
}

/** SVC-10: a target without priority ranks first (the zero value of a rank table, or indexOf's -1). */
export class AbsentPriorityFirst extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    return super.dispatch({ ...t, priority: t.priority ?? 'realtime' }, payload);
  }
}

/**
 * BUS-34 (and BUS-17) for publish: the subscribers are looked up after middleware, by the type of the
 * message the before hooks left (a query still routed by its own type, so routing-key-before-middleware passes).
 */
export class PublishRoutesAfterMiddleware extends InMemoryBus {
  override async publish(t: string, payload: unknown): Promise<void> {
    const outcome = await runPipeline(this.middleware, { type: t, category: 'event', payload }, async (m: BusMessage) => {
      await Promise.all(this.subscriptions.filter((s) => s.eventType === m.type).map(async (s) => { try { await s.handler(m); } catch { /* BUS-24 */ } }));
      return undefined;
    });
    if (!outcome.aborted && outcome.error) throw outcome.error;
  }
}

/** BUS-34 (and BUS-17) for send: the handler is looked up after middleware, by the replaced command's type. */
export class SendRoutesAfterMiddleware extends InMemoryBus {
  override async send(t: string, payload: unknown): Promise<void> {
    const outcome = await runPipeline(this.middleware, { type: t, category: 'command', payload }, async (m: BusMessage) => {
      const entry = this.handlers.get(m.type);
      if (entry) await entry.handler(m);
      return undefined;
    });
    if (outcome.aborted) throw abortedError(t);
    if (outcome.error) throw outcome.error;
  }
}

/**
 * BUS-33 (and BUS-16): an after hook's error replaces only an error already running (`if (error && out.error)`);
 * returned after a success it is dropped, so the operation succeeds and the later after hooks see no error.
 * A handler's error replaced or recovered (after-chain) behaves as the reference's.
 */
export class AfterErrorOnlyReplacesAnError extends InMemoryBus {
  override use(m: Middleware): void {
    const after = m.after?.bind(m);
    const only: Middleware['after'] = after
      ? async (ctx, msg, result, error) => {
          const out = await after(ctx, msg, result, error);
          if (!out || error || !out.error) return out;
          const { error: _dropped, ...rest } = out;
          return rest;
        }
      : undefined;
    super.use({ ...(m.before ? { before: m.before.bind(m) } : {}), ...(only ? { after: only } : {}) });
  }
}

/** SVC-3: the load is checked before the health, so an unhealthy service at its max_concurrent is refused OVERLOADED. */
export class LoadCheckedBeforeHealth extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    const s = await this.getService(t.service_name);
    const limit = s?.max_concurrent ?? 0;
    if (s && limit > 0 && (s.current_load ?? 0) >= limit) throw new BusError('OVERLOADED', `${t.service_name} already runs ${s.current_load} dispatches (max_concurrent ${limit})`, { limit });
    return super.dispatch(t, payload);
  }
}

/** SVC-6: a target's timeout_ms 0 is clamped to 1 ms (the wire's minimum) instead of read as the default 300,000 ms. */
export class ZeroTimeoutClampedToOne extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    return super.dispatch(t.timeout_ms === 0 ? { ...t, timeout_ms: 1 } : t, payload);
  }
}

/** SVC-6: a target's timeout_ms 0 expires at once (the attempt bounded at 0 ms), as the TypeScript coordinators had it. */
export class ZeroTimeoutExpiresNow extends Coordinator {
  override async dispatch(t: DispatchTarget, payload: unknown): Promise<DispatchResult> {
    if (t.timeout_ms !== 0) return super.dispatch(t, payload);
    const { timeout_ms: _zero, ...rest } = t;
    return withTimeout(super.dispatch(rest, payload), 0, `${t.service_name}.${t.method}`);
  }
}
