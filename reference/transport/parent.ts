/**
 * Parent-death detection for stdio children: instrument workers (INS-16), testees and engines (STDIO-3). Node's `process.ppid` is read once at start, so the live parent
 * comes from /proc/self/stat on Linux; elsewhere a signal-0 probe of the first parent.
 */
import { existsSync, readFileSync } from 'node:fs';

const POLL_MS = 250;

function currentParent(initial: number): number {
  if (existsSync('/proc/self/stat')) {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  try {
    process.kill(initial, 0);
    return initial;
  } catch {
    return -1;
  }
}

/** Calls `onDeath` once when the parent this process started with is gone; returns the stop function. */
export function watchParent(onDeath: () => void): () => void {
  const initial = process.ppid;
  const timer = setInterval(() => {
    if (currentParent(initial) !== initial) {
      clearInterval(timer);
      onDeath();
    }
  }, POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
