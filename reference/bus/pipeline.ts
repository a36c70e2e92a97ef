/**
 * The middleware chain around one operation (BUS-30, BUS-31, BUS-32, BUS-33, BUS-34): `before` hooks in registration order, each
 * able to replace the message or abort; the core; `after` hooks in reverse order, each able to replace
 * the running result or error. Shared by the in-process and the wire bus so both behave alike.
 */
import { BusError, asBusError } from './errors.js';
import type { BusMessage, Middleware, MiddlewareContext } from './types.js';

/** What an operation ended with: `aborted` when a `before` hook returned nothing. */
export type Outcome = { aborted: true } | { aborted: false; result: unknown; error: BusError | undefined };

/** Runs one operation through the middleware: `before` hooks, the core, then `after` hooks in reverse. */
export async function runPipeline(middleware: readonly Middleware[], message: BusMessage, core: (message: BusMessage) => Promise<unknown>): Promise<Outcome> {
  // The routing key is taken from the original message, before any hook (BUS-34).
  const ctx: MiddlewareContext = { messageType: message.type, category: message.category, metadata: {} };
  const chain = [...middleware];
  let current = message;
  for (const m of chain) {
    if (!m.before) continue;
    let next: BusMessage | undefined;
    try {
      next = await m.before(ctx, current);
    } catch (e) {
      return { aborted: false, result: undefined, error: asBusError(e) }; // BUS-32: no after hook runs
    }
    if (next === undefined || next === null) return { aborted: true };
    current = next;
  }
  let result: unknown;
  let error: BusError | undefined;
  try {
    result = await core(current);
  } catch (e) {
    error = asBusError(e);
  }
  for (let i = chain.length - 1; i >= 0; i--) {
    const m = chain[i]!;
    if (!m.after) continue;
    let out;
    try {
      out = await m.after(ctx, current, result, error);
    } catch (e) {
      error = asBusError(e);
      continue;
    }
    if (!out) continue;
    if ('result' in out) result = out.result;
    if ('error' in out) error = out.error ? asBusError(out.error) : undefined;
  }
  return { aborted: false, result, error };
}

/** The ABORTED error of an aborted send or query (BUS-31). */
export function abortedError(type: string): BusError {
  return new BusError('ABORTED', `a before hook aborted ${type}; the handler did not run`, { statement: 'BUS-31' });
}
