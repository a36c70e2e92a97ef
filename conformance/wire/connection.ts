/**
 * A harness-side connection to the peer under test: sends frames (well-formed or deliberately
 * broken bytes), yields what comes back one message at a time, and records every byte both ways
 * in a wire log that failure reports show.
 */
import { connect, type Socket } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessageFrame, type Message, type OutgoingMessage } from '../../reference/codec/message.js';
import { ProtocolError } from '../../reference/codec/errors.js';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { redactBytes, redactText } from '../report/redact.js';
import { startPeerProcess, type PeerProcess } from './peer-process.js';
import { FaultyWriter } from '../faults/writer.js';
import { describeStep, type ConnectionFaults } from '../faults/schedule.js';

/** One line of a connection's wire log: a frame sent or received, or an event. */
export interface WireEntry {
  /** Milliseconds since the connection opened. */
  t: number;
  /** Sent by the harness, received from the peer, or an event of the connection (opened, closed). */
  dir: 'out' | 'in' | 'event';
  /** The bytes, in hex, when the entry carries any. */
  hex?: string;
  /** A one-line reading of the frame (type name and id) or the event. */
  note: string;
}

/** Whole frames and their bytes (length prefixes included) read on a connection. */
export interface InboundCount { frames: number; bytes: number }

/** What the peer sent next: a decoded message, an undecodable frame, or the end of the stream. */
export type Received =
  | { kind: 'message'; message: Message; bytes: Uint8Array; /** The connection's traffic counts before this frame. */ before: InboundCount }
  | { kind: 'invalid'; error: ProtocolError; bytes: Uint8Array }
  | { kind: 'closed'; reason: string }
  | { kind: 'timeout' };

/** The byte streams of a connection, and how to end it. */
export interface Io {
  input: Readable;
  output: Writable;
  destroy(): void;
  /** The child process behind an exec connection. */
  child?: ChildProcess;
  /** The peer process (its group, its stderr) when the harness started it. */
  peer?: PeerProcess;
}

const MAX_LOGGED_BYTES = 512;
/** Received items queued unread at which the harness stops reading from the peer, and where it reads again. */
const QUEUE_PAUSE = 4096;
const QUEUE_RESUME = 1024;
/** Wire-log entries kept per connection: a flooding peer must not grow the report without bound. */
const MAX_LOG_ENTRIES = 2000;

/** Told what the case does on a connection (a replay bundle's recorder, conformance/replay/script.ts). */
export interface WireObserver {
  sent(bytes: Uint8Array, note: string, message?: OutgoingMessage): void;
  read(r: Received): void;
  ended(how: 'half-close' | 'close'): void;
}

/** The target could not be reached at all (refused, unreachable, or no answer to the TCP connect). */
export class ConnectError extends Error {
  override name = 'ConnectError';
}

/** The peer broke a rule that ends the case at once (a length prefix above max_frame, FRM-3). */
export class PeerViolation extends Error {
  override name = 'PeerViolation';
  constructor(message: string, readonly statement: string, readonly expected: string, readonly actual: string) {
    super(message);
  }
}

/**
 * The most a peer may send in one frame: the max_frame the harness announces (in its INIT and
 * INIT_ACK). A longer length prefix is refused before any of its body is read (FRM-3).
 */
export const HARNESS_MAX_FRAME = DEFAULT_LIMITS.max_frame;

