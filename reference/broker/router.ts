/**
 * What a frame from an open connection means, in the check order of section 8. Routed frames are read
 * up to their envelope only (prefix and header, never the payload: REQ-9, D2) and forwarded with a new
 * header; frames addressed to the broker are decoded whole (steps 6-8, the final receiver's checks).
 *
 * Broadcast: a notification whose `dst` is `*` (and no client is named `*`, REQ-7 resolving client ids
 * first) goes to every other open client. A destination that cannot take it (CBOR it did not negotiate,
 * a frame above its max_frame) is skipped with a warning: a notification is never answered (REQ-2).
 */
import {
  decodeEnvelope,
  decodeMessage,
  messageByCode,
  messageByName,
  responseCodeOf,
  MessageType,
  ProtocolError,
  type Encoding,
  type Envelope,
  type MessageInfo,
  type ShutdownPayload,
  type StatsRequestPayload,
  type ServiceRegisterPayload,
  type ServiceUnregisterPayload,
  type ServiceHealthPayload,
} from '../codec/index.js';
import type { BrokerConfig } from './config.js';
import type { Connection } from './connection.js';
import type { FlowControl } from './flow.js';
import { errorFrame, exceedsMaxFrame, forwardFrame, messageFrame, replyFrame, type ForwardHeader, type OutFrame } from './frames.js';
import type { Inflight } from './inflight.js';
import type { Logger } from './logger.js';
import { clientStatsEntry } from './stats.js';
import type { ServiceRegistry } from './services.js';
import type { BrokerCalls } from './calls.js';
import type { BusHost } from './bus.js';
import type { ServiceDispatcher } from './dispatch.js';
import type { ClusterBrokerStats } from './cluster/node.js';
import type { RemoteConnection } from './cluster/remote-connection.js';

/** What routing needs of the cluster a broker joined (section 19). */
export interface ClusterRouting {
  /** false while NATS is unreachable: remote clients are refused with OVERLOADED (CLU-8). */
  readonly up: boolean;
  /** Hands a local client's broadcast to every other broker (CLU-2). */
  broadcast(frame: OutFrame): void;
  /** The local part of the service registry changed. */
  servicesChanged(): void;
  /** CLU-10: claims a service name cluster-wide, holding `conn`'s frames until `then` ran. */
  claimService(conn: Connection, descriptor: ServiceRegisterPayload['service'], then: (outcome: 'claimed' | 'taken' | 'unreachable') => void): void;
  /** A local service is gone: its name is free in the cluster. */
  serviceReleased(name: string): void;
  /** A `dst` unknown here: ask the cluster's claims, then handle the frame `again` (CLU-2). */
  lookupThen(conn: Connection, dst: string, again: () => void): void;
  /** STATS: every broker with its client count (protocol 1.1). */
  brokers(localClients: number): ClusterBrokerStats[];
}

export interface RouterDeps {
  readonly config: BrokerConfig;
  readonly log: Logger;
  /** Open connections by client id. */
  readonly clients: ReadonlyMap<string, Connection>;
  readonly inflight: Inflight;
  readonly flow: FlowControl;
  /** Registered services, resolvable as `dst` after client ids (REQ-7). */
  readonly services: ServiceRegistry;
  /** The bus (section 9.6), SERVICE_DISPATCH (9.7) and the requests they originate. */
  readonly bus: BusHost;
  readonly dispatcher: ServiceDispatcher;
  readonly calls: BrokerCalls;
  readonly startedAt: number;
  isShuttingDown(): boolean;
  /** A client's SHUTDOWN (HS-14): start draining it. */
  startClientDrain(conn: Connection, shutdownId: string, drainMs: number | undefined): void;
  /** A client acknowledged the SHUTDOWN the broker sent it (HS-16, HS-17). */
  shutdownAcked(conn: Connection): void;
  /** Present when the broker is one of a cluster. */
  readonly cluster?: ClusterRouting;
}

const JSON_ONLY: readonly Encoding[] = ['json'];
const BOTH: readonly Encoding[] = ['json', 'cbor'];

