/**
 * One broker's membership in a cluster (spec section 19): the NATS connection, the heartbeat and
 * failure detector, the directory of clients and services on the other brokers (each client as a
 * {@link RemoteConnection} in the broker's client table), frames in and out, and the id claims.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { decodeEnvelope, DEFAULT_LIMITS, ProtocolError } from '../../codec/index.js';
import type { Connection } from '../connection.js';
import type { WriteBatch } from '../flow.js';
import type { OutFrame } from '../frames.js';
import type { Logger } from '../logger.js';
import type { ServiceRegistry } from '../services.js';
import type { ServiceDescriptor } from '../../../spec/generated/types.js';
import { ExpiredIds } from '../inflight.js';
import { ClaimStore, type ClaimOutcome } from './claims.js';
import { RemoteConnection, type RemoteLink } from './remote-connection.js';
import type { ClusterPeers } from './relay.js';
import {
  CLAIMS_BUCKET,
  HANDLERS_BUCKET,
  SERVICES_BUCKET,
  CONTROL_SUBJECT,
  decodeControl,
  decodeFrameMessage,
  encodeControl,
  encodeFrameMessage,
  frameSubject,
  senderPrefix,
  type ClientInfo,
  type ControlMessage,
  type ServiceInfo,
} from './wire.js';

/** How a broker joins a cluster (`concord broker --cluster URL`). */
export interface ClusterOptions {
  /** The NATS server, e.g. `nats://127.0.0.1:4222` (several, comma-separated, for a NATS cluster). */
  url: string;
  /** Heartbeat period (default {@link DEFAULT_CLUSTER_HEARTBEAT_MS}). */
  heartbeatMs?: number;
  /** A broker not heard from for this long is dead (default {@link DEFAULT_CLUSTER_DEAD_AFTER_MS}). */
  deadAfterMs?: number;
  /**
   * Defects injected on purpose, for the tests that show a cluster-process case catches a broker broken
   * that way (conformance/test/broken-cluster-broker.ts). Never set outside those tests.
   * @internal
   */
  defects?: ClusterDefects;
}

/** @internal Test-only defects of a cluster node (ClusterOptions.defects). */
export interface ClusterDefects {
  /** CLU-5 off: inter-broker messages of another format version are handled as if they were version 1. */
  anyFormat?: boolean;
  /** CLU-4 off: the failure detector goes on while NATS is unreachable, so every other broker dies after 2 s of outage. */
  deadWhileCutOff?: boolean;
  /** CLU-7 off: the survivors leave a dead broker's claims in the store, so its clients' ids stay taken. */
  keepDeadClaims?: boolean;
  /** REQ-11 across brokers off: the requester's broker's refusal of an answer relayed from here never reaches the answerer. */
  relayedRefusalsLost?: boolean;
}

/** CLU-6: brokers announce themselves every 500 ms ... */
export const DEFAULT_CLUSTER_HEARTBEAT_MS = 500;
/** ... and a broker silent for 2 s is dead: requests to its clients get PEER_GONE. */
export const DEFAULT_CLUSTER_DEAD_AFTER_MS = 2000;

/** What the node needs from its broker. */
export interface ClusterHost {
  readonly brokerId: string;
  readonly log: Logger;
  /** The broker's client table: remote clients are added and removed here. */
  readonly clients: Map<string, Connection>;
  readonly services: ServiceRegistry;
  readonly batch: WriteBatch;
  readonly expiredIdsKept: number;
  readonly startedAt: number;
  /** One frame from a client (a remote one, or a local one whose frames were held), handled by the router. */
  deliver(from: Connection, body: Uint8Array): void;
  /** A remote client is gone: what the broker does when a local client closes (PEER_GONE, HS-18, HS-19). */
  drop(conn: Connection): void;
  /** Open local clients. */
  localClients(): Iterable<Connection>;
  /** The bus handlers of local clients: message type and the client's id. */
  localHandlers(): [string, string][];
  nextSeq(): number;
}

