/**
 * The broker benchmark (issue 3), run by `npm run bench` after the codec one. One load generator, the
 * same code and topology for both targets, measured in one run with interleaved rounds:
 *
 *   - target `broker`: the reference broker, a child process started from the built output
 *     (`node dist/reference/cli.js broker --port 0`);
 *   - target `relay`: the C++ relay (cpp-client/bench/relay.cpp), the physical-limit baseline, built here
 *     with CMake.
 *
 * Topology: one connection `worker` answering every REASONING_REQUEST with a fixed REASONING_RESPONSE, and
 * CLIENTS connections `c0`.. sending REASONING_REQUESTs to it (`src` set by the client itself, so the relay,
 * which never rewrites headers, lets the worker answer; the broker overwrites it with the same value).
 * Payloads are encoded once with the codec; per request only the header is written. Receiving goes through
 * the codec's FrameDecoder and decodeEnvelope; writes are corked per read batch.
 *
 * Figures are medians over rounds; the ratios are broker / relay from the same rounds. Also measured: the
 * targets' RSS before and after every scenario, their CPU time per request, the load generator's own CPU
 * share (when it is near 1 the relay figures are the load generator's limit, not the relay's), and the
 * harness's rate of generated cases against the reference broker.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createConnection, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeEnvelope, decodeMessage, encodeMessage, encodeMessageFrame, FrameDecoder, MESSAGES, MessageType, NDArray } from '../reference/codec/index.js';
import { runCommand } from '../conformance/run-command.js';
import { ROOT_DIR } from '../spec/tools/load.js';

const CLIENTS = 4;
const ROUNDS = 5;
const WARMUP_MS = 250;
const MEASURE_MS = 1_500;
/** The scenario rounds stop starting once this much time has passed (the warm-up pass included). */
const TIME_BUDGET_MS = 80_000;
const DRAIN_TIMEOUT_MS = 5_000;
const START_TIMEOUT_MS = 10_000;
const LATENCY_CAP = 200_000;
/** Send times are kept in a ring indexed by request id; far more than the requests one client has open. */
const RING = 4096;
/** RUNS_PER_TYPE in conformance/cases/properties.cases.ts. */
const PROPERTY_RUNS_PER_TYPE = 25;
const PROPERTY_CASES = ['requests/prop-routed-payloads-arrive-equal/encoding:json', 'requests/prop-routed-payloads-arrive-equal/encoding:cbor'];

const RELAY_SOURCE = join(ROOT_DIR, 'cpp-client', 'bench');
const RELAY_BUILD = join(ROOT_DIR, 'cpp-client', 'build', 'bench');
const RELAY_BIN = join(RELAY_BUILD, 'concord-relay');
const BROKER_CLI = join(ROOT_DIR, 'dist', 'reference', 'cli.js');

type TargetName = 'broker' | 'relay';
const TARGETS: readonly TargetName[] = ['broker', 'relay'];

interface Scenario {
  key: 'small_1' | 'small_32' | '768f32_32';
  label: string;
  inFlight: number;
  payload: Uint8Array;
  latency: boolean;
}

interface Sample {
  reqPerSec: number;
  p50Us: number | undefined;
  p99Us: number | undefined;
  rssBeforeKb: number;
  rssAfterKb: number;
  targetCpuUsPerReq: number;
  loadgenCpuShare: number;
  workerCpuShare: number;
  errors: number;
}

const log = (text: string): void => void process.stderr.write(text);

// --- payloads, encoded once -------------------------------------------------------------------------

function payloadBytes(type: string, payload: unknown): Uint8Array {
  return decodeEnvelope(encodeMessage({ type, header: { id: 'x' }, payload, encoding: 'json' })).payload.slice();
}

const floats = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i + 1)));
const SMALL_REQUEST = payloadBytes('REASONING_REQUEST', { encoding: NDArray.from('<f4', [4], floats(4)), context: 'bench', source: 'typescript' });
const LARGE_REQUEST = payloadBytes('REASONING_REQUEST', { encoding: NDArray.from('<f4', [768], floats(768)), context: 'bench', source: 'typescript' });
const RESPONSE = payloadBytes('REASONING_RESPONSE', {
  spike_count: 3,
  confidence: 0.5,
  firing_pattern: NDArray.from('|u1', [8], [1, 0, 0, 1, 1, 0, 1, 0]),
  engine: 'bench-worker',
  latency_ms: 0,
});