export class WireConnection {
  /** This connection's wire log (a fresh array after resetLog, so a finished case keeps its own). */
  log: WireEntry[] = [];
  private opened = Date.now();
  private readonly decoder = new FrameDecoder({ maxFrame: HARNESS_MAX_FRAME });
  private readonly queue: Received[] = [];
  private waiter: ((r: Received) => void) | null = null;
  private ended = false;
  private ourSideEnded = false;
  private answering = false;
  private pongs = 0;
  private dropped = 0;
  private takenCount = 0;
  /** Set when the peer broke a rule that ends the case at once. */
  violation: PeerViolation | undefined;
  /** Told about a violation as it happens (the case context fails the case with it). */
  onViolation: ((v: PeerViolation) => void) | undefined;
  /** Told every send, read and close of the case (not the harness's own PONGs to heartbeats). */
  observer: WireObserver | undefined;
  /**
   * What crossed this connection, length prefixes included: the frames and bytes the harness wrote (its
   * own PONGs too) and the whole frames it read (the PINGs it answered too). A case checks a broker's
   * STATS against them (SYS-3).
   */
  readonly traffic = { framesOut: 0, bytesOut: 0, framesIn: 0, bytesIn: 0 };
  /** Where the harness's outgoing byte stream stands: inside a length prefix, or inside a body. */
  private readonly outgoing = { prefix: 0, prefixBytes: 0, bodyLeft: 0 };
  /** Under --faults: the writer that perturbs what the harness sends, and the reader's schedule. */
  private faulty: { writer: FaultyWriter; faults: ConnectionFaults } | undefined;
  /** Chunks read from the peer since the faults were set (the slow reader counts them). */
  private reads = 0;
  /** The slow reader is pausing: reading resumes when its pause ends. */
  private readerHeld = false;
  /** The case stopped reading on purpose (a reader that never reads): nothing else may resume it. */
  private caseHeld = false;

  private constructor(private readonly io: Io, readonly label: string) {
    io.input.on('data', (chunk: Buffer) => this.onData(chunk));
    io.input.on('error', (e) => this.finish(`error: ${e.message}`));
    io.output.on('error', (e) => this.finish(`error writing: ${e.message}`));
    io.input.on('close', () => this.finish(io.child ? 'the peer closed its output' : 'closed by peer'));
  }

