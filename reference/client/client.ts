/**
 * The Concord client: one connection to a broker, typed requests and notifications, handlers for
 * incoming messages, graceful shutdown and optional reconnection.
 * @module
 */
import {
  DEFAULT_LIMITS,
  LIMITS,
  PROTOCOL_VERSION,
  ProtocolError,
  encodeMessageFrame,
  messageByName,
  reachesClient,
  type Encoding,
  type Header,
  type Message,
  type ReceivedCode,
} from '../codec/index.js';
import type { EncodingName, InitAckPayload, InitPayload, PayloadMap, ShutdownPayload } from '../../spec/generated/types.js';
import { resolveBackoff, type BackoffOptions } from './backoff.js';
import type { CloseInfo, Connection, Counters } from './connection.js';
import {
  ConnectionClosedError,
  EncodeError,
  RequestTimeoutError,
  ShuttingDownError,
} from './errors.js';
import { openWithRetry, type Endpoint, type OpenOptions, type Opened } from './handshake.js';
import { HandlerRegistry, errorPayloadFor, type AnyHandler } from './handlers.js';
import { InFlightLimiter } from './limiter.js';
import { PendingRequests } from './pending.js';
import { requestTimeout } from './timeouts.js';
import { SessionRecord } from './session.js';
import type {
  ClientRequestName,
  ClientStats,
  ConnectOptions,
  ConnectionEvent,
  Handler,
  IncomingName,
  LogEntry,
  NotificationName,
  RequestOptions,
  ResponsePayload,
  SendOptions,
} from './types.js';
import type { ErrorName, MessageName } from '../../spec/generated/catalog.js';

/** Extra time allowed for SHUTDOWN_ACK beyond the drain the broker was given. */
const SHUTDOWN_ACK_GRACE_MS = 1000;
/** Implementation name announced in INIT. */
const IMPLEMENTATION = 'concord-typescript-client';

/** Lifecycle of a client. */
export type ClientState = 'open' | 'reconnecting' | 'draining' | 'closed';

/** How a client ended, as its `closed` promise reports it. */
export interface ClientCloseInfo {
  /** What ended it: `close()`, the broker's SHUTDOWN, or a lost connection (no reconnect, or reconnect failed). */
  reason: 'closed' | 'shutdown' | 'connection-lost';
  /** The error that ended it, for a lost connection. */
  error?: Error;
}

interface Resolved {
  endpoint: Endpoint;
  init: InitPayload;
  connectTimeoutMs: number;
  retries: number;
  backoff: BackoffOptions;
  requestTimeoutMs: number | undefined;
  reconnect: boolean;
  maxQueued: number;
  maxWriteBuffer: number;
  shutdownDrainMs: number;
  onLog: ((entry: LogEntry) => void) | undefined;
  onConnection: ((event: ConnectionEvent) => void) | undefined;
}

interface IncomingEntry {
  answered: boolean;
}

