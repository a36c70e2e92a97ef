/**
 * Broker options and their resolution: defaults from spec/limits.json, every value checked against the
 * range the limits table gives it (CONV-1: the data files win over prose), and the bind policy of SEC-1.
 */
import { isIP } from 'node:net';
import { DEFAULT_LIMITS, LIMITS, lookupMessage } from '../codec/index.js';
import { isLogLevel, type LogLevel, type LogSink } from './logger.js';
import type { ClusterOptions } from './cluster/node.js';

/** A broker option that cannot be honoured; raised before anything listens. */
export class BrokerConfigError extends Error {
  override name = 'BrokerConfigError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`Broker: ${option}: ${message}`);
  }
}

/** How a {@link Broker} listens and what limits it runs with; every field has a default from the spec. */
export interface BrokerOptions {
  /** TCP host (default 127.0.0.1, TCP-1). A non-loopback host needs `token` (SEC-1). */
  host?: string;
  /** TCP port (default 9999, TCP-1); 0 asks the system for an ephemeral port. */
  port?: number;
  /** Listen on TCP (default true). Set false for a Unix-socket-only broker. */
  tcp?: boolean;
  /** Also (or only) listen on this Unix socket path, created 0600 (UNIX-1). */
  unixPath?: string;
  /** Also (or only) serve FIFO pairs put in this private directory (section 10.4). */
  fifoDir?: string;
  /** Shared secret every INIT must carry (SEC-2); compared in constant time (SEC-3). */
  token?: string;
  /** The broker's own Name, announced in INIT_ACK (default `concord-broker`). */
  brokerId?: string;
  maxFrame?: number;
  maxHeader?: number;
  maxInFlight?: number;
  heartbeatMs?: number;
  handshakeTimeoutMs?: number;
  /** Timeout of a forwarded request whose type has no `timeout_ms` in the catalog (LIM-12). */
  requestTimeoutMs?: number;
  /** Per-type timeout overrides by catalog name, taking precedence over the catalog (tests, deployments). */
  typeTimeoutMs?: Readonly<Record<string, number>>;
  shutdownDrainMs?: number;
  /** Bytes queued for one reader before the connections feeding it stop being read (LIM-14). */
  maxWriteBuffer?: number;
  /** Longest one connection may stay above maxWriteBuffer before it is closed with OVERLOADED (LIM-17). */
  slowReaderTimeoutMs?: number;
  /** Bytes all connections without INIT_ACK may hold together for frames in progress (HS-21). */
  maxHandshakeBytes?: number;
  /** Late-answer memory per connection: ids of timed-out or abandoned requests kept (REQ-16). */
  expiredIdsKept?: number;
  /**
   * Defects injected on purpose, for the tests that show a conformance case catches a broker broken
   * that way. Never set outside those tests.
   * @internal
   */
  defects?: BrokerDefects;
  logLevel?: LogLevel;
  logSink?: LogSink;
  /** Join a cluster of brokers over NATS (spec section 19); without it the broker stands alone. */
  cluster?: ClusterOptions;
}

export interface BrokerDefects {
  /** LIM-7 counts routed requests only (bus, registry and dispatch requests are never refused). */
  inFlightRoutedOnly?: boolean;
  /** LIM-17 off: a reader above max_write_buffer is never closed, so its senders stay paused. */
  keepSlowReaders?: boolean;
  /** LIM-18 off: the broker queues its own requests for a reader already above max_write_buffer. */
  queueOwnRequests?: boolean;
  /** LIM-7 off by one: an answered dispatch releases two slots, so the caller may later go past max_in_flight. */
  dispatchReleasedTwice?: boolean;
}

/** A broker's options with every default filled in and every value checked. */
export interface BrokerConfig {
  readonly host: string;
  readonly port: number;
  readonly tcp: boolean;
  readonly unixPath: string | undefined;
  readonly fifoDir: string | undefined;
  readonly token: string | undefined;
  readonly brokerId: string;
  readonly maxFrame: number;
  readonly maxHeader: number;
  readonly maxInFlight: number;
  readonly heartbeatMs: number;
  readonly handshakeTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly typeTimeoutMs: ReadonlyMap<number, number>;
  readonly shutdownDrainMs: number;
  readonly maxWriteBuffer: number;
  readonly slowReaderTimeoutMs: number;
  readonly maxHandshakeBytes: number;
  readonly expiredIdsKept: number;
  /** @internal Test-only defects (see {@link BrokerOptions}). */
  readonly defects: BrokerDefects;
  readonly logLevel: LogLevel;
  readonly logSink: LogSink | undefined;
  readonly cluster: ClusterOptions | undefined;
}

const NAME = /^[^\u0000-\u001f\u007f]+$/;

