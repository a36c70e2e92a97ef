/**
 * A harness-side connection to the peer under test: sends frames (well-formed or deliberately
 * broken bytes), yields what comes back one message at a time, and records every byte both ways
 * in a wire log that failure reports show.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessageFrame, type Message, type OutgoingMessage } from '../../reference/codec/message.js';
import { ProtocolError } from '../../reference/codec/errors.js';

export interface WireEntry {
  /** Milliseconds since the connection opened. */
  t: number;
  dir: 'out' | 'in' | 'event';
  hex?: string;
  /** A one-line reading of the frame (type name and id) or the event. */
  note: string;
}

/** What the peer sent next: a decoded message, an undecodable frame, or the end of the stream. */
export type Received =
  | { kind: 'message'; message: Message; bytes: Uint8Array }
  | { kind: 'invalid'; error: ProtocolError; bytes: Uint8Array }
  | { kind: 'closed'; reason: string }
  | { kind: 'timeout' };

export interface Address {
  host?: string;
  port?: number;
  path?: string;
}

const MAX_LOGGED_BYTES = 512;

/** The target could not be reached at all (refused, unreachable, or no answer to the TCP connect). */
export class ConnectError extends Error {
  override name = 'ConnectError';
}

export class WireConnection {
  readonly log: WireEntry[] = [];
  private readonly opened = Date.now();
  private readonly decoder = new FrameDecoder({ maxFrame: 2 ** 32 - 1 });
  private readonly queue: Received[] = [];
  private waiter: ((r: Received) => void) | null = null;
  private ended = false;

  private constructor(private readonly socket: Socket, readonly label: string) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.finish(`error: ${e.message}`));
    socket.on('close', () => this.finish('closed by peer'));
  }

  /** Opens a TCP or Unix-socket connection; rejects after `timeoutMs`. */
  static open(address: Address, label: string, timeoutMs: number): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const socket = address.path ? connect({ path: address.path }) : connect({ host: address.host ?? '127.0.0.1', port: address.port! });
      socket.setNoDelay(true);
      const timer = setTimeout(() => { socket.destroy(); reject(new ConnectError(`connect to ${describe(address)} timed out after ${timeoutMs} ms`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new WireConnection(socket, label)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(new ConnectError(`cannot connect to ${describe(address)}: ${e.message}`)); });
    });
  }

  private note(dir: WireEntry['dir'], note: string, bytes?: Uint8Array): void {
    const entry: WireEntry = { t: Date.now() - this.opened, dir, note };
    if (bytes) entry.hex = Buffer.from(bytes.subarray(0, MAX_LOGGED_BYTES)).toString('hex') + (bytes.length > MAX_LOGGED_BYTES ? `... (${bytes.length} bytes)` : '');
    this.log.push(entry);
  }

  private push(r: Received): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(r);
    } else {
      this.queue.push(r);
    }
  }

  private onData(chunk: Buffer): void {
    let bodies: Uint8Array[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (e) {
      for (const body of (e as ProtocolError).framesBefore ?? []) this.onBody(body);
      this.note('in', `unframeable bytes: ${(e as Error).message}`, chunk);
      this.push({ kind: 'invalid', error: e as ProtocolError, bytes: chunk });
      return;
    }
    for (const body of bodies) this.onBody(body);
  }

  private onBody(body: Uint8Array): void {
    const frame = Buffer.concat([lengthPrefix(body.length), body]);
    try {
      const message = decodeMessage(body);
      const re = message.header.re !== undefined ? ` re=${JSON.stringify(message.header.re)}` : '';
      const code = message.name === 'ERROR' ? ` ${(message.payload as { code: string }).code}` : '';
      this.note('in', `${message.name} id=${JSON.stringify(message.header.id)}${re}${code}`, frame);
      this.push({ kind: 'message', message, bytes: frame });
    } catch (e) {
      this.note('in', `invalid frame: ${(e as Error).message}`, frame);
      this.push({ kind: 'invalid', error: e as ProtocolError, bytes: frame });
    }
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.note('event', reason);
    this.push({ kind: 'closed', reason });
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Sends a message built with the reference codec. */
  send(message: OutgoingMessage): void {
    const frame = encodeMessageFrame(message);
    this.note('out', `${typeof message.type === 'string' ? message.type : `type ${message.type}`} id=${JSON.stringify(message.header.id)}`, frame);
    this.socket.write(frame);
  }

  /** Sends raw bytes (a broken frame, or part of one). */
  sendRaw(bytes: Uint8Array, note = 'raw bytes'): void {
    this.note('out', note, bytes);
    this.socket.write(bytes);
  }

  /** The next thing the peer sends, or `timeout` after `timeoutMs`. */
  next(timeoutMs: number): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.resolve({ kind: 'closed', reason: 'already closed' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.note('event', `nothing received within ${timeoutMs} ms`);
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.waiter = (r) => { clearTimeout(timer); resolve(r); };
    });
  }

  /** Half-closes our side (no more bytes from us). */
  end(): void {
    this.note('event', 'harness half-closed its side');
    this.socket.end();
  }

  /** Closes the connection at once. */
  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
    this.finish('closed by harness');
  }
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function describe(address: Address): string {
  return address.path ? `unix:${address.path}` : `${address.host ?? '127.0.0.1'}:${address.port}`;
}
