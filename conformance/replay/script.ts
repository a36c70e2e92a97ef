/**
 * The script of one case as a replay bundle keeps it: what the harness sent on each connection (bytes,
 * with their time), what it expected at each step in a declarative form, and what the peer sent.
 * A check a case makes in its own code (a closure over a received frame) cannot be written down: it is
 * recorded as an `opaque` step, where a replay stops with an inconclusive verdict instead of guessing.
 */
import type { ErrorExpectation } from '../cases/context.js';
import type { Encoding } from '../../reference/codec/body.js';
import type { MessageName, MessageNames } from '../../spec/generated/catalog.js';

/** What a declarative `expect` step accepts: a message of that name (one of those names) answering that id. */
export interface MessageMatch {
  name?: MessageName | MessageName[];
  /** The `re` the message must carry: an id the harness sent. */
  re?: string;
  /** The `src` the message must carry: the client id a broker set (REQ-13). */
  src?: string;
}

interface StepBase {
  /** Milliseconds since the case started. */
  t: number;
  /** The connection, numbered from 0 in the order the case opened them. */
  conn?: number;
}

/** The steps of a script (reports/bundle.schema.json, `steps`). */
export type Step = StepBase & (
  | { op: 'open' }
  | { op: 'testee'; json: boolean }
  | { op: 'session'; client_id: string; overrides: Record<string, unknown> }
  | { op: 'client'; ack: boolean }
  | { op: 'send'; base64?: string; note: string; re_from?: number; message?: { type: string | number; header: Record<string, unknown>; payload?: unknown; encoding?: Encoding }; token?: boolean }
  | { op: 'expect'; what: string; match: MessageMatch; timeout_ms?: number; start?: boolean }
  | { op: 'error'; code: string; options: ErrorExpectation }
  | { op: 'closed'; what: string }
  | { op: 'probe-open'; what: string; answer: MessageNames<'PONG' | 'PING'> }
  | { op: 'echo'; re: string; type: number; encoding: Encoding; payload: unknown }
  | { op: 'half-close' }
  | { op: 'close' }
  | { op: 'opaque'; what: string }
);

/** The step kinds, without their time and connection. */
export type StepBody = Step extends infer S ? S extends Step ? Omit<S, 't' | 'conn'> & { conn?: number } : never : never;

/** What the peer sent, as the case read it. */
export interface ReceivedItem {
  conn: number;
  t: number;
  kind: 'message' | 'invalid' | 'closed' | 'timeout';
  base64?: string;
  note?: string;
}

/** Received frames kept per connection: a bundle stays small enough to attach. */
const MAX_RECEIVED_PER_CONN = 64;
const MAX_RECEIVED_BYTES = 16 * 1024;

/** What a recorder needs of a connection (a WireConnection). */
export interface RecordedConnection {
  readonly label: string;
}

/**
 * Records one case. Steps are recorded at the outermost level only: a declarative step (an ERROR
 * expectation) that reads, sends a probe and reads again is one step, replayed by the same helper.
 */
export class ScriptRecorder {
  readonly steps: Step[] = [];
  readonly received: ReceivedItem[] = [];
  private readonly conns = new Map<RecordedConnection, number>();
  private readonly started = Date.now();
  private depth = 0;
  /** Ids of messages the case read, with the step that read them (a later answer's `re` refers to the step). */
  private readonly readIds = new Map<number, Map<string, number>>();
  /** The step being recorded while a declarative helper runs. */
  private current: Step | undefined;
  /** The step whose helper threw (the case's failure, when the case ended with it). */
  failedAt: number | undefined;

  constructor(private readonly token?: string) {}

  private now(): number {
    return Date.now() - this.started;
  }

  /** The number of a connection, given when the case first tracks it. */
  connOf(conn: RecordedConnection): number | undefined {
    return this.conns.get(conn);
  }

  /** A connection the case now uses: numbered, and recorded as opened when no helper opened it. */
  attach(conn: RecordedConnection, how: 'open' | 'adopted'): void {
    if (this.conns.has(conn)) return;
    const n = this.conns.size;
    this.conns.set(conn, n);
    if (this.current && this.current.conn === undefined) this.current.conn = n;
    else if (this.depth === 0) this.push(how === 'open' ? { op: 'open', conn: n } : { op: 'opaque', conn: n, what: `a connection the case opened itself (${conn.label})` });
  }

  private push(body: StepBody): Step {
    const step = { ...body, t: this.now() } as Step;
    this.steps.push(step);
    return step;
  }

  /**
   * Runs a helper as one step: the step is recorded before it runs (it is the failing step if it
   * throws), and nothing the helper does inside is recorded again.
   */
  async declare<T>(body: StepBody, run: () => Promise<T>): Promise<T> {
    if (this.depth > 0) return run();
    const step = this.push(body);
    this.current = step;
    this.depth++;
    try {
      return await run();
    } catch (e) {
      this.failedAt = this.steps.indexOf(step);
      throw e;
    } finally {
      this.depth--;
      this.current = undefined;
    }
  }