/** Type codes that may be routed to a client: looked up per frame, so a set rather than an array scan. */
const ROUTABLE = new Set<number>();
for (let code = 0; code < 256; code++) if (messageByCode(code)?.directions.includes('routed')) ROUTABLE.add(code);

function protocolError(code: ConstructorParameters<typeof ProtocolError>[0], message: string, details: Record<string, unknown> = {}): ProtocolError {
  return new ProtocolError(code, message, details);
}

export class Router {
  /** Built once: decodeEnvelope's options, passed for every frame. */
  private readonly envelopeOptions: { maxHeader: number };

  constructor(private readonly deps: RouterDeps) {
    this.envelopeOptions = { maxHeader: deps.config.maxHeader };
  }

  /** Writes a frame to `conn`; `source` is the connection whose frame caused it (back-pressure, LIM-14). */
  send(conn: Connection, frame: OutFrame, source?: Connection): void {
    conn.write(frame);
    this.deps.flow.afterWrite(conn, source);
  }

  sendError(conn: Connection, re: string | undefined, error: ProtocolError, source?: Connection): void {
    this.send(conn, errorFrame(conn.nextId(), re, error), source);
  }

  /**
   * Reports a fault of a frame from `conn`: exactly one ERROR, `re` set when the frame's id was readable
   * (ERR-3), then a close when the registry says so (ERR-4) or `forceClose` (HS-3). A faulty ERROR is
   * logged and never answered (ERR-6).
   */
  fault(conn: Connection, body: Uint8Array | undefined, thrown: unknown, forceClose = false): void {
    let error: ProtocolError;
    if (thrown instanceof ProtocolError) {
      error = thrown;
    } else {
      this.deps.log.error('internal fault handling a frame', { client: conn.clientId, error: String(thrown) });
      error = protocolError('INTERNAL', 'the broker failed handling this frame');
    }
    const close = forceClose || error.closes;
    if (body !== undefined && body.length > 0 && body[0] === MessageType.ERROR) {
      this.deps.log.warn('faulty ERROR frame dropped', { client: conn.clientId, code: error.code, reason: error.message });
    } else {
      if (this.deps.log.enabled('debug')) this.deps.log.debug('frame refused', { client: conn.clientId, code: error.code, reason: error.message, re: error.frameId });
      this.sendError(conn, error.frameId, error, conn);
    }
    if (close) conn.end();
  }

  /** One frame body from an open connection (its read already marked the connection alive, HS-11). */
  handle(conn: Connection, body: Uint8Array): void {
    if (conn.held !== undefined) {
      conn.held.push(body); // a cluster look-up for an earlier frame is running: order is kept
      return;
    }
    conn.stats.framesIn++;
    this.process(conn, body, true);
  }

  /** Checks and acts on a counted frame; `lookup` false once the cluster was asked about its `dst`. */
  private process(conn: Connection, body: Uint8Array, lookup: boolean): void {
    let env: Envelope;
    try {
      env = decodeEnvelope(body, this.envelopeOptions); // steps 1-3
    } catch (e) {
      this.fault(conn, body, e);
      return;
    }
    try {
      this.dispatch(conn, env, body, lookup);
    } catch (e) {
      if (e instanceof ProtocolError && e.frameId === undefined) e.frameId = env.header.id;
      this.fault(conn, body, e);
    }
  }

