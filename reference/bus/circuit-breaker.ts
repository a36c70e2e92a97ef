/**
 * A circuit-breaker middleware (BUS-38): per message type, `threshold` consecutive failures open the
 * circuit; while open, send and query fail with OVERLOADED without reaching the handler; after
 * `resetMs` one operation goes through (half-open): its success closes the circuit, its failure opens
 * it again. Events are never blocked: a publish cannot fail (BUS-24).
 */
import { BusError } from './errors.js';
import type { AfterOutcome, BusMessage, Middleware, MiddlewareContext } from './types.js';

/** The state of the circuit of one message type. */
export type CircuitState = 'closed' | 'open' | 'half-open';

interface Circuit {
  state: CircuitState;
  failures: number;
  openedAt: number;
  /** An operation is already probing the half-open circuit. */
  probing: boolean;
}

/** When a circuit opens and how long it stays open. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open a circuit (at least 1). */
  threshold: number;
  /** Milliseconds an open circuit waits before letting one operation through. */
  resetMs: number;
  /** The clock, replaceable so tests need no sleeping. */
  now?: () => number;
}

const REJECTED = 'circuitRejected';

/** Middleware that fails sends and queries of a type fast with OVERLOADED after repeated failures (BUS-38). */
export class CircuitBreaker implements Middleware {
  private readonly circuits = new Map<string, Circuit>();
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!Number.isInteger(options.threshold) || options.threshold < 1) throw new RangeError('CircuitBreaker: threshold must be an integer >= 1');
    if (!(options.resetMs >= 0)) throw new RangeError('CircuitBreaker: resetMs must be >= 0');
    this.now = options.now ?? Date.now;
  }

  /** The state of a message type's circuit now. */
  state(messageType: string): CircuitState {
    const c = this.circuits.get(messageType);
    if (!c) return 'closed';
    if (c.state === 'open' && this.now() - c.openedAt >= this.options.resetMs) return 'half-open';
    return c.state;
  }

  /** Refuses an operation while its circuit is open (letting one through once half-open). */
  before(ctx: MiddlewareContext, message: BusMessage): BusMessage {
    if (ctx.category === 'event') return message;
    const c = this.circuit(ctx.messageType);
    if (c.state === 'open' && this.now() - c.openedAt >= this.options.resetMs) c.state = 'half-open';
    if (c.state === 'open' || (c.state === 'half-open' && c.probing)) {
      ctx.metadata[REJECTED] = true;
      throw new BusError('OVERLOADED', `the circuit of ${ctx.messageType} is open`, { rule: 'circuit-open', statement: 'BUS-38' });
    }
    if (c.state === 'half-open') c.probing = true;
    return message;
  }

  /** Counts the operation's failure or success toward its circuit. */
  after(ctx: MiddlewareContext, _message: BusMessage, _result: unknown, error: BusError | undefined): AfterOutcome | undefined {
    if (ctx.category === 'event' || ctx.metadata[REJECTED]) return undefined;
    const c = this.circuit(ctx.messageType);
    c.probing = false;
    if (!error) {
      c.state = 'closed';
      c.failures = 0;
      return undefined;
    }
    c.failures++;
    if (c.state === 'half-open' || c.failures >= this.options.threshold) {
      c.state = 'open';
      c.openedAt = this.now();
    }
    return undefined;
  }

  private circuit(type: string): Circuit {
    let c = this.circuits.get(type);
    if (!c) {
      c = { state: 'closed', failures: 0, openedAt: 0, probing: false };
      this.circuits.set(type, c);
    }
    return c;
  }
}
