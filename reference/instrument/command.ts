/**
 * `concord instrument`: the reference hardware mock (spec sections 9.8 and 17) on stdio (default),
 * listening on a TCP port, or as a client of a broker.
 */
import { connect, createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { InstrumentModel } from './model.js';
import { watchParent } from '../transport/parent.js';
import { Rng } from './rng.js';
import { EXIT_CODE, WorkerSession, type EndReason, type Faults } from './session.js';
import { instrumentSpec } from './spec.js';

/** Connections that may wait while one is served: Node's default listen backlog, which they stand in for. */
const WAITING_CONNECTIONS_MAX = 511;

export const INSTRUMENT_HELP = `  instrument [--stdio | --port N | --broker HOST:PORT] [--seed N]
                               the reference instrument worker (hardware mock, spec section 17):
                               --port N listens on 127.0.0.1 (--host H), --broker connects as a client
                               (--id NAME, --notify DST for its events, default *);
                               faults: --delay-ms N, --error-rate P, --drop-after N
`;

/** A command-line mistake: exit 64. */
class UsageError extends Error {}

interface Options {
  mode: { kind: 'stdio' } | { kind: 'port'; host: string; port: number } | { kind: 'broker'; host: string; port: number };
  seed: number;
  id: string;
  notify: string;
  delayMs: number;
  errorRate: number;
  dropAfter: number;
}

function integer(name: string, text: string | undefined, fallback: number, max = 2 ** 32 - 1): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > max) throw new UsageError(`--${name} must be an integer in 0 .. ${max}, not ${text}`);
  return n;
}

function hostPort(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--broker must be HOST:PORT, not ${text}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: integer('broker', m[2], 0, 65535) };
}

export function parseInstrumentArgs(argv: string[]): Options {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    stdio: { type: 'boolean' }, port: { type: 'string' }, host: { type: 'string' }, broker: { type: 'string' },
    seed: { type: 'string' }, id: { type: 'string' }, notify: { type: 'string' },
    'delay-ms': { type: 'string' }, 'error-rate': { type: 'string' }, 'drop-after': { type: 'string' },
  } });
  if (positionals.length > 0) throw new UsageError(`unexpected arguments: ${positionals.join(' ')}`);
  if ([values.stdio, values.port, values.broker].filter((v) => v !== undefined).length > 1) throw new UsageError('give one of --stdio, --port, --broker');
  const errorRate = values['error-rate'] === undefined ? 0 : Number(values['error-rate']);
  if (!(errorRate >= 0 && errorRate <= 1)) throw new UsageError(`--error-rate must be in 0 .. 1, not ${values['error-rate']}`);
  const mode: Options['mode'] = values.port !== undefined ? { kind: 'port', host: values.host ?? '127.0.0.1', port: integer('port', values.port, 0, 65535) }
    : values.broker !== undefined ? { kind: 'broker', ...hostPort(values.broker) } : { kind: 'stdio' };
  return {
    mode, seed: integer('seed', values.seed, 0), id: values.id ?? `instrument-mock-${process.pid}`, notify: values.notify ?? '*',
    delayMs: integer('delay-ms', values['delay-ms'], 0, 600_000), errorRate, dropAfter: integer('drop-after', values['drop-after'], 0),
  };
}

function exit(code: number): void {
  process.exitCode = code;
  // Give the last writes a moment, then leave even if a peer never reads them (and whatever
  // exitCode the synchronous caller in cli.ts set meanwhile).
  setTimeout(() => process.exit(code), 100);
}

function serveStream(o: Options, model: InstrumentModel, faults: Faults, input: NodeJS.ReadableStream, output: NodeJS.WritableStream & { destroy(): void }, eventsDst: string | undefined, onEnd: (r: EndReason) => void): WorkerSession {
  const session = new WorkerSession({
    role: 'client', worker: o.id, model, faults, ...(eventsDst !== undefined ? { eventsDst } : {}),
    write: (b) => void output.write(b), end: () => output.end(), destroy: () => output.destroy(), onEnd,
  });
  input.on('data', (chunk: Buffer) => session.push(chunk));
  input.on('end', () => session.inputEnded());
  input.on('error', () => session.inputEnded());
  return session;
}