  private dispatch(conn: Connection, env: Envelope, body: Uint8Array, lookup: boolean): void {
    const info = messageByCode(env.type);
    if (!info) throw protocolError('UNKNOWN_TYPE', `type code 0x${env.type.toString(16).padStart(2, '0')} is not in the catalog`, { rule: 'type', statement: 'ERR-7' });
    // Step 5, against what this connection negotiated (ENC-3).
    if (env.encodingBits > 1 || (env.encodingBits === 1 && !conn.cbor)) {
      throw protocolError('UNSUPPORTED_ENCODING', env.encodingBits > 1 ? `payload encoding ${env.encodingBits} is reserved` : 'CBOR was not negotiated on this connection', { rule: 'encoding', statement: 'ENC-3' });
    }
    if (info.kind === 'response' || info.kind === 'error') {
      this.answer(conn, env, info, body);
      return;
    }
    const dst = env.header.dst;
    const routable = ROUTABLE.has(info.code);
    // REQ-7: a client id first, then a service name, then the broker's own id (a client may not take it,
    // see handshake.ts).
    if (routable && dst !== undefined && dst !== this.deps.config.brokerId) {
      this.route(conn, env, info, dst, lookup ? body : undefined);
      return;
    }
    if (routable && dst === undefined && !info.directions.includes('client-to-broker')) {
      this.checkLifecycle(conn, info);
      throw protocolError('UNKNOWN_DESTINATION', `${info.name} is routed and needs a dst`, { path: '/header/dst', statement: 'REQ-8' });
    }
    this.local(conn, info, body, env);
  }

  /**
   * LIM-7: every request kind counts, routed or answered by the broker itself (bus, registry, dispatch).
   * PING and SHUTDOWN are never refused: they keep a full connection alive and let it drain.
   */
  private checkInFlight(conn: Connection, info: MessageInfo, routed: boolean): void {
    if (info.kind !== 'request' || info.code === MessageType.PING || info.code === MessageType.SHUTDOWN) return;
    const limit = this.deps.config.maxInFlight;
    const open = this.deps.config.defects.inFlightRoutedOnly ? (routed ? conn.requested.size : 0) : conn.openRequests;
    if (open >= limit) throw protocolError('OVERLOADED', `${limit} requests are already in flight on this connection`, { limit, statement: 'LIM-7' });
  }

  /** Step 9 for requests: nothing new once SHUTDOWN was sent or received (HS-13). */
  private checkLifecycle(conn: Connection, info: MessageInfo): void {
    if (info.kind === 'request' && info.code !== MessageType.PING && (conn.draining || this.deps.isShuttingDown())) {
      throw protocolError('SHUTTING_DOWN', `${info.name} refused: this connection is draining after SHUTDOWN`, { statement: 'HS-13' });
    }
  }

  /** Steps 9-12 for a routed request or notification, then the forward (hot path: header JSON only). */
  private route(conn: Connection, env: Envelope, info: MessageInfo, dst: string, body: Uint8Array | undefined): void {
    const request = info.kind === 'request';
    this.checkLifecycle(conn, info);
    const target = this.deps.clients.get(dst) ?? this.deps.services.provider(dst);
    if (target === undefined || target.state !== 'open') {
      if (dst === '*' && info.kind === 'notification') return this.broadcast(conn, env, info);
      if (this.deps.cluster && body !== undefined && !conn.remote) {
        return this.deps.cluster.lookupThen(conn, dst, () => this.process(conn, body, false));
      }
      throw protocolError('UNKNOWN_DESTINATION', `no client or service ${dst} is connected`, { path: '/header/dst', statement: 'REQ-8' });
    }
    if (target.remote) this.checkRemote(conn, dst);
    // HS-12: the broker starts no new request on a connection that is draining.
    if (request && target.draining) throw protocolError('SHUTTING_DOWN', `${dst} is draining after SHUTDOWN`, { statement: 'HS-12' });
    if (env.encodingBits === 1 && !target.cbor) throw protocolError('UNSUPPORTED_ENCODING', `${dst} did not negotiate CBOR`, { rule: 'encoding', statement: 'REQ-10' });
    const header: ForwardHeader = { id: request ? target.nextId() : env.header.id, src: conn.clientId!, dst };
    if (env.header.ts !== undefined) header.ts = env.header.ts;
    const frame = forwardFrame(env.type, env.flags, header, env.payload);
    if (exceedsMaxFrame(frame.bodyLength, target, request ? header.id : undefined)) {
      throw protocolError('OVERLOADED', `the frame would exceed ${dst}'s max_frame`, { limit: target.peerMaxFrame, statement: 'REQ-11' });
    }
    if (request) {
      this.checkInFlight(conn, info, true);
      const timeoutMs = this.deps.config.typeTimeoutMs.get(info.code) ?? info.timeout_ms ?? this.deps.config.requestTimeoutMs; // REQ-14
      this.deps.inflight.track(conn, target, env.header.id, header.id, info, responseCodeOf(info.code)!, timeoutMs);
    }
    this.send(target, frame, conn);
  }

