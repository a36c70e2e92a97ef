/**
 * The bus over the wire (sections 9.6 and 18, BUS-1, BUS-2, BUS-3, BUS-4, BUS-5, BUS-6, BUS-7, BUS-8, BUS-9, BUS-10, BUS-11, BUS-12, BUS-13, BUS-14, BUS-15, BUS-16, BUS-17 and BUS-37): subscriptions and the handler
 * table live in the broker; publish fans out as BUS_EVENTs and answers once every subscriber has, send
 * and query are forwarded to the handler's connection and its answer returned. SERVICE_DISPATCH is
 * handled by dispatch.ts; both originate requests through BrokerCalls.
 */
import { MessageType, ProtocolError, type Message } from '../codec/index.js';
import type {
  BusPublishPayload, BusQueryPayload, BusRegisterHandlerPayload, BusSendPayload, BusSubscribePayload, BusUnregisterHandlerPayload, BusUnsubscribePayload,
} from '../../spec/generated/types.js';
import type { BrokerCalls, RawPayload } from './calls.js';
import type { Connection } from './connection.js';
import { errorFrame, replyFrame, type OutFrame } from './frames.js';
import { CATALOG_TIMEOUT_MS } from '../../spec/generated/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import type { MessageNames } from '../../spec/generated/catalog.js';
import { askBroker, relayToBroker, type ClusterPeers } from './cluster/relay.js';

/** Catalog timeouts of the broker's own requests (spec/messages/bus.json). */
const EVENT_TIMEOUT_MS = CATALOG_TIMEOUT_MS.BUS_EVENT;
const SEND_TIMEOUT_MS = CATALOG_TIMEOUT_MS.BUS_SEND;
const QUERY_DEFAULT_MS = CATALOG_TIMEOUT_MS.BUS_QUERY;

interface Subscription {
  readonly id: string;
  readonly conn: Connection;
  readonly eventType: string;
}

export interface BusHostDeps {
  readonly calls: BrokerCalls;
  readonly maxSubscriptions: number;
  /** `source`: the connection whose frame caused this one (back-pressure, LIM-14). */
  send(conn: Connection, frame: OutFrame, source?: Connection): void;
  /** Logs a fault that is not a protocol error (an INTERNAL answer follows). */
  internal(conn: Connection, error: unknown): void;
  /** A request of `conn` the broker answers itself is over: a drain of `conn` may end (HS-14). */
  localSettled(conn: Connection): void;
  /** Present in a cluster: subscribers and handlers on other brokers (CLU-11, CLU-13). */
  readonly cluster?: ClusterPeers;
}

const HANDLED = new Set<number>([
  MessageType.BUS_SUBSCRIBE, MessageType.BUS_UNSUBSCRIBE, MessageType.BUS_PUBLISH, MessageType.BUS_REGISTER_HANDLER,
  MessageType.BUS_UNREGISTER_HANDLER, MessageType.BUS_SEND, MessageType.BUS_QUERY,
]);

export class BusHost {
  /** Insertion order is delivery order. */
  private readonly subs = new Map<string, Subscription>();
  private readonly handlers = new Map<string, Connection>();
  private seq = 0;

  constructor(private readonly deps: BusHostDeps) {}

  handles(code: number): boolean {
    return HANDLED.has(code);
  }

