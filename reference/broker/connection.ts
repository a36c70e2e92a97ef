/**
 * One client connection: its socket, frame decoder, lifecycle state, request tables and timers. It
 * knows how to write a frame and how to close; what a frame means is the router's business.
 */
import type { Language } from '../../spec/generated/types.js';
import type { Socket } from 'node:net';
import type { FifoStream } from '../transport/fifo-stream.js';
import { FrameDecoder } from '../codec/index.js';
import { MIN_LIMITS } from '../../spec/generated/catalog.js';
import type { OutFrame } from './frames.js';
import type { FlowEndpoint, WriteBatch } from './flow.js';
import type { Logger } from './logger.js';
import type { ExpiredIds, PendingRequest } from './inflight.js';
import { ConnStats } from './stats.js';

/**
 * `handshake`: no INIT accepted yet. `open`: INIT_ACK sent. `closing`: the last frame is written and the
 * sending side half-closed (nothing more is read). `closed`: the socket is gone.
 */
export type ConnState = 'handshake' | 'open' | 'closing' | 'closed';

/** The drain a client's SHUTDOWN started (HS-14, HS-15). */
export interface ClientDrain {
  readonly shutdownId: string;
  /** Requests the client had open when its SHUTDOWN arrived. */
  readonly initial: number;
  timedOut: number;
  readonly timer: NodeJS.Timeout;
  readonly drainMs: number;
}

/** How long a half-closed connection may linger before it is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** HS-1: an INIT body is at most the smallest max_frame (65,536 bytes). */
export const HANDSHAKE_MAX_FRAME = MIN_LIMITS.max_frame;
/** At most three PINGs go unanswered (HS-11). */
const MAX_UNANSWERED_PINGS = 3;

export class Connection implements FlowEndpoint {
  state: ConnState = 'handshake';
  /** The minor protocol version INIT_ACK agreed (VER-2): fields of a later minor are not sent (VER-3). */
  minor = 0;
  /** true for a client of another broker of the cluster (cluster/remote-connection.ts). */
  remote = false;
  /** Frames that arrived after this connection's INIT while its cluster-wide id claim runs (CLU-3), handled once it ends. */
  held: Uint8Array[] | undefined;
  clientId: string | undefined;
  language: Language = 'other';
  /** true when INIT_ACK chose CBOR, so CBOR payloads may flow in both directions (ENC-2, ENC-3). */
  cbor = false;
  /** The max_frame the client announced in INIT (FRM-4, REQ-11); before INIT, the smallest legal one. */
  peerMaxFrame: number = MIN_LIMITS.max_frame;
  /** SHUTDOWN sent or received on this connection: no new requests either way (HS-12, HS-13). */
  draining = false;
  /** Present while the broker answers this client's SHUTDOWN. */
  drain: ClientDrain | undefined;
  /** Id of the SHUTDOWN the broker sent here, and whether its SHUTDOWN_ACK came back. */
  shutdownSentId: string | undefined;
  shutdownAcked = false;
  /** Requests this client sent that the broker forwarded and that are still open (its in-flight count). */
  readonly requested = new Set<PendingRequest>();
  /** Requests forwarded to this client, by the id the broker gave them on this connection. */
  readonly served = new Map<string, PendingRequest>();
  /** Ids of PINGs the broker sent and that are not answered yet. */
  readonly pings = new Set<string>();
  readonly stats = new ConnStats();
  readonly blockedBy = new Set<FlowEndpoint>();
  readonly feeders = new Set<FlowEndpoint>();
  corked = false;
  slowTimer: NodeJS.Timeout | undefined;
  /**
   * Requests of this client the broker answers itself and has not answered yet (bus, dispatch): with
   * `requested`, what LIM-7 counts.
   */
  localOpen = 0;
  /** The ids of those requests, which a drain of this client awaits like `requested` (HS-14). */
  readonly localIds = new Set<string>();
  /** Bytes of a frame in progress this connection holds against max_handshake_bytes (HS-21). */
  handshakeBytes = 0;
  readonly decoder: FrameDecoder;