  /**
   * CLU-2: a frame that came from another broker is delivered to this broker's clients only, never
   * forwarded again; CLU-8: while NATS is unreachable a remote client cannot be reached.
   */
  private checkRemote(conn: Connection, dst: string): void {
    if (conn.remote) throw protocolError('UNKNOWN_DESTINATION', `${dst} is not connected to this broker`, { path: '/header/dst', statement: 'CLU-2' });
    if (!this.deps.cluster!.up) throw protocolError('OVERLOADED', `${dst} is on another broker and the cluster link (NATS) is down; try again`, { statement: 'CLU-8' });
  }

  private broadcast(conn: Connection, env: Envelope, info: MessageInfo): void {
    const header: ForwardHeader = { id: env.header.id, src: conn.clientId!, dst: '*' };
    if (env.header.ts !== undefined) header.ts = env.header.ts;
    const frame = forwardFrame(env.type, env.flags, header, env.payload);
    for (const target of this.deps.clients.values()) {
      if (target === conn || target.state !== 'open' || target.remote) continue;
      if ((env.encodingBits === 1 && !target.cbor) || frame.bodyLength > target.peerMaxFrame) {
        this.deps.log.warn('broadcast skipped a client that cannot take the frame', { type: info.name, src: conn.clientId, client: target.clientId });
        continue;
      }
      this.send(target, frame, conn);
    }
    // Each other broker gets it once and delivers it to its own clients (CLU-2).
    if (!conn.remote) this.deps.cluster?.broadcast(frame);
  }

  /** A response or ERROR: forwarded to the requester when it answers a request forwarded here (REQ-13). */
  private answer(conn: Connection, env: Envelope, info: MessageInfo, body: Uint8Array): void {
    const re = env.header.re;
    const isError = info.code === MessageType.ERROR;
    if (re !== undefined) {
      const p = conn.served.get(re);
      if (p !== undefined) {
        if (!isError && info.code !== p.responseType) {
          throw protocolError('UNEXPECTED_MESSAGE', `${info.name} does not answer ${p.typeName}; the request stays open`, { statement: 'REQ-5' });
        }
        const requester = p.requester;
        if (env.encodingBits === 1 && !requester.cbor) throw protocolError('UNSUPPORTED_ENCODING', `${requester.clientId} did not negotiate CBOR`, { rule: 'encoding', statement: 'REQ-10' });
        const header: ForwardHeader = { id: requester.nextId(), re: p.origId, src: conn.clientId! };
        if (env.header.ts !== undefined) header.ts = env.header.ts;
        const frame = forwardFrame(env.type, env.flags, header, env.payload);
        if (exceedsMaxFrame(frame.bodyLength, requester, header.id, p.origId)) {
          throw protocolError('OVERLOADED', `the answer would exceed ${requester.clientId}'s max_frame`, { limit: requester.peerMaxFrame, statement: 'REQ-11' });
        }
        this.send(requester, frame, conn);
        if (requester.remote) (requester as RemoteConnection).relayed(header.id, conn, env.header.id);
        this.deps.inflight.answered(p);
        return;
      }
      const relayed = isError && conn.remote ? (conn as RemoteConnection).takeRelayed(re) : undefined;
      if (relayed !== undefined) {
        // The requester's broker refused an answer relayed from here (REQ-11): the answerer gets the ERROR.
        this.send(relayed.answerer, messageFrame('ERROR', { id: relayed.answerer.nextId(), re: relayed.id }, decodeMessage(body, this.decodeOptions(conn)).payload));
        return;
      }
      if (conn.expired.has(re)) {
        this.deps.log.info('late answer dropped', { client: conn.clientId, type: info.name, re, statement: 'REQ-16' });
        return;
      }
    }
    if (re !== undefined && this.deps.calls.owns(conn, re)) {
      const mismatch = this.deps.calls.mismatch(conn, re, info.code, info.name);
      if (mismatch !== undefined) throw protocolError('UNEXPECTED_MESSAGE', mismatch, { statement: 'REQ-5' });
      // An answer to the broker's own request. One it refuses (too deep, invalid) still answers that
      // request, as failed (section 7), so the client the broker acts for is not left waiting.
      let message;
      try {
        message = decodeMessage(body, this.decodeOptions(conn));
      } catch (e) {
        this.deps.calls.refused(conn, re, e);
        throw e;
      }
      this.deps.calls.answer(conn, message);
      return;
    }
    if (info.code === MessageType.PONG || info.code === MessageType.SHUTDOWN_ACK) {
      decodeMessage(body, this.decodeOptions(conn)); // the broker is the final receiver (steps 6-8)
      if (re !== undefined && info.code === MessageType.PONG && conn.pings.delete(re)) return;
      // Only the first: a second SHUTDOWN_ACK answers nothing open and is refused below (REQ-5).
      if (re !== undefined && info.code === MessageType.SHUTDOWN_ACK && re === conn.shutdownSentId && !conn.shutdownAcked) {
        conn.shutdownAcked = true;
        this.deps.shutdownAcked(conn);
        return;
      }
    }
    if (isError) {
      // ERR-6: never answered. An ERROR to one of the broker's own PINGs or SHUTDOWN ends that exchange.
      if (re !== undefined) conn.pings.delete(re);
      this.deps.log.warn('uncorrelated ERROR dropped', { client: conn.clientId, re, code: this.errorCode(body) });
      return;
    }
    throw protocolError('UNEXPECTED_MESSAGE', re === undefined ? `${info.name} has no re` : `${info.name} answers no open request`, { statement: 'REQ-5' });
  }

