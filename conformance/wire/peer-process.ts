/**
 * The one place the harness starts peer processes (testees, workers, clients, bus adapters, lines
 * peers, FIFO peers). Each peer gets its own process group so that ending it ends everything it
 * started; the harness never waits on pipes that descendants may still hold, and a command that
 * cannot be started is told apart from one that misbehaves once running.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The peer command could not be started, or ended before it could be talked to. */
export class PeerStartError extends Error {
  override name = 'PeerStartError';
  constructor(readonly command: string[], readonly status: string, readonly stderrTail: string) {
    super(`cannot start the peer: ${command.join(' ')}\n  exit status: ${status}${stderrTail ? `\n  end of its stderr:\n${stderrTail.replace(/^/gm, '    ')}` : ''}`);
  }
}

const STDERR_KEPT = 4096;

export interface PeerProcess {
  readonly child: ChildProcess;
  readonly command: string[];
  /** Set when the process could not be spawned at all (ENOENT, EACCES...). */
  readonly spawnError: Error | undefined;
  /** The exit (or spawn failure) as words: `status 3`, `signal SIGKILL`, `not started: ...`; undefined while running. */
  readonly status: string | undefined;
  /** The last bytes of its standard error (when piped). */
  stderrTail(): string;
  /** Resolves at exit or spawn failure. */
  readonly exited: Promise<void>;
  /** Whether the harness ended it (an exit it did not choose). */
  readonly stopped: boolean;
  /** Whether it ever talked: wrote on stdout, opened its FIFOs or connected (set by whoever sees it). */
  spoke: boolean;
  /** PIDs of its process group still running (zombies excluded), leader included. */
  survivors(): number[];
  /** Kills the whole process group and lets go of every pipe (never waits on descendants holding them). */
  stop(): void;
}

const live = new Set<PeerProcess>();
const started: PeerProcess[] = [];

/** Processes started since `mark` (an index from `startedCount()`): for telling a start failure from a misbehaviour. */
export function startedCount(): number {
  return started.length;
}

/**
 * The first peer started at or after `mark` that ended (or never started) without ever talking: the
 * reason a probe failed. Waits up to `settleMs` for peers whose output closed to report their exit.
 */
export async function startFailureSince(mark: number, settleMs = 0): Promise<PeerStartError | undefined> {
  const recent = started.slice(mark);
  if (settleMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(recent.filter((p) => !p.spoke).map((p) => p.exited)), new Promise<void>((r) => (timer = setTimeout(r, settleMs)))]);
    clearTimeout(timer);
  }
  for (const p of recent) {
    if (p.status !== undefined && !p.spoke && !p.stopped) return new PeerStartError(p.command, p.status, p.stderrTail());
  }
  return undefined;
}

/** The first peer that could not be spawned at all since `mark` (a run cannot go on without it). */
export function spawnFailureSince(mark: number): PeerStartError | undefined {
  const p = started.slice(mark).find((x) => x.spawnError !== undefined);
  return p ? new PeerStartError(p.command, p.status!, p.stderrTail()) : undefined;
}

/** Ends the peers started since `mark` that still run (the end of one run; others in this process are left alone). */
export function stopStartedSince(mark: number): void {
  for (const p of started.slice(mark)) if (live.has(p) || p.survivors().length > 0) p.stop();
}

/** Ends every peer still running (on a signal, at exit). */
export function stopAllPeers(): void {
  for (const p of [...live]) p.stop();
}

/** PIDs whose process group is `pgid`, zombies excluded (Linux /proc; elsewhere the empty list). */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const text = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // fields: state ppid pgrp ...
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Checks before starting anything that the program exists and may be executed, so a mistyped command
 * stops the run at once instead of failing every case. Returns the reason, or undefined when it looks runnable.
 */
export function unstartable(command: string[]): string | undefined {
  const program = command[0];
  if (program === undefined || program === '') return 'no command given';
  if (program.includes('{')) return undefined; // a placeholder the harness fills in later
  const runnable = (path: string): boolean => {
    try {
      accessSync(path, constants.X_OK);
      return statSync(path).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return runnable(program) ? undefined : `${program}: no such executable file`;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) if (dir && runnable(join(dir, program))) return undefined;
  return `${program}: not found in PATH`;
}

/** Starts `command` in a process group of its own. */
export function startPeerProcess(command: string[], options: { stdio: StdioOptions; env?: NodeJS.ProcessEnv }): PeerProcess {
  let child: ChildProcess;
  try {
    child = spawn(command[0]!, command.slice(1), { stdio: options.stdio, detached: true, ...(options.env ? { env: options.env } : {}) });
  } catch (e) {
    throw new PeerStartError(command, `not started: ${(e as Error).message}`, '');
  }
  let stderr = '';
  let spawnError: Error | undefined;
  let status: string | undefined;
  let stopped = false;
  let killRequested = false;
  let resolveExit!: () => void;
  const exited = new Promise<void>((r) => (resolveExit = r));
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-STDERR_KEPT);
  });
  // Writes to a peer that died must not become process-level errors.
  child.stdin?.on('error', () => undefined);
  const pgid = child.pid;
  const peer: PeerProcess = {
    child, command, spoke: false,
    get spawnError() { return spawnError; },
    get status() { return status; },
    get stopped() { return stopped; },
    stderrTail: () => stderr.split('\n').slice(-20).join('\n').trimEnd(),
    exited,
    survivors: () => (pgid === undefined ? [] : groupMembers(pgid)),
    stop: () => {
      live.delete(peer);
      if (status === undefined) killRequested = true;
      if (pgid !== undefined && pgid > 1 && (child.exitCode === null && child.signalCode === null ? true : groupMembers(pgid).length > 0)) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }
      // Descendants outside the group may still hold the pipes: let go of them rather than wait.
      for (const s of [child.stdin, child.stdout, child.stderr, ...child.stdio.slice(3)]) (s as { destroy?: () => void } | null)?.destroy?.();
    },
  };
  child.stdout?.once('data', () => (peer.spoke = true));
  child.on('error', (e) => {
    if (child.pid === undefined || status === undefined) {
      spawnError = e;
      status = `not started: ${e.message}`;
      live.delete(peer);
      resolveExit();
    }
  });
  child.on('exit', (code, signal) => {
    status = signal ? `killed by ${signal}` : `status ${code}`;
    // Ended by the harness only when our kill is what ended it (not an exit of its own that raced the kill).
    stopped = killRequested && signal !== null;
    live.delete(peer);
    resolveExit();
  });
  live.add(peer);
  started.push(peer);
  return peer;
}

let installed = false;

/** Ends every peer group when the harness exits or is interrupted (the groups do not get the terminal's signals). */
export function stopPeersOnExit(): void {
  if (installed) return;
  installed = true;
  process.on('exit', stopAllPeers);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      stopAllPeers();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}