  /** Exit status of an exec peer once it has exited (null while running or for sockets). */
  exitCode(): Promise<number | null> {
    const child = this.io.child;
    if (!child) return Promise.resolve(null);
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Opens a TCP or Unix-socket connection (`description` names it in errors); rejects after `timeoutMs`. */
  static connect(to: { host: string; port: number } | { path: string }, description: string, label: string, timeoutMs: number): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(to);
      socket.setNoDelay(true);
      const timer = setTimeout(() => { socket.destroy(); reject(new ConnectError(`connect to ${description} timed out after ${timeoutMs} ms`)); }, timeoutMs);
      socket.once('connect', () => { clearTimeout(timer); resolve(new WireConnection({ input: socket, output: socket, destroy: () => socket.destroy() }, label)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(new ConnectError(`cannot connect to ${description}: ${e.message}`)); });
    });
  }

  /** Talks frames over byte streams opened elsewhere (a FIFO pair, conformance/wire/fifo.ts). */
  static fromIo(io: Io, label: string): WireConnection {
    return new WireConnection(io, label);
  }

  /** Wraps a socket the harness accepted (listen mode: the peer under test is a client). */
  static accepted(socket: Socket, label: string): WireConnection {
    socket.setNoDelay(true);
    return new WireConnection({ input: socket, output: socket, destroy: () => socket.destroy() }, label);
  }

  /** Talks frames over the stdio of a peer started elsewhere (the instrument suite starts its own). */
  static fromPeer(peer: PeerProcess, label: string, output?: Writable): WireConnection {
    return WireConnection.wrapPeer(peer, label, { stop: false, output });
  }

  /** Starts a peer process and talks frames over its stdio; its standard error is kept for the log. */
  static exec(command: string[], label: string, env?: Record<string, string>): WireConnection {
    return WireConnection.wrapPeer(startPeerProcess(command, { stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) }), label, { stop: true });
  }

  private static wrapPeer(peer: PeerProcess, label: string, options: { stop: boolean; output?: Writable }): WireConnection {
    const child = peer.child;
    const output = options.output ?? child.stdin;
    if (!child.stdout || !output || !child.stderr) throw new Error('wrapPeer: the child needs piped stdin, stdout and stderr');
    const conn = new WireConnection({
      input: child.stdout, output, child, peer,
      // Ending the connection ends the peer's whole process group; a peer started elsewhere is ended by its owner.
      destroy: () => { if (options.stop) peer.stop(); else { child.stdout?.destroy(); } },
    }, label);
    void peer.exited.then(() => {
      const tail = peer.stderrTail();
      if (peer.spawnError) conn.finish(`cannot start ${peer.command[0]}: ${peer.spawnError.message}`);
      else conn.note('event', `process exited with ${peer.status}${tail ? `; stderr: ${tail.slice(-1000)}` : ''}`);
      // Descendants holding its stdout must not keep the connection open past the peer's exit.
      setTimeout(() => conn.finish('the peer exited'), 250).unref();
    });
    return conn;
  }

  private note(dir: WireEntry['dir'], note: string, bytes?: Uint8Array): void {
    const entry: WireEntry = { t: Date.now() - this.opened, dir, note: redactText(note) };
    if (bytes) {
      const safe = redactBytes(bytes);
      entry.hex = Buffer.from(safe.subarray(0, MAX_LOGGED_BYTES)).toString('hex') + (bytes.length > MAX_LOGGED_BYTES ? `... (${bytes.length} bytes)` : '');
    }
    this.log.push(entry);
    if (this.log.length > MAX_LOG_ENTRIES) {
      // Keep the start and the end of a flood; the middle becomes one marker entry.
      const half = MAX_LOG_ENTRIES / 2;
      if (this.dropped === 0) this.log.splice(half, 0, { t: entry.t, dir: 'event', note: '' });
      this.dropped += this.log.splice(half + 1, this.log.length - MAX_LOG_ENTRIES).length;
      this.log[half]!.note = `(${this.dropped} wire-log entries left out)`;
    }
  }

  /** The peer broke a rule that ends the case: stop reading from it at once and tell the case. */
  private violate(v: PeerViolation): void {
    if (this.violation) return;
    this.violation = v;
    this.note('event', v.message);
    this.io.input.pause();
    this.onViolation?.(v);
  }

  /**
   * Answer the peer's PINGs with PONG instead of queueing them (set once a session is up), so that a
   * broker's heartbeat (HS-10) never stands in for the frame a case waits for. Turned on after a case
   * read PINGs itself, it answers those already queued too: on a loaded machine one may have come
   * before the case got to it.
   */
  get answerPings(): boolean {
    return this.answering;
  }

  set answerPings(on: boolean) {
    this.answering = on;
    if (!on || this.ended) return;
    const pings = this.queue.filter((r) => r.kind === 'message' && r.message.name === 'PING');
    if (pings.length === 0) return;
    this.queue.splice(0, this.queue.length, ...this.queue.filter((r) => !pings.includes(r)));
    for (const r of pings) if (r.kind === 'message') this.pong(r.message.header.id);
  }

  private pong(re: string): void {
    this.send({ type: 'PONG', header: { id: `auto-pong-${++this.pongs}`, re } }, false);
  }

  private push(r: Received): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(r);
    } else {
      this.queue.push(r);
      // A peer flooding frames nobody reads yet waits for the harness (back-pressure), instead of growing it.
      if (this.queue.length >= QUEUE_PAUSE) this.io.input.pause();
    }
  }

  /**
   * Perturbs this connection's side from now on (--faults): writes go through `faults`' cuts, pauses
   * and coalescing, and reading stops where it says. Bytes held back by earlier faults go out first.
   */
  perturb(faults: ConnectionFaults, note: string): void {
    this.faulty?.writer.flushNow();
    this.note('event', note);
    this.faulty = { faults, writer: new FaultyWriter(this.io.output, faults, (text) => this.note('event', text)) };
    this.reads = 0;
  }

  /**
   * How many bytes of a `length`-byte frame a connection with this one's client id drops before this
   * one's INIT (a `cut` fault, noted in the wire log); 0 without one.
   */
  cutBeforeInit(length: number): number {
    const bytes = this.faulty?.faults.cut(length) ?? 0;
    if (bytes > 0) this.note('event', describeStep({ kind: 'cut', bytes, of: length }));
    return bytes;
  }

  /** A line in this connection's wire log about something that happened elsewhere (the connection a cut dropped). */
  noteEvent(text: string): void {
    this.note('event', text);
  }

  /** Resolves once every byte the harness sent is handed to the transport (at once without --faults). */
  drained(): Promise<void> {
    return this.faulty?.writer.idle() ?? Promise.resolve();
  }

  private write(bytes: Uint8Array): void {
    this.countOut(bytes);
    if (this.faulty) this.faulty.writer.write(bytes);
    else this.io.output.write(bytes);
  }

  /** Counts the bytes the harness writes, and the frames they complete (a raw write may hold part of one, or several). */
  private countOut(bytes: Uint8Array): void {
    this.traffic.bytesOut += bytes.length;
    const o = this.outgoing;
    for (let i = 0; i < bytes.length; ) {
      if (o.bodyLeft > 0) {
        const n = Math.min(o.bodyLeft, bytes.length - i);
        o.bodyLeft -= n;
        i += n;
        continue;
      }
      o.prefix = o.prefix * 256 + bytes[i++]!;
      if (++o.prefixBytes < 4) continue;
      this.traffic.framesOut++;
      o.bodyLeft = o.prefix;
      o.prefix = 0;
      o.prefixBytes = 0;
    }
  }

  /** Reads again unless something still holds reading back (a violation, a full queue, the slow reader, the case). */
  private resumeInput(): void {
    if (!this.violation && !this.ended && !this.readerHeld && !this.caseHeld && this.queue.length < QUEUE_PAUSE) this.io.input.resume();
  }

  /**
   * Stops reading until `resumeReading` (a case playing a peer that never reads). The slow reader of
   * --faults and the queue's back-pressure pause and resume too; without this hold, their resume would
   * end the case's pause early and the peer would see a reader after all.
   */
  pauseReading(): void {
    this.caseHeld = true;
    this.io.input.pause();
  }

  /** Ends the case's own pause (reading resumes unless something else still holds it back). */
  resumeReading(): void {
    this.caseHeld = false;
    this.resumeInput();
  }

  /** The slow reader (--faults): after some reads the harness stops reading for a while. */
  private slowReader(): void {
    const read = this.reads++;
    const ms = this.faulty?.faults.readPause(read) ?? 0;
    if (ms <= 0 || this.ended) return;
    this.note('event', describeStep({ kind: 'slow-reader', read, ms }));
    this.readerHeld = true;
    this.io.input.pause();
    setTimeout(() => {
      this.readerHeld = false;
      this.resumeInput();
    }, ms).unref();
  }

  private onData(chunk: Buffer): void {
    if (this.violation) return;
    if (this.faulty) this.slowReader();
    let bodies: Uint8Array[];
    try {
      bodies = this.decoder.push(chunk);
    } catch (e) {
      for (const body of (e as ProtocolError).framesBefore ?? []) this.onBody(body);
      this.note('in', `unframeable bytes: ${(e as Error).message}`, chunk);
      this.push({ kind: 'invalid', error: e as ProtocolError, bytes: chunk });
      if ((e as ProtocolError).code === 'FRAME_TOO_LARGE') {
        // On a child's standard output, text that is not a frame reads as a huge length prefix: name that too.
        const stdout = this.io.child ? '; on standard output this is also how bytes that are not frames read: a testee or child writes nothing else there (TST-1) (STDIO-2)' : '';
        this.violate(new PeerViolation(`the peer announced a frame longer than the max_frame of ${HARNESS_MAX_FRAME} bytes the harness announced (FRM-3): ${(e as Error).message}${stdout}`,
          'FRM-3', `a length prefix of at most ${HARNESS_MAX_FRAME}`, (e as Error).message));
      }
      return;
    }
    for (const body of bodies) this.onBody(body);
  }

  private onBody(body: Uint8Array): void {
    const frame = Buffer.concat([lengthPrefix(body.length), body]);
    const before: InboundCount = { frames: this.traffic.framesIn, bytes: this.traffic.bytesIn };
    this.traffic.framesIn++;
    this.traffic.bytesIn += frame.length;
    try {
      const message = decodeMessage(body);
      const re = message.header.re !== undefined ? ` re=${JSON.stringify(message.header.re)}` : '';
      const code = message.name === 'ERROR' ? ` ${(message.payload as { code: string }).code}` : '';
      this.note('in', `${message.name} id=${JSON.stringify(message.header.id)}${re}${code}`, frame);
      if (this.answering && message.name === 'PING' && !this.ended) {
        this.pong(message.header.id);
        return;
      }
      this.push({ kind: 'message', message, bytes: frame, before });
    } catch (e) {
      // A payload too deep for the decoder (a stack overflow) is the peer's frame, not a harness fault.
      const error = e instanceof ProtocolError ? e : new ProtocolError('INVALID_PAYLOAD', `the frame cannot be decoded: ${(e as Error).message}`);
      this.note('in', `invalid frame: ${error.message}`, frame);
      this.push({ kind: 'invalid', error, bytes: frame });
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

  /** Whether the harness half-closed its side (end()). */
  get halfClosed(): boolean {
    return this.ourSideEnded;
  }

  /** Received items not read yet. */
  get pending(): number {
    return this.queue.length;
  }

  /** Starts a new wire log (times from now), opened by `note`: a connection handed on to another case. */
  resetLog(note: string): void {
    this.log = [];
    this.dropped = 0;
    this.opened = Date.now();
    this.note('event', note);
  }

  /** Sends a message built with the reference codec. */
  send(message: OutgoingMessage, observed = true): void {
    const frame = encodeMessageFrame(message);
    const note = `${typeof message.type === 'string' ? message.type : `type ${message.type}`} id=${JSON.stringify(message.header.id)}`;
    if (observed) this.observer?.sent(frame, note, message);
    this.note('out', note, frame);
    this.write(frame);
  }

  /** Sends raw bytes (a broken frame, or part of one). */
  sendRaw(bytes: Uint8Array, note = 'raw bytes'): void {
    this.observer?.sent(bytes, note);
    this.note('out', note, bytes);
    this.write(bytes);
  }

  /** The next thing the peer sends, or `timeout` after `timeoutMs`. */
  next(timeoutMs: number): Promise<Received> {
    const observer = this.observer;
    if (!observer) return this.nextItem(timeoutMs);
    return this.nextItem(timeoutMs).then((r) => {
      observer.read(r);
      return r;
    });
  }

  private nextItem(timeoutMs: number): Promise<Received> {
    const queued = this.queue.shift();
    if (this.queue.length === QUEUE_RESUME) this.resumeInput();
    if (queued) {
      this.takenCount++;
      return Promise.resolve(queued);
    }
    if (this.ended) return Promise.resolve({ kind: 'closed', reason: 'already closed' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.note('event', `nothing received within ${timeoutMs} ms`);
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      this.waiter = (r) => { clearTimeout(timer); this.takenCount++; resolve(r); };
    });
  }

  /** Items the peer sent that readers have taken (timeouts not counted): how many answers a pipelined case has read. */
  get taken(): number {
    return this.takenCount;
  }

  /** Half-closes our side (no more bytes from us). */
  end(): void {
    this.observer?.ended('half-close');
    this.note('event', 'harness half-closed its side');
    this.ourSideEnded = true;
    if (this.faulty) this.faulty.writer.end();
    else this.io.output.end();
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.observer?.ended('close');
    // What faults still hold back goes out first, as it would have without them.
    this.faulty?.writer.flushNow();
    this.io.destroy();
    this.finish('closed by harness');
  }
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