interface Member {
  lastSeen: number;
  uptimeMs: number;
  clients: number;
}

/** One broker of the cluster as STATS reports it (protocol 1.1). */
export interface ClusterBrokerStats {
  broker_id: string;
  clients: number;
}

/** A service found in the claims store: its provider's routing facts and its descriptor. */
interface ClaimedService {
  provider: ClientInfo;
  descriptor: Record<string, unknown>;
}

/** Tries to create a bucket this many times, BUCKET_RETRY_MS apart, before the cluster link fails. */
const BUCKET_TRIES = 20;
const BUCKET_RETRY_MS = 100;

/**
 * Opens (creating it when absent) one of the cluster's key-value buckets. Brokers started together on a
 * fresh NATS server create each bucket at the same moment, and JetStream refuses all but one of those
 * creations ("subjects overlap with an existing stream"); the bucket exists then, so a later try opens
 * it. Seen in CI: one of three brokers never joined, its link failed for good at the first refusal.
 */
async function bucket(kvm: Kvm, name: string): Promise<KV> {
  for (let tries = 1; ; tries++) {
    try {
      return await kvm.create(name, { history: 1 });
    } catch (e) {
      if (tries >= BUCKET_TRIES) throw e;
      await new Promise((r) => setTimeout(r, BUCKET_RETRY_MS));
    }
  }
}

/** A descriptor as other brokers get it: current_load is each broker's own count. */
function announced(descriptor: ServiceDescriptor): Record<string, unknown> {
  const { current_load: _load, ...rest } = descriptor;
  return rest;
}

export class ClusterNode implements RemoteLink, ClusterPeers {
  private nc: NatsConnection | undefined;
  private claims: ClaimStore<{ client: ClientInfo }> | undefined;
  private serviceClaims: ClaimStore<ServiceInfo> | undefined;
  private handlerClaims: ClaimStore<{ owner: string }> | undefined;
  /** One connection per other live broker: requests the broker hands to that broker (CLU-11). */
  private readonly brokerLinks = new Map<string, RemoteConnection>();
  private connected = false;
  /** When the current NATS connection came up: other brokers get deadAfterMs from then to be heard. */
  private connectedAt = 0;
  private readonly members = new Map<string, Member>();
  private readonly remote = new Map<string, RemoteConnection>();
  /** Clients that left recently: a late frame naming one must not bring it back. */
  private readonly left = new ExpiredIds(4096);
  /** Service names and handler types with a claim of this broker on the way (claimOnce). */
  private readonly claimsInFlight = new Set<string>();
  private readonly prefix: Uint8Array;
  private readonly heartbeatMs: number;
  private readonly deadAfterMs: number;
  /** Test-only defects (ClusterOptions.defects); none in any real broker. */
  private readonly defects: ClusterDefects;
  private idSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readyResolve: (() => void) | undefined;
  /** Resolves once NATS is connected and the claims bucket is open. */
  readonly ready: Promise<void>;