  /** A frame addressed to the broker itself. */
  private local(conn: Connection, info: MessageInfo, body: Uint8Array, env: Envelope): void {
    const message = decodeMessage(body, this.decodeOptions(conn)); // steps 6-8
    const id = message.header.id;
    if (info.code === MessageType.INIT) throw protocolError('PROTOCOL_VIOLATION', 'a second INIT', { statement: 'HS-2' });
    this.checkLifecycle(conn, info);
    if (!info.directions.includes('client-to-broker') && !info.directions.includes('routed')) {
      throw protocolError('UNEXPECTED_MESSAGE', `${info.name} is not sent by clients`, { statement: 'REQ-6' });
    }
    this.checkInFlight(conn, info, false);
    const raw = { bytes: env.payload, cbor: env.encodingBits === 1 };
    switch (info.code) {
      case MessageType.PING:
        this.send(conn, messageFrame('PONG', { id: conn.nextId(), re: id }), conn); // HS-9
        return;
      case MessageType.STATS_REQUEST:
        // Built from every client's entry: it can outgrow the requester's max_frame (REQ-11).
        this.send(conn, replyFrame('STATS_RESPONSE', conn.nextId(), id, this.statsPayload(message.payload as StatsRequestPayload, conn.minor), conn), conn);
        return;
      case MessageType.SHUTDOWN:
        this.deps.startClientDrain(conn, id, (message.payload as ShutdownPayload).drain_ms);
        return;
      case MessageType.SERVICE_REGISTER: {
        const service = (message.payload as ServiceRegisterPayload).service;
        const isClientName = (name: string): boolean => name === this.deps.config.brokerId || this.deps.clients.has(name);
        if (this.deps.cluster) return this.registerInCluster(conn, id, service, isClientName, this.deps.cluster);
        this.deps.services.register(conn, service, isClientName);
        this.send(conn, messageFrame('ACK', { id: conn.nextId(), re: id }, {}), conn);
        return;
      }
      case MessageType.SERVICE_UNREGISTER: {
        const name = (message.payload as ServiceUnregisterPayload).name;
        this.deps.services.unregister(conn, name);
        this.deps.cluster?.servicesChanged();
        this.deps.cluster?.serviceReleased(name);
        this.send(conn, messageFrame('ACK', { id: conn.nextId(), re: id }, {}), conn);
        return;
      }
      case MessageType.SERVICE_HEALTH: {
        const p = message.payload as ServiceHealthPayload;
        this.deps.services.setHealth(conn, p.name, p.healthy);
        this.deps.cluster?.servicesChanged();
        this.send(conn, messageFrame('ACK', { id: conn.nextId(), re: id }, {}), conn);
        return;
      }
      case MessageType.SERVICE_LIST:
        this.deps.dispatcher.list(conn, message, raw);
        return;
      case MessageType.SERVICE_DISPATCH:
        this.deps.dispatcher.handle(conn, message, raw);
        return;
      default:
        if (this.deps.bus.handles(info.code)) return this.deps.bus.handle(conn, message, raw);
        throw protocolError('UNSUPPORTED', `this broker does not implement ${info.name}`, { statement: 'ERR-8' });
    }
  }

