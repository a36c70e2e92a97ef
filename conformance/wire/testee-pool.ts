/**
 * Hands the testee process of a finished case on to the next case (testee profile), instead of
 * starting one process per case: the start (an interpreter, numpy, the catalog) cost most of the
 * testee suite's time. A process is handed on only when it is as good as a fresh one:
 * - the case passed or was skipped (a failure, a timeout or a harness error ends the process, so one
 *   case's trouble never reaches another and every failure is the case's own);
 * - its connection is open both ways, with no rule violation and nothing left unread;
 * - before the next case it echoes a sync PING as the very next frame (TST-4). A testee answers
 *   frames in order, so nothing of an earlier case can arrive after that echo.
 * Anything else ends the process and the next case starts a fresh one. Cases that close the testee
 * (end of input, errors that close) therefore always get a process of their own.
 *
 * A case that needs a fresh process gets one started while the cases before it ran (a spare): the
 * spare has written its INIT and waits for INIT_ACK, exactly where a process just started would be,
 * only without the wait. Taking it starts the next spare, so a run of closing cases does not wait
 * for one start after another.
 */
import type { WireConnection } from './connection.js';
import type { Encoding } from '../../reference/codec/body.js';

export interface PooledTestee {
  conn: WireConnection;
  /** The testee's INIT payload, from when the process started. */
  init: Record<string, unknown>;
  /** Encodings agreed at its INIT_ACK. */
  encodings: Encoding[];
  /** Whether the INIT_ACK limited it to JSON (a case asking otherwise needs another process). */
  jsonOnly: boolean;
}

export class TesteePool {
  private idle: PooledTestee | undefined;
  /** A process started ahead for the next case that needs a fresh one. */
  private spare: Promise<WireConnection> | undefined;
  private syncs = 0;
  /** Processes handed on, for the run's diagnostics and tests. */
  reused = 0;

  constructor(private readonly timeoutMs: number) {}

  /** Whether `t` may serve another case (see the rules above). */
  static reusable(t: PooledTestee): boolean {
    return !t.conn.closed && !t.conn.halfClosed && t.conn.violation === undefined && t.conn.pending === 0;
  }

  /** Keeps `t` for the next case when it may serve one; ends it otherwise. */
  give(t: PooledTestee): void {
    if (this.idle === undefined && TesteePool.reusable(t)) this.idle = t;
    else t.conn.destroy();
  }

  /**
   * The kept process when it fits (`jsonOnly` alike) and echoes a sync PING first; undefined when the
   * case must start a fresh one. Its wire log starts anew for the case that takes it.
   */
  async take(jsonOnly: boolean): Promise<PooledTestee | undefined> {
    const t = this.idle;
    this.idle = undefined;
    if (t === undefined) return undefined;
    if (t.jsonOnly !== jsonOnly || !TesteePool.reusable(t)) {
      t.conn.destroy();
      return undefined;
    }
    const id = `sync-${++this.syncs}`;
    t.conn.resetLog(`the testee process of an earlier case, handed on: it must echo PING ${id} first`);
    t.conn.send({ type: 'PING', header: { id } });
    const r = await t.conn.next(this.timeoutMs);
    if (r.kind === 'message' && r.message.name === 'PING' && r.message.header.re === id && TesteePool.reusable(t)) {
      this.reused++;
      return t;
    }
    t.conn.destroy();
    return undefined;
  }

  /**
   * A freshly started process for a case: the spare when there is one still running, else one started
   * now by `start` (labelled `label`); either way the next spare is started in the background.
   */
  async fresh(label: string, start: (label: string) => Promise<WireConnection>): Promise<WireConnection> {
    const ready = this.spare;
    this.spare = start('testee');
    this.spare.catch(() => undefined); // a start that fails is the next case's to report
    const conn = await ready?.catch(() => undefined);
    if (conn && !conn.closed && conn.violation === undefined) return conn;
    conn?.destroy();
    return start(label);
  }

  /** Ends the kept process and the spare (the end of a run). */
  close(): void {
    this.idle?.conn.destroy();
    this.idle = undefined;
    void this.spare?.then((c) => c.destroy(), () => undefined);
    this.spare = undefined;
  }
}
