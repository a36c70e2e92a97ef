/**
 * A client's SHUTDOWN (HS-12, HS-13, HS-14, HS-15): the connection takes no new requests either way, the broker
 * waits for the requests the client sent (forwarded ones, and those it answers itself: bus, dispatch) and
 * for those forwarded to it, at most the smaller of the SHUTDOWN's `drain_ms` and its own
 * shutdown_drain_ms (LIM-13), answers what is still open with TIMEOUT, then sends SHUTDOWN_ACK and closes.
 */
import { ProtocolError } from '../codec/index.js';
import type { Connection } from './connection.js';
import { errorFrame, messageFrame, type OutFrame } from './frames.js';
import type { Inflight } from './inflight.js';
import type { Logger } from './logger.js';

export interface DrainDeps {
  readonly inflight: Inflight;
  readonly log: Logger;
  readonly shutdownDrainMs: number;
  send(conn: Connection, frame: OutFrame): void;
}

export class ClientDrains {
  constructor(private readonly deps: DrainDeps) {}

  start(conn: Connection, shutdownId: string, requestedMs: number | undefined): void {
    conn.draining = true;
    const drainMs = Math.min(requestedMs ?? this.deps.shutdownDrainMs, this.deps.shutdownDrainMs);
    const timer = setTimeout(() => this.expire(conn), drainMs);
    conn.drain = { shutdownId, initial: conn.requested.size + conn.localIds.size, timedOut: 0, timer, drainMs };
    this.deps.log.info('client shutdown: draining', { client: conn.clientId, in_flight: conn.requested.size, served: conn.served.size, drain_ms: drainMs });
    this.check(conn);
  }

  /** Called whenever a request of `conn` settles: the drain ends once nothing is open either way. */
  check(conn: Connection): void {
    if (conn.drain !== undefined && conn.state === 'open' && conn.requested.size === 0 && conn.localIds.size === 0 && conn.served.size === 0) this.finish(conn);
  }

  /** drain_ms ran out: every request still open gets TIMEOUT (HS-14); `check` then acknowledges. */
  private expire(conn: Connection): void {
    const drain = conn.drain;
    if (drain === undefined || conn.state !== 'open') return;
    for (const p of [...conn.requested]) {
      drain.timedOut++;
      this.deps.inflight.timeout(p, drain.drainMs, 'HS-14');
    }
    for (const p of [...conn.served.values()]) this.deps.inflight.timeout(p, drain.drainMs, 'HS-14');
    // The answer that comes later goes nowhere: the connection ends with this drain (its state is no longer open).
    for (const id of [...conn.localIds]) {
      drain.timedOut++;
      conn.localIds.delete(id);
      this.deps.send(conn, errorFrame(conn.nextId(), id, new ProtocolError('TIMEOUT', `the request got no answer within the drain's ${drain.drainMs} ms`, { timeout_ms: drain.drainMs, statement: 'HS-14' })));
    }
    this.check(conn);
  }

  /** HS-15: `drained` counts the requests answered otherwise than by the drain's TIMEOUT. */
  private finish(conn: Connection): void {
    const drain = conn.drain!;
    clearTimeout(drain.timer);
    conn.drain = undefined;
    const payload = { drained: drain.initial - drain.timedOut, timed_out: drain.timedOut };
    this.deps.send(conn, messageFrame('SHUTDOWN_ACK', { id: conn.nextId(), re: drain.shutdownId }, payload));
    this.deps.log.info('client shutdown: acknowledged', { client: conn.clientId, ...payload });
    conn.end();
  }
}
