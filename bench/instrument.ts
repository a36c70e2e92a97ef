/**
 * The instrument benchmark (part of `npm run bench`): command round trip (one in flight) and
 * pipelined throughput (up to WINDOW in flight) of `ping`, measured side by side in one run, rounds
 * interleaved, against two baselines started in the same run:
 *  - `testee-echo`: the reference testee echoing PING frames over stdio (the transport and codec
 *    floor, no instrument semantics);
 *  - `seed-queue`: the seed's own mechanism, a Python multiprocessing.Queue worker answering
 *    `{command: ping}` dicts (what the seed's "~20k commands/s" was a figure of).
 * Workers: the TypeScript mock and the Python worker over stdio. Bounded in count and time; every
 * child is ended by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeEnvelope, decodeMessage, encodeMessageFrame, FrameDecoder } from '../reference/codec/index.js';
import { ROOT_DIR } from '../spec/tools/load.js';
import { PROTOCOL_VERSION, DEFAULT_LIMITS } from '../spec/generated/catalog.js';

const ROUNDS = 5;
const ROUND_TRIPS = 1_000;
const PIPELINED = 20_000;
const WINDOW = 1_000;
const TIME_BUDGET_MS = 90_000;
/** A child that answers nothing for this long has failed the run. */
const STALL_MS = 20_000;
/** The seed's claim (systems.md section 3): "50 rapid commands at ~20k/s", a pipelined figure. */
const SEED_CLAIM_PER_S = 20_000;

type Target = 'ts-mock' | 'python-worker' | 'testee-echo' | 'seed-queue';
const TARGETS: Target[] = ['ts-mock', 'python-worker', 'testee-echo', 'seed-queue'];

interface Sample { rtUs: number; perSecond: number }

function cli(): string[] {
  const dist = join(ROOT_DIR, 'dist', 'reference', 'cli.js');
  if (!existsSync(dist)) throw new Error('bench/instrument: dist/ is missing (npm run build)');
  return [process.execPath, dist];
}

/** A frames peer on stdio: handshake done, then `ping()` frames sent and answers counted by `re`. */
class StdioPeer {
  private readonly decoder = new FrameDecoder();
  private waiting: { re: string; resolve: () => void } | undefined;
  private expected: string[] = [];
  private answered = 0;
  private onAnswer: (() => void) | undefined;
  private failed: Error | undefined;

  private constructor(readonly child: ChildProcess, private readonly frame: (id: string) => Uint8Array) {}

  static async start(command: string[], kind: 'worker' | 'testee'): Promise<StdioPeer> {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
    const frame = kind === 'worker'
      ? (id: string) => encodeMessageFrame({ type: 'INSTRUMENT_COMMAND', header: { id }, payload: { command: 'ping' } })
      : (id: string) => encodeMessageFrame({ type: 'PING', header: { id } });
    const peer = new StdioPeer(child, frame);
    await peer.handshake(kind);
    return peer;
  }