const SCENARIOS: Scenario[] = [
  { key: 'small_1', label: 'small, 1 in flight', inFlight: 1, payload: SMALL_REQUEST, latency: true },
  { key: 'small_32', label: 'small, 32 in flight', inFlight: 32, payload: SMALL_REQUEST, latency: false },
  { key: '768f32_32', label: '768 f32, 32 in flight', inFlight: 32, payload: LARGE_REQUEST, latency: false },
];

/** A whole frame: prefix, the header given as ASCII JSON, then the payload bytes. */
function frame(type: number, header: string, payload: Uint8Array): Buffer {
  const hlen = header.length;
  const out = Buffer.allocUnsafe(8 + hlen + payload.length);
  out.writeUInt32BE(4 + hlen + payload.length, 0);
  out[4] = type;
  out[5] = 0;
  out.writeUInt16BE(hlen, 6);
  out.write(header, 8, 'latin1');
  out.set(payload, 8 + hlen);
  return out;
}

const EMPTY = new Uint8Array(0);

// --- connections ------------------------------------------------------------------------------------

/** A raw connection after its handshake; `onBodies` gets every later frame body. */
class Peer {
  readonly decoder = new FrameDecoder();
  errors = 0;
  private pongs = 0;

  private constructor(
    readonly name: string,
    readonly socket: Socket,
  ) {}

  static connect(port: number, clientId: string, role: 'client' | 'engine'): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      const peer = new Peer(clientId, socket);
      const timer = setTimeout(() => fail(new Error(`${clientId}: no INIT_ACK within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      socket.setNoDelay(true);
      socket.once('error', fail);
      socket.once('connect', () => {
        const init = { client_id: clientId, language: 'typescript', role, protocol_version: '1.0', encodings: ['json'], max_frame: 16_777_216, name: 'concord-bench' };
        socket.write(encodeMessageFrame({ type: 'INIT', header: { id: `init-${clientId}` }, payload: init }));
      });
      const onHandshake = (chunk: Buffer): void => {
        let bodies: Uint8Array[];
        try {
          bodies = peer.decoder.push(chunk);
        } catch (e) {
          return fail(e as Error);
        }
        if (bodies.length === 0) return;
        socket.off('data', onHandshake);
        try {
          const ack = decodeMessage(bodies[0]!); // the whole INIT_ACK is checked, the relay's too
          if (ack.type !== MessageType.INIT_ACK || ack.header.re !== `init-${clientId}`) throw new Error(`${clientId}: expected INIT_ACK, got ${ack.name} ${JSON.stringify(ack.payload)}`);
        } catch (e) {
          return fail(e as Error);
        }
        clearTimeout(timer);
        socket.off('error', fail);
        socket.on('error', (e) => log(`bench: ${clientId}: ${e.message}\n`));
        socket.on('data', (c: Buffer) => peer.onBodies(peer.decoder.push(c)));
        if (bodies.length > 1) peer.onBodies(bodies.slice(1));
        resolve(peer);
      };
      socket.on('data', onHandshake);
    });
  }

  /** Replaced by the role: client or worker. */
  onBodies: (bodies: Uint8Array[]) => void = (bodies) => {
    for (const b of bodies) this.other(b);
  };

  /** A frame the hot path does not expect: PING is answered, ERROR counted. */
  other(body: Uint8Array): void {
    const env = decodeEnvelope(body);
    if (env.type === MessageType.PING) {
      this.socket.write(frame(MessageType.PONG, JSON.stringify({ id: `pong-${++this.pongs}`, re: env.header.id }), EMPTY));
    } else if (env.type === MessageType.ERROR) {
      this.errors++;
      if (this.errors <= 3) log(`bench: ${this.name} got ERROR ${Buffer.from(env.payload).toString('utf8').slice(0, 200)}\n`);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1_000).unref();
    });
  }
}

/** Answers every REASONING_REQUEST with the fixed response: `re` its id, `dst` its src. */
/** One write per read batch: the frames of a batch are joined (cheaper than cork() around many writes). */
function writeBatch(socket: Socket, out: Buffer[]): void {
  if (out.length === 0) return;
  socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  out.length = 0;
}

function makeWorker(peer: Peer): void {
  let n = 0;
  const socket = peer.socket;
  const out: Buffer[] = [];
  peer.onBodies = (bodies) => {
    for (const body of bodies) {
      if (body[0] !== MessageType.REASONING_REQUEST) {
        peer.other(body);
        continue;
      }
      const h = decodeEnvelope(body).header;
      out.push(frame(MessageType.REASONING_RESPONSE, `{"id":"w${++n}","re":${JSON.stringify(h.id)},"dst":${JSON.stringify(h.src)}}`, RESPONSE));
    }
    writeBatch(socket, out);
  };
}

/** Keeps `want` requests in flight to `worker` while running; counts answers and their latencies. */
class LoadClient {
  private seq = 0;
  private readonly sentAt = new Float64Array(RING);
  inFlight = 0;
  want = 0;
  running = false;
  recording = false;
  completed = 0;
  latencies = new Float64Array(LATENCY_CAP);
  latencyCount = 0;
  payload: Uint8Array = SMALL_REQUEST;
  private readonly prefix: string;
  private readonly out: Buffer[] = [];

  constructor(readonly peer: Peer) {
    this.prefix = `","dst":"worker","src":${JSON.stringify(peer.name)}}`;
    peer.onBodies = (bodies) => this.onBodies(bodies);
  }

  private send(): void {
    const id = ++this.seq;
    this.sentAt[id & (RING - 1)] = performance.now();
    this.inFlight++;
    this.out.push(frame(MessageType.REASONING_REQUEST, `{"id":"${id}${this.prefix}`, this.payload));
  }

  start(want: number, payload: Uint8Array): void {
    this.want = want;
    this.payload = payload;
    this.running = true;
    while (this.inFlight < this.want) this.send();
    writeBatch(this.peer.socket, this.out);
  }

  private onBodies(bodies: Uint8Array[]): void {
    for (const body of bodies) {
      if (body[0] !== MessageType.REASONING_RESPONSE) {
        if (body[0] === MessageType.ERROR) this.inFlight--; // an answer too (counted by other())
        this.peer.other(body);
        continue;
      }
      const re = Number(decodeEnvelope(body).header.re);
      this.inFlight--;
      this.completed++;
      if (this.recording && this.latencyCount < LATENCY_CAP) this.latencies[this.latencyCount++] = performance.now() - this.sentAt[re & (RING - 1)]!;
      if (this.running && this.inFlight < this.want) this.send();
    }
    writeBatch(this.peer.socket, this.out);
  }
}

// --- target processes -------------------------------------------------------------------------------

/** The `worker` connection, served from a worker thread of the load generator (or in process). */
interface WorkerHandle {
  /** The worker process, or undefined when the worker runs in the load generator. */
  pid: number | undefined;
  errors(): number;
  close(): Promise<void>;
}

interface Target {
  name: TargetName;
  child: ChildProcess;
  pid: number;
  port: number;
  stderrTail: string[];
  worker?: WorkerHandle;
  clients: LoadClient[];
}

const started = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort: children of this run still alive when the process exits are killed by their PID. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  });
}