  /**
   * A bus request from `conn`, decoded and checked up to step 13; `raw` is its payload as received,
   * forwarded unchanged to a handler (BUS_SEND, BUS_QUERY keep their type).
   */
  handle(conn: Connection, m: Message, raw?: RawPayload): void {
    const id = m.header.id;
    switch (m.type) {
      case MessageType.BUS_SUBSCRIBE: {
        let mine = 0;
        for (const s of this.subs.values()) if (s.conn === conn) mine++;
        if (mine >= this.deps.maxSubscriptions) throw new ProtocolError('OVERLOADED', `${mine} subscriptions on this connection already`, { limit: this.deps.maxSubscriptions, statement: 'LIM-9' });
        // In a cluster the broker id makes the id unique cluster-wide (BUS-4 must leave another's alone).
        const sub: Subscription = { id: this.deps.cluster ? `sub-${this.deps.cluster.brokerId}-${++this.seq}` : `sub-${++this.seq}`, conn, eventType: (m.payload as BusSubscribePayload).event_type };
        this.subs.set(sub.id, sub); // active before BUS_SUBSCRIBED is sent (BUS-3)
        return this.reply(conn, id, 'BUS_SUBSCRIBED', { subscription_id: sub.id });
      }
      case MessageType.BUS_UNSUBSCRIBE: {
        const sid = (m.payload as BusUnsubscribePayload).subscription_id;
        if (this.subs.get(sid)?.conn === conn) this.subs.delete(sid); // BUS-4: another's is left alone
        return this.reply(conn, id, 'ACK', {});
      }
      case MessageType.BUS_REGISTER_HANDLER: {
        const type = (m.payload as BusRegisterHandlerPayload).message_type;
        this.checkNoHandler(type);
        const cluster = this.deps.cluster;
        if (cluster === undefined || conn.remote) {
          this.handlers.set(type, conn);
          return this.reply(conn, id, 'ACK', {});
        }
        return cluster.claimHandler(conn, type, (outcome) => this.registerClaimed(conn, id, type, outcome));
      }
      case MessageType.BUS_UNREGISTER_HANDLER: {
        const type = (m.payload as BusUnregisterHandlerPayload).message_type;
        if (this.handlers.get(type) === conn) this.dropHandler(type, conn);
        return this.reply(conn, id, 'ACK', {});
      }
      case MessageType.BUS_PUBLISH:
        return this.open(conn, id, () => this.publish(conn, m, raw));
      case MessageType.BUS_SEND:
        return this.open(conn, id, () => this.forward(conn, m, 'BUS_SEND', SEND_TIMEOUT_MS, raw));
      case MessageType.BUS_QUERY: {
        const p = m.payload as BusQueryPayload;
        return this.open(conn, id, () => this.forward(conn, m, 'BUS_QUERY', p.timeout_ms !== undefined && p.timeout_ms > 0 ? p.timeout_ms : QUERY_DEFAULT_MS, raw)); // BUS-13
      }
    }
  }

  private checkNoHandler(type: string): void {
    if (this.handlers.has(type)) throw new ProtocolError('HANDLER_EXISTS', `a handler for ${type} is already registered`, { path: '/message_type', statement: 'BUS-2' });
  }

  /** CLU-13: the handler is registered, and acknowledged, once its type is claimed cluster-wide. */
  private registerClaimed(conn: Connection, id: string, type: string, outcome: 'claimed' | 'taken' | 'unreachable'): void {
    try {
      if (outcome === 'taken') throw new ProtocolError('HANDLER_EXISTS', `a handler for ${type} is already registered on a broker of the cluster`, { path: '/message_type', statement: 'BUS-2' });
      if (outcome === 'unreachable') throw new ProtocolError('OVERLOADED', `the handler for ${type} cannot be claimed: the cluster link (NATS) is down; try again`, { statement: 'CLU-8' });
      this.checkNoHandler(type); // a local registration that claimed first (the claim is then its)
      this.handlers.set(type, conn);
      this.reply(conn, id, 'ACK', {});
    } catch (e) {
      this.fail(conn, id, e);
    }
  }

  private dropHandler(type: string, conn: Connection): void {
    this.handlers.delete(type);
    if (!conn.remote) this.deps.cluster?.handlerReleased(type);
  }

  /**
   * Runs an answered-later request: it counts against the requester's max_in_flight until answered
   * (LIM-7), and whatever it throws or rejects with becomes an INTERNAL answer, never a crash.
   */
  private open(conn: Connection, id: string, run: () => Promise<void>): void {
    conn.openLocal(id);
    let answered = false;
    const settle = (): void => {
      if (answered) return;
      answered = true;
      conn.closeLocal(id);
      this.deps.localSettled(conn);
    };
    let running: Promise<void>;
    try {
      running = run();
    } catch (e) {
      running = Promise.reject(e);
    }
    // The answer goes out before a drain that ends on this request acknowledges (HS-14, HS-15).
    running.then(settle, (e: unknown) => {
      this.deps.internal(conn, e);
      this.fail(conn, id, e);
      settle();
    });
  }

  /** The handlers of this broker's own clients: message type and client id (claims written again after a NATS outage). */
  localHandlers(): [string, string][] {
    return [...this.handlers].filter(([, c]) => !c.remote).map(([type, c]) => [type, c.clientId!]);
  }

