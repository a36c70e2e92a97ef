/**
 * Parses `--target` values: `host:port`, `[v6]:port`, `unix:PATH`, `fifo:DIR`, or several TCP entry
 * points `host:port,host:port,...` (the brokers of one cluster: a case's k-th connection goes to entry
 * k mod N); and `lines:REQUEST_PIPE,REPLY_PIPE` with the options the line profile needs.
 */
import { ClusterPeer, FifoDirPeer, LinesPeer, TcpPeer, UnixPeer } from './wire/peer-target.js';
import { TargetError } from './target-error.js';
import { linesPeerOptions, type LinesPeerOptions, type LinesRole } from './wire/lines.js';

export { TargetError };

/** A broker reached by `--target` (not `lines:`, which parseLinesTarget reads). */
export type BrokerTarget = TcpPeer | UnixPeer | FifoDirPeer | ClusterPeer;

export function parseTarget(text: string): BrokerTarget {
  if (text.includes(',') && !text.startsWith('unix:') && !text.startsWith('fifo:') && !text.startsWith('lines:')) {
    const entries = text.split(',').map((part) => parseOne(part.trim()));
    const tcp = entries.filter((e): e is TcpPeer => e.kind === 'tcp');
    if (tcp.length !== entries.length) throw new TargetError('several --target entries must all be host:port (brokers of one cluster)');
    return new ClusterPeer(tcp);
  }
  return parseOne(text);
}

function parseOne(text: string): TcpPeer | UnixPeer | FifoDirPeer {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    if (!path) throw new TargetError('unix: needs a socket path, e.g. unix:/tmp/concord.sock');
    return new UnixPeer(path);
  }
  if (text.startsWith('fifo:')) {
    const fifo = text.slice(5);
    if (!fifo) throw new TargetError('fifo: needs a directory, e.g. fifo:/tmp/concord-fifo (section 10.4)');
    return new FifoDirPeer(fifo);
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) throw new TargetError(`--target ${JSON.stringify(text)} is not host:port, [ipv6]:port, unix:PATH or fifo:DIR`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new TargetError(`port ${port} is out of range 1-65535`);
  return new TcpPeer(m[1] ?? m[2]!, port);
}

/** What a `lines:` target needs besides its pipes: the peer's role and command, its per-phase timeout, how it differs from the test pair. */
export interface LinesOptions {
  role?: LinesRole;
  command?: string[];
  /** Whole seconds, 1 to 60 (default 2). */
  timeoutS?: number;
  peer?: LinesPeerOptions;
}

/** `lines:REQUEST_PIPE,REPLY_PIPE` (section 10.5) with its role and command. */
export function parseLinesTarget(text: string, o: LinesOptions): LinesPeer {
  const [request, reply, ...extra] = text.slice('lines:'.length).split(',');
  if (!request || !reply || extra.length > 0) throw new TargetError('lines: needs two pipe paths, lines:REQUEST_PIPE,REPLY_PIPE');
  if (!o.command?.length || !o.role) throw new TargetError('lines: needs --role and the peer command after --');
  const timeoutS = o.timeoutS ?? 2;
  if (!Number.isInteger(timeoutS) || timeoutS < 1 || timeoutS > 60) throw new TargetError('--lines-timeout takes whole seconds, 1 to 60');
  return new LinesPeer({ request, reply, role: o.role, command: o.command, timeoutS, ...linesPeerOptions(o.peer) });
}