function startChild(name: TargetName): Promise<Target> {
  const [cmd, args] = name === 'broker'
    ? [process.execPath, [BROKER_CLI, 'broker', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info']]
    : [RELAY_BIN, ['0']];
  log(`bench: starting ${name}: ${relative(ROOT_DIR, cmd as string) || cmd} ${(args as string[]).map((a) => (a.startsWith('/') ? relative(ROOT_DIR, a) : a)).join(' ')}\n`);
  const child = spawn(cmd as string, args as string[], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT_DIR });
  started.add(child);
  installExitHook();
  const stderrTail: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not report its port within ${START_TIMEOUT_MS} ms: ${stderrTail.join(' | ')}`)), START_TIMEOUT_MS);
    const found = (port: number): void => {
      clearTimeout(timer);
      resolve({ name, child, pid: child.pid!, port, stderrTail, clients: [] });
    };
    let outBuf = '';
    let errBuf = '';
    child.stdout!.on('data', (d: Buffer) => {
      outBuf += d.toString('utf8');
      const m = /^listening (\d+)$/m.exec(outBuf);
      if (m && name === 'relay') found(Number(m[1]));
      if (outBuf.length > 4096) outBuf = outBuf.slice(-1024);
    });
    child.stderr!.on('data', (d: Buffer) => {
      errBuf += d.toString('utf8');
      let nl: number;
      while ((nl = errBuf.indexOf('\n')) >= 0) {
        const line = errBuf.slice(0, nl);
        errBuf = errBuf.slice(nl + 1);
        stderrTail.push(line);
        if (stderrTail.length > 20) stderrTail.shift();
        if (name === 'broker' && line.includes('"listening"')) {
          const record = JSON.parse(line) as { msg?: string; port?: number };
          if (record.msg === 'listening' && typeof record.port === 'number') found(record.port);
        } else if (!line.includes('"level":"info"') && !line.includes('"level":"debug"')) {
          log(`bench: ${name}: ${line}\n`);
        }
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening: ${stderrTail.join(' | ')}`));
    });
  });
}