function resolveOptions(o: ConnectOptions): Resolved {
  const maxFrame = o.maxFrame ?? DEFAULT_LIMITS.max_frame;
  const range = LIMITS.find((l) => l.name === 'max_frame')!;
  if (!Number.isInteger(maxFrame) || maxFrame < range.min || maxFrame > range.max) throw new RangeError(`maxFrame ${maxFrame} is outside ${range.min} .. ${range.max}`);
  const encodings: EncodingName[] = [...new Set<EncodingName>(o.encodings ?? ['json'])];
  if (!encodings.includes('json')) encodings.push('json');
  const endpoint: Endpoint = o.fifoDir !== undefined ? { fifoDir: o.fifoDir } : o.path !== undefined ? { path: o.path } : { host: o.host ?? '127.0.0.1', port: o.port ?? 9999 };
  const init: InitPayload = {
    client_id: o.clientId,
    language: o.language ?? 'typescript',
    role: o.role ?? 'client',
    protocol_version: PROTOCOL_VERSION,
    encodings,
    max_frame: maxFrame,
    ...(o.token !== undefined ? { token: o.token } : {}),
    name: IMPLEMENTATION,
    ...(o.features ? { features: o.features } : {}),
  };
  try {
    encodeMessageFrame({ type: 'INIT', header: { id: '0' }, payload: init });
  } catch (e) {
    const code: ErrorName = e instanceof ProtocolError ? e.code : 'SCHEMA_VIOLATION';
    throw new EncodeError(`invalid connect options: ${(e as Error).message}`, code, { cause: e });
  }
  return {
    endpoint,
    init,
    connectTimeoutMs: o.connectTimeoutMs ?? DEFAULT_LIMITS.handshake_timeout_ms,
    retries: Math.max(0, o.retries ?? 0),
    backoff: resolveBackoff(o.backoff),
    requestTimeoutMs: o.requestTimeoutMs,
    reconnect: o.reconnect ?? false,
    maxQueued: o.maxQueued ?? 1024,
    maxWriteBuffer: o.maxWriteBuffer ?? DEFAULT_LIMITS.max_write_buffer,
    shutdownDrainMs: o.shutdownDrainMs ?? DEFAULT_LIMITS.shutdown_drain_ms,
    onLog: o.onLog,
    onConnection: o.onConnection,
  };
}

/**
 * A client connection to a Concord broker.
 *
 * Requests are typed by the catalog: `request('REASONING_REQUEST', payload)` resolves to the
 * REASONING_RESPONSE payload. A request fails with {@link RemoteError} when the peer answers ERROR,
 * {@link RequestTimeoutError} when no answer comes in time (a late answer is then discarded),
 * {@link ConnectionClosedError} when the connection drops first (`definite` false: the peer may
 * have acted), and {@link ShuttingDownError} once the client or broker is shutting down.
 *
 * In-flight limit: at most the broker's announced `max_in_flight` requests are written at once;
 * further requests wait in a FIFO queue of at most `maxQueued` entries (their timeout running), and
 * a request beyond that is refused at once with {@link OverloadedError}. Nothing is queued without
 * bound and nothing is dropped silently.
 *
 * @example
 * ```ts
 * import { ConcordClient, RemoteError } from './reference/client/index.js';
 * import { NDArray } from './reference/codec/index.js';
 *
 * const client = await ConcordClient.connect({ port: 9999, clientId: 'ts-demo', encodings: ['cbor', 'json'], retries: 5 });
 * client.on('DISAGREEMENT_SIGNAL', (p) => console.log('disagreement', p));
 * try {
 *   const result = await client.request(
 *     'REASONING_REQUEST',
 *     { encoding: NDArray.from('<f4', [768], new Float32Array(768)), context: 'demo', source: 'typescript' },
 *     { dst: 'cpp-teacher-1' },
 *   );
 *   console.log(result.confidence, result.spike_count);
 * } catch (e) {
 *   if (e instanceof RemoteError) console.error(e.code, e.definite, e.details);
 * }
 * console.log('round trip', await client.ping(), 'ms');
 * await client.close();
 * ```
 */
export class ConcordClient {
  /** Resolves once the client is closed for good (never rejects). */
  readonly closed: Promise<ClientCloseInfo>;

