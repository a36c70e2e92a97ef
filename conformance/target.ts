/**
 * Parses `--target` values: `host:port`, `[v6]:port`, `unix:PATH`, `fifo:DIR`, or several TCP entry
 * points `host:port,host:port,...` (the brokers of one cluster: a case's k-th connection goes to entry
 * k mod N).
 */
import type { Address } from './wire/connection.js';

/** A `target` that is not an address the harness can test (a usage error, exit 64). */
export class TargetError extends Error {
  override name = 'TargetError';
}

export function parseTarget(text: string): Address {
  if (text.includes(',') && !text.startsWith('unix:') && !text.startsWith('fifo:') && !text.startsWith('lines:')) {
    const entries = text.split(',').map((part) => parseOne(part.trim()));
    if (entries.some((e) => e.host === undefined)) throw new TargetError('several --target entries must all be host:port (brokers of one cluster)');
    return { ...entries[0]!, spread: entries };
  }
  return parseOne(text);
}

function parseOne(text: string): Address {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (!path) throw new TargetError('unix: needs a socket path, e.g. unix:/tmp/concord.sock');
    return { path };
  }
  if (text.startsWith('fifo:')) {
    const fifo = text.slice(5);
    if (!fifo) throw new TargetError('fifo: needs a directory, e.g. fifo:/tmp/concord-fifo (section 10.4)');
    return { fifo };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) throw new TargetError(`--target ${JSON.stringify(text)} is not host:port, [ipv6]:port, unix:PATH or fifo:DIR`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new TargetError(`port ${port} is out of range 1-65535`);
  return { host: m[1] ?? m[2]!, port };
}
