/**
 * SERVICE_DISPATCH through the registry (REG-4, REG-5, REG-6, REG-7, REG-8, REG-9, REG-10, REG-11, REG-12): existence and health when accepted; the
 * dispatches of one turn started in priority order (REG-10), each checked against max_concurrent when it
 * starts (refused, never queued); every attempt forwarded unchanged to the service's connection, bounded
 * by timeout_ms; failures retried after min(100 x 2^(r-1), 5000) ms; the load raised once and lowered
 * once per dispatch.
 */
import { ProtocolError, type Message } from '../codec/index.js';
import { MessageType } from '../codec/index.js';
import type { ServiceDescriptor, ServiceDispatchPayload, ServiceListPayload } from '../../spec/generated/types.js';
import { DISPATCH_DEFAULTS, dispatchBackoffMs } from '../../spec/generated/catalog.js';
import type { MessageNames } from '../../spec/generated/catalog.js';
import type { BrokerCalls, RawPayload } from './calls.js';
import type { BrokerDefects } from './config.js';
import type { Connection } from './connection.js';
import { errorFrame, replyFrame, type OutFrame } from './frames.js';
import { sortByName, type ServiceRegistry } from './services.js';
import { askBroker, relayToBroker, type ClusterPeers } from './cluster/relay.js';

const PRIORITY_RANK: Record<string, number> = { realtime: 0, high: 1, normal: 2, low: 3, idle: 4 };
/** Defaults of REG-5 and REG-6, and the backoff of REG-7, from the spec. */
export const DISPATCH_TIMEOUT_MS = DISPATCH_DEFAULTS.timeout_ms;
export const DISPATCH_MAX_RETRIES = DISPATCH_DEFAULTS.max_retries;
export { dispatchBackoffMs };

export interface DispatcherDeps {
  readonly calls: BrokerCalls;
  readonly services: ServiceRegistry;
  /** `source`: the connection whose frame caused this one (back-pressure, LIM-14). */
  send(conn: Connection, frame: OutFrame, source?: Connection): void;
  /** Logs a fault that is not a protocol error (an INTERNAL answer follows). */
  internal(conn: Connection, error: unknown): void;
  /** A request of `conn` the broker answers itself is over: a drain of `conn` may end (HS-14). */
  localSettled(conn: Connection): void;
  /** Present in a cluster: providers on other brokers (CLU-11, CLU-12). */
  readonly cluster?: ClusterPeers;
  /** Test-only defects (BrokerOptions.defects). */
  readonly defects?: BrokerDefects;
}

interface Waiting {
  rank: number;
  seq: number;
  start: () => void;
}

export class ServiceDispatcher {
  private waiting: Waiting[] = [];
  private scheduled = false;
  private seq = 0;

  constructor(private readonly deps: DispatcherDeps) {}

  /** `raw`: the payload as received, forwarded unchanged to the service (REG-8). */
  handle(conn: Connection, m: Message, raw?: RawPayload): void {
    const p = m.payload as ServiceDispatchPayload;
    const entry = this.deps.services.entry(p.service_name);
    const cluster = this.deps.cluster;
    if (cluster !== undefined && (entry === undefined || entry.owner.remote)) {
      // A frame from another broker is answered with this broker's own providers only (CLU-2).
      if (!conn.remote) return this.relay(conn, m, raw, cluster);
      throw new ProtocolError('SERVICE_NOT_FOUND', `no service ${p.service_name} is registered on this broker`, { path: '/service_name', statement: 'CLU-11' });
    }
    if (!entry) throw new ProtocolError('SERVICE_NOT_FOUND', `no service ${p.service_name} is registered`, { path: '/service_name', statement: 'REG-4' });
    if (entry.descriptor.healthy === false) throw new ProtocolError('SERVICE_UNHEALTHY', `${p.service_name} is unhealthy`, { statement: 'REG-4' });
    // Open from here until answered: counted by LIM-7; a fault inside becomes INTERNAL, never a crash.
    const re = m.header.id;
    conn.openLocal(re);
    this.enqueue(PRIORITY_RANK[p.priority ?? 'normal'] ?? 2, () => {
      let running: Promise<void>;
      try {
        running = this.start(conn, re, p, raw);
      } catch (e) {
        running = Promise.reject(e);
      }
      running.then(
        () => this.closed(conn, re, this.deps.defects?.dispatchReleasedTwice ? 2 : 1),
        (e: unknown) => {
          this.deps.internal(conn, e);
          this.fail(conn, re, e);
          this.closed(conn, re);
        },
      );
    });
  }

  /**
   * SERVICE_LIST (REG-3). In a cluster (CLU-11) every broker lists its own clients' services with their
   * load, so the listing shows each service's load where it is dispatched; a broker that does not
   * answer is left out.
   */
  list(conn: Connection, m: Message, raw: RawPayload | undefined): void {
    const filter = m.payload as ServiceListPayload;
    const cluster = this.deps.cluster;
    const here = this.deps.services.list(filter, cluster !== undefined);
    const others = cluster !== undefined && !conn.remote ? cluster.otherBrokers() : [];
    if (others.length === 0) return this.answer(conn, m.header.id, 'SERVICE_LIST_RESULT', { services: here });
    conn.openLocal(m.header.id);
    void Promise.allSettled(others.map((b) => askBroker(this.deps, cluster!, b, conn, m, 0, raw))).then((answers) => {
      const services = [...here];
      for (const a of answers) if (a.status === 'fulfilled' && a.value.type === MessageType.SERVICE_LIST_RESULT) services.push(...(a.value.payload as { services: ServiceDescriptor[] }).services);
      this.answer(conn, m.header.id, 'SERVICE_LIST_RESULT', { services: sortByName(services) });
      this.closed(conn, m.header.id);
    });
  }