  /** Bytes the harness wrote (its own PONGs to heartbeats are not the case's and are not recorded). */
  sent(conn: RecordedConnection, bytes: Uint8Array, note: string, message?: { type: string | number; header: Record<string, unknown>; payload?: unknown; encoding?: Encoding }): void {
    if (this.depth > 0) return;
    const n = this.conns.get(conn);
    if (n === undefined) return;
    const base64 = Buffer.from(bytes).toString('base64');
    const carriesToken = this.token !== undefined && Buffer.from(bytes).includes(Buffer.from(this.token, 'utf8'));
    if (carriesToken) {
      const payload = message?.payload as Record<string, unknown> | undefined;
      if (payload?.['token'] === this.token) {
        // The token never reaches a bundle: the replay puts its own in.
        const { token: _secret, ...rest } = payload;
        this.push({ op: 'send', conn: n, note, message: { ...message!, payload: rest }, token: true });
      } else {
        this.push({ op: 'opaque', conn: n, what: `bytes that carry the token (${note})` });
      }
      return;
    }
    const re = message?.header['re'];
    const from = typeof re === 'string' ? this.readIds.get(n)?.get(re) : undefined;
    this.push({ op: 'send', conn: n, base64, note, ...(from !== undefined ? { re_from: from } : {}) });
  }

  /** Something the case read from the peer: kept for the bundle, and a read outside any helper is a check in code. */
  read(conn: RecordedConnection, item: { kind: ReceivedItem['kind']; bytes?: Uint8Array; id?: string; note?: string }): void {
    const n = this.conns.get(conn);
    if (n === undefined) return;
    if (this.depth === 0) this.push({ op: 'opaque', conn: n, what: 'a frame the case read and judged in its own code' });
    if (item.id !== undefined) {
      const ids = this.readIds.get(n) ?? new Map<string, number>();
      ids.set(item.id, this.steps.length - 1);
      this.readIds.set(n, ids);
    }
    const ofConn = this.received.filter((r) => r.conn === n).length;
    if (ofConn >= MAX_RECEIVED_PER_CONN) return;
    const entry: ReceivedItem = { conn: n, t: this.now(), kind: item.kind, ...(item.note !== undefined ? { note: item.note } : {}) };
    if (item.bytes) {
      const kept = item.bytes.subarray(0, MAX_RECEIVED_BYTES);
      entry.base64 = Buffer.from(kept).toString('base64');
      if (item.bytes.length > MAX_RECEIVED_BYTES) entry.note = `${entry.note ?? ''} (first ${MAX_RECEIVED_BYTES} of ${item.bytes.length} bytes)`.trim();
    }
    this.received.push(entry);
  }

  /** The harness half-closed or closed a connection during the case. */
  ended(conn: RecordedConnection, how: 'half-close' | 'close'): void {
    const n = this.conns.get(conn);
    if (n === undefined || this.depth > 0) return;
    this.push({ op: how, conn: n });
  }

  /** Where the steps are now: a property case marks where each run starts, to keep only the shrunk one. */
  mark(): number {
    return this.steps.length;
  }

  /**
   * Drops the steps in [from, to): the runs a property made before its smallest counterexample, which
   * the case ran again at `to`. Step numbers that later steps refer to are moved with them.
   */
  cut(from: number, to: number): void {
    if (to <= from) return;
    const removed = to - from;
    this.steps.splice(from, removed);
    if (this.failedAt !== undefined) this.failedAt = this.failedAt >= to ? this.failedAt - removed : this.failedAt >= from ? undefined : this.failedAt;
    for (const s of this.steps) {
      if (s.op === 'send' && s.re_from !== undefined) {
        if (s.re_from >= to) s.re_from -= removed;
        else if (s.re_from >= from) delete s.re_from;
      }
    }
  }

  /**
   * Why a replay of these steps cannot reach the recorded verdict, if it cannot: a check made in code,
   * no recorded frames at all, or a failure that no step's helper raised (the case's own code found it).
   */
  notReplayable(failed: boolean): string | undefined {
    const opaque = this.steps.find((s) => s.op === 'opaque');
    if (opaque && opaque.op === 'opaque') return `step ${this.steps.indexOf(opaque)}: ${opaque.what}`;
    if (this.steps.length === 0) return 'the case sent and expected no frames on a connection the harness records (it drives its peer another way)';
    if (failed && this.failedAt === undefined) return 'no step failed as recorded: the case\'s own code found the failure (a check a bundle cannot carry), or a property\'s smallest counterexample passed when run again';
    return undefined;
  }
}
