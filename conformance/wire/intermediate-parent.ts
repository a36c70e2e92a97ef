/**
 * Starting a stdio child under an intermediate parent the case can kill, to see whether the child
 * exits when its parent dies (STDIO-3, INS-16) while its standard input stays open, and telling
 * whether a PID still runs. The intermediate parent is a peer process like any other (its own
 * process group, ended whole by `peer.stop()`), so the child, in that group, ends with it.
 */
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { existsSync, readFileSync } from 'node:fs';
import { startPeerProcess, type PeerProcess } from './peer-process.js';

/**
 * Node script of the intermediate parent: starts the child with its own fd 4 as the child's standard
 * input (so killing the parent does not close the child's input: Node closes a child's stdin pipe when
 * the child exits), the same stdout and stderr, and reports the child's PID on fd 3.
 */
const PARENT_SCRIPT = `const c=require('child_process').spawn(process.argv[1],process.argv.slice(2),{stdio:[4,1,2]});require('fs').writeSync(3,c.pid+'\\n');setInterval(()=>{},1e9);`;

export interface UnderParent {
  /** The intermediate parent: `peer.child.pid` is the PID to kill; its stdout and stderr are the child's. */
  peer: PeerProcess;
  /** The child's standard input, held by the harness. */
  input: Writable;
  /** The child's PID, or -1 when the parent ended before reporting it. */
  childPid: Promise<number>;
}

/** Starts `command` as the child of an intermediate parent; the harness holds its stdin, stdout and stderr. */
export function startUnderParent(command: string[]): UnderParent {
  const peer = startPeerProcess([process.execPath, '-e', PARENT_SCRIPT, ...command], { stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe'] });
  const child: ChildProcess = peer.child;
  const input = child.stdio[4] as Writable;
  input.on('error', () => undefined);
  const childPid = new Promise<number>((resolve) => {
    let text = '';
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('\n')) resolve(Number(text.trim()));
    });
    child.once('exit', () => resolve(-1));
    child.once('error', () => resolve(-1));
  });
  return { peer, input, childPid };
}

/** Whether a process is still running (a zombie counts as gone). */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (existsSync(stat)) {
    try {
      const text = readFileSync(stat, 'utf8');
      return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }
  return true;
}

/** Polls until `pid` is gone or `ms` passed; true when gone. */
export async function gone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}
