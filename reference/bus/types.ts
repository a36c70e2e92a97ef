/** The shapes the bus works with (section bus-semantics): messages, handlers, middleware, the bus interface. */
import type { BusError } from './errors.js';

/** The three kinds of bus message: events go to every subscriber, commands and queries to one handler. */
export type Category = 'event' | 'command' | 'query';

/** A bus message: its type name is explicit, never a class name (BUS-18). */
export interface BusMessage {
  readonly type: string;
  readonly category: Category;
  readonly payload: unknown;
}

/** A subscriber or handler: its result answers a query; a throw is its failure. */
export type Handler = (message: BusMessage) => unknown;

/** What the hooks of one operation share. */
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

/** Hooks around every send and query (and publish) of a bus (BUS-30, BUS-31, BUS-32, BUS-33, BUS-34). */
export interface Middleware {
  /** Returns the message to go on with (possibly replaced), or nothing to abort (BUS-31). */
  before?(ctx: MiddlewareContext, message: BusMessage): BusMessage | undefined | Promise<BusMessage | undefined>;
  /** Runs after the core, in reverse order; returns a replacement for the result or the error, or nothing to keep them. */
  after?(ctx: MiddlewareContext, message: BusMessage, result: unknown, error: BusError | undefined): AfterOutcome | undefined | Promise<AfterOutcome | undefined>;
}

/** Options of one query. */
export interface QueryOptions {
  /** Milliseconds; 0 or absent means the bus default (BUS-29). */
  timeoutMs?: number;
}

/** The bus operations, implemented in process (InMemoryBus) and over the wire (WireBus). */
export interface CommandBus {
  /** Delivers an event to every subscriber of its type; never fails because a subscriber did (BUS-24). */
  publish(eventType: string, payload: unknown): Promise<void>;
  /** Runs the command's one handler; rejects with NO_HANDLER when none is registered, or with the handler's failure. */
  send(commandType: string, payload: unknown): Promise<void>;
  /** Runs the query's one handler and resolves with its result; rejects on NO_HANDLER, TIMEOUT or the handler's failure. */
  query(queryType: string, payload: unknown, options?: QueryOptions): Promise<unknown>;
  /** Resolves once the subscription is active (over the wire: once the broker confirmed it). */
  subscribe(eventType: string, handler: Handler): Promise<() => Promise<void>>;
  /** Registers the one handler of a command or query type (a second registration is refused). */
  registerHandler(messageType: string, category: 'command' | 'query', handler: Handler): Promise<void>;
  /** Adds a middleware after those already added. */
  use(middleware: Middleware): void;
  /** Whether a command or query type has a handler. */
  hasHandler(messageType: string): boolean;
  /** How many subscribers an event type has. */
  subscriberCount(eventType: string): number;
  /** The command and query types with a handler. */
  registeredTypes(): string[];
  /** Removes every subscription, handler and middleware. */
  clear(): Promise<void>;
}
