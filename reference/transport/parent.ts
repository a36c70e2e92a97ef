/**
 * Parent-death detection for stdio children: instrument workers (INS-16), testees and engines (STDIO-3).
 * Node's `process.ppid` is read once at start, so the live parents come from /proc on Linux; elsewhere a
 * signal-0 probe of the first parent.
 *
 * On Linux every ancestor is watched, not only the parent: started through a launcher (`npx concord
 * testee`: npm, then a shell, then this process), the process whose parent died is the launcher, which
 * waits on its own child and never notices. When any ancestor is re-parented this process ends, and the
 * launchers in between end with it.
 */
import { existsSync, readFileSync } from 'node:fs';

const POLL_MS = 250;
/** Ancestors watched at most: a chain this deep is a bug, not a launcher. */
const MAX_ANCESTORS = 32;

/** The parent of `pid` from /proc/PID/stat, or undefined when it is gone or unreadable. */
function parentOf(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** This process's ancestors at start, each with the parent it had then, from the parent up to (not including) PID 1. */
function ancestry(): Array<[pid: number, parent: number]> {
  const chain: Array<[number, number]> = [];
  let pid = process.ppid;
  while (pid > 1 && chain.length < MAX_ANCESTORS) {
    const parent = parentOf(pid);
    if (parent === undefined) break;
    chain.push([pid, parent]);
    pid = parent;
  }
  return chain;
}

/** Whether the parent this process started with, or on Linux any ancestor's, is gone. */
function orphaned(initial: number, chain: ReadonlyArray<[number, number]>): boolean {
  if (existsSync('/proc/self/stat')) return parentOf('self') !== initial || chain.some(([pid, parent]) => parentOf(pid) !== parent);
  try {
    process.kill(initial, 0);
    return false;
  } catch {
    return true;
  }
}

/** Calls `onDeath` once when the parent this process started with, or an ancestor's, is gone; returns the stop function. */
export function watchParent(onDeath: () => void): () => void {
  const initial = process.ppid;
  const chain = existsSync('/proc/self/stat') ? ancestry() : [];
  const timer = setInterval(() => {
    if (orphaned(initial, chain)) {
      clearInterval(timer);
      onDeath();
    }
  }, POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
