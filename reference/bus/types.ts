/** The shapes the bus works with (section bus-semantics): messages, handlers, middleware, the bus interface. */
import type { BusError } from './errors.js';

export type Category = 'event' | 'command' | 'query';

/** A bus message: its type name is explicit, never a class name (BUS-18). */
export interface BusMessage {
  readonly type: string;
  readonly category: Category;
  readonly payload: unknown;
}

/** A subscriber or handler: its result answers a query; a throw is its failure. */
export type Handler = (message: BusMessage) => unknown;

export interface MiddlewareContext {
  /** The routing key, fixed before any hook runs (BUS-34). */
  readonly messageType: string;
  readonly category: Category;
  /** Free space for hooks of one operation to share. */
  readonly metadata: Record<string, unknown>;
}

/** What an `after` hook returns: a present key replaces the running value (`error: null` clears it). */
export interface AfterOutcome {
  result?: unknown;
  error?: BusError | Error | null;
}

export interface Middleware {
  /** Returns the message to go on with (possibly replaced), or nothing to abort (BUS-31). */
  before?(ctx: MiddlewareContext, message: BusMessage): BusMessage | undefined | Promise<BusMessage | undefined>;
  after?(ctx: MiddlewareContext, message: BusMessage, result: unknown, error: BusError | undefined): AfterOutcome | undefined | Promise<AfterOutcome | undefined>;
}

export interface QueryOptions {
  /** Milliseconds; 0 or absent means the bus default (BUS-29). */
  timeoutMs?: number;
}

/** The bus operations, implemented in process (InMemoryBus) and over the wire (WireBus). */
export interface CommandBus {
  publish(eventType: string, payload: unknown): Promise<void>;
  send(commandType: string, payload: unknown): Promise<void>;
  query(queryType: string, payload: unknown, options?: QueryOptions): Promise<unknown>;
  /** Resolves once the subscription is active (over the wire: once the broker confirmed it). */
  subscribe(eventType: string, handler: Handler): Promise<() => Promise<void>>;
  registerHandler(messageType: string, category: 'command' | 'query', handler: Handler): Promise<void>;
  use(middleware: Middleware): void;
  hasHandler(messageType: string): boolean;
  subscriberCount(eventType: string): number;
  registeredTypes(): string[];
  clear(): Promise<void>;
}
