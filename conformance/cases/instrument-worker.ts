/**
 * How the instrument suite reaches a worker under test. The exec command is the worker: over stdio
 * the harness plays its parent and broker (section 10.3); when the command holds `{broker}`, the
 * harness starts a reference broker in process, puts its address there, connects as a client of its
 * own and talks to the worker through the broker (section 17). Every process started here is ended
 * by its PID in `close()`.
 */
import { harnessInitAck } from './init-ack.js';
import type { ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { WireConnection } from '../wire/connection.js';
import { commandOf, TcpPeer } from '../wire/peer-target.js';
import { startPeerProcess, type PeerProcess } from '../wire/peer-process.js';
import { startUnderParent } from '../wire/intermediate-parent.js';
import type { Message } from '../../reference/codec/message.js';
import type { Encoding } from '../../reference/codec/index.js';
import { DEFAULT_LIMITS, PROTOCOL_VERSION } from '../../spec/generated/catalog.js';
import { CaseFailure, CaseSkipped } from './model.js';
import type { CaseContext } from './context.js';

/** How long a worker may take to start and send INIT (a process start, not a reply). */
export const WORKER_START_MS = 15_000;

export interface WorkerHandle {
  via: 'stdio' | 'broker';
  /** The harness's connection: to the worker itself (stdio) or to the broker. */
  conn: WireConnection;
  /** The worker's `dst`: its client id through a broker. */
  dst?: string;
  ready: Message;
  /** Outstanding commands the path allows (max_in_flight through a broker). */
  window: number;
  pid: number;
  /** Sends a command; returns its id. */
  command(command: string, params?: Record<string, unknown>, id?: string): string;
  /** The worker process's exit code once it exits, or null (signal). */
  exited(): Promise<number | null>;
  close(): Promise<void>;
}

interface Options {
  /** Through a broker: a relay the case can cut (the worker's input closes). */
  relay?: boolean;
  /** Start the worker under an intermediate parent the case can kill. */
  parent?: boolean;
  /** Over stdio, the encoding INIT_ACK chooses (default json); cbor skips the case for a worker that does not offer it. */
  encoding?: Encoding;
}

let counter = 0;

/** Re-exported for the instrument cases: whether the worker's PID is gone within a wait. */
export { gone } from '../wire/intermediate-parent.js';

function kill(pid: number | undefined): void {
  // Never 0 or negative: kill(-1) ends every process the harness may signal, kill(0) its own group.
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

interface SpawnedWorker {
  peer: PeerProcess;
  child: ChildProcess;
  /** The worker's standard input, held by the harness. */
  input: Writable;
  workerPid: Promise<number>;
}

function spawnWorker(command: string[], parent: boolean): SpawnedWorker {
  if (!parent) {
    const peer = startPeerProcess(command, { stdio: ['pipe', 'pipe', 'pipe'] });
    return { peer, child: peer.child, input: peer.child.stdin!, workerPid: Promise.resolve(peer.child.pid ?? -1) };
  }
  const { peer, input, childPid } = startUnderParent(command);
  return { peer, child: peer.child, input, workerPid: childPid };
}

/** How long descendants of an exited worker get to end before they count as left behind. */
const DESCENDANTS_MS = 2_000;

/**
 * PIDs of the worker's process group still running once the worker is gone, the harness's own
 * intermediate parent excepted: descendants the worker left behind (STDIO-3, INS-10, INS-16).
 */
export async function leftBehind(w: StartedWorker): Promise<number[]> {
  const until = Date.now() + DESCENDANTS_MS;
  for (;;) {
    const rest = w.peer.survivors().filter((pid) => pid !== w.parentPid && pid !== w.pid);
    if (rest.length === 0 || Date.now() >= until) return rest;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP relay the case can cut: the worker connects to it, it forwards to the broker. */
function startRelay(brokerPort: number): Promise<{ server: Server; port: number; cut(): void }> {
  const sockets: Socket[] = [];
  const server = createServer((inbound) => {
    const outbound = connect({ host: '127.0.0.1', port: brokerPort });
    sockets.push(inbound, outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    resolve({ server, port: typeof address === 'object' && address ? address.port : 0, cut: () => sockets.forEach((s) => s.destroy()) });
  }));
}

export interface StartedWorker extends WorkerHandle {
  /** The process the harness started (the worker, or its intermediate parent): its group holds the worker's descendants. */
  peer: PeerProcess;
  /** Cuts the worker's input: closes its stdin (stdio) or its connection to the broker (relay). */
  closeInput(): void;
  /** The intermediate parent's PID (option `parent`). */
  parentPid?: number;
  /** The worker's INIT payload (over stdio; through a broker the harness never sees it). */
  init?: Record<string, unknown>;
}

/** Starts the worker under test and completes its handshake up to the `ready` event (INS-12). */
export async function startWorker(ctx: CaseContext, options: Options = {}): Promise<StartedWorker> {
  const given = commandOf(ctx.options.target);
  if (!given) throw new CaseSkipped('the instrument suite needs a worker command: conformance --suite instrument --exec -- CMD');
  const exec = [...given];
  const viaBroker = exec.some((a) => a.includes('{broker}'));
  const cleanups: (() => void | Promise<void>)[] = [];
  let workerPid: number | undefined;
  const close = async (): Promise<void> => {
    kill(workerPid);
    for (const c of cleanups.reverse()) await c();
  };
  try {
    if (!viaBroker) {
      const { peer, child, input, workerPid: pidP } = spawnWorker(exec, options.parent === true);
      cleanups.push(() => peer.stop());
      // The connection before the PID: frames the worker sends meanwhile must not be lost.
      const conn = ctx.adopt(WireConnection.fromPeer(peer, 'worker', input));
      workerPid = await pidP;
      if (workerPid <= 0) throw new CaseFailure(`the worker could not be started (${peer.status ?? 'no PID reported'})${peer.stderrTail() ? `; stderr: ${peer.stderrTail()}` : ''}`);
      cleanups.push(() => conn.destroy());
      const init = await expectWithin(ctx, conn, 'INIT from the worker (INS-12)', WORKER_START_MS, (m) => m.name === 'INIT');
      const p = init.payload as Record<string, unknown>;
      if (p['role'] !== 'worker') throw new CaseFailure('the worker\'s INIT does not declare role worker (INS-12)', 'worker', String(p['role']));
      const encoding = options.encoding ?? 'json';
      const offered = Array.isArray(p['encodings']) ? (p['encodings'] as unknown[]) : [];
      if (!offered.includes(encoding)) throw new CaseSkipped(`the worker does not offer ${encoding} in its INIT`);
      conn.send(harnessInitAck(init, encoding));
      const ready = await expectReady(ctx, conn);
      const pid = workerPid;
      return {
        via: 'stdio', conn, ready, window: Number.MAX_SAFE_INTEGER, pid, close, peer, init: p,
        ...(options.parent ? { parentPid: child.pid! } : {}),
        command: (command, params, id) => send(conn, undefined, command, params, id),
        exited: () => exitOf(child, pid),
        closeInput: () => conn.end(),
      };
    }
    const { Broker } = await import('../oracle.js');
    const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
    const bound = await broker.listen();
    cleanups.push(() => broker.close());
    let port = bound.port!;
    let cut = (): void => undefined;
    if (options.relay) {
      const relay = await startRelay(port);
      cleanups.push(() => new Promise<void>((r) => { relay.cut(); relay.server.close(() => r()); }));
      port = relay.port;
      cut = relay.cut;
    }
    const conn = ctx.adopt(await new TcpPeer('127.0.0.1', bound.port!).open('harness', ctx.timeoutMs));
    cleanups.push(() => conn.destroy());
    conn.send({ type: 'INIT', header: { id: 'init' }, payload: {
      client_id: `harness-instrument-${process.pid}-${++counter}`, language: 'typescript', role: 'harness', protocol_version: PROTOCOL_VERSION,
      encodings: ['json', 'cbor'], max_frame: DEFAULT_LIMITS.max_frame, name: 'concord-conformance',
    } });
    const ack = await ctx.expectMessage(conn, 'INIT_ACK from the broker', (m) => m.name === 'INIT_ACK');
    const command = exec.map((a) => a.replaceAll('{broker}', `127.0.0.1:${port}`));
    const { peer, child, workerPid: pidP } = spawnWorker(command, options.parent === true);
    cleanups.push(() => peer.stop());
    child.stdout?.resume();
    workerPid = await pidP;
    if (workerPid <= 0) throw new CaseFailure(`the worker could not be started (${peer.status ?? 'no PID reported'})${peer.stderrTail() ? `; stderr: ${peer.stderrTail()}` : ''}`);
    const ready = await expectWithin(ctx, conn, 'INSTRUMENT_EVENT ready from the worker through the broker (INS-12)', WORKER_START_MS, (m) => m.name === 'INSTRUMENT_EVENT');
    checkReady(ready);
    const dst = ready.header.src;
    if (dst === undefined) throw new CaseFailure('the ready event arrived without src');
    const pid = workerPid;
    return {
      via: 'broker', conn, dst, ready, pid, close, peer,
      window: Math.max(1, Number((ack.payload as { max_in_flight: number }).max_in_flight) - 24),
      ...(options.parent ? { parentPid: child.pid! } : {}),
      command: (name, params, id) => send(conn, dst, name, params, id),
      exited: () => exitOf(child, pid),
      closeInput: cut,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

let ids = 0;

function send(conn: WireConnection, dst: string | undefined, command: string, params: Record<string, unknown> | undefined, id?: string): string {
  const header = { id: id ?? `cmd-${++ids}`, src: 'concord-conformance', ...(dst !== undefined ? { dst } : {}) };
  if (dst !== undefined) delete (header as { src?: string }).src; // through a broker the broker sets src
  conn.send({ type: 'INSTRUMENT_COMMAND', header, payload: params === undefined ? { command } : { command, params } });
  return header.id;
}

function exitOf(child: ChildProcess, pid: number): Promise<number | null> {
  if (child.pid !== pid) return Promise.resolve(null); // behind an intermediate parent: no status to read
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function expectWithin(ctx: CaseContext, conn: WireConnection, what: string, ms: number, accept: (m: Message) => boolean): Promise<Message> {
  const r = await conn.next(ms);
  if (r.kind === 'timeout') throw new CaseFailure(`expected ${what} within ${ms} ms; nothing arrived`);
  if (r.kind === 'closed') throw new CaseFailure(`expected ${what}; the worker closed (${r.reason})`);
  if (r.kind === 'invalid') throw new CaseFailure(`expected ${what}; got a frame that breaks the spec: ${r.error.message}`);
  if (!accept(r.message)) throw new CaseFailure(`expected ${what}; got ${r.message.name}`, what, r.message.name);
  void ctx;
  return r.message;
}

function checkReady(m: Message): void {
  const p = m.payload as { event?: string; worker?: string };
  if (p.event !== 'ready') throw new CaseFailure(`expected the ready event first (INS-12); got event ${p.event}`, 'ready', String(p.event));
}

async function expectReady(ctx: CaseContext, conn: WireConnection): Promise<Message> {
  const m = await ctx.expectMessage(conn, 'INSTRUMENT_EVENT ready after INIT_ACK (INS-12)', (x) => x.name === 'INSTRUMENT_EVENT');
  checkReady(m);
  return m;
}
