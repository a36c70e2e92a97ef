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

export class RemoteConnection extends Connection {
  /** The broker this client is connected to. */
  broker: string;

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
