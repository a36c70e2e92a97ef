/**
 * What a case gets to work with: connections to the target (each recorded in the wire log),
 * handshaken sessions, and the shared verifiers that turn what the peer did into pass, fail or
 * timeout with expected-versus-actual wording.
 */
import { harnessInitAck } from './init-ack.js';
import type { WireConnection, PeerViolation, Received } from '../wire/connection.js';
import { ClientGone, type Listener } from '../wire/listener.js';
import { socketOf, type PeerTarget } from '../wire/peer-target.js';
import type { PeerProcess } from '../wire/peer-process.js';
import type { PooledTestee, TesteePool } from '../wire/testee-pool.js';
import { CaseFailure, CaseTimeout } from './model.js';
import { PROTOCOL_VERSION, DEFAULT_LIMITS, ERRORS } from '../../spec/generated/catalog.js';
import type { Message, OutgoingMessage } from '../../reference/codec/message.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { messageByName } from '../../reference/codec/catalog.js';
import type { Encoding } from '../../reference/codec/body.js';
import type { Limits } from '../limits.js';
import { auditFrame, auditVersion } from './sender-audit.js';
import { negotiatedVersion } from '../../reference/codec/versions.js';
import type { ErrorName, MessageName, MessageNames } from '../../spec/generated/catalog.js';
import type { MessageMatch, ScriptRecorder, StepBody } from '../replay/script.js';
import type { CaseFaults } from '../faults/schedule.js';
import { cutFrame, dropMidFrame } from '../faults/cut.js';

/** Default of --start-timeout. */
export const DEFAULT_START_TIMEOUT_MS = 15_000;

export interface ContextOptions {
  /** The peer under test: where the case's connections go (listen mode: where its clients connect). */
  target: PeerTarget;
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
  /** Testee processes handed from case to case (testee profile); without it every testee() starts one. */
  testees?: TesteePool;
  /** Records the case as a replay bundle's script (conformance/replay/). */
  recorder?: ScriptRecorder;
  /** --faults: how each connection of the case is perturbed (drawn from the seed, or a recorded schedule). */
  faults?: CaseFaults;
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

const REGISTRY = new Map(ERRORS.map((e) => [e.name as string, e]));

/**
 * Ids handed out per run, not per case: a broker may release a client id a little after the close
 * (the spec allows it), so no two cases of one run may reuse one.
 */
const runCounters = new Map<string, number>();

/** The testee profile's generic echo and refusal rules: a case that exercises a more specific statement credits that one instead. */
const GENERIC = new Set(['TST-4', 'TST-5']);

/** One broken rule: the statement it breaks and what differed. */
export interface RuleFailure { statement: string; message: string; expected?: string; actual?: string }

/**
 * Collects every rule a case finds broken, so that a case with several checks reports all of
 * them (each with its statement id) in one CaseFailure rather than stopping at the first.
 */
export class Verdict {
  readonly failures: RuleFailure[] = [];

  fail(statement: string, message: string, expected?: string, actual?: string): void {
    this.failures.push({ statement, message, ...(expected !== undefined ? { expected } : {}), ...(actual !== undefined ? { actual } : {}) });
  }

  /** Records a failure unless `ok`. */
  check(ok: boolean, statement: string, message: string, expected?: string, actual?: string): boolean {
    if (!ok) this.fail(statement, message, expected, actual);
    return ok;
  }

  /**
   * Runs a check that may throw; a CaseFailure it throws is recorded, anything else propagates.
   * With `relabel`, a generic echo or refusal failure (TST-4, TST-5) is credited to `statement`
   * (an echo that differs where the case exercises ENC-14 breaks ENC-14); specific ones are kept.
   */
  async collect(statement: string, check: () => Promise<unknown>, relabel = false): Promise<void> {
    try {
      await check();
    } catch (e) {
      if (e instanceof RulesFailure) this.failures.push(...e.failures.map((f) => (relabel && GENERIC.has(f.statement) ? { ...f, statement, message: f.message.replace(/^\[[A-Z]+-[0-9]+\] /, '') } : f)));
      else if (e instanceof CaseFailure) this.fail(statement, e.message, e.expected, e.actual);
      else throw e;
    }
  }