  /**
   * CLU-11, CLU-12: the provider's broker dispatches (checks, load, retries, backoff) and its answer is
   * this one's. A service not announced here yet is looked up in the claims store, never refused for
   * the announcement being on its way.
   */
  private relay(conn: Connection, m: Message, raw: RawPayload | undefined, cluster: ClusterPeers): void {
    const p = m.payload as ServiceDispatchPayload;
    conn.openLocal(m.header.id);
    const run = async (): Promise<void> => {
      let broker;
      try {
        broker = await cluster.serviceBroker(p.service_name);
      } catch (e) {
        return this.fail(conn, m.header.id, e);
      }
      if (broker === undefined) return this.fail(conn, m.header.id, new ProtocolError('SERVICE_NOT_FOUND', `no service ${p.service_name} is registered`, { path: '/service_name', statement: 'REG-4' }));
      await relayToBroker(this.deps, cluster, broker, conn, m, dispatchBoundMs(p), raw);
    };
    run().then(
      () => this.closed(conn, m.header.id),
      (e: unknown) => {
        this.deps.internal(conn, e);
        this.fail(conn, m.header.id, e);
        this.closed(conn, m.header.id);
      },
    );
  }

  /** A request of `conn` this broker answered itself is over: a drain of `conn` may end (HS-14). */
  private closed(conn: Connection, id: string, released = 1): void {
    conn.closeLocal(id, released);
    this.deps.localSettled(conn);
  }

  private async start(conn: Connection, re: string, p: ServiceDispatchPayload, raw: RawPayload | undefined): Promise<void> {
    const entry = this.deps.services.entry(p.service_name);
    if (!entry) return this.fail(conn, re, new ProtocolError('SERVICE_NOT_FOUND', `${p.service_name} was unregistered`, { statement: 'REG-4' }));
    const limit = entry.descriptor.max_concurrent ?? 0;
    if (limit > 0 && entry.load >= limit) {
      return this.fail(conn, re, new ProtocolError('OVERLOADED', `${p.service_name} already runs ${entry.load} dispatches`, { limit, statement: 'REG-4' }));
    }
    entry.load++; // REG-9
    try {
      const timeoutMs = p.timeout_ms ?? DISPATCH_TIMEOUT_MS;
      const maxRetries = p.max_retries ?? DISPATCH_MAX_RETRIES;
      let last: unknown;
      for (let attempt = 1; attempt <= maxRetries + 1; attempt++) {
        if (attempt > 1) await new Promise((r) => setTimeout(r, dispatchBackoffMs(attempt - 1)));
        let answer: Message;
        try {
          answer = await this.deps.calls.call(entry.owner, 'SERVICE_DISPATCH', p, timeoutMs, conn.clientId!, { raw, source: conn }); // REG-8: unchanged
        } catch (e) {
          return this.fail(conn, re, e); // TIMEOUT, PEER_GONE or OVERLOADED: not retried (REG-5, REG-12)
        }
        if (answer.type !== MessageType.ERROR) {
          const result = (answer.payload as { result?: unknown } | null)?.result;
          return this.reply(conn, re, { ...(result !== undefined ? { result } : {}), attempts: attempt }); // REG-11
        }
        last = answer.payload;
      }
      this.fail(conn, re, new ProtocolError('HANDLER_FAILED', `${p.service_name}.${p.method} failed ${maxRetries + 1} times`, { error: last, statement: 'REG-11' }));
    } finally {
      entry.load--; // exactly once (REG-9)
    }
  }

  private enqueue(rank: number, start: () => void): void {
    this.waiting.push({ rank, seq: this.seq++, start });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const turn = this.waiting.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
      this.waiting = [];
      for (const w of turn) w.start();
    });
  }

  private reply(conn: Connection, re: string, payload: unknown): void {
    this.answer(conn, re, 'SERVICE_RESULT', payload);
  }

  private answer(conn: Connection, re: string, type: MessageNames<'SERVICE_RESULT' | 'SERVICE_LIST_RESULT'>, payload: unknown): void {
    if (conn.state === 'open') this.deps.send(conn, replyFrame(type, conn.nextId(), re, payload, conn), conn);
  }

  private fail(conn: Connection, re: string, error: unknown): void {
    if (conn.state === 'open') this.deps.send(conn, errorFrame(conn.nextId(), re, error), conn);
  }
}

/** The longest a dispatch can take on the provider's broker: every attempt timing out, every backoff waited. */
export function dispatchBoundMs(p: ServiceDispatchPayload): number {
  const retries = p.max_retries ?? DISPATCH_MAX_RETRIES;
  let ms = (retries + 1) * (p.timeout_ms ?? DISPATCH_TIMEOUT_MS);
  for (let r = 1; r <= retries; r++) ms += dispatchBackoffMs(r);
  return ms;
}