  /**
   * REG-1 across a cluster (CLU-10): the local checks, then the name claimed cluster-wide, then the
   * registration and its ACK; a name another broker holds is refused with SERVICE_EXISTS, one that
   * cannot be claimed while NATS is unreachable with OVERLOADED.
   */
  private registerInCluster(conn: Connection, id: string, service: ServiceRegisterPayload['service'], isClientName: (name: string) => boolean, cluster: ClusterRouting): void {
    this.deps.services.checkFree(service, isClientName);
    cluster.claimService(conn, service, (outcome) => {
      try {
        if (outcome === 'taken') throw protocolError('SERVICE_EXISTS', `service ${service.name} is already registered on a broker of the cluster`, { path: '/service/name', statement: 'REG-1' });
        if (outcome === 'unreachable') throw protocolError('OVERLOADED', `service ${service.name} cannot be claimed: the cluster link (NATS) is down; try again`, { statement: 'CLU-8' });
        try {
          this.deps.services.register(conn, service, isClientName);
        } catch (e) {
          cluster.serviceReleased(service.name);
          throw e;
        }
        cluster.servicesChanged();
        this.send(conn, messageFrame('ACK', { id: conn.nextId(), re: id }, {}), conn);
      } catch (e) {
        if (e instanceof ProtocolError && e.frameId === undefined) e.frameId = id;
        this.fault(conn, undefined, e);
      }
    });
  }

  /** SYS-2: every connected client, or only the one asked for (an empty list when it is not connected). */
  private statsPayload(request: StatsRequestPayload, minor: number): unknown {
    const clients = [];
    let local = 0;
    for (const c of this.deps.clients.values()) {
      // In a cluster every client is listed; one of another broker with the traffic this broker exchanged with it.
      if (!c.remote) local++;
      if (request.client_id !== undefined && c.clientId !== request.client_id) continue;
      clients.push(clientStatsEntry(c.clientId!, c.language, c.stats, c.requested.size));
    }
    const payload: Record<string, unknown> = { broker_id: this.deps.config.brokerId, uptime_ms: BigInt(Math.max(0, Math.floor(Date.now() - this.deps.startedAt))), clients };
    // Protocol 1.1 (VER-3: only to a client that negotiated it): the brokers of the cluster.
    if (this.deps.cluster && minor >= 1) payload['cluster'] = this.deps.cluster.brokers(local);
    return payload;
  }

  private decodeOptions(conn: Connection): { maxHeader: number; encodings: readonly Encoding[] } {
    return { maxHeader: this.deps.config.maxHeader, encodings: conn.cbor ? BOTH : JSON_ONLY };
  }

  /** The code of an ERROR payload, for the log only. */
  private errorCode(body: Uint8Array): string | undefined {
    try {
      return (decodeMessage(body).payload as { code?: string }).code;
    } catch {
      return undefined;
    }
  }
}
