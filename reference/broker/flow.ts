/**
 * Write batching and back-pressure.
 *
 * Batching: every frame written while one 'data' event is handled goes out under cork(), and each
 * socket touched is uncorked once at the end, so a read of N frames costs one writev per destination
 * instead of N writes (performance.md: 459k msgs/s corked against 127k with one write per frame).
 *
 * Back-pressure (LIM-14): every frame queued for a reader counts, forwarded or the broker's own. When
 * the bytes queued for a reader exceed max_write_buffer, the connections whose frames went there stop
 * being read until the reader's socket drains. A reader that stays above the limit for
 * slow_reader_timeout_ms is the one at fault: it is closed and its senders resume (LIM-17), so one
 * client that never reads cannot stall the others. Nothing is dropped and nothing queues without
 * bound: a paused source keeps at most the one read it was handling.
 */
import type { Socket } from 'node:net';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import type { FifoStream } from '../transport/fifo-stream.js';
import type { ConnStats } from './stats.js';

/** The part of a connection that flow control needs. */
export interface FlowEndpoint {
  readonly socket: Socket | FifoStream;
  readonly stats: ConnStats;
  /** Readers whose full queues keep this connection paused. */
  readonly blockedBy: Set<FlowEndpoint>;
  /** Sources paused because this connection's queue is full. */
  readonly feeders: Set<FlowEndpoint>;
  /** false once the connection is closing: it is never resumed then. */
  readonly readable: boolean;
  /** Set while the socket is corked by the current batch. */
  corked: boolean;
  /** Running while the queue is above max_write_buffer (LIM-17). */
  slowTimer: NodeJS.Timeout | undefined;
}

export class WriteBatch {
  private depth = 0;
  private readonly corked: FlowEndpoint[] = [];

  /** Runs `fn` with every write corked; batches nest (the outermost one uncorks). */
  run(fn: () => void): void {
    this.depth++;
    try {
      fn();
    } finally {
      if (--this.depth === 0) this.flush();
    }
  }

  /** Called before each write: corks the socket the first time the batch touches it. */
  enlist(endpoint: FlowEndpoint): void {
    if (this.depth === 0 || endpoint.corked || endpoint.socket.destroyed) return;
    endpoint.socket.cork();
    endpoint.corked = true;
    this.corked.push(endpoint);
  }

  private flush(): void {
    for (const e of this.corked) {
      e.corked = false;
      if (!e.socket.destroyed) e.socket.uncork();
    }
    this.corked.length = 0;
  }
}

export class FlowControl {
  /** Times a source was paused / resumed (a test hook and a stats figure). */
  pauses = 0;
  resumes = 0;

  constructor(
    readonly maxWriteBuffer: number,
    private readonly slowReaderTimeoutMs: number = DEFAULT_LIMITS.slow_reader_timeout_ms,
    /** Called when `dest` stayed above max_write_buffer for slow_reader_timeout_ms; undefined keeps it (a test defect). */
    private readonly onSlowReader?: (dest: FlowEndpoint) => void,
  ) {}

  /** true when `dest` has more than max_write_buffer bytes queued. */
  isOver(dest: FlowEndpoint): boolean {
    return dest.socket.writableLength > this.maxWriteBuffer;
  }

  /** After a frame went to `dest`; `source` is the connection whose frame caused it (none for the broker's timers). */
  afterWrite(dest: FlowEndpoint, source: FlowEndpoint | undefined): void {
    const queued = dest.socket.writableLength;
    if (queued > dest.stats.maxQueuedBytes) dest.stats.maxQueuedBytes = queued;
    if (queued <= this.maxWriteBuffer) return;
    if (dest.slowTimer === undefined && this.onSlowReader !== undefined) {
      const onSlow = this.onSlowReader;
      dest.slowTimer = setTimeout(() => {
        dest.slowTimer = undefined;
        if (dest.readable && this.isOver(dest)) onSlow(dest);
      }, this.slowReaderTimeoutMs);
      dest.slowTimer.unref();
    }
    // A connection that does not read its own answers (source === dest) is paused like any other source.
    if (source === undefined || dest.feeders.has(source)) return;
    dest.feeders.add(source);
    if (source.blockedBy.size === 0) {
      source.socket.pause();
      source.stats.readPauses++;
      this.pauses++;
    }
    source.blockedBy.add(dest);
  }

  /** `dest` drained (or went away): resume the sources it held, unless another full reader still holds them. */
  release(dest: FlowEndpoint): void {
    clearTimeout(dest.slowTimer);
    dest.slowTimer = undefined;
    if (dest.feeders.size === 0) return;
    for (const source of dest.feeders) {
      source.blockedBy.delete(dest);
      if (source.blockedBy.size === 0 && source.readable) {
        source.socket.resume();
        this.resumes++;
      }
    }
    dest.feeders.clear();
  }

  /** A connection closes: it holds nobody and is held by nobody. */
  forget(endpoint: FlowEndpoint): void {
    this.release(endpoint);
    for (const dest of endpoint.blockedBy) dest.feeders.delete(endpoint);
    endpoint.blockedBy.clear();
  }
}