  private idSeq = 0;
  private lastRx = Date.now();
  private unansweredPings = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly seq: number,
    readonly socket: Socket | FifoStream,
    maxFrame: number,
    readonly expired: ExpiredIds,
    private readonly batch: WriteBatch,
    public log: Logger,
  ) {
    // HS-20: nothing above the largest INIT is accepted before INIT_ACK; the broker raises it then.
    this.decoder = new FrameDecoder({ maxFrame: Math.min(maxFrame, HANDSHAKE_MAX_FRAME) });
  }

  get readable(): boolean {
    return this.state === 'handshake' || this.state === 'open';
  }

  /** A fresh id for a frame the broker sends on this connection: unique among its open requests here (REQ-12). */
  nextId(): string {
    return (++this.idSeq).toString(36);
  }

  /** Writes one frame whole (FRM-6); inside a batch the socket is corked until the batch ends. */
  write(frame: OutFrame): void {
    if (this.state === 'closed' || this.socket.destroyed || !this.socket.writable) return;
    this.batch.enlist(this);
    for (const part of frame.parts) this.socket.write(part);
    this.stats.framesOut++;
    this.stats.bytesOut += 4 + frame.bodyLength;
  }

  /** Any frame from the peer proves it alive (HS-11 counts PINGs since the last frame received). */
  markReceived(): void {
    this.lastRx = Date.now();
    this.unansweredPings = 0;
  }

  /** LIM-10: a connection that delivers no INIT in time is closed, without an ERROR (section 6). */
  startHandshakeTimer(ms: number, onExpire: () => void): void {
    this.handshakeTimer = setTimeout(onExpire, ms);
  }

  stopHandshakeTimer(): void {
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  /**
   * HS-10, HS-11: PING after heartbeat_ms of silence and after each further heartbeat_ms; close when a
   * fourth PING would be due. The timer is re-armed from the last receive time, so the hot path only
   * stores a timestamp.
   */
  startHeartbeat(ms: number, sendPing: () => void, onDead: () => void): void {
    const tick = (): void => {
      if (this.state !== 'open') return;
      // While back-pressure keeps this connection unread (LIM-14), the peer's frames, PONGs included,
      // wait in its socket: silence is the broker's doing, so it is never counted against the peer.
      if (this.blockedBy.size > 0) this.markReceived();
      const idle = Date.now() - this.lastRx;
      if (idle < ms && this.unansweredPings === 0) {
        this.heartbeatTimer = setTimeout(tick, ms - idle);
        return;
      }
      if (this.unansweredPings >= MAX_UNANSWERED_PINGS) {
        onDead();
        return;
      }
      this.unansweredPings++;
      sendPing();
      this.heartbeatTimer = setTimeout(tick, ms);
    };
    this.heartbeatTimer = setTimeout(tick, ms);
  }

  /**
   * Ends the connection after the frames already written: half-close first so a final ERROR or
   * SHUTDOWN_ACK reaches the peer rather than being lost to a reset (section 8), then destroy after a
   * grace period if the peer never closes its side.
   */
  end(): void {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    this.stopTimers();
    this.socket.end();
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  /** Drops the connection at once (broker close, handshake timeout). */
  destroy(): void {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.stopTimers();
    this.socket.destroy();
  }

  /** The socket is gone: nothing may fire for this connection any more. */
  markClosed(): void {
    this.state = 'closed';
    this.stopTimers();
    clearTimeout(this.closeTimer);
  }

  /** A request of this client that the broker answers itself (bus, dispatch) opens: LIM-7 counts it, a drain awaits it. */
  openLocal(id: string): void {
    this.localOpen++;
    this.localIds.add(id);
  }

  /** Its answer has gone out (`released`: how much LIM-7's count drops, 1 but for a test defect). */
  closeLocal(id: string, released = 1): void {
    this.localOpen -= released;
    this.localIds.delete(id);
  }

  /** Open requests of this client, every kind counted (LIM-7). */
  get openRequests(): number {
    return this.requested.size + this.localOpen;
  }

  private stopTimers(): void {
    clearTimeout(this.slowTimer);
    this.slowTimer = undefined;
    this.stopHandshakeTimer();
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    if (this.drain) clearTimeout(this.drain.timer);
  }
}
