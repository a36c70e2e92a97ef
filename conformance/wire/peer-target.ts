/**
 * The kinds of peer the harness tests, one tagged type each: where a case's connections go (`open`),
 * how reports and messages show the peer (`describe`), and the name of its report directory (`name`).
 * A kind whose peer is not reached by opening a frame connection (a lines pipe pair, a broker process
 * each case starts, clients that connect to the harness) refuses `open` with a ConnectError that says
 * what the case should use instead.
 */
import { ConnectError, WireConnection } from './connection.js';
import { openFifo } from './fifo.js';
import type { LinesTarget } from './lines.js';
import type { Listener } from './listener.js';
import type { ClusterDriver } from './cluster-driver.js';
import type { BrokerLauncher } from './broker-launch.js';

/** Which connection of a case is being opened, and the run's seed (a spawned peer's hash seed follows it). */
export interface ConnectionPlace {
  /** Connections the case opened before this one (a cluster sends the k-th to entry k mod N). */
  index: number;
  seed: number;
}

/** A short name for a peer command: its words without paths, flags and placeholders. */
export function commandName(command: string[]): string {
  return command.filter((a) => !a.startsWith('-') && !a.includes('{port}')).map((a) => a.split('/').pop()!).join('-').slice(0, 80);
}

/** A broker reached at an address: its report directory is named after the address, without path separators or colons. */
abstract class AddressedPeer {
  abstract describe(): string;
  name(): string {
    return this.describe().replace(/[:/]/g, '_');
  }
}

/** A broker at a TCP address: IPv4, IPv6 (`[::1]:PORT` on the command line) or a host name. */
export class TcpPeer extends AddressedPeer {
  readonly kind = 'tcp';
  constructor(readonly host: string, readonly port: number) {
    super();
  }
  open(label: string, timeoutMs: number): Promise<WireConnection> {
    return WireConnection.connect({ host: this.host, port: this.port }, this.describe(), label, timeoutMs);
  }
  describe(): string {
    return `${this.host}:${this.port}`;
  }
}

/** A broker at a Unix socket path. */
export class UnixPeer extends AddressedPeer {
  readonly kind = 'unix';
  constructor(readonly path: string) {
    super();
  }
  open(label: string, timeoutMs: number): Promise<WireConnection> {
    return WireConnection.connect({ path: this.path }, this.describe(), label, timeoutMs);
  }
  describe(): string {
    return `unix:${this.path}`;
  }
}

/** The brokers of one cluster: several TCP entry points, a case's k-th connection going to entry k mod N. */
export class ClusterPeer extends AddressedPeer {
  readonly kind = 'cluster';
  constructor(readonly entries: readonly TcpPeer[]) {
    super();
    if (entries.length === 0) throw new Error('ClusterPeer: a cluster needs at least one entry point');
  }
  open(label: string, timeoutMs: number, place?: ConnectionPlace): Promise<WireConnection> {
    return this.entries[(place?.index ?? 0) % this.entries.length]!.open(label, timeoutMs);
  }
  describe(): string {
    return this.entries.map((e) => e.describe()).join(',');
  }
}

/** A broker's FIFO directory (section 10.4): each connection puts a new pair there. */
export class FifoDirPeer extends AddressedPeer {
  readonly kind = 'fifo';
  constructor(readonly dir: string) {
    super();
  }
  async open(label: string, timeoutMs: number): Promise<WireConnection> {
    return WireConnection.fromIo(await openFifo(this.dir, undefined, timeoutMs), label);
  }
  describe(): string {
    return `fifo:${this.dir}`;
  }
}

/** A peer command started for each connection, speaking frames on its standard input and output. */
export class ExecPeer {
  readonly kind = 'exec';
  constructor(readonly command: readonly string[]) {}
  open(label: string, _timeoutMs: number, place?: ConnectionPlace): Promise<WireConnection> {
    // A spawned peer's hash seed follows --seed, so a Python peer replays the same counterexample.
    const env = place ? { PYTHONHASHSEED: String(Math.abs(Math.trunc(place.seed)) % 4294967296) } : undefined;
    return Promise.resolve(WireConnection.exec([...this.command], label, env));
  }
  describe(): string {
    return `exec: ${this.command.join(' ')}`;
  }
  name(): string {
    return `exec-${commandName([...this.command])}`;
  }
}

/** A peer command started for each connection over a FIFO pair the harness creates in `dir`, passed as `{fifo}`. */
export class ExecFifoPeer {
  readonly kind = 'exec-fifo';
  constructor(readonly command: readonly string[], readonly dir: string) {}
  async open(label: string, timeoutMs: number): Promise<WireConnection> {
    return WireConnection.fromIo(await openFifo(this.dir, [...this.command], timeoutMs), label);
  }
  describe(): string {
    return `fifo:${this.dir} exec: ${this.command.join(' ')}`;
  }
  name(): string {
    return `exec-${commandName([...this.command])}`;
  }
}

