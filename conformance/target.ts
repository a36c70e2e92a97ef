/** Parses `--target` values: `host:port`, `[v6]:port`, `unix:PATH`. */
import type { Address } from './wire/connection.js';

export class TargetError extends Error {
  override name = 'TargetError';
}

export function parseTarget(text: string): Address {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (!path) throw new TargetError('unix: needs a socket path, e.g. unix:/tmp/concord.sock');
    return { path };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) throw new TargetError(`--target ${JSON.stringify(text)} is not host:port, [ipv6]:port or unix:PATH`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new TargetError(`port ${port} is out of range 1-65535`);
  return { host: m[1] ?? m[2]!, port };
}