/** Runs the worker; resolves once it is serving (the process exits by itself later). */
export async function runInstrumentCommand(argv: string[]): Promise<void> {
  let o: Options;
  try {
    o = parseInstrumentArgs(argv);
  } catch (e) {
    process.stderr.write(`concord instrument: ${(e as Error).message}\n${INSTRUMENT_HELP}`);
    return exit(64);
  }
  try {
    instrumentSpec();
  } catch (e) {
    process.stderr.write(`concord instrument: cannot read the instrument spec: ${(e as Error).message}\n`);
    return exit(70);
  }
  const model = new InstrumentModel(o.seed);
  const faults: Faults = { delayMs: o.delayMs, errorRate: o.errorRate, dropAfter: o.dropAfter, rng: new Rng((o.seed ^ 0x9e3779b9) >>> 0), count: 0 };
  const onEnd = (r: EndReason): void => {
    process.stderr.write(`concord instrument: ${r}\n`);
    exit(EXIT_CODE[r]);
  };
  if (o.mode.kind === 'stdio') {
    const session = serveStream(o, model, faults, process.stdin, process.stdout, undefined, onEnd);
    process.stdout.on('error', () => session.inputEnded());
    watchParent(() => session.parentDied());
    return;
  }
  if (o.mode.kind === 'broker') {
    const { host, port } = o.mode;
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    socket.once('error', (e) => {
      process.stderr.write(`concord instrument: cannot reach the broker at ${host}:${port}: ${e.message}\n`);
      exit(69);
    });
    socket.once('connect', () => {
      const session = serveStream(o, model, faults, socket, socket, o.notify, onEnd);
      watchParent(() => session.parentDied());
    });
    return;
  }
  const { host, port } = o.mode;
  let active: Socket | undefined;
  let current: WorkerSession | undefined;
  // One connection at a time (section 17): a connection that arrives while another is served waits,
  // unread, as it would in the listen backlog (a client connecting just after the previous one closed
  // must not be reset because the close was not seen yet); more than the backlog's 511 are refused.
  const waiting: Socket[] = [];
  const serveNext = (): void => {
    for (let next = waiting.shift(); next; next = waiting.shift()) {
      if (next.destroyed) continue;
      serve(next);
      return;
    }
  };
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    if (active) {
      if (waiting.length >= WAITING_CONNECTIONS_MAX) socket.destroy();
      else {
        socket.on('error', () => undefined);
        waiting.push(socket);
      }
      return;
    }
    serve(socket);
  });
  function serve(socket: Socket): void {
    active = socket;
    socket.setNoDelay(true);
    current = new WorkerSession({
      role: 'broker', worker: o.id, model, faults,
      write: (b) => void socket.write(b), end: () => socket.end(), destroy: () => socket.destroy(),
      onEnd: (r) => {
        if (r === 'shutdown' || r === 'parent-died') {
          for (const w of waiting.splice(0)) w.destroy();
          server.close();
          onEnd(r);
        }
      },
    });
    const session = current;
    socket.on('data', (chunk: Buffer) => session.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      session.inputEnded();
      if (active === socket) {
        active = undefined;
        current = undefined;
        serveNext();
      }
    });
    socket.resume();
  }
  server.once('error', (e) => {
    process.stderr.write(`concord instrument: cannot listen on ${host}:${port}: ${e.message}\n`);
    exit(69);
  });
  server.listen(port, host, () => {
    const address = server.address();
    process.stderr.write(`concord instrument: listening on ${host}:${typeof address === 'object' && address ? address.port : port}\n`);
  });
  watchParent(() => {
    if (current) current.parentDied();
    server.close();
    onEnd('parent-died');
  });
}
