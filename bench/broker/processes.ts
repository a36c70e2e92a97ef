/**
 * Child processes of the benchmark: the three targets, the load generator's worker and clients. Every
 * child is tracked and ended by its PID (SIGTERM, then SIGKILL after a grace period), at the latest when
 * the benchmark process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { relative } from 'node:path';
import { ROOT_DIR } from '../../spec/tools/load.js';
import { pinned } from './cpus.js';

export const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;

const log = (text: string): void => void process.stderr.write(text);
const started = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: children of this run still alive when the process exits are killed by their PID. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  });
}

const shown = (a: string): string => (a.startsWith('/') ? relative(ROOT_DIR, a) || a : a.length > 40 ? `${a.slice(0, 16)}...(${a.length} chars)` : a);

/**
 * Starts a tracked child with piped stdio, on the cores `cpus` lists when given (`taskset -c`, which
 * execs the command: the child's PID is the command's own).
 */
export function spawnTracked(name: string, command: string, commandArgs: string[], cpus?: string): ChildProcess {
  const [cmd, args] = pinned(cpus, command, commandArgs);
  log(`bench: starting ${name}: ${[cmd, ...args].map(shown).join(' ')}\n`);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT_DIR });
  started.add(child);
  installExitHook();
  return child;
}

/**
 * Resolves with the first line of the child's stdout or stderr that `match` maps to a value; rejects when
 * the child exits or START_TIMEOUT_MS passes first. Other stderr lines that are not info/debug log
 * records are shown; the last ones are kept for the error message.
 */
export function awaitLine<T>(name: string, child: ChildProcess, match: (line: string, stream: 'stdout' | 'stderr') => T | undefined): Promise<T> {
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (f: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`${name} was not ready within ${START_TIMEOUT_MS} ms: ${tail.join(' | ')}`))), START_TIMEOUT_MS);
    const lines = (stream: 'stdout' | 'stderr'): ((d: Buffer) => void) => {
      let buf = '';
      return (d) => {
        buf += d.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (stream === 'stderr') {
            tail.push(line);
            if (tail.length > 20) tail.shift();
            if (!line.includes('"level":"info"') && !line.includes('"level":"debug"')) log(`bench: ${name}: ${line}\n`);
          }
          if (done) continue;
          const v = match(line, stream);
          if (v !== undefined) finish(() => resolve(v));
        }
      };
    };
    child.stdout!.on('data', lines('stdout'));
    child.stderr!.on('data', lines('stderr'));
    child.once('error', (e) => finish(() => reject(e)));
    child.once('exit', (code, signal) => finish(() => reject(new Error(`${name} exited (${code ?? signal}) before it was ready: ${tail.join(' | ')}`))));
  });
}

/** Stops a child this run started, by its PID: SIGTERM, then SIGKILL after the grace period. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    started.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), STOP_GRACE_MS)))]);
  clearTimeout(timer);
  if (killed && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
  started.delete(child);
}

/** Stops every child still running (the end of the benchmark, whatever happened). */
export async function stopAll(): Promise<void> {
  for (const child of [...started]) await stopChild(child);
}