/** Stops a child this run started, by its PID: SIGTERM, then SIGKILL after 3 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
    started.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const killed = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 3_000)))]);
  clearTimeout(timer);
  if (killed && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
    await exited;
  }
  started.delete(child);
}

/**
 * The worker connection runs in a process of its own: this module started as `node [tsx] bench/broker.ts
 * --worker PORT`. Client side, target and worker side then each have a process, as in performance.md's
 * "brokered request (3 processes, 4 hops)"; with both sides on one event loop the load generator, not the
 * relay, would set the relay's figures. CONCORD_BENCH_WORKER_PROCESS=0 keeps the worker in process.
 */
async function startWorker(port: number): Promise<WorkerHandle> {
  if (process.env['CONCORD_BENCH_WORKER_PROCESS'] === '0') {
    const peer = await Peer.connect(port, 'worker', 'engine');
    makeWorker(peer);
    return { pid: undefined, errors: () => peer.errors, close: () => peer.close() };
  }
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--worker', String(port)], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT_DIR });
  started.add(child);
  installExitHook();
  let errors = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker process was not ready within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith('errors ')) errors = Number(line.slice(7));
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the worker process exited (${code ?? signal}) before it was ready`));
    });
  });
  return { pid: child.pid, errors: () => errors, close: () => stopChild(child) };
}

/** `bench/broker.ts --worker PORT`: the worker connection alone, until SIGTERM. */
async function workerMain(port: number): Promise<void> {
  const peer = await Peer.connect(port, 'worker', 'engine');
  makeWorker(peer);
  const other = peer.other.bind(peer);
  peer.other = (body) => {
    const before = peer.errors;
    other(body);
    if (peer.errors !== before) process.stdout.write(`errors ${peer.errors}\n`);
  };
  peer.socket.on('close', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
  process.stdout.write('ready\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--worker') {
  workerMain(Number(process.argv[3])).catch((e: unknown) => {
    process.stderr.write(`bench worker: ${(e as Error).message}\n`);
    process.exit(1);
  });
}

async function connectTopology(t: Target): Promise<void> {
  t.worker = await startWorker(t.port);
  for (let i = 0; i < CLIENTS; i++) t.clients.push(new LoadClient(await Peer.connect(t.port, `c${i}`, 'client')));
}

// --- measurement ------------------------------------------------------------------------------------

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** User + system CPU time of a process, in microseconds. */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: Float64Array, q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function runScenario(t: Target, sc: Scenario, warmupMs: number, measureMs: number): Promise<Sample> {
  const rssBeforeKb = rssKb(t.pid);
  const errorsBefore = t.clients.reduce((n, c) => n + c.peer.errors, t.worker!.errors());
  for (const c of t.clients) {
    c.latencyCount = 0;
    c.start(sc.inFlight, sc.payload);
  }
  await sleep(warmupMs);
  for (const c of t.clients) {
    c.latencyCount = 0;
    c.recording = sc.latency;
  }
  const done0 = t.clients.reduce((n, c) => n + c.completed, 0);
  const cpu0 = cpuUs(t.pid);
  const wpid = t.worker!.pid;
  const w0 = wpid === undefined ? 0 : cpuUs(wpid);
  const lg0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(measureMs);
  const elapsedMs = performance.now() - t0;
  const lg = process.cpuUsage(lg0);
  const cpu1 = cpuUs(t.pid);
  const w1 = wpid === undefined ? 0 : cpuUs(wpid);
  const done = t.clients.reduce((n, c) => n + c.completed, 0) - done0;
  for (const c of t.clients) {
    c.recording = false;
    c.running = false;
  }
  const drainUntil = performance.now() + DRAIN_TIMEOUT_MS;
  while (t.clients.some((c) => c.inFlight > 0) && performance.now() < drainUntil) await sleep(5);
  const stuck = t.clients.reduce((n, c) => n + c.inFlight, 0);
  if (stuck > 0) throw new Error(`${t.name}: ${stuck} requests still unanswered ${DRAIN_TIMEOUT_MS} ms after the scenario ${sc.label}`);
  let latencies = new Float64Array(0);
  if (sc.latency) {
    latencies = new Float64Array(t.clients.reduce((n, c) => n + c.latencyCount, 0));
    let o = 0;
    for (const c of t.clients) {
      latencies.set(c.latencies.subarray(0, c.latencyCount), o);
      o += c.latencyCount;
    }
    latencies.sort();
  }
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  return {
    reqPerSec: (done * 1000) / elapsedMs,
    p50Us: p50 === undefined ? undefined : p50 * 1000,
    p99Us: p99 === undefined ? undefined : p99 * 1000,
    rssBeforeKb,
    rssAfterKb: rssKb(t.pid),
    targetCpuUsPerReq: done > 0 ? (cpu1 - cpu0) / done : NaN,
    loadgenCpuShare: (lg.user + lg.system) / 1000 / elapsedMs,
    workerCpuShare: wpid === undefined ? NaN : (w1 - w0) / 1000 / elapsedMs,
    errors: t.clients.reduce((n, c) => n + c.peer.errors, t.worker!.errors()) - errorsBefore,
  };
}

// --- build steps ------------------------------------------------------------------------------------

function run(cmd: string, args: string[]): void {
  log(`bench: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: ROOT_DIR, stdio: ['ignore', 2, 2] });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function buildRelay(): void {
  run('cmake', ['-S', relative(ROOT_DIR, RELAY_SOURCE), '-B', relative(ROOT_DIR, RELAY_BUILD), '-DCMAKE_BUILD_TYPE=Release']);
  run('cmake', ['--build', relative(ROOT_DIR, RELAY_BUILD)]);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'test' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** The broker runs from dist/: build it when it is missing or older than its sources. */
function ensureBuilt(): void {
  const sources = Math.max(newestMtime(join(ROOT_DIR, 'reference')), newestMtime(join(ROOT_DIR, 'spec', 'generated')));
  if (existsSync(BROKER_CLI) && statSync(BROKER_CLI).mtimeMs >= sources && statSync(join(ROOT_DIR, 'dist', 'reference', 'broker', 'router.js')).mtimeMs >= sources) return;
  run('npm', ['run', 'build']);
}

// --- generated cases --------------------------------------------------------------------------------

interface GeneratedCases {
  generated: number;
  seconds: number;
  wallSeconds: number;
  perSecond: number;
  seed: number;
  outcomes: Record<string, string>;
}

/** The property cases against an in-process reference broker, through the harness's own runCommand. */
async function measureGeneratedCases(): Promise<GeneratedCases> {
  const routedTypes = MESSAGES.filter((m) => m.directions.includes('routed') && (m.kind === 'request' || m.kind === 'notification')).length;
  const generated = PROPERTY_RUNS_PER_TYPE * routedTypes * PROPERTY_CASES.length;
  const seed = process.env['CONCORD_SEED'] ? Number(process.env['CONCORD_SEED']) : 1;
  const reportDir = mkdtempSync(join(tmpdir(), 'concord-bench-'));
  let out = '';
  let err = '';
  log(`bench: generated cases: conformance --run ${PROPERTY_CASES.join(' --run ')} --seed ${seed} (in-process reference broker)\n`);
  const t0 = performance.now();
  let code: number;
  try {
    code = await runCommand({
      suites: ['core'], run: PROPERTY_CASES, skip: [], seed, timeoutMs: 5_000, failFast: false, strict: false, knownFailing: [], json: true, reportDir,
      err: (t) => void (err += t), out: (t) => void (out += t),
    });
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const results = (JSON.parse(out || '{"results":[]}') as { results: { id: string; outcome: string; durationMs: number }[] }).results;
  if (code !== 0 || results.length !== PROPERTY_CASES.length) throw new Error(`the property cases did not pass (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
  const seconds = results.reduce((s, r) => s + r.durationMs, 0) / 1000;
  return { generated, seconds, wallSeconds, perSecond: generated / seconds, seed, outcomes: Object.fromEntries(results.map((r) => [r.id, r.outcome])) };
}

// --- the benchmark ----------------------------------------------------------------------------------

export interface BrokerBenchResult {
  /** Fields merged into the bench report (ratios at the top level, details under `broker_bench`). */
  report: Record<string, unknown>;
  /** The printed table. */
  table: string;
}

export async function runBrokerBench(): Promise<BrokerBenchResult> {
  ensureBuilt();
  buildRelay();
  const targets = new Map<TargetName, Target>();
  const samples = new Map<string, Sample[]>();
  for (const sc of SCENARIOS) for (const t of TARGETS) samples.set(`${sc.key}/${t}`, []);
  let rounds = 0;
  const rssSeries: Record<TargetName, number[]> = { broker: [], relay: [] };
  const began = performance.now();
  try {
    for (const name of TARGETS) {
      const t = await startChild(name);
      targets.set(name, t);
      await connectTopology(t);
      rssSeries[name].push(rssKb(t.pid));
    }
    // Warm-up pass: JIT of the broker and of the load generator; not recorded.
    for (const sc of SCENARIOS) for (const name of TARGETS) await runScenario(targets.get(name)!, sc, 50, 300);
    for (const name of TARGETS) rssSeries[name].push(rssKb(targets.get(name)!.pid));
    for (; rounds < ROUNDS && performance.now() - began < TIME_BUDGET_MS; rounds++) {
      // Interleaved: every scenario runs on both targets back to back; the order alternates per round.
      const order = rounds % 2 === 0 ? TARGETS : [...TARGETS].reverse();
      for (const sc of SCENARIOS) {
        for (const name of order) samples.get(`${sc.key}/${name}`)!.push(await runScenario(targets.get(name)!, sc, WARMUP_MS, MEASURE_MS));
      }
      for (const name of TARGETS) rssSeries[name].push(rssKb(targets.get(name)!.pid));
      log(`\rbench: broker round ${rounds + 1}/${ROUNDS}`);
    }
    log('\n');
  } finally {
    for (const t of targets.values()) {
      await Promise.all([t.worker?.close(), ...t.clients.map((c) => c.peer.close())]);
      await stopChild(t.child);
    }
    for (const child of [...started]) await stopChild(child);
  }
  const cases = await measureGeneratedCases();

  const med = (key: string, f: (s: Sample) => number | undefined): number => median(samples.get(key)!.map((s) => f(s) ?? NaN));
  const perTarget: Record<string, Record<string, unknown>> = {};
  for (const sc of SCENARIOS) {
    for (const t of TARGETS) {
      const key = `${sc.key}/${t}`;
      const ss = samples.get(key)!;
      perTarget[key] = {
        req_per_s: med(key, (s) => s.reqPerSec),
        ...(sc.latency ? { p50_us: med(key, (s) => s.p50Us), p99_us: med(key, (s) => s.p99Us) } : {}),
        target_cpu_us_per_req: med(key, (s) => s.targetCpuUsPerReq),
        loadgen_cpu_share: med(key, (s) => s.loadgenCpuShare),
        worker_cpu_share: med(key, (s) => s.workerCpuShare),
        rss_kb_before_after: ss.map((s) => [s.rssBeforeKb, s.rssAfterKb]),
        errors: ss.reduce((n, s) => n + s.errors, 0),
        rounds: ss.map((s) => ({ req_per_s: Math.round(s.reqPerSec), ...(sc.latency ? { p50_us: s.p50Us, p99_us: s.p99Us } : {}) })),
      };
    }
  }
  const m = (key: string, field: string): number => perTarget[key]![field] as number;
  const ratios = {
    throughput_small_32_ratio: m('small_32/broker', 'req_per_s') / m('small_32/relay', 'req_per_s'),
    throughput_small_1_ratio: m('small_1/broker', 'req_per_s') / m('small_1/relay', 'req_per_s'),
    p50_small_1_ratio: m('small_1/broker', 'p50_us') / m('small_1/relay', 'p50_us'),
    p99_small_1_ratio: m('small_1/broker', 'p99_us') / m('small_1/relay', 'p99_us'),
    throughput_768f32_32_ratio: m('768f32_32/broker', 'req_per_s') / m('768f32_32/relay', 'req_per_s'),
    cpu_per_req_small_32_ratio: m('small_32/broker', 'target_cpu_us_per_req') / m('small_32/relay', 'target_cpu_us_per_req'),
  };
  // Memory: RSS after the first round (heap sized for the load) against RSS after the last round; flat = 1.
  const brokerRss = rssSeries.broker;
  const rssGrowth = brokerRss.length >= 4 ? brokerRss[brokerRss.length - 1]! / brokerRss[2]! : NaN;
  const targetsText = {
    throughput_small_32_ratio: '>= 0.5 (performance.md)',
    p50_small_1_ratio: '<= 1.5 (performance.md)',
    p99_small_1_ratio: '<= 2.5 (performance.md)',
    throughput_768f32_32_ratio: '>= 0.5 (performance.md)',
    broker_rss_growth_ratio: 'about 1: RSS flat under sustained load (performance.md)',
  };
  const report = {
    ...ratios,
    broker_rss_growth_ratio: rssGrowth,
    generated_cases_per_second: cases.perSecond,
    broker_bench: {
      rounds,
      clients: CLIENTS,
      warmup_ms: WARMUP_MS,
      measure_ms: MEASURE_MS,
      payload_bytes: { small_request: SMALL_REQUEST.length, request_768f32: LARGE_REQUEST.length, response: RESPONSE.length },
      scenarios: perTarget,
      rss_kb_after_start_warmup_rounds: rssSeries,
      generated_cases: cases,
      targets: targetsText,
    },
  };

  const fmt = (x: number | undefined, digits = 0): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
  const rows: string[][] = [['metric', 'broker', 'relay', 'ratio', 'target', 'met']];
  const verdict = (r: number, target: string): string => {
    const mm = /^(>=|<=) ([0-9.]+)/.exec(target);
    if (!mm || !Number.isFinite(r)) return '';
    return (mm[1] === '>=' ? r >= Number(mm[2]) : r <= Number(mm[2])) ? 'yes' : 'NO';
  };
  const row = (label: string, key: string, field: string, ratio: number, target: string): void => {
    rows.push([label, fmt(m(`${key}/broker`, field), field === 'target_cpu_us_per_req' ? 2 : 0), fmt(m(`${key}/relay`, field), field === 'target_cpu_us_per_req' ? 2 : 0), fmt(ratio, 2), target, verdict(ratio, target)]);
  };
  row('small, 1 in flight: req/s', 'small_1', 'req_per_s', ratios.throughput_small_1_ratio, '-');
  row('small, 1 in flight: p50 us', 'small_1', 'p50_us', ratios.p50_small_1_ratio, '<= 1.5');
  row('small, 1 in flight: p99 us', 'small_1', 'p99_us', ratios.p99_small_1_ratio, '<= 2.5');
  row('small, 32 in flight: req/s', 'small_32', 'req_per_s', ratios.throughput_small_32_ratio, '>= 0.5');
  row('768 f32, 32 in flight: req/s', '768f32_32', 'req_per_s', ratios.throughput_768f32_32_ratio, '>= 0.5');
  row('small, 32 in flight: target CPU us/req', 'small_32', 'target_cpu_us_per_req', ratios.cpu_per_req_small_32_ratio, '-');
  for (const sc of SCENARIOS) {
    rows.push([`${sc.label}: CPU share clients / worker`, ...TARGETS.map((t) => `${fmt(m(`${sc.key}/${t}`, 'loadgen_cpu_share'), 2)} / ${fmt(m(`${sc.key}/${t}`, 'worker_cpu_share'), 2)}`), '', '', '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const relayRss = rssSeries.relay;
  const table = [
    `broker benchmark: ${CLIENTS} clients -> worker through each target, median of ${rounds} interleaved rounds (${MEASURE_MS} ms each); ratio = broker / relay`,
    ...lines,
    '',
    `broker RSS kB (start, after warm-up, after each round): ${brokerRss.join(' ')}; last round / first round ${fmt(rssGrowth, 3)}x (target: flat)`,
    `relay RSS kB: ${relayRss.join(' ')}`,
    `generated cases against the reference broker: ${cases.generated} in ${cases.seconds.toFixed(2)} s = ${cases.perSecond.toFixed(0)}/s (seed ${cases.seed}; ${cases.wallSeconds.toFixed(2)} s with setup)`,
  ].join('\n');
  const errors = Object.values(perTarget).reduce((n, p) => n + (p['errors'] as number), 0);
  if (errors > 0) log(`bench: ${errors} ERROR frames were received during the broker benchmark (see above)\n`);
  return { report, table };
}