  constructor(
    private readonly options: ClusterOptions,
    private readonly host: ClusterHost,
  ) {
    this.prefix = senderPrefix(host.brokerId);
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_CLUSTER_HEARTBEAT_MS;
    this.deadAfterMs = options.deadAfterMs ?? DEFAULT_CLUSTER_DEAD_AFTER_MS;
    this.defects = options.defects ?? {};
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  get up(): boolean {
    return this.connected && this.claims !== undefined;
  }

  nextId(): string {
    return `c${(++this.idSeq).toString(36)}`;
  }

  /** Connects (retrying for ever in the background: the broker serves local traffic meanwhile). */
  start(): void {
    void this.run().catch((e: unknown) => this.host.log.error('cluster link failed', { error: String(e) }));
    this.timer = setInterval(() => this.tick(), this.heartbeatMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const servers = this.options.url.split(',').map((s) => s.trim());
    const nc = await connect({ servers, name: `concord-broker ${this.host.brokerId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true, pingInterval: 1000, maxPingOut: 2 });
    if (this.stopped) {
      await nc.close();
      return;
    }
    this.nc = nc;
    nc.subscribe(frameSubject(this.host.brokerId), { callback: (err, msg) => (err ? undefined : this.onFrame(msg.data)) });
    nc.subscribe(CONTROL_SUBJECT, { callback: (err, msg) => (err ? undefined : this.onControl(msg.data)) });
    await nc.flush();
    const kvm = new Kvm(nc);
    this.serviceClaims = new ClaimStore(await bucket(kvm, SERVICES_BUCKET), this.host.brokerId);
    this.handlerClaims = new ClaimStore(await bucket(kvm, HANDLERS_BUCKET), this.host.brokerId);
    this.claims = new ClaimStore(await bucket(kvm, CLAIMS_BUCKET), this.host.brokerId);
    this.linkUp();
    this.readyResolve?.();
    this.host.log.info('joined the cluster', { nats: this.options.url });
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.host.log.warn('NATS unreachable: remote traffic refused until it is back', { statement: 'CLU-8' });
      } else if (s.type === 'reconnect') {
        this.linkUp();
        this.host.log.info('NATS reachable again');
        void this.reassertClaims();
      }
    }
  }

  private linkUp(): void {
    this.connected = true;
    this.connectedAt = Date.now();
    // Silence while this broker was cut off says nothing about the others: each gets deadAfterMs anew.
    for (const m of this.members.values()) m.lastSeen = this.connectedAt;
    this.heartbeat();
  }

  private async reassertClaims(): Promise<void> {
    const lost = await this.claims!.reassert([...this.host.localClients()].map((c) => [c.clientId!, { client: infoOf(c) }])).catch(() => []);
    for (const id of lost) this.host.log.warn('a client id claim could not be written again after NATS came back', { client: id });
    const lostServices = await this.serviceClaims!.reassert(this.localServices().map((s) => [s.descriptor['name'] as string, s])).catch(() => []);
    for (const name of lostServices) this.host.log.warn('a service name claim could not be written again after NATS came back', { service: name });
    const lostHandlers = await this.handlerClaims!.reassert(this.host.localHandlers().map(([type, owner]) => [type, { owner }])).catch(() => []);
    for (const type of lostHandlers) this.host.log.warn('a bus handler claim could not be written again after NATS came back', { message_type: type });
  }

  /**
   * @internal Test-only (Broker.crash): forgets the link as a killed process would, before the broker's
   * connections close, so that stop() then says no `bye` and releases no claim: the others find this
   * broker dead by its silence and take its claims over (CLU-4, CLU-7).
   */
  abandon(): void {
    this.connected = false;
    this.claims = this.serviceClaims = this.handlerClaims = undefined;
  }

  /** Leaves the cluster: other brokers drop this broker's clients at once instead of after deadAfterMs. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const nc = this.nc;
    if (!nc) return;
    if (this.connected) {
      const ids = [...this.host.localClients()].map((c) => c.clientId).filter((id): id is string => id !== undefined);
      await Promise.all(ids.map((id) => this.claims?.release(id).catch(() => undefined)));
      await Promise.all(this.localServices().map((svc) => this.serviceClaims?.release(svc.descriptor['name'] as string).catch(() => undefined)));
      await Promise.all(this.host.localHandlers().map(([type]) => this.handlerClaims?.release(type).catch(() => undefined)));
      this.publishControl({ v: 1, kind: 'bye', broker: this.host.brokerId });
      await nc.flush().catch(() => undefined);
    }
    this.connected = false;
    // Requests handed to other brokers can no longer be answered: they end now (PEER_GONE), and their timers with them.
    this.host.batch.run(() => {
      for (const broker of [...this.brokerLinks.keys()]) this.dropLink(broker);
    });
    await nc.close().catch(() => undefined);
  }

  // ---- client ids --------------------------------------------------------------------------

  /** CLU-3: claims `clientId` cluster-wide before INIT_ACK. */
  async claim(client: ClientInfo): Promise<ClaimOutcome | 'service'> {
    if (!this.up || !this.claims || !this.serviceClaims) return 'unreachable';
    // HS-22 across the cluster: client ids and service names share one namespace.
    let service;
    try {
      service = await this.serviceClaims.lookup(client.id);
    } catch {
      return 'unreachable';
    }
    if (service !== undefined && (service.broker === this.host.brokerId ? this.host.services.provider(client.id) !== undefined : this.isAlive(service.broker))) return 'service';
    return this.claims.claim(client.id, { client }, (broker) => this.isAlive(broker));
  }

  /**
   * CLU-10: a service name is claimed cluster-wide before SERVICE_REGISTER is answered; the connection
   * is not read meanwhile. `then` runs with the outcome (in a write batch).
   */
  claimService(conn: Connection, descriptor: ServiceDescriptor, then: (outcome: ClaimOutcome) => void): void {
    const name = descriptor.name;
    const store = this.serviceClaims;
    const clients = this.claims;
    const claim = async (): Promise<ClaimOutcome> => {
      if (!this.up || !store || !clients) return 'unreachable';
      // REG-1 across the cluster: a name a client of another broker holds as its id is taken.
      const holder = await clients.lookup(name);
      if (holder !== undefined && holder.broker !== this.host.brokerId && this.isAlive(holder.broker)) return 'taken';
      // The descriptor goes with the claim: a broker asked for the name before this one's announcement
      // reaches it adopts the service from the claim (lookupThen).
      return store.claim(name, { owner: conn.clientId!, descriptor: announced(descriptor) }, (b) => this.isAlive(b));
    };
    const outcome = this.claimOnce(`service:${name}`, claim);
    this.holdWhile(conn, outcome, then);
    // A provider that closed while its claim ran never registered: the name goes back.
    void outcome.then((o) => (o === 'claimed' && conn.state !== 'open' ? this.serviceReleased(name) : undefined));
  }

  /**
   * Runs `claim` unless this broker has a claim of `key` on the way already, which makes it 'taken'. The
   * store grants a name again to the broker that holds it, so two local registrations racing would both
   * be told 'claimed'; the loser's local refusal (REG-1, BUS-2) would then release the winner's claim,
   * and its owner in the store would be the loser. The claim settles, and `then` registers the winner,
   * in one run of microtasks, so no frame is read between the two.
   */
  private claimOnce(key: string, claim: () => Promise<ClaimOutcome>): Promise<ClaimOutcome> {
    if (this.claimsInFlight.has(key)) return Promise.resolve('taken');
    this.claimsInFlight.add(key);
    const outcome = claim().catch((): ClaimOutcome => 'unreachable');
    void outcome.then(() => this.claimsInFlight.delete(key));
    return outcome;
  }

  /** A local service was unregistered or its provider closed: its name is free in the cluster again. */
  serviceReleased(name: string): void {
    void this.serviceClaims?.release(name).catch((e: unknown) => this.host.log.warn('releasing a service name claim failed', { service: name, error: String(e) }));
  }

  // ---- requests handed to other brokers (CLU-11, CLU-12, CLU-13) ------------------------------

  get brokerId(): string {
    return this.host.brokerId;
  }

  /** A lost answer between brokers counts as a TIMEOUT once the failure detector would have noticed a dead broker. */
  get relayMarginMs(): number {
    return this.deadAfterMs;
  }

  otherBrokers(): Connection[] {
    return this.up ? [...this.brokerLinks.values()] : [];
  }

  /** The link to `broker`, or the refusal of CLU-8 while NATS is unreachable. */
  private linkTo(broker: string | undefined): Connection | undefined {
    if (!this.up) throw new ProtocolError('OVERLOADED', 'the cluster link (NATS) is down; try again', { statement: 'CLU-8' });
    return broker === undefined || broker === this.host.brokerId ? undefined : this.brokerLinks.get(broker);
  }

  async serviceBroker(name: string): Promise<Connection | undefined> {
    const owner = this.host.services.provider(name);
    if (owner instanceof RemoteConnection) return this.linkTo(owner.broker);
    // CLU-12: not announced here yet (or not at all): the claims store says whether and where it is.
    return this.linkTo(await this.claimHolder(this.serviceClaims, name));
  }

  async handlerBroker(messageType: string): Promise<Connection | undefined> {
    return this.linkTo(await this.claimHolder(this.handlerClaims, messageType));
  }

  private async claimHolder(store: ClaimStore<object> | undefined, name: string): Promise<string | undefined> {
    if (!this.up || store === undefined) return undefined;
    let found;
    try {
      found = await store.lookup(name);
    } catch {
      throw new ProtocolError('OVERLOADED', 'the cluster\'s claims store (NATS) did not answer; try again', { statement: 'CLU-8' });
    }
    return found !== undefined && this.isAlive(found.broker) ? found.broker : undefined;
  }

  claimHandler(conn: Connection, messageType: string, then: (outcome: ClaimOutcome) => void): void {
    const store = this.handlerClaims;
    const outcome = this.up && store ? this.claimOnce(`handler:${messageType}`, () => store.claim(messageType, { owner: conn.clientId! }, (b) => this.isAlive(b))) : Promise.resolve<ClaimOutcome>('unreachable');
    this.holdWhile(conn, outcome, then);
    void outcome.then((o) => (o === 'claimed' && conn.state !== 'open' ? this.handlerReleased(messageType) : undefined));
  }

  handlerReleased(messageType: string): void {
    void this.handlerClaims?.release(messageType).catch((e: unknown) => this.host.log.warn('releasing a bus handler claim failed', { message_type: messageType, error: String(e) }));
  }

  /** Holds `conn`'s frames (unread, in order) until `work` settles, then runs `then` and handles them. */
  private holdWhile<T>(conn: Connection, work: Promise<T>, then: (result: T) => void): void {
    conn.held = [];
    conn.socket.pause();
    void work.then((result) => {
      const held = conn.held ?? [];
      conn.held = undefined;
      if (conn.state !== 'open') return;
      this.host.batch.run(() => {
        then(result);
        for (const body of held) this.host.deliver(conn, body);
      });
      if (conn.blockedBy.size === 0) conn.socket.resume();
    });
  }

  /**
   * CLU-2: a `dst` no table here knows may be a client that just connected to another broker (its join
   * is still on the way): the claims store says. The connection is not read meanwhile, so its frames
   * keep their order; `again` handles the frame once more, without a second look-up.
   */
  lookupThen(conn: Connection, dst: string, again: () => void): void {
    this.holdWhile(conn, this.lookUp(dst), (found) => {
      if (found?.client !== undefined && !this.host.clients.has(dst)) this.add(found.client, found.broker);
      else if (found?.service !== undefined && this.host.services.provider(dst) === undefined) this.adoptClaimed(dst, found.broker, found.service);
      again();
    });
  }

  /**
   * Who holds `dst` on another live broker: a client, or a service (SYS-1 across brokers: a request sent
   * right after another broker acknowledged the registration can arrive before its announcement), with
   * the service's provider as a client.
   */
  private async lookUp(dst: string): Promise<{ broker: string; client?: ClientInfo; service?: ClaimedService } | undefined> {
    const clients = this.claims;
    const services = this.serviceClaims;
    if (!this.up || clients === undefined || services === undefined) return undefined;
    const elsewhere = (broker: string | undefined): broker is string => broker !== undefined && broker !== this.host.brokerId && this.isAlive(broker);
    try {
      const [client, service] = await Promise.all([clients.lookup(dst), services.lookup(dst)]);
      if (client !== undefined && elsewhere(client.broker)) return { broker: client.broker, client: client.client };
      if (service === undefined || !elsewhere(service.broker) || service.descriptor === undefined) return undefined;
      const provider = await clients.lookup(service.owner);
      return provider === undefined ? undefined : { broker: service.broker, service: { provider: provider.client, descriptor: service.descriptor } };
    } catch {
      return undefined;
    }
  }

  /** A service another broker's claim names, adopted until that broker's announcement replaces it. */
  private adoptClaimed(name: string, broker: string, service: ClaimedService): void {
    const owner = this.add(service.provider, broker);
    if (owner !== undefined) this.host.services.adopt(owner, service.descriptor as never, name);
  }

  /** A local client was accepted: the other brokers learn it at once. */
  joined(conn: Connection): void {
    this.publishControl({ v: 1, kind: 'join', broker: this.host.brokerId, client: infoOf(conn) });
  }

  /** A local client closed: its claim is released and the others drop it. */
  clientLeft(conn: Connection, droppedServices: readonly string[]): void {
    const id = conn.clientId!;
    this.publishControl({ v: 1, kind: 'leave', broker: this.host.brokerId, client: id });
    if (droppedServices.length > 0) this.servicesChanged();
    for (const name of droppedServices) this.serviceReleased(name);
    void this.claims?.release(id).catch((e: unknown) => this.host.log.warn('releasing a client id claim failed', { client: id, error: String(e) }));
  }

  /** Gives back a claim made for a connection that closed before it opened. */
  async release(clientId: string): Promise<void> {
    await this.claims?.release(clientId).catch(() => undefined);
  }

  /** CLU-4: a broker is alive while heard from within deadAfterMs (or while this one has not been connected that long). */
  private isAlive(broker: string): boolean {
    if (this.members.has(broker)) return true;
    return Date.now() - this.connectedAt < this.deadAfterMs;
  }

  // ---- frames ------------------------------------------------------------------------------

  sendFrame(broker: string, frame: OutFrame): boolean {
    if (!this.connected || !this.nc) return false;
    return this.publish(frameSubject(broker), encodeFrameMessage(this.prefix, frame.parts, frame.bodyLength));
  }

  /** Publishes unless the link is closing or closed (a client closing during shutdown must not throw). */
  private publish(subject: string, data: Uint8Array): boolean {
    try {
      this.nc!.publish(subject, data);
      return true;
    } catch (e) {
      this.host.log.debug('publish failed', { subject, error: String(e) });
      return false;
    }
  }

  /** A broadcast from a local client reaches every other broker once; each delivers it to its own clients. */
  broadcast(frame: OutFrame): void {
    for (const broker of this.members.keys()) this.sendFrame(broker, frame);
  }

  private onFrame(data: Uint8Array): void {
    let sender: string;
    let body: Uint8Array;
    let src: string | undefined;
    let re: string | undefined;
    try {
      ({ sender, body } = decodeFrameMessage(data, this.defects.anyFormat));
      const env = decodeEnvelope(body, { maxHeader: DEFAULT_LIMITS.max_header });
      src = env.header.src;
      re = env.header.re;
    } catch (e) {
      this.host.log.warn('inter-broker frame dropped', { error: String(e) });
      return;
    }
    if (sender === this.host.brokerId) return;
    let from: RemoteConnection | undefined;
    if (src !== undefined) from = this.remote.get(src) ?? this.adopt(src, sender);
    else if (re !== undefined) {
      // An answer the other broker originated (TIMEOUT, PEER_GONE, a refusal): the id names the request, or
      // the answer this broker relayed, alone.
      for (const r of this.remote.values()) {
        if (r.broker === sender && (r.served.has(re) || (!this.defects.relayedRefusalsLost && r.hasRelayed(re)))) from = r;
      }
      // Otherwise the answer to a request this broker handed to the sender (CLU-11).
      from ??= this.brokerLinks.get(sender);
    }
    if (from === undefined || from.broker !== sender) {
      this.host.log.debug('inter-broker frame for no known request or client dropped', { sender, src, re });
      return;
    }
    this.host.deliver(from, body);
  }

  /** A frame from a client not announced yet (the join may come later): known from its broker, with safe defaults. */
  private adopt(clientId: string, broker: string): RemoteConnection | undefined {
    if (this.left.has(`${broker}\u0000${clientId}`) || this.host.clients.has(clientId)) return undefined;
    return this.add({ id: clientId, cbor: false, max_frame: DEFAULT_LIMITS.max_frame, language: 'other' }, broker);
  }

  // ---- directory ---------------------------------------------------------------------------

  private publishControl(message: ControlMessage): void {
    if (!this.connected || !this.nc) return;
    this.publish(CONTROL_SUBJECT, encodeControl(message));
  }

  private heartbeat(): void {
    const clients = [...this.host.localClients()].map(infoOf);
    this.publishControl({ v: 1, kind: 'heartbeat', broker: this.host.brokerId, uptime_ms: Date.now() - this.host.startedAt, clients, services: this.localServices() });
  }

  private tick(): void {
    if (!this.connected && !this.defects.deadWhileCutOff) return;
    this.heartbeat();
    const now = Date.now();
    for (const [broker, m] of this.members) {
      if (now - m.lastSeen > this.deadAfterMs) this.brokerGone(broker, 'silent for longer than dead_after_ms');
    }
  }

  /** The registry's entries owned by local clients, as other brokers need them. */
  private localServices(): ServiceInfo[] {
    return this.host.services.list({}).flatMap((d) => {
      const owner = this.host.services.provider(d.name);
      if (owner === undefined || owner.remote) return [];
      return [{ owner: owner.clientId!, descriptor: announced(d) }];
    });
  }

  /** Local services changed (register, unregister, health, a provider closed). */
  servicesChanged(): void {
    this.publishControl({ v: 1, kind: 'services', broker: this.host.brokerId, services: this.localServices() });
  }

  private onControl(data: Uint8Array): void {
    let m: ControlMessage;
    try {
      m = decodeControl(data, this.defects.anyFormat);
    } catch (e) {
      this.host.log.warn('control message dropped', { error: String(e) });
      return;
    }
    if (m.broker === this.host.brokerId) return;
    if (m.kind === 'bye') return this.brokerGone(m.broker, 'left the cluster');
    const member = this.members.get(m.broker) ?? { lastSeen: 0, uptimeMs: 0, clients: 0 };
    member.lastSeen = Date.now();
    if (!this.members.has(m.broker)) this.brokerJoined(m.broker);
    this.members.set(m.broker, member);
    this.host.batch.run(() => {
      switch (m.kind) {
        case 'heartbeat':
          member.uptimeMs = m.uptime_ms;
          member.clients = m.clients.length;
          this.reconcile(m.broker, m.clients);
          this.adoptServices(m.broker, m.services);
          return;
        case 'join':
          this.add(m.client, m.broker);
          return;
        case 'leave':
          this.remove(m.client, m.broker);
          return;
        case 'services':
          this.adoptServices(m.broker, m.services);
          return;
      }
    });
  }

  private add(info: ClientInfo, broker: string): RemoteConnection | undefined {
    const existing = this.remote.get(info.id);
    if (existing !== undefined && existing.broker === broker) {
      existing.update(info);
      return existing;
    }
    if (existing !== undefined) this.remove(info.id, existing.broker);
    if (this.host.clients.has(info.id)) {
      this.host.log.warn('a remote client has the id of a local one; ignored', { client: info.id, broker });
      return undefined;
    }
    const conn = new RemoteConnection(this.host.nextSeq(), info, broker, this, this.host.expiredIdsKept, this.host.batch, this.host.log.child({ client: info.id, broker }));
    this.remote.set(info.id, conn);
    this.host.clients.set(info.id, conn);
    return conn;
  }

  private remove(clientId: string, broker: string): void {
    const conn = this.remote.get(clientId);
    if (conn === undefined || conn.broker !== broker) return;
    this.left.add(`${broker}\u0000${clientId}`);
    this.remote.delete(clientId);
    if (this.host.clients.get(clientId) === conn) this.host.clients.delete(clientId);
    conn.gone();
    this.host.drop(conn);
  }

  /** A heartbeat lists every client of its broker: any this broker still has that it does not list left. */
  private reconcile(broker: string, clients: ClientInfo[]): void {
    const listed = new Set<string>();
    for (const c of clients) {
      listed.add(c.id);
      this.add(c, broker);
    }
    for (const [id, conn] of [...this.remote]) if (conn.broker === broker && !listed.has(id)) this.remove(id, broker);
  }

  private adoptServices(broker: string, services: ServiceInfo[]): void {
    const registry = this.host.services;
    const wanted = new Map(services.map((s) => [s.descriptor['name'] as string, s]));
    for (const d of registry.list({})) {
      const owner = registry.provider(d.name);
      if (owner instanceof RemoteConnection && owner.broker === broker && wanted.get(d.name)?.owner !== owner.clientId) registry.unregister(owner, d.name);
    }
    for (const [name, s] of wanted) {
      const owner = this.remote.get(s.owner);
      if (owner === undefined || owner.broker !== broker) continue;
      registry.adopt(owner, s.descriptor as never, name);
    }
  }

  private brokerJoined(broker: string): void {
    const info: ClientInfo = { id: broker, cbor: true, max_frame: DEFAULT_LIMITS.max_frame, language: 'other' };
    this.brokerLinks.set(broker, new RemoteConnection(this.host.nextSeq(), info, broker, this, this.host.expiredIdsKept, this.host.batch, this.host.log.child({ broker })));
  }

  /** Requests handed to `broker` get PEER_GONE (CLU-6, CLU-11). */
  private dropLink(broker: string): void {
    const link = this.brokerLinks.get(broker);
    if (link === undefined) return;
    this.brokerLinks.delete(broker);
    link.gone();
    this.host.drop(link);
  }

  /** CLU-6: every client of a dead broker is gone; requests in flight to them get PEER_GONE (HS-18). */
  private brokerGone(broker: string, why: string): void {
    if (!this.members.delete(broker)) return;
    this.host.log.warn('broker gone', { broker, why, statement: 'CLU-6' });
    const ids = [...this.remote.values()].filter((c) => c.broker === broker).map((c) => c.clientId!);
    const services = this.host.services.list({}).map((d) => d.name).filter((name) => {
      const owner = this.host.services.provider(name);
      return owner instanceof RemoteConnection && owner.broker === broker;
    });
    this.host.batch.run(() => {
      for (const id of ids) this.remove(id, broker);
      this.dropLink(broker);
    });
    // The dead broker cannot release its claims; each survivor tries, each delete only at the revision it read.
    if (why !== 'left the cluster' && !this.defects.keepDeadClaims) {
      for (const id of ids) void this.claims?.clearStale(id, broker).catch(() => undefined);
      for (const name of services) void this.serviceClaims?.clearStale(name, broker).catch(() => undefined);
    }
  }

  /** STATS (protocol 1.1): every broker of the cluster with its client count, this one first. */
  brokers(localClients: number): ClusterBrokerStats[] {
    const out: ClusterBrokerStats[] = [{ broker_id: this.host.brokerId, clients: localClients }];
    for (const [broker, m] of [...this.members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out.push({ broker_id: broker, clients: m.clients });
    return out;
  }
}

export function infoOf(conn: Connection): ClientInfo {
  return { id: conn.clientId!, cbor: conn.cbor, max_frame: conn.peerMaxFrame, language: conn.language };
}