function limit(name: keyof typeof DEFAULT_LIMITS, option: string, value: number | undefined): number {
  const info = LIMITS.find((l) => l.name === name)!;
  const v = value ?? info.default;
  if (!Number.isInteger(v) || v < info.min || v > info.max) {
    throw new BrokerConfigError(option, `must be an integer in ${info.min} .. ${info.max} (${name}), got ${String(value)}`);
  }
  return v;
}

/** Loopback: 127.0.0.0/8, ::1, an IPv4-mapped loopback, or the name `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  const h = host.toLowerCase();
  return h === '::1' || h === '0:0:0:0:0:0:0:1' || h.startsWith('::ffff:127.');
}

/** Fills in the defaults and checks the options; throws {@link BrokerConfigError} for one that cannot be honoured. */
export function resolveConfig(options: BrokerOptions = {}): BrokerConfig {
  const host = options.host ?? '127.0.0.1';
  const tcp = options.tcp ?? true;
  if (options.token !== undefined && (options.token.length < 1 || options.token.length > 512)) {
    throw new BrokerConfigError('token', 'must be 1 to 512 characters (the INIT schema of `token`)');
  }
  // SEC-1: loopback only, unless the operator both names another address and sets a token.
  if (tcp && !isLoopback(host) && options.token === undefined) {
    throw new BrokerConfigError('host', `${host} is not a loopback address; a non-loopback bind needs a token (SEC-1)`);
  }
  const port = options.port ?? 9999;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BrokerConfigError('port', `must be an integer in 0 .. 65535, got ${port}`);
  if (!tcp && options.unixPath === undefined && options.fifoDir === undefined) throw new BrokerConfigError('tcp', 'a broker without TCP needs a unixPath or a fifoDir');
  const brokerId = options.brokerId ?? 'concord-broker';
  if (!NAME.test(brokerId) || Buffer.byteLength(brokerId) > DEFAULT_LIMITS.max_name_bytes) throw new BrokerConfigError('brokerId', 'must be a Name (1-128 bytes, no control characters)');
  const typeTimeoutMs = new Map<number, number>();
  for (const [typeName, ms] of Object.entries(options.typeTimeoutMs ?? {})) {
    const code = lookupMessage(typeName)?.code;
    if (code === undefined) throw new BrokerConfigError('typeTimeoutMs', `no message type ${typeName}`);
    if (!Number.isInteger(ms) || ms < 1) throw new BrokerConfigError('typeTimeoutMs', `${typeName}: must be a positive integer`);
    typeTimeoutMs.set(code, ms);
  }
  const logLevel = options.logLevel ?? 'warn';
  if (!isLogLevel(logLevel)) throw new BrokerConfigError('logLevel', `must be debug, info, warn or error, got ${String(logLevel)}`);
  if (options.cluster !== undefined) {
    for (const url of options.cluster.url.split(',')) if (!/^(nats|tls):\/\/[^\s/]+$/.test(url.trim())) throw new BrokerConfigError('cluster', `${url} is not a NATS URL (nats://HOST:PORT)`);
    if (Buffer.byteLength(brokerId) > 255) throw new BrokerConfigError('brokerId', 'a cluster broker id is at most 255 bytes');
  }
  const expiredIdsKept = options.expiredIdsKept ?? 16_384;
  if (!Number.isInteger(expiredIdsKept) || expiredIdsKept < 1) throw new BrokerConfigError('expiredIdsKept', 'must be a positive integer');
  return {
    host,
    port,
    tcp,
    unixPath: options.unixPath,
    fifoDir: options.fifoDir,
    token: options.token,
    brokerId,
    maxFrame: limit('max_frame', 'maxFrame', options.maxFrame),
    maxHeader: limit('max_header', 'maxHeader', options.maxHeader),
    maxInFlight: limit('max_in_flight', 'maxInFlight', options.maxInFlight),
    heartbeatMs: limit('heartbeat_ms', 'heartbeatMs', options.heartbeatMs),
    handshakeTimeoutMs: limit('handshake_timeout_ms', 'handshakeTimeoutMs', options.handshakeTimeoutMs),
    requestTimeoutMs: limit('request_timeout_ms', 'requestTimeoutMs', options.requestTimeoutMs),
    typeTimeoutMs,
    shutdownDrainMs: limit('shutdown_drain_ms', 'shutdownDrainMs', options.shutdownDrainMs),
    maxWriteBuffer: limit('max_write_buffer', 'maxWriteBuffer', options.maxWriteBuffer),
    slowReaderTimeoutMs: limit('slow_reader_timeout_ms', 'slowReaderTimeoutMs', options.slowReaderTimeoutMs),
    maxHandshakeBytes: limit('max_handshake_bytes', 'maxHandshakeBytes', options.maxHandshakeBytes),
    expiredIdsKept,
    defects: { ...options.defects },
    logLevel,
    logSink: options.logSink,
    cluster: options.cluster,
  };
}
