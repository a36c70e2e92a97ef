/** Shared verifiers of the bus cases: the adapter's log, read and compared with expected-versus-actual wording. */
import type { LogEntry } from '../../reference/bus/adapter/protocol.js';
import { CaseFailure } from '../cases/model.js';
import { ok, type BusDriver } from './driver.js';

export async function readLog(d: BusDriver): Promise<LogEntry[]> {
  return ok<LogEntry[]>(d, { op: 'log' });
}

/** `label/role` of each entry, in order. */
export function steps(log: LogEntry[]): string[] {
  return log.map((e) => `${e.label}/${e.role}`);
}

export function expectEqual<T>(what: string, expected: NoInfer<T>, actual: T): void {
  const e = JSON.stringify(expected);
  const a = JSON.stringify(actual);
  if (e !== a) throw new CaseFailure(`${what}: expected ${e}, got ${a}`, e, a);
}

/** Labels of the entries of `role`, sorted (deliveries to several subscribers have no order). */
export function labels(log: LogEntry[], role: LogEntry['role']): string[] {
  return log.filter((e) => e.role === role).map((e) => e.label).sort();
}

/** Polls the log until `done` says so, a bounded number of times; returns everything read. */
export async function logUntil(d: BusDriver, done: (log: LogEntry[]) => boolean, what: string): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  for (let i = 0; i < 200; i++) {
    all.push(...(await readLog(d)));
    if (done(all)) return all;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new CaseFailure(`${what} never happened; log: ${JSON.stringify(all)}`);
}

/** Reads `read()` until `done` holds, at most 500 more reads 10 ms apart (a bounded wait for a state, not a measurement); the last value read. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 500 && !done(value); i++) {
    await new Promise((r) => setTimeout(r, 10));
    value = await read();
  }
  return value;
}

/**
 * An operation started now and awaited later, with a handler attached at once: when the bus
 * misbehaves and the case fails before it awaits the operation, the operation's later rejection (its
 * reply timer) is never left unhandled, so it cannot abort the harness (issue 13 item 7).
 */
export function started<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
