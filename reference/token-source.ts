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

/**
 * Reads the token in `path`: its first line, without the line ending. Refused when the file is
 * readable or writable by group or others (mode & 0o077), so a secret left world-readable is noticed
 * rather than used, and when it is empty or not a regular file. The mode is checked on the opened
 * descriptor, so the file read is the file checked.
 */
export function readTokenFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new TokenSourceError(`--token-file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new TokenSourceError(`--token-file ${path}: not a regular file`);
    if ((stat.mode & 0o077) !== 0) {
      throw new TokenSourceError(`--token-file ${path}: readable by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}); chmod 600 it`);
    }
    const buffer = Buffer.alloc(MAX_FILE_BYTES + 1);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    if (n > MAX_FILE_BYTES) throw new TokenSourceError(`--token-file ${path}: larger than ${MAX_FILE_BYTES} bytes`);
    const token = buffer.subarray(0, n).toString('utf8').split(/\r?\n/)[0]!;
    if (token.length === 0) throw new TokenSourceError(`--token-file ${path}: the first line is empty`);
    return token;
  } finally {
    closeSync(fd);
  }
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
