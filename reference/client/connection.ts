/**
 * One socket carrying Concord frames: incremental decoding with the client's max_frame, ERROR
 * answers to faulty incoming frames (section 8), and writes batched with cork/uncork that respect
 * the socket's back-pressure.
 * @module
 */
import type { Socket } from 'node:net';
import type { FifoStream } from '../transport/fifo-stream.js';
import {
  FrameDecoder,
  ProtocolError,
  decodeMessage,
  encodeMessageFrame,
  MessageType,
  type Encoding,
  type Message,
} from '../codec/index.js';
import type { ErrorPayloadDetails } from '../../spec/generated/types.js';
import { ERROR_MESSAGE_MAX_LENGTH, MIN_LIMITS, type ErrorName } from '../../spec/generated/catalog.js';
import type { ReceivedCode } from '../codec/index.js';
import { ConnectionClosedError, OverloadedError, registryDefinite } from './errors.js';
import type { LogEntry } from './types.js';

/** Counters shared by every connection of one client. */
export interface Counters {
  /** Frames received. */
  framesIn: number;
  /** Frames written. */
  framesOut: number;
  /** Bytes received, length prefixes included. */
  bytesIn: number;
  /** Bytes written, length prefixes included. */
  bytesOut: number;
}

/** How a connection ended. */
export interface CloseInfo {
  /** true when this side ended it with `end()`. */
  intentional: boolean;
  /** The fault or socket error that ended it, if any. */
  error?: Error;
}

/** What a connection needs from its client. */
export interface ConnectionOptions {
  /** Largest incoming body accepted. */
  maxFrame: number;
  /** Bytes that may wait for 'drain' before writes are refused. */
  maxWriteBuffer: number;
  /** Counters to add this connection's traffic to. */
  counters: Counters;
  /** A fresh frame id (for the ERRORs the connection writes itself). */
  nextId: () => string;
  /** Where the connection logs. */
  log: (level: LogEntry['level'], message: string, data?: Record<string, unknown>) => void;
}

/** Receives the decoded messages of a connection, in order. */
export type MessageSink = (message: Message) => void;

interface QueuedWrite {
  frame: Uint8Array;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Bound of the wait for the peer's close after our half-close. */
const END_GRACE_MS = 2000;

/** A framed connection over a connected socket. */
export class Connection {
  /** Encodings accepted on incoming frames (undefined: both, until INIT_ACK says). */
  encodings: readonly Encoding[] | undefined;
  /** The peer's max_frame (from INIT_ACK); frames above it are never written. */
  peerMaxFrame: number = MIN_LIMITS.max_frame;
  /** Resolves once the socket has closed. */
  readonly closed: Promise<CloseInfo>;

  private readonly decoder: FrameDecoder;
  private sink: MessageSink | null = null;
  private inbox: Message[] = [];
  private queue: QueuedWrite[] = [];
  private queuedBytes = 0;
  private waitingDrain = false;
  private corked = false;
  private open = true;
  private intentional = false;
  private faulted = false;
  private closeError: Error | undefined;
  private resolveClosed!: (info: CloseInfo) => void;

  /** Wraps a connected or connecting socket; frames are decoded from its first byte on. */
  constructor(
    /** The underlying socket. */
    readonly socket: Socket | FifoStream,
    private readonly options: ConnectionOptions,
  ) {
    this.decoder = new FrameDecoder({ maxFrame: options.maxFrame });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.flushQueue());
    socket.on('error', (e) => {
      this.closeError ??= e;
      options.log('debug', 'socket error', { error: e.message });
    });
    socket.on('end', () => {
      if (this.decoder.midFrame) options.log('warn', 'stream ended inside a frame; partial frame discarded (FRM-7)');
    });
    socket.on('close', () => this.onClose());
  }

  /** true until the socket closes or `end()`/`destroy()` is called. */
  get isOpen(): boolean {
    return this.open;
  }

  /** Sets where decoded messages go; messages that arrived while there was none are delivered first. */
  setSink(sink: MessageSink | null): void {
    this.sink = sink;
    while (this.sink && this.inbox.length > 0) this.sink(this.inbox.shift()!);
  }

