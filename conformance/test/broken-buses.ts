/**
 * Deliberately broken buses and coordinators, each breaking one rule of sections bus-semantics and
 * coordinator-semantics (several are the seed's own defects). Each must be caught by that rule's case.
 */
import { InMemoryBus, BusError, Coordinator, abortedError, runPipeline, withTimeout, asBusError } from '../../reference/bus/index.js';
import type { BusMessage, Handler, DispatchTarget, DispatchResult, Middleware } from '../../reference/bus/index.js';

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
