/**
 * How the bus suite talks to a bus: a driver sends adapter commands (section bus-adapter) and gets
 * their replies, to a child process on stdio (`--exec`), or to a session in this process whose bus is
 * the broker at the target (over the wire). Every command and reply is kept for the case's log.
 */
import type { ChildProcess } from 'node:child_process';
import { startPeerProcess, type PeerProcess } from '../wire/peer-process.js';
import { createInterface } from 'node:readline';
import type { Command, Hello, Reply } from '../../reference/bus/adapter/protocol.js';
import { AdapterSession, type BusFactory } from '../oracle.js';
import { CaseFailure, CaseTimeout } from '../cases/model.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import { receivedCode } from '../../reference/codec/catalog.js';
import { replyProblems } from './reply-schema.js';

export interface BusDriver {
  /** Sends one command; resolves with its reply (never rejects for a bus error: that is a reply). */
  call(cmd: Command): Promise<Reply>;
  close(): Promise<void>;
  /** The last commands and replies, for failure messages. */
  readonly transcript: string[];
  /** Output lines that answer nothing asked (not JSON, an unknown or repeated `seq`): each breaks BUSA-1. */
  readonly strays: string[];
  /** Runs `fn`, returning every exchange it made (not only the last ones the transcript keeps). */
  capture(fn: () => Promise<void>): Promise<{ error: unknown; exchanges: string[] }>;
}

/** A command's value, failing the case when the bus answered with an error. */
export async function ok<T = unknown>(d: BusDriver, cmd: Command): Promise<T> {
  const r = await d.call(cmd);
  if (!r.ok) throw new CaseFailure(`${cmd.op} failed with ${r.error.code}: ${r.error.message}`, 'success', r.error.code);
  return r.value as T;
}

/** The harness's own code for an adapter that exited: not a registry name, so never taken for the adapter's answer. */
const ADAPTER_EXITED = receivedCode('ADAPTER_EXITED');

/** A command's error, failing the case when it succeeded or failed with another code. */
export async function fails(d: BusDriver, cmd: Command, code: ErrorName): Promise<{ code: string; message: string; details?: Record<string, unknown> }> {
  const r = await d.call(cmd);
  if (r.ok) throw new CaseFailure(`${cmd.op} succeeded (${JSON.stringify(r.value)}); expected error ${code}`, code, 'success');
  if (r.error.code !== code) throw new CaseFailure(`${cmd.op} failed with ${r.error.code} (${r.error.message}); expected ${code}`, code, r.error.code);
  return r.error;
}

const KEEP = 40;
/** How long an adapter may take to start and answer its first line. */
const STARTUP_MS = 15_000;

abstract class BaseDriver implements BusDriver {
  readonly transcript: string[] = [];
  readonly strays: string[] = [];
  protected seq = 0;
  private captured: string[] | undefined;

  constructor(protected readonly timeoutMs: number) {}

  async capture(fn: () => Promise<void>): Promise<{ error: unknown; exchanges: string[] }> {
    const exchanges: string[] = [];
    this.captured = exchanges;
    try {
      await fn();
      return { error: undefined, exchanges };
    } catch (e) {
      return { error: e, exchanges };
    } finally {
      this.captured = undefined;
    }
  }

  protected note(line: string): void {
    this.captured?.push(line.length > 300 ? `${line.slice(0, 300)}...` : line);
    this.transcript.push(line.length > 300 ? `${line.slice(0, 300)}...` : line);
    if (this.transcript.length > KEEP) this.transcript.shift();
  }

