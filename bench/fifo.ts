/**
 * FIFO pair against TCP (issue 8), measured side by side in one run: one reference broker child process
 * serving both TCP and `--fifo-dir`, and in this process one TypeScript client per transport. Each round
 * runs, for each transport in turn, sequential PING round trips (latency) and a pipelined burst with 32
 * in flight (throughput). Bounded in count and time; the ratios are FIFO / TCP from the same rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConcordClient } from '../reference/client/index.js';
import { startBrokerProcess, stopProcess } from './broker-process.js';

const ROUNDS = 5;
const SEQUENTIAL = 2_000;
const PIPELINED = 20_000;
const IN_FLIGHT = 32;
const TIME_BUDGET_MS = 40_000;
const START_TIMEOUT_MS = 15_000;

export interface FifoBenchResult {
  report: Record<string, unknown>;
  table: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function sequential(client: ConcordClient, n: number): Promise<number[]> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.request('PING', null);
    us.push((performance.now() - t) * 1000);
  }
  return us;
}

async function pipelined(client: ConcordClient, n: number): Promise<number> {
  const t = performance.now();
  let sent = 0;
  const lane = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      await client.request('PING', null);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return n / ((performance.now() - t) / 1000);
}

export async function runFifoBench(log: (t: string) => void = (t) => void process.stderr.write(t)): Promise<FifoBenchResult> {
  const scratch = mkdtempSync(join(tmpdir(), 'concord-bench-fifo-'));
  const fifoDir = join(scratch, 'pairs');
  const { child, port } = await startBrokerProcess(['--fifo-dir', fifoDir], START_TIMEOUT_MS);
  const clients: ConcordClient[] = [];
  try {
    const tcp = await ConcordClient.connect({ host: '127.0.0.1', port, clientId: 'bench-tcp' });
    const fifo = await ConcordClient.connect({ fifoDir, clientId: 'bench-fifo' });
    clients.push(tcp, fifo);
    const transports = { tcp, fifo } as const;
    const p50: Record<'tcp' | 'fifo', number[]> = { tcp: [], fifo: [] };
    const p99: Record<'tcp' | 'fifo', number[]> = { tcp: [], fifo: [] };
    const rate: Record<'tcp' | 'fifo', number[]> = { tcp: [], fifo: [] };
    await sequential(tcp, 200); // warm-up
    await sequential(fifo, 200);
    const started = Date.now();
    for (let r = 0; r < ROUNDS && Date.now() - started < TIME_BUDGET_MS; r++) {
      // Alternate which transport goes first, so drift in the machine's load hits both alike.
      for (const name of (r % 2 === 0 ? ['tcp', 'fifo'] : ['fifo', 'tcp']) as ('tcp' | 'fifo')[]) {
        const lat = (await sequential(transports[name], SEQUENTIAL)).sort((a, b) => a - b);
        p50[name].push(lat[Math.floor(lat.length * 0.5)]!);
        p99[name].push(lat[Math.floor(lat.length * 0.99)]!);
        rate[name].push(await pipelined(transports[name], PIPELINED));
      }
      log(`bench fifo: round ${r + 1}/${ROUNDS}\n`);
    }
    const m = (x: number[]): number => median(x);
    const report = {
      fifo_vs_tcp: {
        rounds: p50.tcp.length, sequential_per_round: SEQUENTIAL, pipelined_per_round: PIPELINED, in_flight: IN_FLIGHT,
        tcp_ping_p50_us: m(p50.tcp), fifo_ping_p50_us: m(p50.fifo), tcp_ping_p99_us: m(p99.tcp), fifo_ping_p99_us: m(p99.fifo),
        tcp_pipelined_per_s: m(rate.tcp), fifo_pipelined_per_s: m(rate.fifo),
        fifo_vs_tcp_p50_ratio: m(p50.fifo) / m(p50.tcp), fifo_vs_tcp_throughput_ratio: m(rate.fifo) / m(rate.tcp),
      },
    };
    const f = report.fifo_vs_tcp;
    const table = [
      'FIFO pair vs TCP (client -> reference broker -> client, PING/PONG; medians of rounds)',
      `  round trip p50     tcp ${f.tcp_ping_p50_us.toFixed(1).padStart(8)} us   fifo ${f.fifo_ping_p50_us.toFixed(1).padStart(8)} us   fifo/tcp ${f.fifo_vs_tcp_p50_ratio.toFixed(2)}x`,
      `  round trip p99     tcp ${f.tcp_ping_p99_us.toFixed(1).padStart(8)} us   fifo ${f.fifo_ping_p99_us.toFixed(1).padStart(8)} us`,
      `  pipelined (${IN_FLIGHT})    tcp ${Math.round(f.tcp_pipelined_per_s).toString().padStart(8)} /s    fifo ${Math.round(f.fifo_pipelined_per_s).toString().padStart(8)} /s    fifo/tcp ${f.fifo_vs_tcp_throughput_ratio.toFixed(2)}x`,
    ].join('\n');
    return { report, table };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stopProcess(child);
    rmSync(scratch, { recursive: true, force: true });
  }
}

// `npx tsx bench/fifo.ts`: this benchmark alone.
if (process.argv[1]?.endsWith('fifo.ts') && import.meta.url.endsWith('/bench/fifo.ts')) {
  const r = await runFifoBench();
  console.log(r.table);
}