  /** HS-19: a closed connection's subscriptions and handlers go with it. */
  closed(conn: Connection): void {
    for (const [id, s] of this.subs) if (s.conn === conn) this.subs.delete(id);
    for (const [type, c] of this.handlers) if (c === conn) this.dropHandler(type, conn);
  }

  private async publish(conn: Connection, m: Message, raw: RawPayload | undefined): Promise<void> {
    const id = m.header.id;
    const p = m.payload as BusPublishPayload;
    const targets = [...this.subs.values()].filter((s) => s.eventType === p.event_type);
    // CLU-11: every other broker delivers to its own subscribers and counts; a frame from another broker stops here.
    const others = this.deps.cluster && !conn.remote ? this.deps.cluster.otherBrokers() : [];
    if (targets.length === 0 && others.length === 0) return this.reply(conn, id, 'BUS_PUBLISHED', { delivered: 0, failed: 0 }); // answered at once, in order
    const elsewhere = others.map((b) => askBroker(this.deps, this.deps.cluster!, b, conn, m, EVENT_TIMEOUT_MS, raw));
    const publisher = conn.clientId!;
    // BUS-5, BUS-6, BUS-7: one BUS_EVENT per subscription, the publisher's own included; failures only counted.
    const outcomes = await Promise.allSettled(
      targets.map((s) =>
        this.deps.calls.call(s.conn, 'BUS_EVENT', { subscription_id: s.id, event_type: p.event_type, publisher, ...('payload' in p ? { payload: p.payload } : {}) }, EVENT_TIMEOUT_MS, publisher, { source: conn }),
      ),
    );
    let failed = outcomes.filter((o) => o.status === 'rejected' || o.value.type !== MessageType.ACK).length;
    let delivered = targets.length;
    // A broker that died or could not answer reached no subscriber this publisher can count.
    for (const o of await Promise.allSettled(elsewhere)) {
      if (o.status === 'rejected' || o.value.type !== MessageType.BUS_PUBLISHED) continue;
      const counts = o.value.payload as { delivered: number; failed: number };
      delivered += counts.delivered;
      failed += counts.failed;
    }
    this.reply(conn, id, 'BUS_PUBLISHED', { delivered, failed });
  }

  private async forward(conn: Connection, m: Message, type: MessageNames<'BUS_SEND' | 'BUS_QUERY'>, timeoutMs: number, raw: RawPayload | undefined): Promise<void> {
    const id = m.header.id;
    const p = m.payload as BusSendPayload | BusQueryPayload;
    const handler = this.handlers.get(p.message_type);
    const cluster = this.deps.cluster;
    if (!handler && cluster !== undefined && !conn.remote) {
      let broker;
      try {
        broker = await cluster.handlerBroker(p.message_type); // CLU-13: the handler's broker forwards
      } catch (e) {
        return this.fail(conn, id, e);
      }
      if (broker !== undefined) return relayToBroker(this.deps, cluster, broker, conn, m, timeoutMs, raw);
    }
    if (!handler) {
      if (type === 'BUS_SEND') return this.reply(conn, id, 'ACK', {}); // BUS-9
      return this.fail(conn, id, new ProtocolError('NO_HANDLER', `no handler is registered for ${p.message_type}`, { statement: 'BUS-12' }));
    }
    let answer: Message;
    try {
      answer = await this.deps.calls.call(handler, type, p, timeoutMs, conn.clientId!, { raw, source: conn }); // BUS-10
    } catch (e) {
      return this.fail(conn, id, e as ProtocolError);
    }
    if (answer.type === MessageType.ERROR) {
      const error = answer.payload as { code: string; message: string };
      return this.fail(conn, id, new ProtocolError('HANDLER_FAILED', `the handler of ${p.message_type} failed: ${error.code}`, { error: answer.payload, statement: 'BUS-11' }));
    }
    this.reply(conn, id, type === 'BUS_SEND' ? 'ACK' : 'BUS_QUERY_RESULT', type === 'BUS_SEND' ? {} : answer.payload);
  }

  private reply(conn: Connection, re: string, type: MessageName, payload: unknown): void {
    if (conn.state === 'open') this.deps.send(conn, replyFrame(type, conn.nextId(), re, payload, conn), conn);
  }

  private fail(conn: Connection, re: string, error: unknown): void {
    if (conn.state === 'open') this.deps.send(conn, errorFrame(conn.nextId(), re, error), conn);
  }
}