  async call(cmd: Command): Promise<Reply> {
    const seq = ++this.seq;
    // The first exchange also waits for the adapter to start (a process start, not a reply).
    const timeoutMs = seq === 1 ? Math.max(this.timeoutMs, STARTUP_MS) : this.timeoutMs;
    this.note(`> ${JSON.stringify({ seq, ...cmd })}`);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CaseTimeout(`no reply to ${cmd.op} (seq ${seq}) within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const reply = await Promise.race([this.exchange(seq, cmd), expired]);
      this.note(`< ${JSON.stringify(reply)}`);
      return reply;
    } finally {
      clearTimeout(timer);
    }
  }

  protected abstract exchange(seq: number, cmd: Command): Promise<Reply>;
  abstract close(): Promise<void>;
}

/** A session in this process (the in-process bus, or the wire bus of a broker). */
export class SessionDriver extends BaseDriver {
  private readonly session: AdapterSession;

  constructor(factory: BusFactory, hello: Hello, timeoutMs: number) {
    super(timeoutMs);
    this.session = new AdapterSession(factory, hello);
  }

  protected exchange(seq: number, cmd: Command): Promise<Reply> {
    return this.session.handle({ ...cmd, seq } as never);
  }

  close(): Promise<void> {
    return this.session.close();
  }
}

/** A bus adapter started as a child process, JSON lines on its stdio. */
export class ProcessDriver extends BaseDriver {
  private readonly child: ChildProcess;
  private readonly peer: PeerProcess;
  private readonly waiting = new Map<number, (r: Reply | CaseFailure) => void>();
  private readonly stderr: string[] = [];
  private exited: string | undefined;

  constructor(command: string[], timeoutMs: number) {
    super(timeoutMs);
    this.peer = startPeerProcess(command, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = this.peer.child;
    this.child.on('error', (e) => {
      this.exited = `cannot start ${command[0]}: ${e.message}`;
      for (const [seq, resolve] of this.waiting) resolve({ seq, ok: false, error: { code: ADAPTER_EXITED, message: this.exited } });
      this.waiting.clear();
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `the adapter exited (${signal ?? code})`;
      for (const [seq, resolve] of this.waiting) resolve({ seq, ok: false, error: { code: ADAPTER_EXITED, message: `${this.exited}; stderr: ${this.stderr.slice(-5).join(' | ')}` } });
      this.waiting.clear();
    });
    this.child.stdin!.on('error', () => undefined); // an adapter that died is reported by 'exit'
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 50) this.stderr.shift();
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
        if (typeof reply !== 'object' || reply === null) throw new TypeError('not an object');
      } catch {
        this.note(`< (not JSON) ${line}`);
        this.strays.push(line.slice(0, 200));
        return;
      }
      const resolve = this.waiting.get((reply as { seq?: unknown }).seq as number);
      if (!resolve) {
        this.note(`< (unasked seq ${String(reply.seq)}) ${line}`);
        this.strays.push(line.slice(0, 200));
        return;
      }
      this.waiting.delete(reply.seq);
      const problems = replyProblems(reply);
      if (problems.length > 0) {
        this.note(`< (not a reply) ${line}`);
        resolve(new CaseFailure(`[BUSA-1] the line answering seq ${reply.seq} is not a reply of the adapter protocol (spec/bus/adapter.schema.json): ${problems.slice(0, 3).join('; ')}`, 'a reply line', line.slice(0, 200)));
        return;
      }
      resolve(reply);
    });
  }

  protected exchange(seq: number, cmd: Command): Promise<Reply> {
    if (this.exited) throw new CaseFailure(`${this.exited}; stderr: ${this.stderr.slice(-5).join(' | ')}`);
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, (r) => (r instanceof CaseFailure ? reject(r) : resolve(r)));
      this.child.stdin!.write(`${JSON.stringify({ seq, ...cmd })}\n`);
    });
  }

  /** Ends its input and waits at most `boundMs` for the exit: its status, or null while it still runs (BUSA-4). */
  async endInput(boundMs: number): Promise<{ code: number | null; signal: string | null } | null> {
    const status = (): { code: number | null; signal: string | null } => ({ code: this.child.exitCode, signal: this.child.signalCode });
    if (this.child.exitCode !== null || this.child.signalCode !== null) return status();
    let timer: NodeJS.Timeout | undefined;
    const exit = new Promise<boolean>((r) => this.child.once('exit', () => r(true)));
    this.child.stdin!.end();
    const exited = await Promise.race([exit, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), boundMs)))]);
    clearTimeout(timer);
    return exited ? status() : null;
  }

  /** Ends its input (BUSA-4), waits a little for the exit, then kills it by its own handle. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.peer.stop(), 3000);
    await gone;
    clearTimeout(timer);
    this.peer.stop(); // its descendants and any pipe they hold
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }
}
