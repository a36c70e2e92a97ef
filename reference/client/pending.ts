/**
 * The requests a client has written and not yet seen answered, correlated by id (REQ-4, REQ-5),
 * with their timeouts, and the ids of timed-out requests whose late answers are discarded (REQ-16).
 * @module
 */
import type { Message, MessageName } from '../codec/index.js';
import type { ErrorPayload } from '../../spec/generated/types.js';
import { MAX_TIMER_MS } from './backoff.js';
import { RemoteError, RequestTimeoutError } from './errors.js';

interface Entry {
  type: string;
  expect: string;
  timer: NodeJS.Timeout;
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
}

/** What became of an incoming response or ERROR. */
export type Settlement =
  /** It answered an open request, which is now settled. */
  | 'matched'
  /** It answers a request that timed out or was abandoned: discard it silently. */
  | 'late'
  /** Its `re` matches nothing: answer UNEXPECTED_MESSAGE (unless it is an ERROR). */
  | 'unknown'
  /** It matches an open request but is not that request's response type: UNEXPECTED_MESSAGE; the request stays open. */
  | 'wrong-type';

/** Default number of timed-out ids remembered for recognising late answers. */
export const DEFAULT_LATE_IDS = 4096;

/** Open requests of one client, keyed by request id. */
export class PendingRequests {
  private readonly open = new Map<string, Entry>();
  private readonly late = new Set<string>();

  constructor(private readonly maxLateIds = DEFAULT_LATE_IDS) {}

  /** Requests written and not yet answered. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Registers request `id` of `type` expecting a response of type `expect`. The promise resolves
   * with the response, rejects with RemoteError on an ERROR and with RequestTimeoutError (definite
   * false) after `timeoutMs`, after which the id is remembered as late. The error names
   * `appliedTimeoutMs`, the request's whole timeout, of which `timeoutMs` is what remained.
   */
  add(id: string, type: MessageName, expect: MessageName, timeoutMs: number, appliedTimeoutMs: number = timeoutMs): Promise<Message> {
    if (this.open.has(id)) throw new Error(`pending: id ${id} is already open`);
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.abandon(id);
        reject(new RequestTimeoutError(type, appliedTimeoutMs, { definite: false }));
      }, Math.min(timeoutMs, MAX_TIMER_MS));
      this.open.set(id, { type, expect, timer, resolve, reject });
    });
  }

  /** Settles the request a response or ERROR answers, and says what became of it. */
  settle(message: Message): Settlement {
    const re = message.header.re;
    if (re === undefined) return 'unknown';
    const entry = this.open.get(re);
    if (!entry) return this.late.has(re) ? 'late' : 'unknown';
    if (message.name === 'ERROR') {
      this.remove(re, entry);
      entry.reject(RemoteError.fromMessage(message as Message<ErrorPayload>));
      return 'matched';
    }
    if (message.name !== entry.expect) return 'wrong-type';
    this.remove(re, entry);
    entry.resolve(message);
    return 'matched';
  }

  /** Rejects one open request with `error`; its id is remembered as late. */
  fail(id: string, error: Error): void {
    const entry = this.open.get(id);
    if (!entry) return;
    this.abandon(id);
    entry.reject(error);
  }

  /** Rejects every open request with the error `make` builds for it; their ids are remembered as late. */
  failAll(make: (type: string) => Error): void {
    for (const [id, entry] of [...this.open]) {
      this.abandon(id);
      entry.reject(make(entry.type));
    }
  }

  /** Forgets the late ids (a new connection: no late answer can arrive on it). */
  clearLate(): void {
    this.late.clear();
  }

  private remove(id: string, entry: Entry): void {
    clearTimeout(entry.timer);
    this.open.delete(id);
  }

  private abandon(id: string): void {
    const entry = this.open.get(id);
    if (entry) this.remove(id, entry);
    this.late.add(id);
    if (this.late.size > this.maxLateIds) this.late.delete(this.late.values().next().value!);
  }
}
