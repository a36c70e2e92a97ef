/**
 * A test client that speaks Concord frames over a raw socket: connect, send a message (or raw bytes),
 * await the next message with a bounded timeout. Every wait is bounded, so a broker bug fails a test
 * instead of hanging it.
 */
import { connect, type Socket } from 'node:net';
import { decodeEnvelope, decodeMessage, encodeEnvelope, ENCODINGS, messageByCode, messageByName, encodeFrame, encodeMessageFrame, FrameDecoder, type Encoding, type Header, type Message } from '../../codec/index.js';
import type { MessageName } from '../../../spec/generated/catalog.js';

export const WAIT_MS = 3000;

export type Address = { port: number; host?: string } | { path: string };

export interface InitOverrides {
  encodings?: string[];
  protocol_version?: string;
  token?: string;
  max_frame?: number;
  [key: string]: unknown;
}

/**
 * Decodes a received body; a payload that fails its schema (the back-pressure test sends padding the
 * broker forwards unread) is still returned, with its payload as raw text in `payload`.
 */
function decodeLoosely(body: Uint8Array): Message {
  try {
    return decodeMessage(body);
  } catch {
    const env = decodeEnvelope(body);
    const info = messageByCode(env.type);
    if (!info) throw new Error(`the broker sent type code ${env.type}, which is not in the catalog`);
    return { type: env.type, name: info.name, encoding: ENCODINGS[env.encodingBits] ?? 'json', header: env.header, payload: Buffer.from(env.payload).toString('utf8') };
  }
}

export class WireClient {
  /** Frames received so far (including those not yet taken by next()). */
  framesReceived = 0;
  readonly received: Message[] = [];
  private readonly decoder = new FrameDecoder({ maxFrame: 0xffffffff });
  private waiter: (() => void) | undefined;
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;
  private idSeq = 0;

  private constructor(readonly socket: Socket) {
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => {
      this.closedFlag = true;
      this.wake();
    });
    socket.on('error', () => {
      // surfaced through 'close'
    });
    socket.on('data', (chunk: Buffer) => {
      for (const body of this.decoder.push(chunk)) {
        this.framesReceived++;
        this.received.push(decodeLoosely(body));
      }
      this.wake();
    });
  }

  static connect(address: Address): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in address ? connect({ path: address.path }) : connect({ port: address.port, host: address.host ?? '127.0.0.1' });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new WireClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Connects and completes a handshake as `clientId`; resolves with the INIT_ACK. */
  static async open(address: Address, clientId: string, overrides: InitOverrides = {}): Promise<{ client: WireClient; ack: Message }> {
    const client = await WireClient.connect(address);
    const ack = await client.init(clientId, overrides);
    if (ack.name !== 'INIT_ACK') throw new Error(`handshake of ${clientId} answered by ${ack.name}: ${JSON.stringify(ack.payload)}`);
    return { client, ack };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  nextId(): string {
    return `c${++this.idSeq}`;
  }

  /** Sends a message; the header gets a fresh id unless it has one. Returns the id used. */
  send(type: MessageName, header: Partial<Header> = {}, payload?: unknown, encoding: Encoding = 'json'): string {
    const id = header.id ?? this.nextId();
    this.socket.write(encodeMessageFrame({ type, header: { ...header, id }, payload, encoding }));
    return id;
  }

  /** Sends a frame whose payload bytes are given as is (the broker never reads routed payloads). */
  sendBody(type: number, header: Header, payload: Uint8Array | string, encoding: Encoding = 'json'): void {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.socket.write(encodeFrame(encodeEnvelope(type, encoding, header, bytes)));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Sends a JSON payload without validating it first (for frames meant to be refused). */
  sendUnchecked(type: MessageName, header: Partial<Header>, payload: unknown): string {
    const id = header.id ?? this.nextId();
    this.sendBody(messageByName(type).code, { ...header, id }, JSON.stringify(payload));
    return id;
  }

  init(clientId: string, overrides: InitOverrides = {}): Promise<Message> {
    this.sendUnchecked('INIT', {}, { client_id: clientId, language: 'typescript', role: 'client', protocol_version: '1.0', encodings: ['json'], max_frame: 16_777_216, ...overrides });
    return this.next();
  }

  /** The next message, within `timeoutMs`; rejects on timeout or when the connection closes first. */
  async next(timeoutMs = WAIT_MS): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.closedFlag) throw new Error('connection closed while waiting for a message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.received.shift()!;
  }

  /** The next `count` messages. */
  async take(count: number, timeoutMs = WAIT_MS): Promise<Message[]> {
    const out: Message[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /** Waits until at least `count` frames have arrived in total. */
  async waitForFrames(count: number, timeoutMs = WAIT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.framesReceived < count) {
      if (this.closedFlag) throw new Error(`connection closed after ${this.framesReceived} of ${count} frames`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.framesReceived} of ${count} frames within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Resolves when the broker closes the connection; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closedPromise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the socket and waits until it is gone. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closedPromise;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
