/**
 * FIFO files (section 10.4): creating a pair directory 0700 with two FIFOs 0600 (FIFO-1), opening an
 * end without O_CREAT and refusing anything that is not a FIFO (FIFO-2), the non-blocking opens with
 * the ENXIO retry (FIFO-3), the ownership and mode check (FIFO-7), and removal that never deletes
 * anything but our own FIFOs and their directory.
 */
import { execFile } from 'node:child_process';
import { close, constants, fstat, open, promises as fsp, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** The FIFO the client writes and the broker reads. */
export const CLIENT_TO_BROKER = 'client-to-broker';
/** The FIFO the broker writes and the client reads. */
export const BROKER_TO_CLIENT = 'broker-to-client';

export type FifoErrorCode = 'MISSING' | 'NOT_FIFO' | 'INSECURE' | 'TIMEOUT' | 'MKFIFO_FAILED' | 'IN_THE_WAY';

/** A FIFO or pair directory that cannot be used, with the reason as a code. */
export class FifoError extends Error {
  override name = 'FifoError';
  constructor(
    readonly code: FifoErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

/** Retry pause bounds while the other side has not opened its reading end yet (ENXIO). */
const RETRY_FIRST_MS = 2;
const RETRY_MAX_MS = 50;

/** Node has no mkfifo(3); coreutils `mkfifo -m 600` sets the mode atomically, whatever the umask. */
export function mkfifo(paths: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mkfifo', ['-m', '600', '--', ...paths], (error, _stdout, stderr) => {
      if (error) reject(new FifoError('MKFIFO_FAILED', paths.join(' '), `mkfifo failed: ${String(stderr).trim() || error.message}`));
      else resolve();
    });
  });
}

/** FIFO-7: owned by this user, nothing for group or others. Root sees no check that matters, so none is skipped. */
export function checkPrivate(path: string, st: Stats): void {
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new FifoError('INSECURE', path, `owned by uid ${st.uid}, not by this process (uid ${uid})`);
  if ((st.mode & 0o077) !== 0) throw new FifoError('INSECURE', path, `mode ${(st.mode & 0o777).toString(8)} grants access to group or others`);
}

/**
 * FIFO-1: creates DIR (0700) holding both FIFOs (0600). DIR must not exist yet: an existing file or
 * directory there is never reused (`IN_THE_WAY`).
 */
export async function createPairDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FifoError('IN_THE_WAY', dir, 'already exists');
    throw e;
  }
  await fsp.chmod(dir, 0o700); // the umask may have narrowed it further; exactly 0700 is asked
  await mkfifo([join(dir, CLIENT_TO_BROKER), join(dir, BROKER_TO_CLIENT)]);
}

/**
 * Creates a pair directory under `parent` and moves it into place by rename, so that a broker watching
 * `parent` never sees a directory whose FIFOs do not exist yet. Returns the final path.
 */
export async function createPairIn(parent: string, name = `c-${process.pid}-${randomBytes(6).toString('hex')}`): Promise<string> {
  const staging = join(parent, `.new-${randomBytes(6).toString('hex')}`);
  await createPairDir(staging);
  const final = join(parent, name);
  try {
    await fsp.rename(staging, final);
  } catch (e) {
    await removePairDir(staging);
    throw e;
  }
  return final;
}

/** The parent directory of a broker's pair directories: created 0700 when absent, otherwise checked (FIFO-7). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
    await fsp.chmod(dir, 0o700);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = await fsp.lstat(dir);
  if (!st.isDirectory()) throw new FifoError('IN_THE_WAY', dir, 'is not a directory');
  checkPrivate(dir, st);
}

const openFd = promisify(open);
const fstatFd = promisify(fstat);
const closeFd = promisify(close);

/**
 * FIFO-2: opens without O_CREAT and keeps the descriptor only if fstat says FIFO (and FIFO-7 holds).
 * A plain descriptor, not a FileHandle: a FileHandle closes itself when collected, under the stream.
 */
async function openChecked(path: string, flags: number, requirePrivate: boolean): Promise<number> {
  const fd = await openFd(path, flags | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = await fstatFd(fd);
    if (!st.isFIFO()) throw new FifoError('NOT_FIFO', path, 'is not a FIFO (FIFO-2: a regular file is never used where a FIFO belongs)');
    if (requirePrivate) checkPrivate(path, st);
  } catch (e) {
    await closeFd(fd);
    throw e;
  }
  return fd;
}

function mapOpenError(path: string, e: unknown): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') throw new FifoError('MISSING', path, 'no FIFO there (it is never created by an open)');
  throw e;
}

/** FIFO-3: the reading end, non-blocking: it opens at once whether or not a writer exists. */
export async function openReadEnd(path: string, requirePrivate = true): Promise<number> {
  try {
    return await openChecked(path, constants.O_RDONLY, requirePrivate);
  } catch (e) {
    return mapOpenError(path, e);
  }
}

/**
 * FIFO-3: the writing end, non-blocking, retried on ENXIO (no reader yet) with a growing pause until
 * `timeoutMs` has passed or `signal` aborts. Never a blocking open: that would park a libuv thread.
 */
export async function openWriteEnd(path: string, timeoutMs: number, requirePrivate = true, signal?: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let pause = RETRY_FIRST_MS;
  for (;;) {
    try {
      return await openChecked(path, constants.O_WRONLY, requirePrivate);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO') mapOpenError(path, e);
    }
    if (signal?.aborted) throw signal.reason as Error;
    if (Date.now() >= deadline) throw new FifoError('TIMEOUT', path, `no reader opened it within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(1, deadline - Date.now()))));
    pause = Math.min(pause * 2, RETRY_MAX_MS);
  }
}

/** Removes our two FIFOs and the directory; anything else in it (or a non-FIFO in their place) stays. */
export async function removePairDir(dir: string): Promise<void> {
  for (const name of [CLIENT_TO_BROKER, BROKER_TO_CLIENT]) {
    const path = join(dir, name);
    try {
      if ((await fsp.lstat(path)).isFIFO()) await fsp.unlink(path);
    } catch {
      // already gone
    }
  }
  try {
    await fsp.rmdir(dir);
  } catch {
    // gone already, or not empty: foreign files are never deleted
  }
}
