/**
 * Where a shared token comes from (SEC-2), for the broker and the harness alike: `--token T` (visible
 * to every local user in the process list), the `CONCORD_TOKEN` environment variable, or
 * `--token-file PATH`, a file only its owner may read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A token source that cannot be used; the commands exit with their configuration code (78). */
export class TokenSourceError extends Error {
  override name = 'TokenSourceError';
}

/** The INIT schema caps `token` at 512 characters; a larger file is not a token. */
const MAX_FILE_BYTES = 4096;

/** A file read through one descriptor, so the file read is the file checked: its text and whether group or others may access it. */
export interface CheckedFile {
  text: string;
  /** mode & 0o777, for the message that refuses it. */
  mode: number;
  /** Readable or writable by group or others (mode & 0o077). */
  shared: boolean;
}

/** Reads a regular file of at most `maxBytes` (`flag` names the option in errors). */
export function readCheckedFile(flag: string, path: string, maxBytes: number): CheckedFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new TokenSourceError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new TokenSourceError(`${flag} ${path}: not a regular file`);
    const buffer = Buffer.alloc(maxBytes + 1);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    if (n > maxBytes) throw new TokenSourceError(`${flag} ${path}: larger than ${maxBytes} bytes`);
    return { text: buffer.subarray(0, n).toString('utf8'), mode: stat.mode & 0o777, shared: (stat.mode & 0o077) !== 0 };
  } finally {
    closeSync(fd);
  }
}

/** The refusal of a file holding a secret that group or others may read. */
export function sharedSecretError(flag: string, path: string, f: CheckedFile, what = 'readable by group or others'): TokenSourceError {
  return new TokenSourceError(`${flag} ${path}: ${what} (mode ${f.mode.toString(8).padStart(4, '0')}); chmod 600 it`);
}

/**
 * Reads the token in `path`: its first line, without the line ending. Refused when the file is
 * readable or writable by group or others (mode & 0o077), so a secret left world-readable is noticed
 * rather than used, and when it is empty or not a regular file.
 */
export function readTokenFile(path: string): string {
  const f = readCheckedFile('--token-file', path, MAX_FILE_BYTES);
  if (f.shared) throw sharedSecretError('--token-file', path, f);
  const token = f.text.split(/\r?\n/)[0]!;
  if (token.length === 0) throw new TokenSourceError(`--token-file ${path}: the first line is empty`);
  return token;
}

export interface TokenOptions {
  token?: string | undefined;
  tokenFile?: string | undefined;
  /** The environment to read `CONCORD_TOKEN` from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The token to use: `--token` and `--token-file` exclude each other; either wins over `CONCORD_TOKEN`;
 * undefined when none is given (an empty `CONCORD_TOKEN` counts as none).
 */
export function resolveToken(options: TokenOptions): string | undefined {
  if (options.token !== undefined && options.tokenFile !== undefined) throw new TokenSourceError('give --token or --token-file, not both');
  if (options.tokenFile !== undefined) return readTokenFile(options.tokenFile);
  if (options.token !== undefined) return options.token;
  const fromEnv = (options.env ?? process.env)['CONCORD_TOKEN'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}
