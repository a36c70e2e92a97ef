/**
 * Configuration files for the commands (`concord broker --config`, `concord engine serve --unified
 * --config`): a JSON object whose keys are the command's long flags without `--`, each value a string,
 * number or boolean as the flag takes it. Flags given on the command line win over the file. A file
 * holding a `token` follows the token-file rule: refused when group or others may read it (SEC-2).
 */
import { readCheckedFile, sharedSecretError, TokenSourceError } from './token-source.js';

/** A configuration file is small; anything larger is not one. */
export const MAX_CONFIG_BYTES = 65536;

/** The file's settings as flag values (strings and booleans, as parseArgs gives them). */
export type ConfigValues = Record<string, string | boolean>;

/**
 * Reads `path` as a configuration of `known` flags; throws TokenSourceError (exit 78) for a file that
 * cannot be used: unreadable, not JSON, an unknown key, a value of the wrong kind, or a token in a
 * file group or others may read.
 */
export function readConfigFile(path: string, known: Record<string, 'string' | 'boolean'>): ConfigValues {
  const f = readCheckedFile('--config', path, MAX_CONFIG_BYTES);
  let data: unknown;
  try {
    data = JSON.parse(f.text);
  } catch (e) {
    throw new TokenSourceError(`--config ${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new TokenSourceError(`--config ${path}: must hold a JSON object`);
  const out: ConfigValues = {};
  for (const [key, value] of Object.entries(data)) {
    const kind = known[key];
    if (kind === undefined || key === 'config') throw new TokenSourceError(`--config ${path}: unknown setting ${key} (known: ${Object.keys(known).filter((k) => k !== 'config').join(', ')})`);
    if (kind === 'boolean') {
      if (typeof value !== 'boolean') throw new TokenSourceError(`--config ${path}: ${key} must be true or false`);
      out[key] = value;
    } else if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
      out[key] = String(value);
    } else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
      out[key] = value.join(','); // list flags (--engines, --observers) take comma-separated items
    } else {
      throw new TokenSourceError(`--config ${path}: ${key} must be a string or a number`);
    }
  }
  if (out['token'] !== undefined && f.shared) throw sharedSecretError('--config', path, f, 'holds a token and is readable by group or others');
  return out;
}

/** The file's values under the flags given on the command line (an absent flag is undefined there). */
export function withConfigFile<T extends object>(flags: T, known: Record<string, 'string' | 'boolean'>): T {
  const path = (flags as Record<string, unknown>)['config'];
  if (typeof path !== 'string') return flags;
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  return { ...readConfigFile(path, known), ...given } as T;
}
