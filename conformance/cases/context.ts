/**
 * What a case gets to work with: connections to the target (each recorded in the wire log),
 * handshaken sessions, and the shared verifiers that turn what the peer did into pass, fail or
 * timeout with expected-versus-actual wording.
 */
import { WireConnection, type Address, type PeerViolation, type Received } from '../wire/connection.js';
import { ClientGone, type Listener } from '../wire/listener.js';
import type { PeerProcess } from '../wire/peer-process.js';
import { CaseFailure, CaseTimeout } from './model.js';
import { PROTOCOL_VERSION, DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import type { Message, OutgoingMessage } from '../../reference/codec/message.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { messageByName } from '../../reference/codec/catalog.js';
import type { Encoding } from '../../reference/codec/body.js';
import type { Limits } from '../limits.js';

/** Default of --start-timeout. */
export const DEFAULT_START_TIMEOUT_MS = 15_000;

export interface ContextOptions {
  address: Address;
  /** Listen mode: where clients under test connect. */
  listener?: Listener;
  /** How long to wait for each expected frame or close. */
  timeoutMs: number;
  /** How long a started process (testee, client under test) may take to send its first frame: interpreters and loaded machines start slowly. */
  startTimeoutMs?: number;
  seed: number;
  token?: string;
  runId: string;
  /** The limits the peer runs with (--limit over spec/limits.json); the defaults when absent. */
  limits?: Limits;
  /** Starts a graceful shutdown of the peer under test (HS-17), where the harness can: the embedded broker. */
  shutdownPeer?: () => void;
}

export interface Session {
  conn: WireConnection;
  clientId: string;
  ack: Record<string, unknown>;
}

export interface TesteeSession {
  conn: WireConnection;
  /** The testee's INIT payload. */
  init: Record<string, unknown>;
  /** Encodings agreed at INIT_ACK. */
  encodings: Encoding[];
}

export interface ClientSession {
  conn: WireConnection;
  /** The client's INIT message. */
  init: Message;
}

/** How long a client under test may take to start and connect (a process start, not a reply). */
const CLIENT_CONNECT_MS = 15_000;

export class CaseContext {
  private readonly connections: WireConnection[] = [];
  private readonly children: (PeerProcess | undefined)[] = [];
  private counter = 0;
  private violated: ((v: PeerViolation) => void) | undefined;
  /**
   * Rejects with the first rule a peer broke that ends the case at once (a length prefix above
   * max_frame): the runner fails the case with it without waiting for the case to notice.
   */
  readonly violation: Promise<never>;

  constructor(readonly options: ContextOptions) {
    this.violation = new Promise<never>((_, reject) => (this.violated = reject));
    this.violation.catch(() => undefined); // observed by the runner's race; never a stray rejection
  }

  private track(conn: WireConnection): WireConnection {
    this.connections.push(conn);
    if (conn.violation) this.violated?.(conn.violation);
    conn.onViolation = (v) => this.violated?.(v);
    return conn;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** The wait for a started process's first frame: at least the frame timeout. */
  get startTimeoutMs(): number {
    return Math.max(this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, this.options.timeoutMs);
  }

  get limits(): Limits {
    return this.options.limits ?? DEFAULT_LIMITS;
  }

  get seed(): number {
    return this.options.seed;
  }

  /** A client id unique to this run, so reruns against one broker never collide. */
  uniqueId(prefix = 'h'): string {
    return `${prefix}-${this.options.runId}-${++this.counter}`;
  }

  /** A connection without handshake. */
  async open(label = `conn${this.connections.length + 1}`): Promise<WireConnection> {
    const conn = await WireConnection.open(this.options.address, label, this.options.timeoutMs);
    return this.track(conn);
  }

  /** The INIT payload the harness sends, with overrides. */
  initPayload(clientId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      client_id: clientId, language: 'typescript', role: 'harness', protocol_version: PROTOCOL_VERSION,
      encodings: ['json', 'cbor'], max_frame: DEFAULT_LIMITS.max_frame, name: 'concord-conformance',
      ...(this.options.token !== undefined ? { token: this.options.token } : {}),
      ...overrides,
    };
  }

  /** Opens a connection and completes the handshake. */
  async session(label?: string, overrides: Record<string, unknown> = {}): Promise<Session> {
    const conn = await this.open(label);
    const clientId = (overrides['client_id'] as string | undefined) ?? this.uniqueId();
    conn.send({ type: 'INIT', header: { id: 'init' }, payload: this.initPayload(clientId, overrides) });
    const ack = await this.expectMessage(conn, 'INIT_ACK answering INIT', (m) => m.name === 'INIT_ACK' && m.header.re === 'init');
    conn.answerPings = true;
    return { conn, clientId, ack: ack.payload as Record<string, unknown> };
  }

  /** Starts the testee (testee profile): awaits its INIT and answers INIT_ACK, choosing CBOR when it offers it. */
  async testee(label = 'testee'): Promise<TesteeSession> {
    const conn = await this.open(label);
    const init = await this.expectMessage(conn, 'INIT from the testee (TST-2)', (m) => m.name === 'INIT', this.startTimeoutMs);
    const p = init.payload as Record<string, unknown>;
    if (p['role'] !== 'testee') throw new CaseFailure('the testee\'s INIT does not declare role testee', 'testee', String(p['role']));
    const offered = (p['encodings'] as Encoding[]) ?? ['json'];
    const encodings: Encoding[] = offered.includes('cbor') ? ['json', 'cbor'] : ['json'];
    conn.send({ type: 'INIT_ACK', header: { id: 'harness-ack', re: init.header.id }, payload: {
      broker_id: 'concord-conformance', client_id: String(p['client_id']), protocol_version: PROTOCOL_VERSION,
      encoding: encodings.includes('cbor') ? 'cbor' : 'json', max_frame: DEFAULT_LIMITS.max_frame, max_in_flight: DEFAULT_LIMITS.max_in_flight,
      heartbeat_ms: DEFAULT_LIMITS.heartbeat_ms,
    } });
    return { conn, init: p, encodings };
  }

  /**
   * Listen mode: starts the client command (if any), accepts its connection and reads its INIT;
   * answers INIT_ACK unless `ack` is false.
   */
  async client(options: { ack?: boolean; label?: string } = {}): Promise<ClientSession> {
    const listener = this.options.listener;
    if (!listener) throw new Error('client(): the harness is not in listen mode');
    const peer = listener.launch();
    this.children.push(peer);
    const conn = this.track(await listener.accept(options.label ?? 'client', CLIENT_CONNECT_MS, peer).catch((e: unknown) => {
      if (e instanceof ClientGone) throw new CaseFailure(`expected the client to connect; ${e.message}`, 'a connection', 'the client ended');
      throw e;
    }));
    const init = await this.expectMessage(conn, 'INIT as the client\'s first frame (HS-1)', (m) => m.name === 'INIT', this.startTimeoutMs);
    if (options.ack !== false) this.ackClient(conn, init);
    return { conn, init };
  }

  /** Answers a client's INIT with INIT_ACK. */
  ackClient(conn: WireConnection, init: Message): void {
    const p = init.payload as Record<string, unknown>;
    conn.send({ type: 'INIT_ACK', header: { id: 'harness-ack', re: init.header.id }, payload: {
      broker_id: 'concord-conformance', client_id: String(p['client_id']), protocol_version: PROTOCOL_VERSION, encoding: 'json',
      max_frame: DEFAULT_LIMITS.max_frame, max_in_flight: DEFAULT_LIMITS.max_in_flight, heartbeat_ms: DEFAULT_LIMITS.heartbeat_ms,
    } });
  }

  /** Records a connection the case opened itself (its wire log joins the case's; close() ends it). */
  adopt(conn: WireConnection): WireConnection {
    return this.track(conn);
  }

  /** All wire logs of this case, connection by connection. */
  wireLog(): { connection: string; entries: WireConnection['log'] }[] {
    return this.connections.map((c) => ({ connection: c.label, entries: c.log }));
  }

  close(): void {
    for (const c of this.connections) c.destroy();
    for (const child of this.children) this.options.listener?.stop(child);
  }

  /** The next received item, failing on timeout. */
  async receive(conn: WireConnection, what: string, timeoutMs = this.options.timeoutMs): Promise<Received> {
    const r = await conn.next(timeoutMs);
    if (r.kind === 'timeout') throw new CaseTimeout(`expected ${what}; nothing arrived within ${timeoutMs} ms`);
    return r;
  }

  /** Waits for a message satisfying `accept`; anything else first is a failure. */
  async expectMessage(conn: WireConnection, what: string, accept: (m: Message) => boolean, timeoutMs?: number): Promise<Message> {
    const r = await this.receive(conn, what, timeoutMs);
    if (r.kind === 'closed') throw new CaseFailure(`expected ${what}; the peer closed the connection (${r.reason})`, what, 'connection closed');
    if (r.kind === 'invalid') throw new CaseFailure(`expected ${what}; the peer sent a frame that breaks the spec: ${r.error.code ?? ''} ${r.error.message}`, what, Buffer.from(r.bytes).toString('hex').slice(0, 200));
    if (r.kind !== 'message') throw new CaseFailure(`expected ${what}`);
    if (!accept(r.message)) throw new CaseFailure(`expected ${what}; got ${summarize(r.message)}`, what, summarize(r.message));
    return r.message;
  }

  /** Expects ERROR `code` (with `re` when given), then the close or the open connection the registry implies. */
  async expectError(conn: WireConnection, code: string, options: { re?: string; closes: boolean }): Promise<Message> {
    const what = `ERROR ${code}${options.re !== undefined ? ` with re=${JSON.stringify(options.re)}` : ''}`;
    const m = await this.expectMessage(conn, what, (x) => x.name === 'ERROR');
    const payload = m.payload as { code: string; definite: boolean };
    if (payload.code !== code) throw new CaseFailure(`expected ${what}; got ERROR ${payload.code}`, code, payload.code);
    if (options.re !== undefined && m.header.re !== options.re) throw new CaseFailure(`expected ${what}; the ERROR has re=${JSON.stringify(m.header.re)}`, options.re, String(m.header.re));
    if (options.closes) await this.expectClosed(conn, `the connection closed after ERROR ${code}`);
    else await this.expectOpen(conn, `the connection still open after ERROR ${code}`);
    return m;
  }

  /** Expects the peer to close the connection (anything received first is a failure). */
  async expectClosed(conn: WireConnection, what = 'the connection to close'): Promise<void> {
    const r = await this.receive(conn, what);
    if (r.kind === 'closed') return;
    throw new CaseFailure(`expected ${what}; got ${r.kind === 'message' ? summarize(r.message) : 'an invalid frame'}`, 'close', r.kind);
  }

  /**
   * Proves the connection is usable: a PING answered with `re` set to its id, by PONG (a broker) or
   * by its echo, another PING (a testee, TST-4).
   */
  async expectOpen(conn: WireConnection, what = 'the connection to stay open', answer: 'PONG' | 'PING' = 'PONG'): Promise<void> {
    const id = `probe-${++this.counter}`;
    conn.send({ type: 'PING', header: { id } });
    await this.expectMessage(conn, `${what} (${answer} with re=${id})`, (m) => m.name === answer && m.header.re === id);
  }

  /** Sends a frame whose payload is the given JSON text, unchecked (for payloads that must be refused). */
  sendUnchecked(conn: WireConnection, type: string, header: Message['header'], payloadJson: string): void {
    const body = encodeEnvelope(messageByName(type).code, 'json', header, new TextEncoder().encode(payloadJson));
    conn.sendRaw(encodeFrame(body), `${type} id=${JSON.stringify(header.id)} with payload ${payloadJson.slice(0, 80)}`);
  }

  /** Sends a request and returns its id. */
  sendRequest(conn: WireConnection, message: Omit<OutgoingMessage, 'header'> & { header?: Partial<OutgoingMessage['header']> }, encoding?: Encoding): string {
    const id = message.header?.id ?? `r-${++this.counter}`;
    conn.send({ ...message, header: { ...message.header, id }, ...(encoding ? { encoding } : {}) });
    return id;
  }
}

export function summarize(m: Message): string {
  const code = m.name === 'ERROR' ? ` ${(m.payload as { code: string }).code}: ${(m.payload as { message: string }).message}` : '';
  return `${m.name} (id=${JSON.stringify(m.header.id)}${m.header.re !== undefined ? `, re=${JSON.stringify(m.header.re)}` : ''})${code}`;
}
