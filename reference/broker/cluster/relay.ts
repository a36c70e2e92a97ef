/**
 * CLU-11: a request the broker answers itself (BUS_PUBLISH, BUS_SEND, BUS_QUERY, SERVICE_DISPATCH,
 * SERVICE_LIST) whose subject lives on another broker (the handler's, the provider's, the subscribers')
 * is handed to that broker as a request of the broker's own, addressed to its broker id, and that
 * broker's answer is the requester's answer. The other broker applies the rules of one broker to its
 * own clients: checks, load, retries and back-pressure happen where the provider or handler is.
 */
import { messageByCode, ProtocolError, type Message } from '../../codec/index.js';
import type { BrokerCalls, RawPayload } from '../calls.js';
import type { Connection } from '../connection.js';
import { errorFrame, replyFrame, type OutFrame } from '../frames.js';
import type { MessageName } from '../../../spec/generated/catalog.js';

/** What the bus, the dispatcher and SERVICE_LIST need of the cluster (section 19). */
export interface ClusterPeers {
  /** A connection to every other live broker: a request written to it reaches that broker (CLU-11). */
  otherBrokers(): Connection[];
  /** The broker whose client provides `name`, looked up in the claims store on a miss (CLU-12). */
  serviceBroker(name: string): Promise<Connection | undefined>;
  /** The broker whose client handles bus type `messageType` (CLU-13). */
  handlerBroker(messageType: string): Promise<Connection | undefined>;
  /** CLU-13: claims a handler's type cluster-wide, holding `conn`'s frames until `then` ran. */
  claimHandler(conn: Connection, messageType: string, then: (outcome: 'claimed' | 'taken' | 'unreachable') => void): void;
  /** A local handler is gone: its type is free in the cluster. */
  handlerReleased(messageType: string): void;
  /** How long after a request's own bound a lost inter-broker answer counts as a TIMEOUT. */
  readonly relayMarginMs: number;
  /** Prefixes this broker's subscription ids, so they are unique across the cluster. */
  readonly brokerId: string;
  /** false while NATS is unreachable: nothing is handed to another broker (CLU-8). */
  readonly up: boolean;
}

export interface RelayDeps {
  readonly calls: BrokerCalls;
  send(conn: Connection, frame: OutFrame, source?: Connection): void;
}

/**
 * Asks the broker behind `broker` (a connection from {@link ClusterPeers.otherBrokers}) to handle `m`
 * for `conn`, waiting at most `boundMs` (the request's own bound; the margin is added here).
 */
export function askBroker(deps: RelayDeps, peers: ClusterPeers, broker: Connection, conn: Connection, m: Message, boundMs: number, raw: RawPayload | undefined): Promise<Message> {
  const type = messageByCode(m.type)!.name as MessageName;
  return deps.calls.call(broker, type, m.payload, boundMs + peers.relayMarginMs, conn.clientId!, { raw, source: conn, dst: broker.clientId! });
}

/** {@link askBroker}, then the other broker's answer (response or ERROR) goes to `conn` as its own. */
export async function relayToBroker(deps: RelayDeps, peers: ClusterPeers, broker: Connection, conn: Connection, m: Message, boundMs: number, raw: RawPayload | undefined): Promise<void> {
  const re = m.header.id;
  let answer: Message;
  try {
    if (!peers.up) throw new ProtocolError('OVERLOADED', 'the cluster link (NATS) is down; try again', { statement: 'CLU-8' });
    answer = await askBroker(deps, peers, broker, conn, m, boundMs, raw);
  } catch (e) {
    if (conn.state === 'open') deps.send(conn, errorFrame(conn.nextId(), re, e), conn);
    return;
  }
  if (conn.state !== 'open') return;
  const type = messageByCode(answer.type)!.name as MessageName;
  deps.send(conn, replyFrame(type, conn.nextId(), re, answer.payload, conn), conn);
}
