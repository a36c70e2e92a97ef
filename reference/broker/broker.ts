/**
 * The reference broker of Concord: accepts clients on TCP and/or a Unix socket, runs the handshake,
 * routes frames between clients by `dst`, tracks requests until their one answer, pings silent clients,
 * reports statistics and shuts down gracefully. Embeddable: `new Broker({ port: 0 }).listen()`.
 */
import { ServiceRegistry } from './services.js';
import { ProtocolError } from '../codec/errors.js';
import { createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { resolveConfig, type BrokerConfig, type BrokerOptions } from './config.js';
import { Connection } from './connection.js';
import { ClientDrains } from './drain.js';
import { FlowControl, WriteBatch } from './flow.js';
import { messageFrame, type OutFrame } from './frames.js';
import { checkPush, type PushName } from './push.js';
import type { PayloadMap } from '../../spec/generated/types.js';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { acceptInit, tokenDigest, type HandshakeContext } from './handshake.js';
import { ExpiredIds, Inflight, type PendingRequest } from './inflight.js';
import { ListenError, listenTcp, listenUnix } from './listen.js';
import { FifoAcceptor } from '../transport/fifo-acceptor.js';
import type { FifoStream } from '../transport/fifo-stream.js';
import { Logger } from './logger.js';
import { Router } from './router.js';
import { BrokerCalls } from './calls.js';
import { BusHost } from './bus.js';
import { ServiceDispatcher } from './dispatch.js';
import { ClusterNode, infoOf, type ClusterBrokerStats } from './cluster/node.js';
import type { AcceptedInit } from './handshake.js';

/** PING ids kept for matching PONGs; older ones move to the late-answer memory. */
const PINGS_KEPT = 8;

/** Where a broker listens, once {@link Broker.listen} resolved. */
export interface BrokerAddress {
  /** The TCP port listened on (the ephemeral one when port 0 was asked), or undefined without TCP. */
  port: number | undefined;
  host: string | undefined;
  unixPath: string | undefined;
  /** The directory FIFO pairs are served from (section 10.4), when asked. */
  fifoDir?: string;
}

/** One connection as {@link Broker.stats} shows it: counters, in-flight requests, back-pressure and latency. */
export interface ClientSnapshot {
  clientId: string | undefined;
  state: Connection['state'];
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  inFlight: number;
  served: number;
  maxQueuedBytes: number;
  readPauses: number;
  /** true while reading from this connection is paused by back-pressure. */
  readPaused: boolean;
  latencyP50Us: number | undefined;
  latencyP99Us: number | undefined;
}

/** In-process statistics (a superset of STATS_RESPONSE, for tests and the harness). */
export interface BrokerStats {
  brokerId: string;
  uptimeMs: number;
  connections: number;
  inFlight: number;
  /** Times a source connection was paused / resumed by back-pressure (LIM-14). */
  readPauses: number;
  readResumes: number;
  clients: ClientSnapshot[];
  /** In a cluster: every broker with its client count, this one first. */
  cluster?: ClusterBrokerStats[];
  /** In a cluster: whether NATS is reachable (remote traffic is refused while it is not, CLU-8). */
  clusterUp?: boolean;
}

/** The reference broker: handshake, routing by `dst` without decoding payloads, correlation, timeouts, back-pressure, the bus and registry, graceful shutdown. `listen()` starts it, `shutdown()` drains it, `close()` stops it at once. */
export class Broker {
  readonly config: BrokerConfig;
  readonly log: Logger;
  private readonly servers: Server[] = [];
  private fifoAcceptor: FifoAcceptor | undefined;
  private readonly connections = new Set<Connection>();
  private readonly clients = new Map<string, Connection>();
  private readonly services = new ServiceRegistry();
  private readonly batch = new WriteBatch();
  private readonly flow: FlowControl;
  private readonly inflight: Inflight;
  private readonly router: Router;
  private readonly calls: BrokerCalls;
  private readonly bus: BusHost;
  private readonly drains: ClientDrains;
  private readonly handshakeContext: HandshakeContext;
  /** Present with the `cluster` option (section 19). */
  private readonly cluster: ClusterNode | undefined;
  /** Client ids whose cluster-wide claim is running (CLU-3). */
  private readonly claiming = new Set<string>();
  private readonly startedAt = Date.now();
  private connSeq = 0;
  /** Bytes held by connections without INIT_ACK for their frames in progress (HS-21). */
  private handshakeBytes = 0;
  /** Set once our socket is bound at unixPath: only then is the file ours to remove (UNIX-2). */
  private ownsUnixPath = false;
  private shuttingDown = false;
  private shutdownCheck: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private draining: Promise<void> | undefined;
  /** Ends the wait of a running shutdown() early (close() during a drain). */
  private stopDrainWait: (() => void) | undefined;

  constructor(options: BrokerOptions = {}) {
    this.config = resolveConfig(options);
    this.log = new Logger(this.config.logLevel, this.config.logSink, { component: 'broker' });
    this.flow = new FlowControl(
      this.config.maxWriteBuffer,
      this.config.slowReaderTimeoutMs,
      this.config.defects.keepSlowReaders ? undefined : (dest) => this.closeSlowReader(dest as Connection),
    );
    this.inflight = new Inflight(
      {
        fail: (p, error) => {
          if (p.requester.state === 'open') this.router.sendError(p.requester, p.origId, error);
        },
        settled: (p) => this.settled(p),
      },
      this.log,
    );
    const send = (conn: Connection, frame: OutFrame, source?: Connection): void => this.batch.run(() => this.router.send(conn, frame, source));
    this.calls = new BrokerCalls({ send, isOver: (conn) => !this.config.defects.queueOwnRequests && this.flow.isOver(conn) });
    const internal = (conn: Connection, error: unknown): void => this.log.error('internal fault answering a request', { client: conn.clientId, error: String(error) });
    this.cluster = this.config.cluster === undefined ? undefined : this.newClusterNode();
    const peers = this.cluster ? { cluster: this.cluster } : {};
    this.bus = new BusHost({ calls: this.calls, maxSubscriptions: DEFAULT_LIMITS.max_subscriptions, send, internal, localSettled: (c) => this.drains.check(c), ...peers });
    const dispatcher = new ServiceDispatcher({ calls: this.calls, services: this.services, send, internal, localSettled: (c) => this.drains.check(c), defects: this.config.defects, ...peers });
    this.router = new Router({
      ...(this.cluster ? { cluster: this.cluster } : {}),
      config: this.config,
      log: this.log,
      clients: this.clients,
      inflight: this.inflight,
      flow: this.flow,
      services: this.services,
      bus: this.bus,
      dispatcher,
      calls: this.calls,
      startedAt: this.startedAt,
      isShuttingDown: () => this.shuttingDown,
      startClientDrain: (conn, id, ms) => this.drains.start(conn, id, ms),
      shutdownAcked: () => this.shutdownCheck?.(),
    });
    this.drains = new ClientDrains({
      inflight: this.inflight,
      log: this.log,
      shutdownDrainMs: this.config.shutdownDrainMs,
      send: (conn, frame) => this.router.send(conn, frame),
    });
    const clients = this.clients;
    this.handshakeContext = {
      brokerId: this.config.brokerId,
      maxHeader: this.config.maxHeader,
      maxFrame: this.config.maxFrame,
      maxInFlight: this.config.maxInFlight,
      heartbeatMs: this.config.heartbeatMs,
      maxSubscriptions: DEFAULT_LIMITS.max_subscriptions,
      tokenDigest: this.config.token === undefined ? undefined : tokenDigest(this.config.token),
      isClientIdTaken: (id) => clients.has(id) || this.claiming.has(id),
      isServiceName: (name) => this.services.provider(name) !== undefined,
    };
  }

  /** Starts listening; resolves with the address actually bound (port 0 = ephemeral). */
  async listen(): Promise<BrokerAddress> {
    const address: BrokerAddress = { port: undefined, host: undefined, unixPath: undefined };
    try {
      if (this.config.tcp) {
        const server = this.newServer();
        address.port = await listenTcp(server, this.config.host, this.config.port);
        address.host = this.config.host;
      }
      if (this.config.unixPath !== undefined) {
        await listenUnix(this.newServer(), this.config.unixPath);
        this.ownsUnixPath = true;
        address.unixPath = this.config.unixPath;
      }
      if (this.config.fifoDir !== undefined) {
        this.fifoAcceptor = new FifoAcceptor(this.config.fifoDir, {
          openTimeoutMs: this.config.handshakeTimeoutMs,
          onConnection: (stream) => this.accept(stream),
          onError: (dir, e) => this.log.warn('FIFO pair refused', { dir, error: e.message }),
        });
        try {
          await this.fifoAcceptor.start();
        } catch (e) {
          throw new ListenError(`fifo:${this.config.fifoDir}`, (e as Error).message, { cause: e });
        }
        address.fifoDir = this.config.fifoDir;
      }
    } catch (e) {
      await this.close();
      throw e;
    }
    this.cluster?.start();
    this.log.info('listening', { ...address, max_frame: this.config.maxFrame, max_in_flight: this.config.maxInFlight, token: this.config.token !== undefined });
    return address;
  }

  /** Closes at once: every connection is dropped, every timer stopped. Nothing is drained (see shutdown). */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.shuttingDown = true;
    this.inflight.clear();
    for (const conn of this.connections) conn.destroy();
    this.stopDrainWait?.();
    const cluster = this.cluster?.stop();
    this.closing = this.closeServers().then(() => cluster);
    return this.closing;
  }

  /**
   * @internal Test-only: ends as a killed process would, for brokers run in one test process (the
   * cluster-process suite's mutation tests): connections dropped, and with `cluster` no `bye` said and
   * no claim released, so the other brokers must find the death by the silence (CLU-4, CLU-6, CLU-7).
   */
  crash(): Promise<void> {
    this.cluster?.abandon();
    return this.close();
  }

  /** With the `cluster` option: resolves once the broker joined (NATS connected, claims bucket open). */
  clusterReady(): Promise<void> {
    return this.cluster?.ready ?? Promise.resolve();
  }

  /**
   * HS-17: SHUTDOWN to every client, new requests refused with SHUTTING_DOWN, every accepted request
   * answered (by its answer, or TIMEOUT after `drainMs`), then every connection closed.
   */
  shutdown(drainMs: number = this.config.shutdownDrainMs): Promise<void> {
    if (this.closing) return this.closing;
    this.draining ??= this.drainAll(drainMs);
    return this.draining;
  }

  private async drainAll(drainMs: number): Promise<void> {
    this.shuttingDown = true;
    this.log.info('shutting down', { drain_ms: drainMs, clients: this.clients.size, in_flight: this.inflight.size });
    const serversClosed = this.closeServers();
    this.batch.run(() => {
      for (const conn of this.connections) {
        if (conn.state === 'handshake') conn.destroy();
        else if (conn.state === 'open' && !conn.draining) {
          conn.draining = true;
          conn.shutdownSentId = conn.nextId();
          this.router.send(conn, messageFrame('SHUTDOWN', { id: conn.shutdownSentId }, { reason: 'broker shutting down', drain_ms: drainMs }));
        }
      }
    });
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.shutdownCheck = undefined;
        this.stopDrainWait = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        // LIM-13: what is still open after the drain gets TIMEOUT; nothing accepted goes unanswered.
        this.batch.run(() => {
          for (const conn of [...this.connections]) for (const p of [...conn.requested]) this.inflight.timeout(p, drainMs, 'HS-17');
        });
        finish();
      }, drainMs);
      this.stopDrainWait = finish;
      this.shutdownCheck = () => {
        if (this.inflight.size > 0) return;
        for (const c of this.connections) if (c.state === 'open' && !c.shutdownAcked) return;
        finish();
      };
      this.shutdownCheck();
    });
    const allClosed = [...this.connections].map((c) => new Promise<void>((resolve) => (c.state === 'closed' ? resolve() : c.socket.once('close', () => resolve()))));
    for (const conn of this.connections) conn.end();
    await Promise.all(allClosed);
    this.closing = serversClosed;
    await serversClosed;
    await this.cluster?.stop();
    this.log.info('shut down');
  }

  /**
   * Sends notification `type` (DISAGREEMENT_SIGNAL, INSTRUMENT_EVENT) to the client `clientId`, the
   * seed's `send_to_client`. Returns false when no such client is connected; throws TypeError for a
   * type a broker does not push and ProtocolError for a payload that breaks the schema.
   */
  sendToClient<T extends PushName>(clientId: string, type: T, payload: PayloadMap[T]): boolean {
    checkPush(type, payload);
    const conn = this.clients.get(clientId);
    if (conn?.state !== 'open') return false;
    this.batch.run(() => this.router.send(conn, messageFrame(type, { id: conn.nextId() }, payload)));
    return true;
  }

  /** Sends notification `type` to every connected client (the seed's `broadcast`); returns how many. */
  broadcast<T extends PushName>(type: T, payload: PayloadMap[T]): number {
    checkPush(type, payload);
    let sent = 0;
    for (const conn of this.clients.values()) {
      if (conn.state !== 'open') continue;
      this.batch.run(() => this.router.send(conn, messageFrame(type, { id: conn.nextId() }, payload)));
      sent++;
    }
    return sent;
  }

  /** Counters of the broker and of every connection. */
  stats(): BrokerStats {
    const clients: ClientSnapshot[] = [];
    for (const c of this.connections) {
      clients.push({
        clientId: c.clientId,
        state: c.state,
        framesIn: c.stats.framesIn,
        framesOut: c.stats.framesOut,
        bytesIn: c.stats.bytesIn,
        bytesOut: c.stats.bytesOut,
        inFlight: c.requested.size,
        served: c.served.size,
        maxQueuedBytes: c.stats.maxQueuedBytes,
        readPauses: c.stats.readPauses,
        readPaused: c.blockedBy.size > 0,
        latencyP50Us: c.stats.latency.quantile(0.5),
        latencyP99Us: c.stats.latency.quantile(0.99),
      });
    }
    return {
      brokerId: this.config.brokerId,
      uptimeMs: Date.now() - this.startedAt,
      connections: this.connections.size,
      inFlight: this.inflight.size,
      readPauses: this.flow.pauses,
      readResumes: this.flow.resumes,
      clients,
      ...(this.cluster ? { cluster: this.cluster.brokers([...this.localClients()].length), clusterUp: this.cluster.up } : {}),
    };
  }

  private *localClients(): Iterable<Connection> {
    for (const c of this.clients.values()) if (!c.remote && c.state === 'open') yield c;
  }

  private newClusterNode(): ClusterNode {
    let remoteSeq = 0;
    return new ClusterNode(this.config.cluster!, {
      brokerId: this.config.brokerId,
      log: this.log.child({ component: 'cluster' }),
      clients: this.clients,
      services: this.services,
      batch: this.batch,
      expiredIdsKept: this.config.expiredIdsKept,
      startedAt: this.startedAt,
      deliver: (from, body) => this.deliverRemote(from, body),
      drop: (conn) => this.forget(conn),
      localClients: () => this.localClients(),
      localHandlers: () => this.bus.localHandlers(),
      nextSeq: () => --remoteSeq, // negative: never a local connection's number
    });
  }

  /** A frame from a client of another broker (or a held one of a local client), handled as the router handles any. */
  private deliverRemote(from: Connection, body: Uint8Array): void {
    try {
      this.batch.run(() => this.router.handle(from, body));
    } catch (e) {
      this.log.error('internal fault handling an inter-broker frame', { client: from.clientId, error: String(e) });
    }
  }

  private newServer(): Server {
    const server = createServer((socket) => this.accept(socket));
    server.on('error', (e) => this.log.error('server error', { error: e.message }));
    this.servers.push(server);
    return server;
  }

  private closeServers(): Promise<void> {
    this.fifoAcceptor?.close();
    return Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            server.close(() => resolve());
          }),
      ),
    ).then(() => {
      // Node unlinks its socket file on close; this covers a file left behind anyway. A file this broker
      // did not bind (a failed start) is never touched (UNIX-2).
      const path = this.config.unixPath;
      if (path !== undefined && this.ownsUnixPath) {
        this.ownsUnixPath = false;
        try {
          if (lstatSync(path).isSocket()) unlinkSync(path);
        } catch {
          // already gone
        }
      }
    });
  }

  private accept(socket: Socket | FifoStream): void {
    if (this.shuttingDown) {
      socket.destroy();
      return;
    }
    if (socket.remoteAddress !== undefined) socket.setNoDelay(true); // section 10.1: small frames, latency first
    const seq = ++this.connSeq;
    const conn = new Connection(seq, socket, this.config.maxFrame, new ExpiredIds(this.config.expiredIdsKept), this.batch, this.log.child({ conn: seq }));
    this.connections.add(conn);
    conn.startHandshakeTimer(this.config.handshakeTimeoutMs, () => {
      conn.log.info('no INIT within handshake_timeout_ms; closing', { statement: 'LIM-10' });
      conn.end();
    });
    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('drain', () => this.flow.release(conn));
    socket.on('error', (e) => conn.log.debug('socket error', { error: e.message }));
    socket.on('close', () => this.onClose(conn));
    conn.log.debug('accepted', { remote: socket.remoteAddress ?? ('dir' in socket ? `fifo:${socket.dir}` : 'unix') });
  }

  /**
   * One read from a connection. Nothing a peer sends may end the process: a fault that is not a
   * protocol error is logged, answered with INTERNAL where possible, and the broker goes on serving.
   */
  private onData(conn: Connection, chunk: Buffer): void {
    try {
      this.read(conn, chunk);
    } catch (e) {
      this.log.error('internal fault handling a read', { client: conn.clientId, error: String(e) });
      try {
        this.batch.run(() => this.router.fault(conn, undefined, e, conn.state === 'handshake'));
      } catch {
        conn.destroy();
      }
    }
  }

  private read(conn: Connection, chunk: Buffer): void {
    if (!conn.readable) return;
    conn.stats.bytesIn += chunk.length;
    let bodies: Uint8Array[];
    try {
      bodies = conn.decoder.push(chunk);
    } catch (e) {
      // HS-20: before INIT_ACK the limit is the largest INIT, whatever max_frame says.
      if (conn.state === 'handshake' && e instanceof ProtocolError && e.code === 'FRAME_TOO_LARGE') e.details.statement = 'HS-20';
      this.releaseHandshakeBytes(conn);
      // A framing fault (FRM-2, FRM-3): the whole frames before it in this read are handled first
      // (nothing accepted is lost), then ERROR and close.
      this.batch.run(() => {
        this.handleBodies(conn, (e as ProtocolError).framesBefore ?? []);
        if (conn.readable) this.router.fault(conn, undefined, e, conn.state === 'handshake');
      });
      return;
    }
    if (conn.state === 'handshake' && !this.holdHandshakeBytes(conn)) return;
    this.batch.run(() => this.handleBodies(conn, bodies));
  }

  /**
   * HS-21: connections without INIT_ACK hold at most max_handshake_bytes together for their frames in
   * progress; the one whose frame would go above it is refused. Returns false when `conn` was refused.
   */
  private holdHandshakeBytes(conn: Connection): boolean {
    // The body allocated for the frame in progress, or the prefix bytes before it is known.
    const held = conn.decoder.reservedBytes > 0 ? conn.decoder.reservedBytes : conn.decoder.bufferedBytes;
    this.handshakeBytes += held - conn.handshakeBytes;
    conn.handshakeBytes = held;
    if (this.handshakeBytes <= this.config.maxHandshakeBytes) return true;
    this.releaseHandshakeBytes(conn);
    const limit = this.config.maxHandshakeBytes;
    this.batch.run(() => this.router.fault(conn, undefined, new ProtocolError('OVERLOADED', 'too many bytes are held by connections in the handshake', { limit, statement: 'HS-21' }), true));
    return false;
  }

  private releaseHandshakeBytes(conn: Connection): void {
    this.handshakeBytes -= conn.handshakeBytes;
    conn.handshakeBytes = 0;
  }

  /** LIM-17: a reader above max_write_buffer for slow_reader_timeout_ms is closed; its senders resume. */
  private closeSlowReader(conn: Connection): void {
    conn.log.warn('reader above max_write_buffer for slow_reader_timeout_ms; closing', { queued: conn.socket.writableLength, statement: 'LIM-17' });
    const limit = this.config.maxWriteBuffer;
    this.batch.run(() => this.router.sendError(conn, undefined, new ProtocolError('OVERLOADED', 'this connection did not read its frames', { limit, statement: 'LIM-17' })));
    this.flow.forget(conn);
    conn.end();
  }

  /** Whole frames of one connection: one read's, those before a framing fault in it, or those held while its client id was claimed. */
  private handleBodies(conn: Connection, bodies: Uint8Array[]): void {
    if (bodies.length === 0) return;
    // One clock reading for HS-11 and one for the requests' times for all of them, not per frame (issue 15).
    conn.markReceived();
    const outer = this.inflight.beginRead();
    try {
      for (const body of bodies) {
        if (!conn.readable) break; // a closing fault ends the read (ERR-4)
        if (conn.state === 'handshake') this.handshake(conn, body);
        else this.router.handle(conn, body);
      }
    } finally {
      this.inflight.endRead(outer);
    }
  }

  private handshake(conn: Connection, body: Uint8Array): void {
    if (conn.held) {
      conn.held.push(body); // after INIT, while its claim runs: handled once the connection is open
      return;
    }
    conn.stats.framesIn++;
    let accepted;
    try {
      accepted = acceptInit(body, this.handshakeContext);
    } catch (e) {
      this.router.fault(conn, body, e, true); // HS-3
      return;
    }
    if (this.cluster) this.claimThenOpen(conn, accepted, this.cluster);
    else this.open(conn, accepted);
  }

  /**
   * CLU-3: in a cluster the id is claimed cluster-wide before INIT_ACK; the connection is not read
   * meanwhile. A claim another broker holds is refused as on one broker (HS-5); one that cannot be
   * made while NATS is unreachable is refused with OVERLOADED (CLU-8). Either closes (HS-3).
   */
  private claimThenOpen(conn: Connection, accepted: AcceptedInit, cluster: ClusterNode): void {
    const id = accepted.clientId;
    conn.stopHandshakeTimer(); // LIM-10 is met: the INIT arrived; the claim is the broker's own wait (bounded)
    conn.held = [];
    conn.socket.pause();
    this.claiming.add(id);
    const info = { ...infoOf(conn), id, cbor: accepted.encoding === 'cbor', max_frame: accepted.peerMaxFrame, language: accepted.language };
    void cluster.claim(info).then(
      (outcome) => this.claimed(conn, accepted, outcome),
      () => this.claimed(conn, accepted, 'unreachable'),
    );
  }

  private claimed(conn: Connection, accepted: AcceptedInit, outcome: 'claimed' | 'taken' | 'service' | 'unreachable'): void {
    const id = accepted.clientId;
    this.claiming.delete(id);
    const held = conn.held ?? [];
    conn.held = undefined;
    if (conn.state !== 'handshake') {
      if (outcome === 'claimed' && !this.clients.has(id)) void this.cluster!.release(id);
      return;
    }
    try {
      this.batch.run(() => {
        if (outcome === 'claimed' && !this.clients.has(id)) {
          this.open(conn, accepted);
          this.cluster!.joined(conn);
          this.handleBodies(conn, held);
          return;
        }
        const error =
          outcome === 'unreachable'
            ? new ProtocolError('OVERLOADED', `client id ${id} cannot be claimed: the cluster's claim store (NATS) is unreachable; try again`, { statement: 'CLU-8' })
            : outcome === 'service'
              ? new ProtocolError('DUPLICATE_CLIENT_ID', `${id} is a service's name in the cluster`, { statement: 'HS-22' })
              : new ProtocolError('DUPLICATE_CLIENT_ID', `client id ${id} is already connected to a broker of the cluster`, { statement: 'HS-5' });
        error.frameId = accepted.initId;
        this.router.fault(conn, undefined, error, true); // HS-3
      });
    } catch (e) {
      this.log.error('internal fault finishing a handshake', { error: String(e) });
      conn.destroy();
    }
    if (conn.blockedBy.size === 0) conn.socket.resume();
  }

  private open(conn: Connection, accepted: AcceptedInit): void {
    conn.stopHandshakeTimer();
    this.releaseHandshakeBytes(conn);
    conn.decoder.maxFrame = this.config.maxFrame; // HS-20 no longer applies
    conn.state = 'open';
    conn.clientId = accepted.clientId;
    conn.language = accepted.language;
    conn.cbor = accepted.encoding === 'cbor';
    conn.peerMaxFrame = accepted.peerMaxFrame;
    conn.minor = accepted.minor;
    conn.log = this.log.child({ conn: conn.seq, client: accepted.clientId });
    this.clients.set(accepted.clientId, conn);
    this.router.send(conn, messageFrame('INIT_ACK', { id: conn.nextId(), re: accepted.initId }, accepted.ack), conn); // HS-6
    conn.startHeartbeat(
      this.config.heartbeatMs,
      () => this.ping(conn),
      () => {
        conn.log.warn('three PINGs unanswered; closing', { statement: 'HS-11' });
        conn.end();
      },
    );
    conn.log.info('client connected', { language: accepted.language, encoding: accepted.encoding });
  }

  private ping(conn: Connection): void {
    const id = conn.nextId();
    conn.pings.add(id);
    if (conn.pings.size > PINGS_KEPT) {
      const oldest = conn.pings.values().next().value!;
      conn.pings.delete(oldest);
      conn.expired.add(oldest);
    }
    this.router.send(conn, messageFrame('PING', { id }));
  }

  private onClose(conn: Connection): void {
    this.releaseHandshakeBytes(conn);
    conn.markClosed();
    this.connections.delete(conn);
    const wasClient = conn.clientId !== undefined && this.clients.get(conn.clientId) === conn;
    if (wasClient) this.clients.delete(conn.clientId!); // HS-19
    const droppedServices = this.forget(conn);
    if (wasClient) this.cluster?.clientLeft(conn, droppedServices);
    if (conn.clientId !== undefined) conn.log.info('client disconnected');
    this.shutdownCheck?.();
  }

  /**
   * What a connection's end means for the others, local or remote: its services, subscriptions and the
   * broker's own requests go (HS-19), requests to it get PEER_GONE (HS-18). Returns the names of its services.
   */
  private forget(conn: Connection): string[] {
    const droppedServices = this.services.dropOwner(conn); // HS-19
    this.bus.closed(conn);
    this.calls.closed(conn);
    this.batch.run(() => {
      this.inflight.targetGone(conn); // HS-18
      this.inflight.requesterGone(conn);
    });
    this.flow.forget(conn);
    return droppedServices;
  }

  private settled(p: PendingRequest): void {
    this.drains.check(p.requester);
    this.drains.check(p.target);
    this.shutdownCheck?.();
  }
}