/** The legacy line profile (section 10.5): the pipes, the peer's role and command; the lines cases drive it themselves. */
export class LinesPeer {
  readonly kind = 'lines';
  constructor(readonly lines: LinesTarget) {}
  open(): Promise<WireConnection> {
    return Promise.reject(new ConnectError(`${this.describe()} speaks lines, not frames: only the lines suite can test it`));
  }
  describe(): string {
    return `lines:${this.lines.request},${this.lines.reply} (${this.lines.role})`;
  }
  name(): string {
    return `lines-${this.lines.role}-${commandName(this.lines.command)}`;
  }
}

/**
 * A broker command each case of suite broker-process starts itself, `{unix}`, `{port}` and `{host}`
 * replaced: as a process of its own, or through `launch` when the API was given one (broker-launch.ts).
 */
export class BrokerProcessPeer {
  readonly kind = 'broker-process';
  constructor(readonly command: readonly string[], readonly launch?: BrokerLauncher) {}
  open(): Promise<WireConnection> {
    return Promise.reject(new ConnectError(`${this.describe()}: each case starts its own broker (suite broker-process)`));
  }
  describe(): string {
    return `broker-process: ${this.command.join(' ')}`;
  }
  name(): string {
    return `broker-process-${commandName([...this.command])}`;
  }
}

/** Listen mode: the peer under test is a client that connects to the harness (started per case when a command is given). */
export class ListenPeer {
  readonly kind = 'listen';
  constructor(readonly listener: Listener) {}
  open(): Promise<WireConnection> {
    return Promise.reject(new ConnectError(`${this.describe()}: the client under test connects to the harness (a case accepts it with client())`));
  }
  describe(): string {
    return `listen:127.0.0.1:${this.listener.port}`;
  }
  name(): string {
    const command = this.listener.clientCommand;
    return command ? `client-${commandName(command)}` : `client-port-${this.listener.port}`;
  }
}

/** The reference broker the harness started in process (no --target): reached over TCP or FIFO pairs, shut down by the harness. */
export class EmbeddedPeer {
  readonly kind = 'embedded';
  constructor(readonly via: TcpPeer | FifoDirPeer, readonly shutdown: () => void) {}
  open(label: string, timeoutMs: number): Promise<WireConnection> {
    return this.via.open(label, timeoutMs);
  }
  describe(): string {
    return this.via.describe();
  }
  name(): string {
    return 'reference-broker';
  }
}

/** A cluster whose brokers and NATS server a driver the API was given starts and ends (suite cluster-process), such as brokers in this process. */
export class OwnedClusterPeer {
  readonly kind = 'owned-cluster';
  constructor(readonly driver: () => Promise<ClusterDriver>) {}
  open(): Promise<WireConnection> {
    return Promise.reject(new ConnectError(`${this.describe()}: each case starts its own cluster (suite cluster-process)`));
  }
  describe(): string {
    return 'owned cluster (clusterDriver)';
  }
  name(): string {
    return 'owned-cluster';
  }
}

/** Every kind of peer; `kind` tells them apart. */
export type PeerTarget = TcpPeer | UnixPeer | ClusterPeer | FifoDirPeer | ExecPeer | ExecFifoPeer | LinesPeer | BrokerProcessPeer | ListenPeer | EmbeddedPeer | OwnedClusterPeer;

/** The peer command the harness starts for each connection (over stdio or a FIFO pair), if it starts one. */
export function commandOf(target: PeerTarget): readonly string[] | undefined {
  return target.kind === 'exec' || target.kind === 'exec-fifo' ? target.command : undefined;
}

/** The socket a case can open itself (a broker over TCP or Unix; a cluster's first entry), if the peer is reached by one. */
export function socketOf(target: PeerTarget): TcpPeer | UnixPeer | undefined {
  switch (target.kind) {
    case 'tcp': case 'unix': return target;
    case 'cluster': return target.entries[0];
    case 'embedded': return target.via.kind === 'tcp' ? target.via : undefined;
    default: return undefined;
  }
}

/** A broker's FIFO directory (connections put new pairs there), if the peer is a broker over FIFO pairs. */
export function fifoDirOf(target: PeerTarget): string | undefined {
  if (target.kind === 'fifo') return target.dir;
  return target.kind === 'embedded' && target.via.kind === 'fifo' ? target.via.dir : undefined;
}
