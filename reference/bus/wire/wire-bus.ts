/**
 * A CommandBus whose tables live in a broker (sections 9.6 and 18, BUS-37): subscribe and
 * register_handler go to the broker, events and forwarded commands and queries come back to this
 * client's handlers, and middleware runs here, around the wire operation, with the routing key taken
 * before it (BUS-34).
 */
import type { ConcordClient } from '../../client/client.js';
import { BusError } from '../errors.js';
import { abortedError, runPipeline } from '../pipeline.js';
import { DEFAULT_QUERY_TIMEOUT_MS } from '../bus.js';
import type { BusMessage, CommandBus, Handler, Middleware, QueryOptions } from '../types.js';
import { fromRemote } from './errors.js';
import { CATALOG_TIMEOUT_MS } from '../../../spec/generated/catalog.js';

/** Extra time the client waits beyond the broker's own timeout, so the broker's TIMEOUT arrives first. */
const MARGIN_MS = 5_000;

export class WireBus implements CommandBus {
  private readonly subs = new Map<string, { eventType: string; handler: Handler }>();
  private readonly handlers = new Map<string, Handler>();
  private middleware: Middleware[] = [];

  constructor(readonly client: ConcordClient) {
    client.on('BUS_EVENT', async (p) => {
      const s = this.subs.get(p.subscription_id);
      if (s) await run(s.handler, { type: p.event_type, category: 'event', payload: p.payload ?? null });
      return {};
    });
    client.on('BUS_SEND', async (p) => {
      await run(this.handlerOf(p.message_type), { type: p.message_type, category: 'command', payload: p.payload ?? null });
      return {};
    });
    client.on('BUS_QUERY', async (p) => {
      const result = await run(this.handlerOf(p.message_type), { type: p.message_type, category: 'query', payload: p.payload ?? null });
      return result === undefined ? {} : { result: json(result) };
    });
  }

  async subscribe(eventType: string, handler: Handler): Promise<() => Promise<void>> {
    const { subscription_id: id } = await this.client.request('BUS_SUBSCRIBE', { event_type: eventType });
    this.subs.set(id, { eventType, handler });
    return async () => {
      if (!this.subs.delete(id)) return; // BUS-22: a second call is a no-op
      await this.client.request('BUS_UNSUBSCRIBE', { subscription_id: id });
    };
  }

  async registerHandler(messageType: string, category: 'command' | 'query', handler: Handler): Promise<void> {
    try {
      await this.client.request('BUS_REGISTER_HANDLER', { message_type: messageType, category });
    } catch (e) {
      throw fromRemote(e, false);
    }
    this.handlers.set(messageType, handler);
  }

  use(middleware: Middleware): void {
    this.middleware = [...this.middleware, middleware];
  }

  async publish(eventType: string, payload: unknown): Promise<void> {
    const outcome = await runPipeline(this.middleware, { type: eventType, category: 'event', payload }, async (m) => {
      await this.client.request('BUS_PUBLISH', { event_type: eventType, ...(m.payload !== undefined ? { payload: json(m.payload) } : {}) });
      return undefined;
    });
    if (!outcome.aborted && outcome.error) throw outcome.error;
  }

  async send(commandType: string, payload: unknown): Promise<void> {
    const outcome = await runPipeline(this.middleware, { type: commandType, category: 'command', payload }, async (m) => {
      try {
        await this.client.request('BUS_SEND', { message_type: commandType, ...(m.payload !== undefined ? { payload: json(m.payload) } : {}) }, { timeoutMs: CATALOG_TIMEOUT_MS.BUS_SEND + MARGIN_MS });
      } catch (e) {
        throw fromRemote(e, true);
      }
      return undefined;
    });
    if (outcome.aborted) throw abortedError(commandType);
    if (outcome.error) throw outcome.error;
  }

  async query(queryType: string, payload: unknown, options: QueryOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs !== undefined && options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_QUERY_TIMEOUT_MS;
    const outcome = await runPipeline(this.middleware, { type: queryType, category: 'query', payload }, async (m) => {
      try {
        const r = await this.client.request('BUS_QUERY', { message_type: queryType, timeout_ms: timeoutMs, ...(m.payload !== undefined ? { payload: json(m.payload) } : {}) }, { timeoutMs: timeoutMs + MARGIN_MS });
        return r.result ?? null;
      } catch (e) {
        throw fromRemote(e, true);
      }
    });
    if (outcome.aborted) throw abortedError(queryType);
    if (outcome.error) throw outcome.error;
    return outcome.result;
  }

  hasHandler(messageType: string): boolean {
    return this.handlers.has(messageType);
  }

  subscriberCount(eventType: string): number {
    return [...this.subs.values()].filter((s) => s.eventType === eventType).length;
  }

  registeredTypes(): string[] {
    return [...this.handlers.keys()].sort();
  }

  async clear(): Promise<void> {
    const ids = [...this.subs.keys()];
    const types = [...this.handlers.keys()];
    this.subs.clear();
    this.handlers.clear();
    this.middleware = [];
    await Promise.all([
      ...ids.map((id) => this.client.request('BUS_UNSUBSCRIBE', { subscription_id: id })),
      ...types.map((t) => this.client.request('BUS_UNREGISTER_HANDLER', { message_type: t })),
    ]);
  }

  private handlerOf(type: string): Handler {
    const h = this.handlers.get(type);
    if (!h) throw new BusError('NO_HANDLER', `this client has no handler for ${type}`);
    return h;
  }
}

/** Runs a handler; a failure keeps its registry code so the ERROR carries it (BUS-27). */
async function run(handler: Handler, message: BusMessage): Promise<unknown> {
  return handler(message);
}

/** The generated types read "any JSON value" as an object; the validators accept any value. */
function json(v: unknown): Record<string, unknown> {
  return v as Record<string, unknown>;
}