  private async handshake(kind: 'worker' | 'testee'): Promise<void> {
    const bodies: Uint8Array[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no INIT from the peer')), STALL_MS);
      const onData = (chunk: Buffer): void => {
        bodies.push(...this.decoder.push(chunk));
        const init = bodies[0] && decodeMessage(bodies[0]);
        if (!init) return;
        if (bodies.length === 1) {
          this.child.stdin!.write(encodeMessageFrame({ type: 'INIT_ACK', header: { id: 'ack', re: init.header.id }, payload: {
            broker_id: 'bench', client_id: String((init.payload as { client_id: string }).client_id), protocol_version: PROTOCOL_VERSION, encoding: 'json',
            max_frame: DEFAULT_LIMITS.max_frame, max_in_flight: DEFAULT_LIMITS.max_in_flight, heartbeat_ms: DEFAULT_LIMITS.heartbeat_ms } }));
        }
        if (kind === 'testee' || bodies.length >= 2) { // a worker's ready event follows INIT_ACK
          clearTimeout(timer);
          this.child.stdout!.off('data', onData);
          resolve();
        }
      };
      this.child.stdout!.on('data', onData);
      this.child.once('exit', (code) => reject(new Error(`the peer exited (${code}) during the handshake`)));
    });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    for (const body of this.decoder.push(chunk)) {
      const re = decodeEnvelope(body).header.re;
      const want = this.expected[this.answered];
      if (re !== want) this.failed = new Error(`answer ${this.answered} carries re=${re}, expected ${want}`);
      this.answered++;
      this.onAnswer?.();
    }
  }

  /** Median microseconds of `n` sequential round trips. */
  async roundTrips(n: number): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = `rt${i}`;
      this.expected.push(id);
      const target = this.answered + 1;
      const t0 = performance.now();
      await this.until(target, () => this.child.stdin!.write(this.frame(id)));
      times.push((performance.now() - t0) * 1000);
    }
    return median(times);
  }

  /** Commands per second for `n` commands with up to `window` in flight. */
  async pipelined(n: number, window: number): Promise<number> {
    const base = this.answered;
    let sent = 0;
    const t0 = performance.now();
    // Refill once half the window has been answered, so frames go out in batches (one write each).
    const fill = (): void => {
      if (sent - (this.answered - base) > window / 2) return;
      const chunks: Uint8Array[] = [];
      while (sent < n && sent - (this.answered - base) < window) {
        const id = `pl${base}-${sent++}`;
        this.expected.push(id);
        chunks.push(this.frame(id));
      }
      if (chunks.length) this.child.stdin!.write(Buffer.concat(chunks));
    };
    await this.until(base + n, fill, fill);
    return n / ((performance.now() - t0) / 1000);
  }

  private until(count: number, start: () => void, onEach?: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stalled at ${this.answered}/${count} answers`)), STALL_MS);
      this.onAnswer = () => {
        if (this.failed) { clearTimeout(timer); reject(this.failed); return; }
        if (this.answered >= count) { clearTimeout(timer); this.onAnswer = undefined; resolve(); return; }
        onEach?.();
      };
      start();
    });
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** The seed's mechanism: a multiprocessing.Queue worker; prints {rt_us, per_s} as JSON. */
const SEED_QUEUE_PY = `
import json, multiprocessing as mp, sys, time
def worker(q_in, q_out):
    while True:
        m = q_in.get()
        if m is None:
            return
        q_out.put({"status": "ok", "data": "pong", "id": m["id"]})
if __name__ == "__main__":
    n_rt, n_pl, window = (int(x) for x in sys.argv[1:4])
    q_in, q_out = mp.Queue(), mp.Queue()
    p = mp.Process(target=worker, args=(q_in, q_out))
    p.start()
    for i in range(200):
        q_in.put({"command": "ping", "id": i}); q_out.get()
    times = []
    for i in range(n_rt):
        t0 = time.perf_counter(); q_in.put({"command": "ping", "id": i}); q_out.get(); times.append(time.perf_counter() - t0)
    times.sort()
    t0 = time.perf_counter(); sent = got = 0
    while got < n_pl:
        while sent < n_pl and sent - got < window:
            q_in.put({"command": "ping", "id": sent}); sent += 1
        assert q_out.get()["id"] == got
        got += 1
    per_s = n_pl / (time.perf_counter() - t0)
    q_in.put(None); p.join(10)
    print(json.dumps({"rt_us": times[len(times) // 2] * 1e6, "per_s": per_s}))
`;

function seedQueue(): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', SEED_QUEUE_PY, String(ROUND_TRIPS), String(PIPELINED), String(WINDOW)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('seed-queue baseline stalled')); }, STALL_MS * 3);
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`seed-queue baseline exited ${code}: ${err.slice(-300)}`));
      const r = JSON.parse(out) as { rt_us: number; per_s: number };
      resolve({ rtUs: r.rt_us, perSecond: r.per_s });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function startTarget(t: Exclude<Target, 'seed-queue'>): Promise<StdioPeer> {
  switch (t) {
    case 'ts-mock': return StdioPeer.start([...cli(), 'instrument'], 'worker');
    case 'python-worker': return StdioPeer.start(['python3', join(ROOT_DIR, 'peers', 'python', 'concord_instrument')], 'worker');
    case 'testee-echo': return StdioPeer.start([...cli(), 'testee', '--json-only'], 'testee');
  }
}

export interface InstrumentBenchResult {
  report: Record<string, unknown>;
  table: string;
}

export async function runInstrumentBench(log: (t: string) => void = (t) => void process.stderr.write(t)): Promise<InstrumentBenchResult> {
  const samples = new Map<Target, Sample[]>(TARGETS.map((t) => [t, []]));
  const peers = new Map<Target, StdioPeer>();
  const began = performance.now();
  let rounds = 0;
  try {
    for (const t of TARGETS) if (t !== 'seed-queue') peers.set(t, await startTarget(t));
    for (const p of peers.values()) { await p.roundTrips(200); await p.pipelined(2_000, WINDOW); } // warm-up
    for (; rounds < ROUNDS && performance.now() - began < TIME_BUDGET_MS; rounds++) {
      const order = rounds % 2 === 0 ? TARGETS : [...TARGETS].reverse();
      for (const t of order) {
        const p = peers.get(t);
        samples.get(t)!.push(p ? { rtUs: await p.roundTrips(ROUND_TRIPS), perSecond: await p.pipelined(PIPELINED, WINDOW) } : await seedQueue());
      }
      log(`\rbench: instrument round ${rounds + 1}/${ROUNDS}`);
    }
    log('\n');
  } finally {
    for (const p of peers.values()) p.stop();
  }
  const med = (t: Target, f: (s: Sample) => number): number => median(samples.get(t)!.map(f));
  const perTarget = Object.fromEntries(TARGETS.map((t) => [t, { round_trip_p50_us: med(t, (s) => s.rtUs), pipelined_per_s: med(t, (s) => s.perSecond),
    rounds: samples.get(t)!.map((s) => ({ round_trip_p50_us: Math.round(s.rtUs), pipelined_per_s: Math.round(s.perSecond) })) }]));
  const ratio = (a: Target, b: Target, f: (s: Sample) => number): number => med(a, f) / med(b, f);
  const ratios = {
    instrument_ts_pipelined_vs_echo_ratio: ratio('ts-mock', 'testee-echo', (s) => s.perSecond),
    instrument_ts_round_trip_vs_echo_ratio: ratio('ts-mock', 'testee-echo', (s) => s.rtUs),
    instrument_ts_pipelined_vs_seed_queue_ratio: ratio('ts-mock', 'seed-queue', (s) => s.perSecond),
    instrument_python_pipelined_vs_seed_queue_ratio: ratio('python-worker', 'seed-queue', (s) => s.perSecond),
    instrument_python_round_trip_vs_seed_queue_ratio: ratio('python-worker', 'seed-queue', (s) => s.rtUs),
  };
  const claim = (t: Target): string => `${(med(t, (s) => s.perSecond) / SEED_CLAIM_PER_S).toFixed(2)}x`;
  const note = `closing note: the seed claimed ~${SEED_CLAIM_PER_S / 1000}k commands/s (a pipelined figure). Measured pipelined in this run: `
    + `TypeScript mock ${Math.round(med('ts-mock', (s) => s.perSecond))}/s (${claim('ts-mock')} the claim), Python worker ${Math.round(med('python-worker', (s) => s.perSecond))}/s (${claim('python-worker')}), `
    + `the seed's own multiprocessing.Queue mechanism ${Math.round(med('seed-queue', (s) => s.perSecond))}/s (${claim('seed-queue')}); absolute rates depend on this shared machine, the ratios are what compare.`;
  const rows = TARGETS.map((t) => `${t.padEnd(16)} ${med(t, (s) => s.rtUs).toFixed(1).padStart(10)} us ${Math.round(med(t, (s) => s.perSecond)).toString().padStart(10)} /s`);
  const table = ['instrument (ping over stdio; baselines testee-echo and seed-queue)', `${'target'.padEnd(16)} ${'round trip p50'.padStart(13)} ${'pipelined'.padStart(12)}`, ...rows, '',
    ...Object.entries(ratios).map(([k, v]) => `${k.padEnd(50)} ${v.toFixed(2).padStart(7)}x`), '', note].join('\n');
  return {
    report: { ...ratios, instrument_bench: { rounds, round_trips: ROUND_TRIPS, pipelined: PIPELINED, window: WINDOW, seed_claim_per_s: SEED_CLAIM_PER_S, targets: perTarget, note } },
    table,
  };
}
