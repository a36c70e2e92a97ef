/**
 * `concord broker`: runs the reference broker until SIGINT or SIGTERM. The first signal shuts down
 * gracefully (HS-17, shutdown_drain_ms); a second one closes at once.
 *
 * The broker runs in a worker thread of the command's process, whose young generation is capped
 * (BROKER_YOUNG_GENERATION_MB): V8 grows a long-running process's young generation to 16 MiB per
 * semi-space, and from that step on the broker spent about 1.4x the CPU per forwarded request (the
 * allocations of each frame no longer stay in the cache). Capped at 8 MiB per semi-space it stays at the
 * Node router's cost (bench: broker 3.38 us against 3.43 for small requests, 2026-12-04,
 * docs/performance-history.md). A Node program cannot set that for its own heap once started; a worker's
 * heap takes it as `resourceLimits`, without a second process: the PID, signals, stdio and exit status
 * stay the command's own. The main thread only forwards SIGINT and SIGTERM and exits with the worker's code.
 */
import { isMainThread, parentPort, resourceLimits, Worker, workerData } from 'node:worker_threads';
import { Broker } from './broker.js';
import { BrokerConfigError, type BrokerOptions } from './config.js';
import { isLogLevel } from './logger.js';
import { ListenError } from './listen.js';
import { resolveToken, TokenSourceError } from '../token-source.js';
import { withConfigFile } from '../config-file.js';
import { DEFAULT_LIMITS, TRANSPORTS } from '../../spec/generated/catalog.js';

/** TCP-1's default address, host and port (spec/transports.json). */
const [TCP_HOST, TCP_PORT] = TRANSPORTS.find((t) => t.name === 'tcp')!.default_address!.split(/:(?=\d+$)/);

/**
 * The last line of defence of a long-running broker: an exception or rejection that escaped every
 * handler is logged and the broker keeps serving its other clients (the connection concerned has
 * already been answered INTERNAL or closed where the broker could tell which one it was).
 */
function installSafetyNet(broker: Broker): void {
  // A log pipe whose reader went away (EPIPE) must not turn every log line into a new uncaught fault:
  // that loop spins forever and the broker never exits on SIGTERM.
  process.stderr.on('error', () => undefined);
  let reporting = false;
  const report = (what: string, e: unknown): void => {
    if (reporting) return;
    reporting = true;
    try {
      broker.log.error(`${what}; serving on`, { error: String(e), stack: e instanceof Error ? e.stack : undefined });
    } catch {
      // the log itself failed: nothing more to do
    } finally {
      reporting = false;
    }
  };
  process.on('uncaughtException', (e) => report('uncaught exception', e));
  process.on('unhandledRejection', (e) => report('unhandled rejection', e));
}

export const BROKER_HELP = `  broker                       run the reference broker (logs: JSON lines on stderr)
    --host HOST                TCP host (default ${TCP_HOST}; another address needs --token)
    --port PORT                TCP port (default ${TCP_PORT}; 0 = ephemeral)
    --unix PATH                listen on a Unix socket too (created 0600); alone, it replaces TCP
    --fifo-dir DIR             serve FIFO pairs put in DIR (created 0700); alone, it replaces TCP
    --token T                  shared secret every INIT must carry (visible to local users: prefer
                               CONCORD_TOKEN or --token-file)
    --token-file PATH          read the token from PATH's first line; refused when group or others
                               may read PATH (exit 78)
    --log-level LEVEL          debug, info (default), warn or error
    --max-in-flight N          requests one connection may have open (default ${DEFAULT_LIMITS.max_in_flight})
    --max-frame N              largest body accepted, in bytes (default ${DEFAULT_LIMITS.max_frame})
    --cluster URL              join the cluster of brokers on this NATS server (nats://HOST:PORT, JetStream
                               on; several, comma-separated); spec section 19
    --broker-id NAME           this broker's id, unique in the cluster (default concord-broker; with
                               --cluster, concord-broker-PID)
    --config FILE              every option above from a JSON object (keys without --); options given
                               here win; a file holding a token is refused when group or others may
                               read it (exit 78)
`;

/** The settings a broker configuration file may hold: every option of the command. */
export const BROKER_CONFIG_KEYS = {
  host: 'string', port: 'string', unix: 'string', 'fifo-dir': 'string', token: 'string', 'token-file': 'string',
  'log-level': 'string', 'max-in-flight': 'string', 'max-frame': 'string',
} as const;

export interface BrokerCommandValues {
  host?: string;
  port?: string;
  unix?: string;
  'fifo-dir'?: string;
  token?: string;
  'token-file'?: string;
  'log-level'?: string;
  'max-in-flight'?: string;
  'max-frame'?: string;
  cluster?: string;
  'broker-id'?: string;
  config?: string;
}

/** sysexits: usage error, configuration error. */
const EX_USAGE = 64;
const EX_CONFIG = 78;

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) throw new BrokerConfigError(flag, `must be a non-negative integer, got ${value}`);
  return Number(value);
}

/**
 * The broker thread's young generation, in MiB: V8 makes it three semi-spaces' worth (two semi-spaces
 * and the young large-object space), so 24 is 8 MiB per semi-space, half V8's default. 4 MiB measured
 * the same CPU with 16 MB less RSS at small frames and 4% more at 768 float32; 2 MiB cost 1.3x.
 */
export const BROKER_YOUNG_GENERATION_MB = 24;

/** Marks the worker thread runBrokerCommand starts, so that loading this module elsewhere starts nothing. */
const WORKER_MARK = 'concord-broker-command';

/** Exit status when the broker thread itself failed (sysexits EX_SOFTWARE). */
const EX_SOFTWARE = 70;

