/**
 * The in-process command bus (section bus-semantics): publish fans an event out to every subscriber
 * and waits for all of them, send and query reach the one handler of their type, middleware wraps
 * every operation. Rules B1-B9 of seed 002, as the Go bus implements them.
 */
import { BusError, asBusError } from './errors.js';
import { abortedError, runPipeline } from './pipeline.js';
import type { BusMessage, Category, CommandBus, Handler, Middleware, QueryOptions } from './types.js';
import { CATALOG_TIMEOUT_MS } from '../../spec/generated/catalog.js';

/** The query timeout used when a query gives none or 0 (BUS-29). */
export const DEFAULT_QUERY_TIMEOUT_MS = CATALOG_TIMEOUT_MS.BUS_QUERY;

interface Subscription {
  readonly eventType: string;
  readonly handler: Handler;
}

interface HandlerEntry {
  readonly category: 'command' | 'query';
  readonly handler: Handler;
}

/** Options of an {@link InMemoryBus}. */
export interface InMemoryBusOptions {
  /** Default query timeout in ms (BUS-29); 30,000 when absent. */
  queryTimeoutMs?: number;
  /** Where subscriber failures go, since they never reach the publisher (BUS-24). */
  onSubscriberError?: (eventType: string, error: BusError) => void;
}

/** The command bus in one process: events, commands and queries by explicit type name, with middleware (section bus-semantics). */
export class InMemoryBus implements CommandBus {
  protected subscriptions: Subscription[] = [];
  protected handlers = new Map<string, HandlerEntry>();
  protected middleware: Middleware[] = [];
  readonly queryTimeoutMs: number;
  private readonly onSubscriberError: (eventType: string, error: BusError) => void;

  constructor(options: InMemoryBusOptions = {}) {
    this.queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.onSubscriberError = options.onSubscriberError ?? (() => undefined);
  }

  async subscribe(eventType: string, handler: Handler): Promise<() => Promise<void>> {
    // A new object per call: the same function subscribed twice is two subscriptions (BUS-21).
    const sub: Subscription = { eventType, handler };
    this.subscriptions = [...this.subscriptions, sub];
    return async () => {
      // Identity, not the function: ends exactly this subscription; again is a no-op (BUS-22).
      this.subscriptions = this.subscriptions.filter((s) => s !== sub);
    };
  }

  async registerHandler(messageType: string, category: 'command' | 'query', handler: Handler): Promise<void> {
    if (this.handlers.has(messageType)) {
      throw new BusError('HANDLER_EXISTS', `a handler for ${messageType} is already registered`, { statement: 'BUS-19' });
    }
    this.handlers.set(messageType, { category, handler });
  }

  use(middleware: Middleware): void {
    this.middleware = [...this.middleware, middleware];
  }

  async publish(eventType: string, payload: unknown): Promise<void> {
    const message = msg(eventType, 'event', payload);
    // Subscribers are looked up by the routing key before middleware (BUS-34).
    const subscribers = this.subscriptions.filter((s) => s.eventType === eventType);
    const outcome = await runPipeline(this.middleware, message, async (m) => {
      await Promise.all(
        subscribers.map(async (s) => {
          try {
            await s.handler(m);
          } catch (e) {
            this.onSubscriberError(eventType, asBusError(e)); // BUS-24
          }
        }),
      );
      return undefined;
    });
    if (!outcome.aborted && outcome.error) throw outcome.error;
  }

  async send(commandType: string, payload: unknown): Promise<void> {
    // The handler is looked up by the routing key before middleware (BUS-34); middleware runs either way,
    // as it does over the wire, where only the broker knows whether there is a handler.
    const entry = this.handlers.get(commandType);
    const outcome = await runPipeline(this.middleware, msg(commandType, 'command', payload), async (m) => {
      if (entry) await entry.handler(m); // a command has no result: after hooks see none, as over the wire
      return undefined;
    }); // BUS-26
    if (outcome.aborted) throw abortedError(commandType);
    if (outcome.error) throw outcome.error;
  }

  async query(queryType: string, payload: unknown, options: QueryOptions = {}): Promise<unknown> {
    const entry = this.handlers.get(queryType);
    const timeoutMs = options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : this.queryTimeoutMs;
    const outcome = await runPipeline(this.middleware, msg(queryType, 'query', payload), async (m) => {
      if (!entry) throw new BusError('NO_HANDLER', `no handler is registered for ${queryType}`, { statement: 'BUS-28' });
      return withTimeout(Promise.resolve().then(() => entry.handler(m)), timeoutMs, queryType);
    });
    if (outcome.aborted) throw abortedError(queryType);
    if (outcome.error) throw outcome.error;
    return outcome.result;
  }

  hasHandler(messageType: string): boolean {
    return this.handlers.has(messageType);
  }

  subscriberCount(eventType: string): number {
    return this.subscriptions.filter((s) => s.eventType === eventType).length;
  }

  registeredTypes(): string[] {
    return [...this.handlers.keys()].sort();
  }

  async clear(): Promise<void> {
    this.subscriptions = [];
    this.handlers.clear();
    this.middleware = [];
  }
}

function msg(type: string, category: Category, payload: unknown): BusMessage {
  return { type, category, payload };
}

/** Resolves with `p`, or fails with TIMEOUT naming `timeoutMs` (BUS-29). */
export function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BusError('TIMEOUT', `${what} did not finish within ${timeoutMs} ms`, { timeout_ms: timeoutMs })), timeoutMs);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
