/**
 * Request tracking: every request the broker forwards gets exactly one answer (REQ-1): the target's
 * response or ERROR, TIMEOUT when its timeout passes (REQ-15), PEER_GONE when the target disconnects
 * (HS-18). Ids of requests that timed out or whose requester left are remembered (boundedly), so
 * that their late answers are dropped rather than refused (REQ-16).
 */
import { ProtocolError, type MessageInfo } from '../codec/index.js';
import type { Connection } from './connection.js';
import { Deadlines, type DeadlineEntry, type DeadlineList } from './deadlines.js';
import type { Logger } from './logger.js';

/** Insertion-ordered set with a capacity: the oldest id is forgotten first. */
export class ExpiredIds {
  private readonly ids = new Set<string>();

  constructor(private readonly capacity: number) {}

  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}

export interface PendingRequest extends DeadlineEntry {
  readonly requester: Connection;
  readonly target: Connection;
  /** The id the requester chose, restored in the answer's `re` (REQ-13). */
  readonly origId: string;
  /** The id the broker gave the forwarded copy on the target's connection (REQ-12). */
  readonly outId: string;
  /** Type code of the catalog response; ERROR is always accepted as well. */
  readonly responseType: number;
  readonly typeName: string;
  readonly timeoutMs: number;
  /** performance.now() at arrival (its read's), for the latency ring and the deadline. */
  readonly startedAt: number;
}

export interface InflightHooks {
  /** Sends `error` to the request's requester, answering it. */
  fail(p: PendingRequest, error: ProtocolError): void;
  /** Called after a request left the tables, whatever the reason (drain bookkeeping). */
  settled(p: PendingRequest): void;
}

export class Inflight {
  private open = 0;
  /** REQ-15: one timer per timeout value, not per request (deadlines.ts). */
  private readonly deadlines = new Deadlines<PendingRequest>((p) => this.timeout(p, p.timeoutMs, 'REQ-15'));
  /**
   * performance.now() of the read whose frames are being handled (beginRead), undefined outside one:
   * requests that read opens start at it and answers it carries end at it, so the clock is read once
   * per read rather than twice per request (issue 15: about 1.5% of the broker's busy time).
   */
  private readAt: number | undefined;

  constructor(
    private readonly hooks: InflightHooks,
    private readonly log: Logger,
  ) {}

  /** Requests open across all connections. */
  get size(): number {
    return this.open;
  }

  /** The frames of one read are handled from now until endRead(outer), `outer` being what this returns. */
  beginRead(): number | undefined {
    const outer = this.readAt;
    this.readAt = performance.now();
    return outer;
  }

  endRead(outer: number | undefined): void {
    this.readAt = outer;
  }

  /** Tracks a request forwarded from `requester` to `target` as `outId`. */
  track(requester: Connection, target: Connection, origId: string, outId: string, info: MessageInfo, responseType: number, timeoutMs: number): PendingRequest {
    const p: PendingRequest = {
      requester,
      target,
      origId,
      outId,
      responseType,
      typeName: info.name,
      timeoutMs,
      startedAt: this.now(),
      deadline: 0,
      deadlineList: undefined as DeadlineList<DeadlineEntry> | undefined,
      deadlinePrev: undefined,
      deadlineNext: undefined,
    };
    this.deadlines.add(p, p.startedAt, timeoutMs);
    requester.requested.add(p);
    target.served.set(outId, p);
    this.open++;
    return p;
  }

  /** The target answered; the caller forwards the answer. */
  answered(p: PendingRequest): void {
    this.remove(p, true);
  }

  /** Answers `p` with TIMEOUT (definite false) and remembers its id so a late answer is dropped. */
  timeout(p: PendingRequest, timeoutMs: number, statement: string): void {
    if (!p.requester.requested.has(p)) return;
    this.log.info('request timed out', { type: p.typeName, requester: p.requester.clientId, target: p.target.clientId, timeout_ms: timeoutMs });
    p.target.expired.add(p.outId);
    // The answer goes out before the request leaves the tables: a drain that ends on this removal
    // must send its SHUTDOWN_ACK after the TIMEOUT, never before it.
    this.hooks.fail(p, new ProtocolError('TIMEOUT', `${p.typeName} got no answer within ${timeoutMs} ms`, { timeout_ms: timeoutMs, statement }));
    this.remove(p, true);
  }

  /** HS-18: the target closed; each of its open requests gets PEER_GONE. */
  targetGone(target: Connection): void {
    for (const p of [...target.served.values()]) {
      this.hooks.fail(p, new ProtocolError('PEER_GONE', `${target.clientId ?? 'the destination'} disconnected before answering ${p.typeName}`, { statement: 'HS-18' }));
      this.remove(p, true);
    }
  }

  /** The requester closed: its requests stay unanswerable, and their answers are dropped when they come (REQ-16). */
  requesterGone(requester: Connection): void {
    for (const p of [...requester.requested]) {
      p.target.expired.add(p.outId);
      this.remove(p, false);
    }
  }

  /** Stops every deadline timer (broker close). */
  clear(): void {
    this.deadlines.stop();
  }

  private remove(p: PendingRequest, answered: boolean): void {
    if (!p.requester.requested.delete(p)) return;
    this.deadlines.remove(p);
    p.target.served.delete(p.outId);
    this.open--;
    if (answered) p.requester.stats.latency.add((this.now() - p.startedAt) * 1000);
    this.hooks.settled(p);
  }

  /** The time of the read being handled, or the clock outside one. */
  private now(): number {
    return this.readAt ?? performance.now();
  }
}