  private readonly opts: Resolved;
  private readonly counters: Counters = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };
  private readonly pending = new PendingRequests();
  private readonly limiter: InFlightLimiter;
  private readonly handlers = new HandlerRegistry();
  /** Subscriptions, bus handlers and services to restore after a reconnect (HS-24). */
  private readonly restorable = new SessionRecord();
  private readonly incoming = new Map<string, IncomingEntry>();
  private readonly abort = new AbortController();
  private conn: Connection | undefined;
  private ack: InitAckPayload | undefined;
  private seq = 0;
  private reconnects = 0;
  private phase: ClientState = 'reconnecting';
  private stopping = false;
  private closing: Promise<void> | undefined;
  private remoteShutdown: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private closeInfo: ClientCloseInfo | undefined;
  private resolveClosed!: (info: ClientCloseInfo) => void;

  private constructor(options: Resolved) {
    this.opts = options;
    this.limiter = new InFlightLimiter(DEFAULT_LIMITS.max_in_flight, options.maxQueued, true);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /**
   * Connects to a broker and performs the handshake (INIT, then INIT_ACK). Failed attempts are
   * retried `retries` times with backoff; a handshake the broker refuses (UNAUTHORIZED,
   * VERSION_MISMATCH, ...) rejects at once with {@link HandshakeError}, and exhausted attempts with
   * {@link ConnectError}.
   */
  static async connect(options: ConnectOptions): Promise<ConcordClient> {
    const client = new ConcordClient(resolveOptions(options));
    try {
      client.attach(await openWithRetry(client.openOptions(), { retries: client.opts.retries, backoff: client.opts.backoff }));
    } catch (e) {
      client.finalize({ reason: 'connection-lost', error: e as Error });
      throw e;
    }
    return client;
  }

  /** The broker's INIT_ACK of the current (or last) connection: broker id, encoding, limits. */
  get session(): InitAckPayload {
    return this.ack!;
  }

  /** Where the client is in its lifecycle. */
  get state(): ClientState {
    return this.phase;
  }

  /** Frame and byte counters over all connections, and the requests in flight and queued. */
  get stats(): ClientStats {
    return { ...this.counters, inFlight: this.pending.size, queued: this.limiter.queued, reconnects: this.reconnects };
  }

  /**
   * Sends request `type` and resolves with its response's payload.
   *
   * @param type a request type of the catalog
   * @param payload the request's payload, validated against the catalog schema before sending
   * @param options `dst` for routed types, `timeoutMs`, `encoding`
   */
  async request<T extends ClientRequestName>(type: T, payload: PayloadMap[T], options: RequestOptions = {}): Promise<ResponsePayload<T>> {
    return (await this.requestMessage(type, payload, options)).payload;
  }

  /** As {@link ConcordClient.request}, resolving with the whole response message (header included). */
  async requestMessage<T extends ClientRequestName>(type: T, payload: PayloadMap[T], options: RequestOptions = {}): Promise<Message<ResponsePayload<T>>> {
    return (await this.call(type, payload, options)) as Message<ResponsePayload<T>>;
  }

  /**
   * Sends a notification. Resolves once the frame is handed to the socket, so awaiting each send
   * gives the caller the socket's back-pressure; rejects with OverloadedError when the write buffer
   * is full, ConnectionClosedError when not connected.
   */
  async send<T extends NotificationName>(type: T, payload: PayloadMap[T], options: SendOptions = {}): Promise<void> {
    const conn = this.conn;
    if (!conn?.isOpen) throw new ConnectionClosedError(`not connected; ${type} not sent`, { definite: true });
    const frame = this.encode(conn, type, { id: this.nextId(), ...(options.dst !== undefined ? { dst: options.dst } : {}) }, payload, options.encoding);
    await conn.write(frame);
  }

  /** Sends PING and resolves with the round trip in milliseconds. */
  async ping(options: { timeoutMs?: number } = {}): Promise<number> {
    const start = performance.now();
    await this.call('PING', null, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {});
    return performance.now() - start;
  }

  /**
   * Handles incoming messages of `type`. For a request type, the handler's result is the payload of
   * the type's response, sent with `re` set to the request's id; a thrown error carrying a registry
   * `code` (such as a {@link RemoteError}) is answered with an ERROR of that code, any other with
   * ERROR `INTERNAL`. A request type has at most one handler; a notification type may have several.
   * Requests and notifications without a handler are answered with ERROR `UNSUPPORTED` (ERR-8).
   *
   * @returns a function that removes the handler
   */
  on<T extends IncomingName>(type: T, handler: Handler<T>): () => void {
    return this.handlers.add(type, handler as unknown as AnyHandler);
  }

  /**
   * Closes gracefully: no new requests start, SHUTDOWN is sent, incoming requests keep being
   * answered until SHUTDOWN_ACK arrives (at most `drainMs`, default shutdownDrainMs, plus a second),
   * then the socket is ended. Requests still open then reject with ConnectionClosedError.
   * Idempotent: every call returns the same promise.
   */
  close(options: { reason?: string; drainMs?: number } = {}): Promise<void> {
    this.closing ??= this.doClose(options);
    return this.closing;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  private openOptions(): OpenOptions {
    return {
      endpoint: this.opts.endpoint,
      init: this.opts.init,
      timeoutMs: this.opts.connectTimeoutMs,
      maxFrame: this.opts.init.max_frame,
      maxWriteBuffer: this.opts.maxWriteBuffer,
      counters: this.counters,
      nextId: () => this.nextId(),
      log: (level, message, data) => this.log(level, message, data),
      signal: this.abort.signal,
    };
  }

  /** Takes `conn` as the connection; its in-flight slots open now, or after the restore when `resume` is false. */
  private attach({ conn, ack }: Opened, resume = true): void {
    this.conn = conn;
    this.ack = ack;
    this.phase = 'open';
    this.pending.clearLate();
    this.log('info', 'connected', { brokerId: ack.broker_id, encoding: ack.encoding, maxInFlight: ack.max_in_flight });
    void conn.closed.then((info) => this.onConnectionClosed(conn, info));
    conn.setSink((m) => this.onMessage(conn, m));
    if (resume) this.limiter.resume(ack.max_in_flight);
  }

  private onConnectionClosed(conn: Connection, info: CloseInfo): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    this.limiter.pause();
    this.pending.failAll((type) => new ConnectionClosedError(`connection lost before ${type} was answered`, { definite: false, ...(info.error ? { cause: info.error } : {}) }));
    this.notifyIdle();
    if (this.stopping) return; // close() or the broker's SHUTDOWN finishes the client
    this.log('warn', 'connection lost', { error: info.error?.message });
    if (!this.opts.reconnect || info.intentional) {
      this.finalize({ reason: 'connection-lost', ...(info.error ? { error: info.error } : {}) });
      return;
    }
    this.tell({ kind: 'lost', ...(info.error ? { error: info.error } : {}) });
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    this.phase = 'reconnecting';
    try {
      // A broker may not yet have released our client id (HS-19): DUPLICATE_CLIENT_ID is retried.
      const opened = await openWithRetry(this.openOptions(), { retries: this.opts.retries, backoff: this.opts.backoff, retryCodes: ['DUPLICATE_CLIENT_ID'] });
      if (this.stopping) {
        await opened.conn.end();
        return;
      }
      this.reconnects++;
      this.attach(opened, false);
      // HS-24: restored before the application's requests flow again (they wait in the limiter).
      let failures;
      try {
        failures = await this.restorable.restore((type, payload) => this.direct(opened.conn, type, payload));
      } catch (e) {
        if (this.conn === opened.conn) opened.conn.destroy(e as Error); // a restore that timed out: try again on a new connection
        return; // the loss reconnects
      }
      if (this.conn !== opened.conn) return; // lost again meanwhile: that loss reconnects
      this.limiter.resume(opened.ack.max_in_flight);
      if (failures.length > 0) this.log('warn', 'restorations refused', { failures: failures.map((f) => `${f.type}: ${f.error.message}`) });
      this.tell({ kind: 'restored', reconnects: this.reconnects, failures });
    } catch (e) {
      if (this.stopping) return;
      this.log('error', 'reconnect failed', { error: (e as Error).message });
      this.tell({ kind: 'gave-up', error: e as Error });
      this.finalize({ reason: 'connection-lost', error: e as Error });
    }
  }

  /** One request on `conn` outside the in-flight limiter (the restore runs while it is paused). */
  private async direct(conn: Connection, type: MessageName, payload: unknown): Promise<unknown> {
    const id = this.nextId();
    const answer = this.pending.add(id, type, messageByName(type).response!, requestTimeout(type, payload, undefined, this.opts.requestTimeoutMs));
    conn.write(this.encode(conn, type, { id }, payload)).catch((e: Error) => this.pending.fail(id, e));
    return (await answer).payload;
  }

  private tell(event: ConnectionEvent): void {
    try {
      this.opts.onConnection?.(event);
    } catch (e) {
      this.log('error', 'onConnection failed', { error: String(e) }); // a failing listener never breaks the client
    }
  }

  private async doClose(options: { reason?: string; drainMs?: number }): Promise<void> {
    this.beginStopping(new ShuttingDownError('the client is closing'));
    this.abort.abort(new ShuttingDownError('the client is closing'));
    const conn = this.conn;
    if (this.remoteShutdown) {
      await this.remoteShutdown;
    } else if (conn?.isOpen) {
      const drainMs = options.drainMs ?? this.opts.shutdownDrainMs;
      const payload: ShutdownPayload = { drain_ms: drainMs, ...(options.reason !== undefined ? { reason: options.reason } : {}) };
      const id = this.nextId();
      const ack = this.pending.add(id, 'SHUTDOWN', 'SHUTDOWN_ACK', drainMs + SHUTDOWN_ACK_GRACE_MS);
      try {
        await conn.write(this.encode(conn, 'SHUTDOWN', { id }, payload), true);
        const answer = await ack;
        this.log('info', 'SHUTDOWN acknowledged', { ...(answer.payload as object) });
      } catch (e) {
        this.pending.fail(id, e as Error);
        await ack.catch(() => undefined);
        this.log('warn', 'no SHUTDOWN_ACK', { error: (e as Error).message });
      }
      await conn.end();
    }
    this.finalize({ reason: 'closed' });
  }

  /** Stops new requests (HS-12): queued ones are refused with `error`. */
  private beginStopping(error: Error): void {
    this.stopping = true;
    this.limiter.close(error);
  }

  private finalize(info: ClientCloseInfo): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closeInfo = info;
    this.stopping = true;
    this.limiter.close(new ConnectionClosedError('the client is closed', { definite: true, ...(info.error ? { cause: info.error } : {}) }));
    this.pending.failAll((type) => new ConnectionClosedError(`the client closed before ${type} was answered`, { definite: false }));
    this.conn?.destroy();
    this.log('info', 'closed', { reason: info.reason });
    this.resolveClosed(info);
  }

  // ---- outgoing ----------------------------------------------------------------------------------

  private nextId(): string {
    return (++this.seq).toString(36);
  }

  private encode(conn: Connection, type: MessageName, header: Header, payload: unknown, encoding?: Encoding): Uint8Array {
    const enc = encoding ?? this.ack?.encoding ?? 'json';
    if (enc !== 'json' && !conn.encodings?.includes(enc)) {
      throw new EncodeError(`${type}: encoding ${enc} was not negotiated on this connection (ENC-2)`, 'UNSUPPORTED_ENCODING');
    }
    let frame: Uint8Array;
    try {
      frame = encodeMessageFrame({ type, header, payload, encoding: enc });
    } catch (e) {
      const code: ErrorName = e instanceof ProtocolError ? e.code : 'INVALID_PAYLOAD';
      throw new EncodeError(`${type}: ${(e as Error).message}`, code, { cause: e });
    }
    if (frame.length - 4 > conn.peerMaxFrame) {
      throw new EncodeError(`${type}: frame body of ${frame.length - 4} bytes exceeds the broker's max_frame ${conn.peerMaxFrame} (FRM-4)`, 'FRAME_TOO_LARGE');
    }
    return frame;
  }

  private async call(type: MessageName, payload: unknown, options: RequestOptions): Promise<Message> {
    if (this.closeInfo?.reason === 'connection-lost') throw new ConnectionClosedError(`the connection is lost; ${type} not sent`, { definite: true, ...(this.closeInfo.error ? { cause: this.closeInfo.error } : {}) });
    if (this.stopping) throw new ShuttingDownError(`the client is ${this.phase === 'closed' ? 'closed' : 'shutting down'}; ${type} not sent`);
    const info = messageByName(type);
    if (info.kind !== 'request' || !info.response) throw new TypeError(`${type} is not a request type`);
    const timeoutMs = requestTimeout(type, payload, options.timeoutMs, this.opts.requestTimeoutMs);
    const start = performance.now();
    const ticket = this.limiter.enqueue(type, timeoutMs);
    try {
      await ticket.ready;
      if (this.stopping) throw new ShuttingDownError(`the client is shutting down; ${type} not sent`);
      const conn = this.conn;
      if (!conn?.isOpen) throw new ConnectionClosedError(`not connected; ${type} not sent`, { definite: true });
      const id = this.nextId();
      const frame = this.encode(conn, type, { id, ...(options.dst !== undefined ? { dst: options.dst } : {}) }, this.restorable.outgoing(type, payload), options.encoding);
      const remaining = Math.max(1, Math.round(timeoutMs - (performance.now() - start)));
      const answer = this.pending.add(id, type, info.response, remaining, timeoutMs);
      conn.write(frame).catch((e: Error) => this.pending.fail(id, e));
      const message = await answer;
      this.restorable.accepted(type, payload, message.payload);
      return message;
    } finally {
      ticket.release();
      this.notifyIdle();
    }
  }

  // ---- incoming ----------------------------------------------------------------------------------

  private onMessage(conn: Connection, m: Message): void {
    const info = messageByName(m.name);
    if (!reachesClient(info)) {
      this.answerError(conn, m, 'UNEXPECTED_MESSAGE', `${m.name} never travels from broker to client (REQ-6)`);
      return;
    }
    if (info.kind === 'response' || info.kind === 'error') this.onAnswer(conn, m);
    else if (info.kind === 'request') void this.onRequest(conn, m);
    else this.onNotification(conn, m);
  }

  private onAnswer(conn: Connection, m: Message): void {
    const outcome = this.pending.settle(m);
    if (outcome === 'matched') return;
    if (outcome === 'late') {
      this.log('debug', 'late answer discarded (REQ-16)', { type: m.name, re: m.header.re });
      return;
    }
    if (m.name === 'ERROR') {
      // Never answer an ERROR (ERR-6).
      this.log('warn', 'ERROR from the broker', { re: m.header.re, ...(m.payload as object) });
      return;
    }
    this.answerError(conn, m, 'UNEXPECTED_MESSAGE', outcome === 'wrong-type' ? `${m.name} is not the response to request ${m.header.re}` : `${m.name} answers no open request (REQ-5)`);
  }

  private async onRequest(conn: Connection, m: Message): Promise<void> {
    if (m.name === 'PING') {
      this.answer(conn, m, 'PONG', null); // also while draining (HS-9)
      return;
    }
    if (m.name === 'SHUTDOWN') {
      this.remoteShutdown ??= this.onShutdown(conn, m);
      return;
    }
    if (this.stopping) {
      this.answerError(conn, m, 'SHUTTING_DOWN', `${m.name} arrived after SHUTDOWN (HS-13)`);
      return;
    }
    const [handler] = this.handlers.get(m.name);
    if (!handler) {
      this.answerError(conn, m, 'UNSUPPORTED', `no handler for ${m.name} (ERR-8)`);
      return;
    }
    const entry: IncomingEntry = { answered: false };
    this.incoming.set(m.header.id, entry);
    try {
      const result = await handler(this.restorable.incoming(m.name, m.payload), m);
      if (!entry.answered) this.answer(conn, m, messageByName(m.name).response!, result);
    } catch (e) {
      if (!entry.answered) this.answerPayload(conn, m, errorPayloadFor(e));
    } finally {
      entry.answered = true;
      if (this.incoming.get(m.header.id) === entry) this.incoming.delete(m.header.id);
      this.notifyIdle();
    }
  }

  private onNotification(conn: Connection, m: Message): void {
    const handlers = this.handlers.get(m.name);
    if (handlers.length === 0) {
      this.answerError(conn, m, 'UNSUPPORTED', `no handler for ${m.name} (ERR-8)`);
      return;
    }
    for (const h of handlers) {
      Promise.resolve()
        .then(() => h(m.payload, m))
        .catch((e: unknown) => this.log('error', `${m.name} handler failed`, { error: String(e) }));
    }
  }

  /** HS-14, HS-15: drain, then SHUTDOWN_ACK, then close. */
  private async onShutdown(conn: Connection, m: Message): Promise<void> {
    const requested = (m.payload as ShutdownPayload).drain_ms;
    const drainMs = Math.min(requested ?? Infinity, this.opts.shutdownDrainMs);
    this.log('info', 'broker sent SHUTDOWN; draining', { drainMs });
    this.phase = 'draining';
    this.beginStopping(new ShuttingDownError('the broker is shutting down'));
    const before = [...this.incoming.values()];
    await this.waitIdle(drainMs);
    let timedOut = 0;
    for (const [id, entry] of [...this.incoming]) {
      entry.answered = true;
      this.incoming.delete(id);
      timedOut++;
      conn.sendError('TIMEOUT', 'request still open when the shutdown drain ended (HS-14)', { re: id, details: { timeout_ms: drainMs } });
    }
    this.pending.failAll((type) => new RequestTimeoutError(type, drainMs, { definite: false }));
    const drained = before.length - timedOut;
    try {
      await conn.write(this.encode(conn, 'SHUTDOWN_ACK', { id: this.nextId(), re: m.header.id }, { drained, timed_out: timedOut }, 'json'), true);
    } catch (e) {
      this.log('warn', 'could not send SHUTDOWN_ACK', { error: (e as Error).message });
    }
    await conn.end();
    this.finalize({ reason: 'shutdown' });
  }

  private answer(conn: Connection, request: Message, type: MessageName, payload: unknown): void {
    let frame: Uint8Array;
    try {
      frame = this.encode(conn, type, this.answerHeader(request), payload, request.encoding);
    } catch (e) {
      this.log('error', `invalid ${type} answering ${request.name}`, { error: (e as Error).message });
      this.answerError(conn, request, 'INTERNAL', `the handler's ${type} is invalid: ${(e as Error).message}`);
      return;
    }
    conn.write(frame, true).catch((e: Error) => this.log('warn', `could not send ${type}`, { error: e.message }));
  }

  private answerPayload(conn: Connection, request: Message, p: { code: ErrorName; message: string; definite: boolean; details?: Record<string, unknown> }): void {
    const header = this.answerHeader(request);
    try {
      encodeMessageFrame({ type: 'ERROR', header, payload: p });
    } catch {
      delete p.details; // details that do not encode (a bigint, a cycle) are dropped rather than the answer
    }
    conn.sendError(p.code, p.message, { re: request.header.id, ...(header.dst !== undefined ? { dst: header.dst } : {}), definite: p.definite, ...(p.details ? { details: p.details } : {}) });
  }

  private answerError(conn: Connection, request: Message, code: ErrorName, message: string): void {
    this.answerPayload(conn, request, errorPayloadFor(Object.assign(new Error(message), { code })));
  }

  /** `re` the request; `dst` its `src`, so a routed answer finds its way back. */
  private answerHeader(request: Message): Header {
    return { id: this.nextId(), re: request.header.id, ...(request.header.src !== undefined ? { dst: request.header.src } : {}) };
  }

  // ---- idle tracking -----------------------------------------------------------------------------

  private notifyIdle(): void {
    if (this.pending.size > 0 || this.incoming.size > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when nothing is in flight either way, or after `ms`. */
  private waitIdle(ms: number): Promise<void> {
    if (this.pending.size === 0 && this.incoming.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  private log(level: LogEntry['level'], message: string, data?: Record<string, unknown>): void {
    if (!this.opts.onLog) return;
    try {
      this.opts.onLog({ level, message, ...(data ? { data } : {}) });
    } catch {
      // a failing logger never breaks the client
    }
  }
}
