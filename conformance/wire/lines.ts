/**
 * The harness's side of the legacy `lines` profile (section 10.5): reading one line from a pipe (up to
 * LF or end of file), writing one line (non-blocking open retried on ENXIO, one write, close), and
 * starting the peer under test with its placeholders filled. FIFOs are never created by an open and
 * never blocked on (FIFO-2, FIFO-3): the harness uses the FIFO transport's open functions.
 */
import type { ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { closeSync, writeSync } from 'node:fs';
import { openReadEnd, openWriteEnd } from '../../reference/transport/fifo-fs.js';
import { startPeerProcess, type PeerProcess } from './peer-process.js';
import { TargetError } from '../target-error.js';

/** The role of a legacy line peer under test (section 10.5). */
export type LinesRole = 'requester' | 'responder';

/** `--target lines:REQUEST_PIPE,REPLY_PIPE --role ROLE -- CMD ARGS`: the pipes and the peer under test. */
export interface LinesTarget {
  request: string;
  reply: string;
  /** The role of the peer under test; the harness plays the other one. */
  role: LinesRole;
  /** The peer's command; `{request}`, `{reply}`, `{timeout}` and `{log}` are replaced. */
  command: string[];
  /** The peer's per-phase timeout in whole seconds (passed as `{timeout}`). */
  timeoutS: number;
  /** A responder that serves one exchange and exits: the harness starts it for every exchange. */
  oneShot?: boolean;
  /** A responder's reply must match this (whole reply) instead of echoing the request. */
  replyPattern?: RegExp;
  /** A requester's standard output must match this, its first group (or group `reply`) holding the reply. */
  outputPattern?: RegExp;
}

/** The command-line spellings of how an existing peer differs from the test pair. */
export interface LinesPeerOptions {
  oneShot?: boolean;
  replyPattern?: string;
  outputPattern?: string;
}

/** Compiles the patterns (a reply pattern is anchored to the whole reply); a bad one is a usage error. */
export function linesPeerOptions(o: LinesPeerOptions = {}): Pick<LinesTarget, 'oneShot' | 'replyPattern' | 'outputPattern'> {
  const compile = (flag: string, source: string | undefined, anchored: boolean): RegExp | undefined => {
    if (source === undefined) return undefined;
    try {
      return new RegExp(anchored ? `^(?:${source})$` : source, 's');
    } catch (e) {
      throw new TargetError(`${flag}: ${(e as Error).message}`);
    }
  };
  const output = compile('--output-pattern', o.outputPattern, false);
  if (output && !/\((?!\?[:=!<])|\(\?<[A-Za-z]/.test(output.source)) throw new TargetError('--output-pattern needs a capture group holding the reply, e.g. ^Reply: (.*)$');
  const reply = compile('--reply-pattern', o.replyPattern, true);
  return { ...(o.oneShot ? { oneShot: true } : {}), ...(reply ? { replyPattern: reply } : {}), ...(output ? { outputPattern: output } : {}) };
}

/**
 * The reply a requester printed: the output pattern's group `reply` or first group, or the whole output;
 * one final LF is the requester's to print or not (undefined: the output does not match the pattern).
 */
export function printedReply(t: Pick<LinesTarget, 'outputPattern'>, stdout: Buffer): Buffer | undefined {
  const text = stdout.toString('latin1');
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (!t.outputPattern) return Buffer.from(body, 'latin1');
  const m = t.outputPattern.exec(body) ?? t.outputPattern.exec(text);
  if (!m) return undefined;
  const got = m.groups?.['reply'] ?? m[1] ?? '';
  return Buffer.from(got.endsWith('\n') ? got.slice(0, -1) : got, 'latin1');
}

/** What the harness read: the line (without LF), how many bytes followed it, or nothing in time. */
export type LineRead = { kind: 'line'; bytes: Buffer; rest: number; sawLf: boolean } | { kind: 'timeout'; partial: Buffer };

/**
 * Opens `path` for reading (non-blocking, must be a FIFO) and collects bytes until end of file or
 * `timeoutMs`. `holdWriter` keeps a writer of our own open so that several writers in turn do not end
 * the stream between them; the read then ends at `untilLines` LFs or the timeout.
 */
export async function readPipe(path: string, timeoutMs: number, options: { untilLines?: number; holdWriter?: boolean; until?: Promise<unknown> } = {}): Promise<{ data: Buffer; ended: boolean }> {
  const fd = await openReadEnd(path, false);
  const hold = options.holdWriter ? await openWriteEnd(path, 1000, false) : undefined;
  const socket = new Socket({ fd, readable: true, writable: false });
  const chunks: Buffer[] = [];
  let lfs = 0;
  return new Promise((resolve) => {
    let done = false;
    const finish = (ended: boolean): void => {
      if (done) return; // the line count, the end, the timeout and `until` may each get here
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (hold !== undefined) closeSync(hold);
      resolve({ data: Buffer.concat(chunks), ended });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    void options.until?.then(() => setTimeout(() => finish(false), 300));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      for (const b of c) if (b === 10) lfs++;
      if (options.untilLines !== undefined && lfs >= options.untilLines) finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('error', () => finish(true));
  });
}

/** One `lines` message as a reader sees it (LINES-3): up to the first LF or end of file. */
export async function readLine(path: string, timeoutMs: number): Promise<LineRead> {
  const { data, ended } = await readPipe(path, timeoutMs, { untilLines: 1 });
  const lf = data.indexOf(10);
  if (lf >= 0) return { kind: 'line', bytes: data.subarray(0, lf), rest: data.length - lf - 1, sawLf: true };
  if (ended && data.length > 0) return { kind: 'line', bytes: data, rest: 0, sawLf: false };
  return { kind: 'timeout', partial: data };
}

/** One `lines` message as a writer sends it (LINES-2): open (ENXIO retried), one write, close. */
export async function writeLine(path: string, bytes: Buffer, timeoutMs: number): Promise<void> {
  const fd = await openWriteEnd(path, timeoutMs, false);
  try {
    writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

export interface PeerRun {
  child: ChildProcess;
  peer: PeerProcess;
  /** Resolves at exit: the status (null when killed by a signal), the signal, standard output. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>;
}

/** Starts the peer under test with the placeholders filled; `stdin` (a requester's message) is written and closed. */
export function startPeer(target: LinesTarget, options: { stdin?: Buffer; log?: string; prefix?: string[]; swap?: { request: string; reply: string } } = {}): PeerRun {
  const pipes = options.swap ?? { request: target.request, reply: target.reply };
  const args = target.command.map((a) => a.replaceAll('{request}', pipes.request).replaceAll('{reply}', pipes.reply)
    .replaceAll('{timeout}', String(target.timeoutS)).replaceAll('{log}', options.log ?? '/dev/null'));
  const full = [...(options.prefix ?? []), ...args];
  const peer = startPeerProcess(full, { stdio: ['pipe', 'pipe', 'pipe'] });
  const child = peer.child;
  const out: Buffer[] = [];
  let kept = 0;
  let stderr = '';
  // Bounded: a flooding peer must not grow the harness.
  child.stdout!.on('data', (c: Buffer) => { if (kept < STDOUT_KEPT) { out.push(c); kept += c.length; } });
  child.stderr!.on('data', (c: Buffer) => { if (stderr.length < 4000) stderr += c.toString(); });
  child.stdin!.end(options.stdin ?? Buffer.alloc(0));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>((resolve) => {
    const done = (): void => resolve({ code: child.exitCode ?? (peer.spawnError ? 127 : null), signal: child.signalCode, stdout: Buffer.concat(out), stderr: peer.spawnError ? peer.spawnError.message : stderr });
    child.on('close', done);
    // Descendants may hold its stdout open past its exit: a moment for the last bytes, then not waiting on them.
    void peer.exited.then(() => setTimeout(done, 250));
  });
  return { child, peer, exit };
}

/** What a lines peer may write on stdout that the harness keeps. */
const STDOUT_KEPT = 1 << 20;

/** Kills a peer this harness started, with its process group. */
export function stopPeer(run: PeerRun): void {
  run.peer.stop();
}