/**
 * Starts the broker in a worker thread with a capped young generation (see the module comment); returns
 * 0, and the process exits with the thread's code once it ends. `CONCORD_BROKER_MAIN_THREAD=1` runs it on
 * the main thread instead, with V8's default heap.
 */
export function runBrokerCommand(flags: BrokerCommandValues): number {
  if (process.env['CONCORD_BROKER_MAIN_THREAD'] === '1') return serveBroker(flags, (handler) => {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
  // A log pipe whose reader went away (EPIPE) must not end the main thread: the worker's lines go through it.
  process.stderr.on('error', () => undefined);
  const [entry, entryOptions] = brokerThreadEntry();
  const worker = new Worker(entry, {
    ...entryOptions,
    workerData: { mark: WORKER_MARK, flags },
    resourceLimits: { maxYoungGenerationSizeMb: BROKER_YOUNG_GENERATION_MB },
    // The FIFO transport opens each FIFO with fs.open() and hands the descriptor to a libuv pipe handle
    // (net.Socket, transport/fifo-stream.ts), which closes it itself, never through fs.close(). A worker's
    // tracking of fs.open() descriptors (Node's default) cannot see that hand-over and keeps every such
    // number as open: it warned "File descriptor N opened in unmanaged mode twice" each time the number
    // came back for a later pair, and at the thread's exit it would close every number it still holds, by
    // then possibly another file of the process. The broker closes its own descriptors.
    trackUnmanagedFds: false,
  });
  const forward = (signal: NodeJS.Signals): void => worker.postMessage({ signal });
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  worker.on('error', (e) => {
    process.stderr.write(`concord broker: the broker thread failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = EX_SOFTWARE;
  });
  worker.on('exit', (code) => process.exit(process.exitCode ?? code));
  return 0;
}

/**
 * What the broker thread runs: this module. Run from the TypeScript sources (the tests, through tsx),
 * a worker does not inherit tsx's loader on Node 20, so the thread loads the module through tsx's own API.
 */
function brokerThreadEntry(): [URL | string, { eval?: boolean }] {
  if (!import.meta.url.endsWith('.ts')) return [new URL(import.meta.url), {}];
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const self = JSON.stringify(import.meta.url);
  return [`import(${api}).then((tsx) => tsx.tsImport(${self}, ${self}))`, { eval: true }];
}

// The worker thread runBrokerCommand started: serve, and take the signals the main thread forwards.
if (!isMainThread && (workerData as { mark?: string } | null)?.mark === WORKER_MARK && parentPort !== null) {
  const port = parentPort;
  const code = serveBroker((workerData as { flags: BrokerCommandValues }).flags, (handler) => {
    port.on('message', (m: { signal?: NodeJS.Signals }) => {
      if (m.signal !== undefined) handler(m.signal);
    });
    // The port alone must not keep the thread alive once the broker is gone (a failed listen).
    port.unref();
  });
  if (code !== 0) process.exit(code);
}

/**
 * The broker's options from the command's values (a configuration file already merged in): throws
 * BrokerConfigError for a value that is no integer and TokenSourceError for a token file it cannot use.
 * Also what starts a broker in process from the same command line (the mutation tests' broker-process cases).
 */
export function brokerOptionsOf(values: Omit<BrokerCommandValues, 'config'>): BrokerOptions {
  return {
    host: values.host,
    port: integer('--port', values.port),
    // TCP stays on unless --unix or --fifo-dir is given alone.
    tcp: (values.unix === undefined && values['fifo-dir'] === undefined) || values.port !== undefined || values.host !== undefined,
    unixPath: values.unix,
    fifoDir: values['fifo-dir'],
    token: resolveToken({ token: values.token, tokenFile: values['token-file'] }),
    maxInFlight: integer('--max-in-flight', values['max-in-flight']),
    maxFrame: integer('--max-frame', values['max-frame']),
    ...(values['broker-id'] !== undefined || values.cluster !== undefined ? { brokerId: values['broker-id'] ?? `concord-broker-${process.pid}` } : {}),
    ...(values.cluster !== undefined ? { cluster: { url: values.cluster } } : {}),
  };
}

/** Starts the broker; returns an exit code for synchronous failures, 0 once it is starting. */
function serveBroker(flags: BrokerCommandValues, onSignals: (handler: (signal: NodeJS.Signals) => void) => void): number {
  let values: BrokerCommandValues;
  try {
    values = withConfigFile(flags, BROKER_CONFIG_KEYS);
  } catch (e) {
    process.stderr.write(`concord broker: ${(e as Error).message}\n`);
    return EX_CONFIG;
  }
  const logLevel = values['log-level'] ?? 'info';
  if (!isLogLevel(logLevel)) {
    process.stderr.write(`concord broker: --log-level must be debug, info, warn or error\n`);
    return EX_USAGE;
  }
  let broker: Broker;
  try {
    broker = new Broker({ ...brokerOptionsOf(values), logLevel });
  } catch (e) {
    process.stderr.write(`concord broker: ${(e as Error).message}\n`);
    return e instanceof BrokerConfigError || e instanceof TokenSourceError ? EX_CONFIG : EX_USAGE;
  }
  installSafetyNet(broker);
  // Says which heap the broker got: the worker thread's cap, or V8's default on the main thread.
  if (!isMainThread) broker.log.info('broker thread', { young_generation_mb: resourceLimits.maxYoungGenerationSizeMb });
  broker.listen().catch((e: unknown) => {
    broker.log.error('cannot start', { error: (e as Error).message });
    process.exitCode = e instanceof ListenError ? EX_CONFIG : 1;
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    broker.log.info('signal', { signal });
    if (signals === 1) void broker.shutdown().then(() => process.exit(process.exitCode ?? 0));
    else void broker.close().then(() => process.exit(130));
  };
  onSignals(onSignal);
  return 0;
}