  /**
   * Writes one whole frame (length prefix included). Resolves once the socket has taken it;
   * frames written in the same tick go out in one corked batch. While the socket is above its
   * high-water mark, frames wait for 'drain'; beyond maxWriteBuffer waiting bytes the write rejects
   * with OverloadedError unless `force` (answers and control frames, which are never refused).
   */
  write(frame: Uint8Array, force = false): Promise<void> {
    if (!this.open) return Promise.reject(new ConnectionClosedError('connection is closed', { definite: true }));
    if (!this.waitingDrain && this.queue.length === 0) {
      this.writeNow(frame);
      return Promise.resolve();
    }
    if (!force && this.queuedBytes + frame.length > this.options.maxWriteBuffer) {
      return Promise.reject(new OverloadedError(`write buffer full (${this.queuedBytes} bytes waiting for drain)`, this.options.maxWriteBuffer));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ frame, resolve, reject });
      this.queuedBytes += frame.length;
    });
  }

  /** Writes an ERROR (always JSON, ENC-1) answering the frame `re`; never throws. */
  sendError(code: ErrorName | ReceivedCode, message: string, options: { re?: string; dst?: string; details?: ErrorPayloadDetails; definite?: boolean } = {}): void {
    const definite = options.definite ?? registryDefinite(code);
    try {
      const frame = encodeMessageFrame({
        type: 'ERROR',
        header: { id: this.options.nextId(), ...(options.re !== undefined ? { re: options.re } : {}), ...(options.dst !== undefined ? { dst: options.dst } : {}) },
        payload: { code, message: message.slice(0, ERROR_MESSAGE_MAX_LENGTH), definite, ...(options.details ? { details: options.details } : {}) },
      });
      this.write(frame, true).catch(() => undefined);
    } catch (e) {
      this.options.log('error', 'could not encode an ERROR', { code, error: (e as Error).message });
    }
  }

  /**
   * Half-closes after the frames already written, waits (bounded) for the peer to close, then
   * destroys the socket. Marks the close as intentional.
   */
  end(): Promise<CloseInfo> {
    this.intentional = true;
    this.halfClose();
    return this.closed;
  }

  /** Closes at once, discarding unwritten frames. */
  destroy(error?: Error): void {
    if (error) this.closeError ??= error;
    this.open = false;
    this.faulted = true;
    this.socket.destroy();
  }

  private writeNow(frame: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.options.counters.framesOut++;
    this.options.counters.bytesOut += frame.length;
    if (!this.socket.write(frame)) this.waitingDrain = true;
  }

  private flushQueue(): void {
    this.waitingDrain = false;
    while (!this.waitingDrain && this.queue.length > 0 && this.open) {
      const w = this.queue.shift()!;
      this.queuedBytes -= w.frame.length;
      this.writeNow(w.frame);
      w.resolve();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.faulted) return;
    this.options.counters.bytesIn += chunk.length;
    let bodies: Uint8Array[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (e) {
      // A framing fault (FRM-2, FRM-3): the whole frames before it are handled first, then the
      // stream, which can no longer be delimited, is closed.
      const fault = e as ProtocolError;
      for (const body of fault.framesBefore ?? []) {
        this.options.counters.framesIn++;
        this.onBody(body);
        if (this.faulted) return;
      }
      this.options.log('warn', 'framing fault from the peer; closing', { code: fault.code });
      this.sendError(fault.code, fault.message, { details: fault.details });
      this.closeError ??= fault;
      this.endAfterFault();
      return;
    }
    for (const body of bodies) {
      this.options.counters.framesIn++;
      this.onBody(body);
      if (this.faulted) return;
    }
  }

  private onBody(body: Uint8Array): void {
    let message: Message;
    try {
      message = decodeMessage(body, this.encodings ? { encodings: this.encodings } : {});
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      const isError = body.length > 0 && body[0] === MessageType.ERROR;
      this.options.log('warn', isError ? 'faulty ERROR from the peer (not answered, ERR-6)' : 'faulty frame from the peer', {
        code: e.code,
        frameId: e.frameId,
        path: e.details.path,
      });
      if (!isError) this.sendError(e.code, e.message, { ...(e.frameId !== undefined ? { re: e.frameId } : {}), details: e.details });
      if (e.closes) {
        this.closeError ??= e;
        if (isError) this.destroy(e);
        else this.endAfterFault();
      }
      return;
    }
    if (this.sink) this.sink(message);
    else this.inbox.push(message);
  }

  /** Ends after a closing fault; the close is not intentional (a reconnecting client reconnects). */
  private endAfterFault(): void {
    this.faulted = true;
    this.halfClose();
  }

  /** Hands every waiting frame to the socket, half-closes, and destroys it if the peer does not close in time. */
  private halfClose(): void {
    if (!this.open) return;
    this.open = false;
    for (const w of this.queue.splice(0)) {
      this.socket.write(w.frame);
      w.resolve();
    }
    this.queuedBytes = 0;
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), END_GRACE_MS);
    void this.closed.then(() => clearTimeout(timer));
  }

  private onClose(): void {
    this.open = false;
    const pending = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const w of pending) w.reject(new ConnectionClosedError('connection closed', { definite: true, cause: this.closeError }));
    this.resolveClosed({ intentional: this.intentional, ...(this.closeError ? { error: this.closeError } : {}) });
  }
}