  /** Throws one CaseFailure listing every recorded failure. */
  done(): void {
    if (this.failures.length > 0) throw new RulesFailure(this.failures);
  }
}

/** A case failure naming every broken rule with its statement id. */
export class RulesFailure extends CaseFailure {
  constructor(readonly failures: RuleFailure[]) {
    super(
      failures.length === 1 ? tagged(failures[0]!) : `${failures.length} rules broken: ${failures.map((f, i) => `(${i + 1}) ${tagged(f)}`).join('; ')}`,
      failures.map((f) => f.expected).filter((x) => x !== undefined).join(' | ') || undefined,
      failures.map((f) => f.actual).filter((x) => x !== undefined).join(' | ') || undefined,
    );
  }
}

function tagged(f: RuleFailure): string {
  return f.message.startsWith(`[${f.statement}]`) ? f.message : `[${f.statement}] ${f.message}`;
}

/** What expectError checks besides the code; every field a statement names. */
export interface ErrorExpectation {
  /** The id the ERROR's `re` must equal (ERR-3); null when the faulty frame had no readable id, so `re` must be absent. */
  re?: string | null;
  /** Whether the connection must close after it; the registry's `closes` when not given (ERR-4, ERR-5). */
  closes?: boolean;
  /** The `details.path` required (BODY-3, ARR-7, ENC-4, ENC-11, ERR-9). */
  path?: string;
  /** The `details.rule` required (ARR-7, ENC-4, ENC-13, ERR-9). */
  rule?: string;
  /** The statement that requires this ERROR, named when it is missing or has another code. */
  statement?: string;
  /** How a still-open connection is shown: a broker answers PING with PONG, a testee echoes it (TST-4). */
  probe?: MessageNames<'PONG' | 'PING'>;
  /** Statements the path and rule come from (default ERR-9 for SCHEMA_VIOLATION, ARR-7 for INVALID_ARRAY, BODY-3 for INVALID_HEADER). */
  detailsStatement?: string;
}

/** The statement that fixes `details.path` and `details.rule` for an error code. */
export function detailsStatementOf(code: ErrorName): string {
  return code === 'INVALID_HEADER' ? 'BODY-3' : code === 'INVALID_ARRAY' ? 'ARR-7' : code === 'SCHEMA_VIOLATION' ? 'ERR-9' : code === 'INVALID_PAYLOAD' ? 'ENC-11' : 'FIX-3';
}

export class CaseContext {
  private readonly connections: WireConnection[] = [];
  /** Connections opened so far, counted when asked for: with several entry points (a cluster), the k-th goes to entry k mod N. */
  private opened = 0;
  /** The place index each connection was opened with (openBeside reaches the same broker again). */
  private readonly places = new Map<WireConnection, number>();
  private readonly children: (PeerProcess | undefined)[] = [];
  /** What a case's helpers started and must end with the case (a worker's process, by PID). */
  private readonly closers: (() => void)[] = [];
  private violated: ((v: PeerViolation) => void) | undefined;
  /**
   * Rejects with the first rule a peer broke that ends the case at once (a length prefix above
   * max_frame): the runner fails the case with it without waiting for the case to notice.
   */
  readonly violation: Promise<never>;
  /** Sender-rule audits of what a peer writes, by connection. */
  /** Sender rules checked on every frame a peer writes to the harness playing its broker (sender-audit.ts). */
  private readonly auditors = new Map<WireConnection, (bytes: Uint8Array, message: Message | undefined) => RuleFailure[]>();
  /** Testee sessions of this case that the pool may hand on when the case ends well. */
  private readonly testees: PooledTestee[] = [];

  constructor(readonly options: ContextOptions) {
    this.violation = new Promise<never>((_, reject) => (this.violated = reject));
    this.violation.catch(() => undefined); // observed by the runner's race; never a stray rejection
  }

