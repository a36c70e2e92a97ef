/**
 * Requests the broker originates itself (BUS_EVENT, a forwarded BUS_SEND or BUS_QUERY, an attempt of
 * SERVICE_DISPATCH): each resolves with the target's answer (its response or ERROR message), or fails
 * with TIMEOUT (its id then remembered so a late answer is dropped, REQ-16) or PEER_GONE (HS-18).
 */
import { ProtocolError, type Message } from '../codec/index.js';
import type { Connection } from './connection.js';
import { messageFrame } from './frames.js';

interface Call {
  readonly resolve: (m: Message) => void;
  readonly reject: (e: ProtocolError) => void;
  readonly timer: NodeJS.Timeout;
  readonly typeName: string;
}

export class BrokerCalls {
  private readonly open = new Map<Connection, Map<string, Call>>();

  constructor(private readonly send: (conn: Connection, frame: ReturnType<typeof messageFrame>) => void) {}

  /** Sends `type` to `target` as a request of the broker's, `src` naming whom it acts for. */
  call(target: Connection, type: string, payload: unknown, timeoutMs: number, src: string): Promise<Message> {
    if (target.state !== 'open') return Promise.reject(new ProtocolError('PEER_GONE', `${target.clientId ?? 'the target'} is gone`, { statement: 'HS-18' }));
    const id = target.nextId();
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.take(target, id);
        target.expired.add(id);
        reject(new ProtocolError('TIMEOUT', `${type} got no answer from ${target.clientId} within ${timeoutMs} ms`, { timeout_ms: timeoutMs, statement: 'REQ-15' }));
      }, timeoutMs);
      let calls = this.open.get(target);
      if (!calls) this.open.set(target, (calls = new Map()));
      calls.set(id, { resolve, reject, timer, typeName: type });
      this.send(target, messageFrame(type, { id, src }, payload));
    });
  }

  /** true when `re` answers one of our calls on `conn`. */
  owns(conn: Connection, re: string): boolean {
    return this.open.get(conn)?.has(re) ?? false;
  }

  /** Settles the call `message` answers. */
  answer(conn: Connection, message: Message): void {
    const c = this.take(conn, message.header.re!);
    c?.resolve(message);
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
