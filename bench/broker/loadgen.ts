/**
 * Drives the C++ load generator (cpp-client/bench/loadgen.cpp): a `worker` process answering requests,
 * and a `clients` process holding the client connections, run one scenario at a time over its stdin.
 * Both are separate processes, so client side, target and worker side each have one (performance.md's
 * "brokered request, 3 processes, 4 hops") and neither baseline is capped by a Node client.
 */
import type { ChildProcess } from 'node:child_process';
import { LOADGEN_BIN } from './build.js';
import { awaitLine, spawnTracked, stopChild } from './processes.js';

/** What one `run` command reports (see loadgen.cpp). */
export interface LoadRun {
  done: number;
  elapsed_ms: number;
  req_per_s: number;
  /** -1 when latencies were not recorded. */
  p50_us: number;
  p99_us: number;
  /** CPU seconds of the load generator per wall second (1.0 = one core). */
  self_cpu_share: number;
  /** CPU time of each PID given, during the measured window (-1 when unreadable). */
  pid_cpu_us: number[];
  /** Read + write system calls of each PID during the window (/proc/PID/io; -1 when unreadable). */
  pid_io_syscalls: number[];
  errors: number;
  stuck: number;
  dead: number;
}

export interface RunSpec {
  inFlight: number;
  warmupMs: number;
  measureMs: number;
  latency: boolean;
  /** Processes whose CPU time is sampled at the window's edges. */
  pids: number[];
}

/** Slack on top of a run's own bound (warm-up + measure + 5 s drain in loadgen.cpp). */
const RUN_SLACK_MS = 10_000;

export class Worker {
  errors = 0;
  private constructor(readonly child: ChildProcess) {}

  static async start(port: number, responseHex: string, cpus?: string): Promise<Worker> {
    const child = spawnTracked('worker', LOADGEN_BIN, ['worker', String(port), responseHex], cpus);
    const w = new Worker(child);
    child.stdout!.on('data', (d: Buffer) => {
      for (const m of d.toString('utf8').matchAll(/^errors (\d+)$/gm)) w.errors = Number(m[1]);
    });
    await awaitLine('worker', child, (line, stream) => (stream === 'stdout' && line === 'ready' ? true : undefined));
    return w;
  }

  get pid(): number {
    return this.child.pid!;
  }

  close(): Promise<void> {
    return stopChild(this.child);
  }
}

export class Clients {
  private buf = '';
  private waiting: ((line: string) => void) | undefined;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting;
        this.waiting = undefined;
        w?.(line);
      }
    });
  }

  static async start(port: number, connections: number, cpus?: string): Promise<Clients> {
    const child = spawnTracked('clients', LOADGEN_BIN, ['clients', String(port), String(connections)], cpus);
    await awaitLine('clients', child, (line, stream) => (stream === 'stdout' && line === 'ready' ? true : undefined));
    return new Clients(child);
  }

  private command(line: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`the load generator did not answer "${line.slice(0, 40)}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = (): void => reject(new Error('the load generator exited'));
      this.child.once('exit', onExit);
      this.waiting = (answer) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(answer);
      };
      this.child.stdin!.write(`${line}\n`);
    });
  }

  async setPayload(hex: string): Promise<void> {
    const answer = await this.command(`payload ${hex}`, RUN_SLACK_MS);
    if (answer !== 'ok') throw new Error(`the load generator refused the payload: ${answer}`);
  }

  async run(spec: RunSpec): Promise<LoadRun> {
    const answer = await this.command(`run ${spec.inFlight} ${spec.warmupMs} ${spec.measureMs} ${spec.latency ? 1 : 0} ${spec.pids.join(' ')}`, spec.warmupMs + spec.measureMs + RUN_SLACK_MS);
    const r = JSON.parse(answer) as LoadRun & { error?: string };
    if (r.error !== undefined) throw new Error(`the load generator: ${r.error}`);
    return r;
  }

  async close(): Promise<void> {
    this.child.stdin!.end('quit\n');
    await stopChild(this.child);
  }
}
