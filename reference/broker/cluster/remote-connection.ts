/**
 * A client connected to another broker of the cluster, as this broker sees it: a Connection whose
 * writes go over NATS to the client's broker. Routing, correlation, timeouts and PEER_GONE then work
 * on it exactly as on a local connection; it is never read from a socket, never pinged and never
 * closed by a fault of one frame (only when its client leaves or its broker dies).
 */
import type { Socket } from 'node:net';
import { Connection } from '../connection.js';
import type { OutFrame } from '../frames.js';
import type { WriteBatch } from '../flow.js';
import { ExpiredIds } from '../inflight.js';
import type { Logger } from '../logger.js';
import type { Language } from '../../../spec/generated/types.js';
import type { ClientInfo } from './wire.js';

/** What a remote connection needs from the cluster link. */
export interface RemoteLink {
  /** Publishes one frame to `broker`; false when NATS is unreachable (the frame is not sent). */
  sendFrame(broker: string, frame: OutFrame): boolean;
  /** true while the NATS connection is up. */
  readonly up: boolean;
  /** Ids unique across every remote connection of this broker, so a broker-originated answer names its request alone. */
  nextId(): string;
}

/** Never a real socket: the pieces of one that the broker's flow control and batching touch. */
function detachedSocket(): Socket {
  const socket = {
    destroyed: false,
    writable: true,
    writableLength: 0,
    remoteAddress: undefined,
    cork(): void {},
    uncork(): void {},
    pause(): void {},
    resume(): void {},
    end(): void {},
    destroy(): void {},
    write(): boolean {
      return true;
    },
  };
  return socket as unknown as Socket;
}

/** How many answers relayed to one remote client are remembered for a refusal coming back (oldest forgotten first). */
export const RELAYED_ANSWERS_KEPT = 1024;

export class RemoteConnection extends Connection {
  /** The broker this client is connected to. */
  broker: string;
  /**
   * Answers relayed to this client, by the id they travelled under, with their answerer and own id: the
   * client's broker may still refuse one (REQ-11, its max_frame checked on the frame it writes), and
   * that ERROR must reach the answerer with `re` set to the answer's id (ERR-3).
   */
  private readonly relayedAnswers = new Map<string, { answerer: Connection; id: string }>();

  constructor(
    seq: number,
    info: ClientInfo,
    broker: string,
    private readonly link: RemoteLink,
    expiredKept: number,
    batch: WriteBatch,
    log: Logger,
  ) {
    super(seq, detachedSocket(), info.max_frame, new ExpiredIds(expiredKept), batch, log);
    this.broker = broker;
    this.state = 'open';
    this.remote = true;
    this.update(info);
  }

  /** Applies what the client's broker announced (it may reconnect elsewhere with other settings). */
  update(info: ClientInfo): void {
    this.clientId = info.id;
    this.cbor = info.cbor;
    this.peerMaxFrame = info.max_frame;
    this.language = info.language as Language;
  }

  /** Remembers an answer relayed under `id` (see relayedAnswers). */
  relayed(id: string, answerer: Connection, answerId: string): void {
    this.relayedAnswers.set(id, { answerer, id: answerId });
    if (this.relayedAnswers.size > RELAYED_ANSWERS_KEPT) this.relayedAnswers.delete(this.relayedAnswers.keys().next().value!);
  }

  hasRelayed(id: string): boolean {
    return this.relayedAnswers.has(id);
  }

  /** The answer relayed under `id`, forgotten once taken. */
  takeRelayed(id: string): { answerer: Connection; id: string } | undefined {
    const relayed = this.relayedAnswers.get(id);
    this.relayedAnswers.delete(id);
    return relayed;
  }

  override nextId(): string {
    return this.link.nextId();
  }

  override write(frame: OutFrame): void {
    if (this.state !== 'open') return;
    if (this.link.sendFrame(this.broker, frame)) {
      this.stats.framesOut++;
      this.stats.bytesOut += 4 + frame.bodyLength;
    }
  }

  /** A fault in one frame from another broker never ends the client it speaks for. */
  override end(): void {}

  override destroy(): void {}

  /** The client left or its broker died. */
  gone(): void {
    this.markClosed();
  }
}