  private track(conn: WireConnection, how: 'open' | 'adopted' = 'open', unperturbed?: string): WireConnection {
    const faults = this.options.faults;
    if (faults && unperturbed !== undefined) conn.resetLog(`no faults on connection ${this.connections.length} (${conn.label}) of this case: ${unperturbed}`);
    else if (faults) conn.perturb(faults.forConnection(this.connections.length, conn.label), `faults on connection ${this.connections.length} (${conn.label}) of this case`);
    this.connections.push(conn);
    const recorder = this.options.recorder;
    if (recorder) {
      recorder.attach(conn, how);
      conn.observer = { sent: (bytes, note, m) => recorder.sent(conn, bytes, note, m as Parameters<ScriptRecorder['sent']>[3]), read: (r) => recorder.read(conn, readItem(r)), ended: (how) => recorder.ended(conn, how) };
    }
    if (conn.violation) this.violated?.(conn.violation);
    conn.onViolation = (v) => this.violated?.(v);
    return conn;
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** Listen mode: where clients under test connect. */
  private get listener(): Listener | undefined {
    return this.options.target.kind === 'listen' ? this.options.target.listener : undefined;
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

  /** The next number of this run (shared by every case of the run). */
  private next(): number {
    const n = (runCounters.get(this.options.runId) ?? 0) + 1;
    runCounters.set(this.options.runId, n);
    return n;
  }

  /** A client id unique to this run (across all its cases), so no case reuses an id another case's connection held. */
  uniqueId(prefix = 'h'): string {
    return `${prefix}-${this.options.runId}-${this.next()}`;
  }

  /** Runs a helper as one step of the case's replay script (or just runs it when nothing records): what it reads and sends inside is that step. */
  declare<T>(body: StepBody, run: () => Promise<T>): Promise<T> {
    return this.options.recorder ? this.options.recorder.declare(body, run) : run();
  }

  /** The recorder of this case, for a property case that keeps only its smallest counterexample's run. */
  get recorder(): ScriptRecorder | undefined {
    return this.options.recorder;
  }

  /** A collector for a case with several checks: `done()` throws one failure listing them all. */
  verdict(): Verdict {
    return new Verdict();
  }

  /**
   * A connection without handshake. `unperturbed` (the reason) keeps --faults off it: for bytes whose
   * outcome the spec defines only when they arrive as written (a partial frame that must be refused
   * whole, where later chunks would meet a closed socket).
   */
  async open(label = `conn${this.connections.length + 1}`, unperturbed?: string): Promise<WireConnection> {
    return this.track(await this.connect(label), 'open', unperturbed);
  }

  /**
   * A connection without handshake to the broker `beside` reached: in a cluster, the same entry point,
   * for a case about one broker's own state (its id), which another broker of the cluster does not share.
   */
  async openBeside(beside: WireConnection, label = `conn${this.connections.length + 1}`): Promise<WireConnection> {
    const index = this.places.get(beside);
    if (index === undefined) throw new Error(`openBeside: connection ${beside.label} was not opened by this case`);
    return this.track(await this.connect(label, index), 'open');
  }

  /** A session (handshake done, PINGs answered) on the broker `beside` reached: see openBeside. */
  async sessionBeside(beside: WireConnection, label = `conn${this.connections.length + 1}`): Promise<Session> {
    const clientId = this.uniqueId(label);
    const conn = await this.openBeside(beside, label);
    conn.send({ type: 'INIT', header: { id: 'init' }, payload: this.initPayload(clientId) });
    const ack = await this.expectMessage(conn, `INIT_ACK answering ${label}'s INIT (HS-6)`, (m) => m.name === 'INIT_ACK' && m.header.re === 'init');
    conn.answerPings = true;
    return { conn, clientId, ack: ack.payload as Record<string, unknown> };
  }

  /** A new connection, not yet tracked: for an exec peer, a process started now. `index` picks a cluster's entry (k mod N). */
  private async connect(label: string, index = this.opened++): Promise<WireConnection> {
    const conn = await this.options.target.open(label, this.options.timeoutMs, { index, seed: this.options.seed });
    this.places.set(conn, index);
    return conn;
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
    const clientId = (overrides['client_id'] as string | undefined) ?? this.uniqueId();
    // The run's token stays out of the script: a replay sends its own.
    const { token, client_id: _id, ...rest } = overrides;
    const recorded = token !== undefined && token !== this.options.token ? { ...rest, token } : rest;
    return this.declare({ op: 'session', client_id: clientId, overrides: recorded }, () => this.handshake(clientId, label, overrides));
  }

  private async handshake(clientId: string, label: string | undefined, overrides: Record<string, unknown>): Promise<Session> {
    const conn = await this.open(label);
    const init = this.initPayload(clientId, overrides);
    const cut = await this.cutBefore(conn, init);
    conn.send({ type: 'INIT', header: { id: 'init' }, payload: init });
    const ack = await this.expectMessage(conn, cut ? 'INIT_ACK answering INIT (HS-6) with the client id of a connection that ended inside a frame (FRM-7, HS-19)' : 'INIT_ACK answering INIT (HS-6)', (m) => m.name === 'INIT_ACK' && m.header.re === 'init', undefined, { start: true });
    conn.answerPings = true;
    return { conn, clientId, ack: ack.payload as Record<string, unknown> };
  }

  /**
   * A `cut` fault before a session's INIT (--faults): a connection with the same client id drops
   * mid-frame first. Only against one broker over TCP or a Unix socket, where the reconnect meets
   * the broker that saw the disconnect. Returns whether it happened.
   */
  private async cutBefore(conn: WireConnection, init: Record<string, unknown>): Promise<boolean> {
    const target = this.options.target;
    const socket = target.kind === 'cluster' ? undefined : socketOf(target);
    if (!this.options.faults || socket === undefined) return false;
    const bytes = conn.cutBeforeInit(cutFrame().length);
    if (bytes === 0) return false;
    await dropMidFrame({ open: () => socket.open(`${conn.label} (cut)`, this.options.timeoutMs), init, bytes, timeoutMs: this.options.timeoutMs, log: conn });
    return true;
  }

  /**
   * Starts the testee (testee profile): awaits its INIT and answers INIT_ACK, choosing CBOR when it
   * offers it unless `json` is asked. Every frame the testee writes afterwards is audited for the
   * sender rules visible only in its bytes (FRM-4, BODY-8, ENC-2, ENC-7, ENC-9, ENC-10).
   */
  testee(label = 'testee', options: { json?: boolean } = {}): Promise<TesteeSession> {
    return this.declare({ op: 'testee', json: options.json === true }, () => this.startTestee(label, options));
  }

  private async startTestee(label: string, options: { json?: boolean }): Promise<TesteeSession> {
    const jsonOnly = options.json === true;
    const reused = await this.options.testees?.take(jsonOnly);
    if (reused) {
      this.track(reused.conn);
      return this.auditTestee(reused);
    }
    // A process the pool started ahead (not under --faults, whose reader schedule starts with the case; not over FIFOs).
    const pool = this.options.testees;
    const ahead = pool && !this.options.faults && this.options.target.kind === 'exec';
    const conn = ahead ? this.track(await pool.fresh(label, (l) => this.connect(l)), 'open') : await this.open(label);
    const init = await this.expectMessage(conn, 'INIT from the testee (TST-2)', (m) => m.name === 'INIT', this.startTimeoutMs, { start: true });
    const p = init.payload as Record<string, unknown>;
    if (p['role'] !== 'testee') throw new CaseFailure('the testee\'s INIT does not declare role testee', 'testee', String(p['role']));
    const offered = (p['encodings'] as Encoding[]) ?? ['json'];
    const encodings: Encoding[] = offered.includes('cbor') && !jsonOnly ? ['json', 'cbor'] : ['json'];
    conn.send(harnessInitAck(init, encodings.includes('cbor') ? 'cbor' : 'json'));
    return this.auditTestee({ conn, init: p, encodings, jsonOnly });
  }

  private auditTestee(t: PooledTestee): TesteeSession {
    this.testees.push(t);
    const negotiated = negotiatedVersion(t.init['protocol_version']);
    this.auditors.set(t.conn, (bytes, m) => [...auditFrame(bytes, { maxFrame: DEFAULT_LIMITS.max_frame, cbor: t.encodings.includes('cbor') }), ...(m ? auditVersion(m, negotiated) : [])]);
    return { conn: t.conn, init: t.init, encodings: t.encodings };
  }

  /**
   * Listen mode: starts the client command (if any), accepts its connection and reads its INIT;
   * answers INIT_ACK unless `ack` is false.
   */
  client(options: { ack?: boolean; label?: string } = {}): Promise<ClientSession> {
    return this.declare({ op: 'client', ack: options.ack !== false }, () => this.acceptClient(options));
  }

  private async acceptClient(options: { ack?: boolean; label?: string }): Promise<ClientSession> {
    const listener = this.listener;
    if (!listener) throw new Error('client(): the harness is not in listen mode');
    const peer = listener.launch();
    this.children.push(peer);
    const conn = this.track(await listener.accept(options.label ?? 'client', CLIENT_CONNECT_MS, peer).catch((e: unknown) => {
      if (e instanceof ClientGone) throw new CaseFailure(`expected the client to connect; ${e.message}`, 'a connection', 'the client ended');
      throw e;
    }));
    const init = await this.expectMessage(conn, 'INIT as the client\'s first frame (HS-1)', (m) => m.name === 'INIT', this.startTimeoutMs, { start: true });
    if (options.ack !== false) this.ackClient(conn, init);
    return { conn, init };
  }

  /** Answers a client's INIT with INIT_ACK. */
  ackClient(conn: WireConnection, init: Message, encoding: Encoding = 'json'): void {
    const ack = harnessInitAck(init, encoding);
    const negotiated = String((ack.payload as { protocol_version: string }).protocol_version);
    this.auditors.set(conn, (_bytes, m) => (m ? auditVersion(m, negotiated) : []));
    conn.send(ack);
  }

  /** Records a connection the case opened itself (its wire log joins the case's; close() ends it). */
  adopt(conn: WireConnection): WireConnection {
    return this.track(conn, 'adopted');
  }

  /** All wire logs of this case, connection by connection. */
  wireLog(): { connection: string; entries: WireConnection['log'] }[] {
    return this.connections.map((c) => ({ connection: c.label, entries: c.log }));
  }

  /** Ends the case's connections; with `handOn` (the case passed or was skipped) the pool may keep its testee. */
  close(handOn = false): void {
    const pool = this.options.testees;
    // The case is over: what happens to its connections now is not part of its script.
    for (const c of this.connections) c.observer = undefined;
    if (pool && handOn) for (const t of this.testees) pool.give(t);
    for (const c of this.connections) if (!(pool && handOn && this.testees.some((t) => t.conn === c))) c.destroy();
    for (const child of this.children) this.listener?.stop(child);
    for (const end of this.closers.splice(0)) end();
  }

  /** Runs `end` when the case closes, whatever its outcome. */
  onClose(end: () => void): void {
    this.closers.push(end);
  }

  /**
   * The next received item. A required frame or close still missing after the bound (the
   * statement's, or --timeout) is a failure of the peer; only a peer that has sent nothing at all
   * when its first frame is awaited (`start`) leaves the verdict open (a timeout, exit 2).
   */
  async receive(conn: WireConnection, what: string, timeoutMs = this.options.timeoutMs, options: { start?: boolean } = {}): Promise<Received> {
    const r = await conn.next(timeoutMs);
    if (r.kind === 'timeout') {
      const silent = !conn.log.some((e) => e.dir === 'in');
      if (options.start && silent) throw new CaseTimeout(`expected ${what}; nothing arrived within ${timeoutMs} ms`);
      throw new CaseFailure(`expected ${what}; it was still missing after ${timeoutMs} ms`, what, `nothing within ${timeoutMs} ms`);
    }
    return r;
  }

  /**
   * Waits for a message satisfying `accept`; anything else first is a failure. A MessageMatch (a name
   * and the id it answers) is written into a replay bundle as it is; a function is a check in code.
   */
  expectMessage(conn: WireConnection, what: string, accept: ((m: Message) => boolean) | MessageMatch, timeoutMs?: number, options: { start?: boolean } = {}): Promise<Message> {
    const body: StepBody = typeof accept === 'function' ? { op: 'opaque', what: `expected ${what} (a check in code)` }
      : { op: 'expect', what, match: accept, ...(timeoutMs !== undefined ? { timeout_ms: timeoutMs } : {}), ...(options.start ? { start: true } : {}) };
    return this.declare({ ...body, conn: this.options.recorder?.connOf(conn) }, () => this.awaitMessage(conn, what, typeof accept === 'function' ? accept : matcher(accept), timeoutMs, options));
  }

  private async awaitMessage(conn: WireConnection, what: string, accept: (m: Message) => boolean, timeoutMs?: number, options: { start?: boolean } = {}): Promise<Message> {
    const r = await this.receive(conn, what, timeoutMs, options);
    // Sender rules first: a frame that breaks one may also be undecodable (a tag other than 49344).
    const audit = r.kind === 'message' || r.kind === 'invalid' ? this.auditors.get(conn)?.(r.bytes, r.kind === 'message' ? r.message : undefined) ?? [] : [];
    if (audit.length > 0) throw new RulesFailure(audit.map((f) => ({ ...f, message: `${f.message} (in ${r.kind === 'message' ? summarize(r.message) : 'a frame the harness cannot decode'})` })));
    if (r.kind === 'closed') throw new CaseFailure(`expected ${what}; the peer closed the connection (${r.reason})`, what, 'connection closed');
    if (r.kind === 'invalid') throw new CaseFailure(`expected ${what}; the peer sent a frame that breaks the spec: ${r.error.code ?? ''} ${r.error.message}`, what, Buffer.from(r.bytes).toString('hex').slice(0, 200));
    if (r.kind !== 'message') throw new CaseFailure(`expected ${what}`);
    if (!accept(r.message)) throw new CaseFailure(`expected ${what}; got ${summarize(r.message)}`, what, summarize(r.message));
    return r.message;
  }

  /**
   * Expects ERROR `code` and checks every field a statement names: the code (the case's statement),
   * `definite` as the registry gives it (ERR-2), `re` (ERR-3), `details.path` and `details.rule` when
   * expected (BODY-3, ARR-7, ENC-4, ENC-11, ENC-13, ERR-9), then the close or the open connection
   * the registry implies (ERR-4, ERR-5). Every mismatch is reported, each with its statement id.
   */
  expectError(conn: WireConnection, code: ErrorName, options: ErrorExpectation = {}): Promise<Message> {
    return this.declare({ op: 'error', conn: this.options.recorder?.connOf(conn), code, options }, () => this.awaitError(conn, code, options));
  }

  private async awaitError(conn: WireConnection, code: ErrorName, options: ErrorExpectation): Promise<Message> {
    const entry = REGISTRY.get(code);
    if (!entry) throw new Error(`expectError: ${code} is not in the error registry`);
    const closes = options.closes ?? entry.closes;
    const statement = options.statement ?? 'ERR-2';
    const what = `ERROR ${code}${typeof options.re === 'string' ? ` with re=${JSON.stringify(options.re)}` : ''}${options.statement ? ` (${options.statement})` : ''}`;
    const m = await this.expectMessage(conn, what, (x) => x.name === 'ERROR');
    const v = this.verdict();
    const payload = m.payload as { code?: unknown; definite?: unknown; details?: { path?: unknown; rule?: unknown } };
    v.check(payload.code === code, statement, `expected ${what}; got ERROR ${String(payload.code)}`, code, String(payload.code));
    if (typeof payload.code === 'string' && !REGISTRY.has(payload.code)) v.fail('ERR-2', `the ERROR code ${payload.code} is not a name of the error registry`, 'a registry name', payload.code);
    v.check(payload.definite === entry.definite, 'ERR-2', `ERROR ${code} must carry definite ${entry.definite} (the registry's value); it carries ${JSON.stringify(payload.definite)}`, String(entry.definite), JSON.stringify(payload.definite));
    if (options.re !== undefined) {
      const want = options.re === null ? 'no re (the faulty frame had no readable id)' : `re=${JSON.stringify(options.re)}`;
      v.check(options.re === null ? m.header.re === undefined : m.header.re === options.re, 'ERR-3', `ERROR ${code} must carry ${want}; it has ${m.header.re === undefined ? 'none' : `re=${JSON.stringify(m.header.re)}`}`, want, m.header.re === undefined ? 'no re' : `re=${JSON.stringify(m.header.re)}`);
    }
    const details = options.detailsStatement ?? detailsStatementOf(code);
    if (options.path !== undefined) v.check(payload.details?.path === options.path, details, `ERROR ${code} must give details.path ${JSON.stringify(options.path)}; it gives ${JSON.stringify(payload.details?.path)}`, JSON.stringify(options.path), JSON.stringify(payload.details?.path));
    if (options.rule !== undefined) v.check(payload.details?.rule === options.rule, details, `ERROR ${code} must give details.rule ${JSON.stringify(options.rule)}; it gives ${JSON.stringify(payload.details?.rule)}`, JSON.stringify(options.rule), JSON.stringify(payload.details?.rule));
    if (closes) await v.collect('ERR-4', () => this.expectClosed(conn, `the connection closed after ERROR ${code} (ERR-4)`));
    else await v.collect('ERR-5', () => this.expectOpen(conn, `the connection still open after ERROR ${code} (ERR-5)`, options.probe ?? 'PONG'));
    v.done();
    return m;
  }

  /** Expects the peer to close the connection (anything received first is a failure). */
  expectClosed(conn: WireConnection, what = 'the connection to close'): Promise<void> {
    return this.declare({ op: 'closed', conn: this.options.recorder?.connOf(conn), what }, () => this.awaitClose(conn, what));
  }

  private async awaitClose(conn: WireConnection, what: string): Promise<void> {
    const r = await this.receive(conn, what);
    if (r.kind === 'closed') return;
    throw new CaseFailure(`expected ${what}; got ${r.kind === 'message' ? summarize(r.message) : 'an invalid frame'}`, 'close', r.kind);
  }

  /**
   * Proves the connection is usable: a PING answered with `re` set to its id, by PONG (a broker) or
   * by its echo, another PING (a testee, TST-4).
   */
  expectOpen(conn: WireConnection, what = 'the connection to stay open', answer: MessageNames<'PONG' | 'PING'> = 'PONG'): Promise<void> {
    return this.declare({ op: 'probe-open', conn: this.options.recorder?.connOf(conn), what, answer }, () => this.probeOpen(conn, what, answer));
  }

  private async probeOpen(conn: WireConnection, what: string, answer: MessageNames<'PONG' | 'PING'>): Promise<void> {
    const id = `probe-${this.next()}`;
    conn.send({ type: 'PING', header: { id } });
    await this.expectMessage(conn, `${what} (${answer} with re=${id})`, (m) => m.name === answer && m.header.re === id);
  }

  /** Sends a frame whose payload is the given JSON text, unchecked (for payloads that must be refused). */
  sendUnchecked(conn: WireConnection, type: MessageName, header: Message['header'], payloadJson: string): void {
    const body = encodeEnvelope(messageByName(type).code, 'json', header, new TextEncoder().encode(payloadJson));
    conn.sendRaw(encodeFrame(body), `${type} id=${JSON.stringify(header.id)} with payload ${payloadJson.slice(0, 80)}`);
  }

  /** Sends a request and returns its id. */
  sendRequest(conn: WireConnection, message: Omit<OutgoingMessage, 'header'> & { header?: Partial<OutgoingMessage['header']> }, encoding?: Encoding): string {
    const id = message.header?.id ?? `r-${this.next()}`;
    conn.send({ ...message, header: { ...message.header, id }, ...(encoding ? { encoding } : {}) });
    return id;
  }
}

/** A MessageMatch as a test of a message. */
export function matcher(match: MessageMatch): (m: Message) => boolean {
  const names = match.name === undefined ? undefined : Array.isArray(match.name) ? match.name : [match.name];
  return (m) => (names === undefined || names.includes(m.name)) && (match.re === undefined || m.header.re === match.re) && (match.src === undefined || m.header.src === match.src);
}

/** What a recorder keeps of a received item. */
function readItem(r: Received): Parameters<ScriptRecorder['read']>[1] {
  if (r.kind === 'message') return { kind: 'message', bytes: r.bytes, id: r.message.header.id };
  if (r.kind === 'invalid') return { kind: 'invalid', bytes: r.bytes, note: r.error.message };
  return r.kind === 'closed' ? { kind: 'closed', note: r.reason } : { kind: 'timeout' };
}

export function summarize(m: Message): string {
  const code = m.name === 'ERROR' ? ` ${(m.payload as { code: string }).code}: ${(m.payload as { message: string }).message}` : '';
  return `${m.name} (id=${JSON.stringify(m.header.id)}${m.header.re !== undefined ? `, re=${JSON.stringify(m.header.re)}` : ''})${code}`;
}
