/**
 * Requests the broker originates itself (BUS_EVENT, a forwarded BUS_SEND or BUS_QUERY, an attempt of
 * SERVICE_DISPATCH): each resolves with the target's answer (its response or ERROR message), or fails
 * with TIMEOUT (its id then remembered so a late answer is dropped, REQ-16) or PEER_GONE (HS-18).
 */
import { messageByName, ProtocolError, responseCodeOf, type Message } from '../codec/index.js';
import { MessageType } from '../../spec/generated/catalog.js';
import type { Connection } from './connection.js';
import { forwardFrame, messageFrame, type OutFrame } from './frames.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';

/** A payload as the requester sent it: forwarded as these bytes when the type stays the same (REQ-9, D2). */
export interface RawPayload {
  readonly bytes: Uint8Array;
  readonly cbor: boolean;
}

export interface CallOptions {
  /** The payload bytes received, used instead of re-encoding `payload` when the target can take them. */
  raw?: RawPayload;
  /** The connection whose frame caused the call: paused when the target's queue is full (LIM-14). */
  source?: Connection;
  /** Set on a request to another broker of the cluster: its broker id (CLU-11). */
  dst?: string;
}

export interface CallDeps {
  send(conn: Connection, frame: OutFrame, source: Connection | undefined): void;
  /** true when `conn` has more than max_write_buffer bytes queued (LIM-18). */
  isOver(conn: Connection): boolean;
}

interface Call {
  readonly resolve: (m: Message) => void;
  readonly reject: (e: ProtocolError) => void;
  readonly timer: NodeJS.Timeout;
  readonly typeName: string;
  /** The type code of the request's response (the catalog's `response`); an ERROR answers it too. */
  readonly responseType: number | undefined;
}

export class BrokerCalls {
  private readonly open = new Map<Connection, Map<string, Call>>();

  constructor(private readonly deps: CallDeps) {}

  /**
   * Sends `type` to `target` as a request of the broker's, `src` naming whom it acts for. Fails at once
   * with SHUTTING_DOWN when the target drains after SHUTDOWN (HS-12), and with OVERLOADED when its
   * queue is already full (LIM-18) or the frame exceeds its max_frame (REQ-11): nothing is queued for a
   * reader that does not read.
   */
  call(target: Connection, type: MessageName, payload: unknown, timeoutMs: number, src: string, options: CallOptions = {}): Promise<Message> {
    if (target.state !== 'open') return Promise.reject(new ProtocolError('PEER_GONE', `${target.clientId ?? 'the target'} is gone`, { statement: 'HS-18' }));
    // HS-12: after SHUTDOWN either way, the broker starts no request on the connection (as router.ts for routed ones).
    if (target.draining) return Promise.reject(new ProtocolError('SHUTTING_DOWN', `${target.clientId} is draining after SHUTDOWN`, { statement: 'HS-12' }));
    if (this.deps.isOver(target)) {
      return Promise.reject(new ProtocolError('OVERLOADED', `${target.clientId} is not reading: its queue is above max_write_buffer`, { statement: 'LIM-18' }));
    }
    const id = target.nextId();
    const header = options.dst === undefined ? { id, src } : { id, src, dst: options.dst };
    let frame: OutFrame;
    try {
      const raw = options.raw;
      frame = raw !== undefined && (!raw.cbor || target.cbor)
        ? forwardFrame(messageByName(type).code, raw.cbor ? 1 : 0, header, raw.bytes)
        : messageFrame(type, header, payload);
    } catch (e) {
      return Promise.reject(e instanceof ProtocolError ? e : new ProtocolError('INTERNAL', `${type} could not be encoded`));
    }
    if (frame.bodyLength > target.peerMaxFrame) {
      return Promise.reject(new ProtocolError('OVERLOADED', `the ${type} would exceed ${target.clientId}'s max_frame`, { limit: target.peerMaxFrame, statement: 'REQ-11' }));
    }
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.take(target, id);
        target.expired.add(id);
        reject(new ProtocolError('TIMEOUT', `${type} got no answer from ${target.clientId} within ${timeoutMs} ms`, { timeout_ms: timeoutMs, statement: 'REQ-15' }));
      }, timeoutMs);
      let calls = this.open.get(target);
      if (!calls) this.open.set(target, (calls = new Map()));
      calls.set(id, { resolve, reject, timer, typeName: type, responseType: responseCodeOf(messageByName(type).code) });
      this.deps.send(target, frame, options.source);
    });
  }

  /** true when `re` answers one of our calls on `conn`. */
  owns(conn: Connection, re: string): boolean {
    return this.open.get(conn)?.has(re) ?? false;
  }

  /**
   * Why a frame of type `code` with `re` cannot answer the open call `re` on `conn`: a response of
   * another type than the request's (REQ-5, the call staying open); undefined when it can.
   */
  mismatch(conn: Connection, re: string, code: number, name: string): string | undefined {
    const c = this.open.get(conn)?.get(re);
    if (c === undefined || code === MessageType.ERROR || code === c.responseType) return undefined;
    return `${name} does not answer the broker's ${c.typeName}; the request stays open`;
  }

  /** Settles the call `message` answers. */
  answer(conn: Connection, message: Message): void {
    const c = this.take(conn, message.header.re!);
    c?.resolve(message);
  }

  /** The answer to the call `re` on `conn` was refused: the call fails with HANDLER_FAILED naming why. */
  refused(conn: Connection, re: string, error: unknown): void {
    const c = this.take(conn, re);
    if (!c) return;
    const code: ErrorName = error instanceof ProtocolError ? error.code : 'INTERNAL';
    c.reject(new ProtocolError('HANDLER_FAILED', `the answer of ${conn.clientId} to ${c.typeName} was refused (${code})`, { refused: code }));
  }

  /** The target closed: its open calls fail with PEER_GONE. */
  closed(conn: Connection): void {
    const calls = this.open.get(conn);
    this.open.delete(conn);
    for (const c of calls?.values() ?? []) {
      clearTimeout(c.timer);
      c.reject(new ProtocolError('PEER_GONE', `${conn.clientId ?? 'the target'} disconnected before answering ${c.typeName}`, { statement: 'HS-18' }));
    }
  }

  private take(conn: Connection, id: string): Call | undefined {
    const calls = this.open.get(conn);
    const c = calls?.get(id);
    if (!c) return undefined;
    calls!.delete(id);
    if (calls!.size === 0) this.open.delete(conn);
    clearTimeout(c.timer);
    return c;
  }
}
