/**
 * A small scriptable broker for the client's tests: listens on 127.0.0.1 (port 0) or a Unix
 * socket, performs the handshake (INIT -> INIT_ACK, or a scripted refusal), answers PING and
 * SHUTDOWN by default, and lets a test read what the client sent and script every other reply.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  FrameDecoder,
  decodeMessage,
  encodeMessageFrame,
  type Encoding,
  type Header,
  type Message,
} from '../../codec/index.js';
import type { InitPayload, PayloadMap } from '../../../spec/generated/types.js';

export interface FakeBrokerOptions {
  /** TCP port (default 0: any free port). */
  port?: number;
  /** Listen on this Unix socket path instead of TCP. */
  path?: string;
  brokerId?: string;
  maxInFlight?: number;
  maxFrame?: number;
  /** Encodings the broker supports (default json and cbor). */
  encodings?: Encoding[];
  /** Token the broker requires; a wrong or missing one is refused with UNAUTHORIZED. */
  token?: string;
  /** Answer PING from the client with PONG (default true). */
  autoPong?: boolean;
  /** Answer SHUTDOWN from the client with SHUTDOWN_ACK and close (default true). */
  autoShutdownAck?: boolean;
}

type Filter = string | ((m: Message) => boolean);

/** Default bound of every wait in the fake broker. */
const WAIT_MS = 5000;

function matches(filter: Filter | undefined, m: Message): boolean {
  if (filter === undefined) return true;
  return typeof filter === 'string' ? m.name === filter : filter(m);
}

/** One accepted client connection. */
export class FakeConnection {
  /** The client's INIT payload. */
  init!: InitPayload;
  /** Every message received after the handshake, in order. */
  readonly received: Message[] = [];
  /** Resolves when the socket closes. */
  readonly closed: Promise<void>;
  private readonly inbox: Message[] = [];
  private readonly waiters: { filter: Filter | undefined; resolve: (m: Message) => void }[] = [];
  private seq = 0;

  constructor(
    readonly socket: Socket,
    private readonly broker: FakeBroker,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** The next message (optionally of a type or matching a predicate) not yet taken by a test. */
  next(filter?: Filter, timeoutMs = WAIT_MS): Promise<Message> {
    const i = this.inbox.findIndex((m) => matches(filter, m));
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        filter,
        resolve: (m: Message) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`fake broker: no ${typeof filter === 'string' ? filter : 'matching message'} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next `n` messages matching `filter`. */
  async take(n: number, filter?: Filter, timeoutMs = WAIT_MS): Promise<Message[]> {
    const out: Message[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(filter, timeoutMs));
    return out;
  }

  /** Sends a message; returns its id. */
  send<T extends keyof PayloadMap>(type: T, payload: PayloadMap[T], header: Partial<Header> = {}, encoding: Encoding = 'json'): string {
    const id = header.id ?? `b${++this.seq}`;
    this.write(encodeMessageFrame({ type, header: { ...header, id }, payload, encoding }));
    return id;
  }

  /** Answers `request` with `type` and `payload`, `re` set, in the request's encoding. */
  reply<T extends keyof PayloadMap>(request: Message, type: T, payload: PayloadMap[T]): string {
    return this.send(type, payload, { re: request.header.id }, request.encoding);
  }

  /** Answers `request` with an ERROR. */
  replyError(request: Message, code: string, message: string, definite: boolean, details?: Record<string, unknown>): string {
    return this.send('ERROR', { code, message, definite, ...(details ? { details } : {}) }, { re: request.header.id });
  }

  /** Writes raw bytes. */
  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Drops the connection abruptly. */
  drop(): void {
    this.socket.destroy();
  }

  /** @internal */
  deliver(m: Message): void {
    this.received.push(m);
    if (m.name === 'PING' && this.broker.options.autoPong !== false) {
      this.reply(m, 'PONG', null);
      return;
    }
    if (m.name === 'SHUTDOWN' && this.broker.options.autoShutdownAck !== false) {
      this.reply(m, 'SHUTDOWN_ACK', { drained: 0 });
      this.socket.end();
      return;
    }
    const i = this.waiters.findIndex((w) => matches(w.filter, m));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    else this.inbox.push(m);
  }
}

/** A scriptable broker on a real socket. */
export class FakeBroker {
  /** Connections whose handshake succeeded, in order. */
  readonly connections: FakeConnection[] = [];
  /** Every INIT received, accepted or refused. */
  readonly inits: InitPayload[] = [];
  private readonly sockets = new Set<Socket>();
  /** Frames from the client the fake broker could not decode. */
  readonly faults: Error[] = [];
  private readonly connectionWaiters = new Map<number, (c: FakeConnection) => void>();
  private taken = 0;

  private constructor(
    private readonly server: Server,
    readonly options: FakeBrokerOptions,
  ) {}

  /** Starts listening. */
  static start(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
    const server = createServer();
    const broker = new FakeBroker(server, options);
    server.on('connection', (s) => broker.accept(s));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const ready = (): void => resolve(broker);
      if (options.path !== undefined) server.listen(options.path, ready);
      else server.listen(options.port ?? 0, '127.0.0.1', ready);
    });
  }

  /** A TCP port that was free a moment ago (for tests that start the broker late). */
  static async freePort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  /** The TCP port (0 for a Unix socket). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** The next connection whose handshake succeeds (each is returned once, in order). */
  nextConnection(timeoutMs = WAIT_MS): Promise<FakeConnection> {
    const index = this.taken++;
    const existing = this.connections[index];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake broker: no connection #${index + 1} within ${timeoutMs} ms`)), timeoutMs);
      this.connectionWaiters.set(index, (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const conn = new FakeConnection(socket, this);
    const decoder = new FrameDecoder({ maxFrame: this.options.maxFrame ?? 16_777_216 });
    let shaken = false;
    socket.on('data', (chunk: Buffer) => {
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunk);
      } catch (e) {
        this.faults.push(e as Error);
        socket.destroy();
        return;
      }
      for (const body of bodies) {
        let m: Message;
        try {
          m = decodeMessage(body);
        } catch (e) {
          this.faults.push(e as Error);
          continue;
        }
        if (shaken) {
          conn.deliver(m);
          continue;
        }
        if (m.name !== 'INIT') {
          conn.send('ERROR', { code: 'PROTOCOL_VIOLATION', message: 'first frame must be INIT', definite: true }, { re: m.header.id });
          socket.end();
          return;
        }
        const init = m.payload as InitPayload;
        this.inits.push(init);
        if (this.options.token !== undefined && init.token !== this.options.token) {
          conn.send('ERROR', { code: 'UNAUTHORIZED', message: 'token missing or wrong', definite: true }, { re: m.header.id });
          socket.end();
          return;
        }
        const supported = this.options.encodings ?? ['json', 'cbor'];
        conn.init = init;
        shaken = true;
        conn.send('INIT_ACK', {
          broker_id: this.options.brokerId ?? 'fake-broker',
          client_id: init.client_id,
          protocol_version: '1.0',
          encoding: init.encodings.find((e) => supported.includes(e)) ?? 'json',
          max_frame: this.options.maxFrame ?? 16_777_216,
          max_in_flight: this.options.maxInFlight ?? 1024,
          heartbeat_ms: 10_000,
        }, { re: m.header.id });
        this.connections.push(conn);
        const index = this.connections.length - 1;
        this.connectionWaiters.get(index)?.(conn);
        this.connectionWaiters.delete(index);
      }
    });
  }
}
