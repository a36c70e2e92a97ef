/**
 * The peer of a `conformance` run, from its options: one kind of peer each (conformance/wire/peer-target.ts),
 * and what the harness starts for it: the embedded reference broker when there is no target, the
 * listener of listen mode, a private directory for FIFO pairs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseLinesTarget, parseTarget, TargetError } from './target.js';
import { Listener } from './wire/listener.js';
import { BrokerProcessPeer, EmbeddedPeer, ExecFifoPeer, ExecPeer, FifoDirPeer, ListenPeer, OwnedClusterPeer, TcpPeer, type PeerTarget } from './wire/peer-target.js';
import { brokerOptionsFor, EMBEDDED_LIMITS, resolveLimits, type Limits } from './limits.js';
import type { RunCommandOptions } from './run-command.js';

/** The options a run's peer comes from. */
export type PeerOptions = Pick<RunCommandOptions, 'target' | 'exec' | 'listen' | 'fifo' | 'role' | 'linesTimeoutS' | 'linesPeer' | 'brokerCommand' | 'brokerLauncher' | 'clusterDriver' | 'token' | 'limits'>;

/** A run's peer, and what the harness started for it. */
export interface RunPeer {
  target: PeerTarget;
  /** Ends what the harness started for the peer (the embedded broker, the listener, a private FIFO directory). */
  stop?: () => Promise<void>;
  /** The token the cases send: the user's, or the embedded broker's own. */
  token?: string;
  /** The limits the peer runs with (the embedded broker's timers at their minimum). */
  limits: Limits;
}

/** The listener of listen mode could not start (exit 69); `name` and `target` are for the report. */
export class ListenError extends Error {
  override name = 'ListenError';
  constructor(message: string, readonly peerName: string, readonly target: string) {
    super(message);
  }
}

/** A private directory for FIFO pairs, inside a fresh temporary one (removed with it by `remove`). */
function scratchFifoDir(): { dir: string; remove: () => void } {
  const parent = mkdtempSync(join(tmpdir(), 'concord-fifo-'));
  return { dir: join(parent, 'pairs'), remove: () => rmSync(parent, { recursive: true, force: true }) };
}

/** Starts (where the kind needs it) and returns the peer the options name; `say` tells what the harness started. */
export async function runPeerOf(o: PeerOptions, say: (text: string) => void): Promise<RunPeer> {
  const limits = resolveLimits(o.limits);
  const token = o.token !== undefined ? { token: o.token } : {};
  if (o.target?.startsWith('lines:')) {
    return { target: parseLinesTarget(o.target, { role: o.role, command: o.exec, timeoutS: o.linesTimeoutS, peer: o.linesPeer }), limits, ...token };
  }
  if (o.brokerCommand !== undefined) return { target: new BrokerProcessPeer(o.brokerCommand, o.brokerLauncher), limits, ...token };
  if (o.clusterDriver !== undefined) return { target: new OwnedClusterPeer(o.clusterDriver), limits, ...token };
  if (o.listen !== undefined) return { ...(await listenPeer(o.listen, o.exec, say)), limits, ...token };
  if (o.exec !== undefined) return { ...execPeer(o.exec, o.target, o.fifo === true), limits, ...token };
  if (o.target === undefined) return embeddedPeer(o, say);
  return { target: parseTarget(o.target), limits, ...token };
}

async function listenPeer(port: number, command: string[] | undefined, say: (text: string) => void): Promise<{ target: ListenPeer; stop: () => Promise<void> }> {
  const listener = new Listener(command);
  const target = new ListenPeer(listener);
  try {
    await listener.start(port);
  } catch (e) {
    throw new ListenError(`cannot listen: ${(e as Error).message}`, 'client-listen', `listen:127.0.0.1:${port}`);
  }
  say(command ? `conformance: listening on 127.0.0.1:${listener.port}; starting the client for each case: ${command.join(' ')}\n`
    : `conformance: listening on 127.0.0.1:${listener.port}; connect your client (it must reconnect after each case)\n`);
  return { target, stop: () => listener.close() };
}

/** A peer command on stdio, or with fifo:DIR (or `fifo` alone: a private directory) on a FIFO pair passed as {fifo} (section 10.4). */
function execPeer(command: string[], target: string | undefined, fifo: boolean): { target: ExecPeer | ExecFifoPeer; stop?: () => Promise<void> } {
  if (target !== undefined) {
    const dir = parseTarget(target);
    if (dir.kind !== 'fifo') throw new TargetError('--exec takes no --target other than fifo:DIR (the peer then gets its FIFO pair as {fifo})');
    return { target: new ExecFifoPeer(command, dir.dir) };
  }
  if (!fifo) return { target: new ExecPeer(command) };
  const scratch = scratchFifoDir();
  return { target: new ExecFifoPeer(command, scratch.dir), stop: () => Promise.resolve(scratch.remove()) };
}

/** No target: the reference broker started in process, over TCP or (with `fifo`) FIFO pairs in a private directory. */
async function embeddedPeer(o: PeerOptions, say: (text: string) => void): Promise<RunPeer> {
  const { Broker } = await import('./oracle.js');
  // A token of our own, so the security cases run against the embedded broker too.
  const token = o.token ?? randomBytes(16).toString('hex');
  const scratch = o.fifo ? scratchFifoDir() : undefined;
  // Its timers at their minimum (limits.ts), so heartbeat, handshake and drain cases take seconds.
  const limits = resolveLimits({ ...EMBEDDED_LIMITS, ...o.limits });
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', token, ...brokerOptionsFor(limits), ...(scratch ? { tcp: false, fifoDir: scratch.dir } : {}) });
  const bound = await broker.listen();
  const via = scratch ? new FifoDirPeer(scratch.dir) : new TcpPeer('127.0.0.1', bound.port!);
  const target = new EmbeddedPeer(via, () => void broker.shutdown());
  say(`conformance: no --target; testing the reference broker started in process on ${target.describe()}\n`);
  return { target, token, limits, stop: async () => {
    await broker.close();
    scratch?.remove();
  } };
}
