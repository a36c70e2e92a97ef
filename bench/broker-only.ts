/**
 * The broker benchmark alone (bench/broker.ts), without the codec, bus, FIFO, engine and cluster ones
 * that `npm run bench` runs around it: prints its figures and the issue-15 ratios against their targets,
 * writes no report file. The same environment variables apply, e.g. a before/after pair of builds:
 *
 *   CONCORD_BENCH_SUITES=0 CONCORD_BENCH_TARGETS=broker,before,router \
 *   CONCORD_BENCH_BEFORE_CLI=OTHER_ROOT/dist/reference/cli.js npx tsx bench/broker-only.ts
 *
 * With the target `before`, it also prints broker / before per interleaved round for CPU time per
 * request and throughput: on a shared machine the rounds' ratios say more than either build's figures.
 */
import { runBrokerBench } from './broker.js';
import { targetsTable } from './broker/report.js';
import { fmt, median, range } from './broker/stats.js';

interface Round {
  req_per_s: number;
  cpu_us_per_req: number;
}

const result = await runBrokerBench();
const scenarios = (result.report['broker_bench'] as { scenarios: Record<string, { rounds: Round[] }> }).scenarios;
const lines: string[] = [];
for (const [key, s] of Object.entries(scenarios)) {
  const [scenario, target] = key.split('/');
  const before = scenarios[`${scenario}/before`];
  if (target !== 'broker' || before === undefined) continue;
  for (const metric of ['cpu_us_per_req', 'req_per_s'] as const) {
    const ratios = s.rounds.map((r, i) => r[metric] / before.rounds[i]![metric]);
    const [lo, hi] = range(ratios);
    lines.push(`${scenario} ${metric}: broker / before ${fmt(median(ratios), 3)} (rounds ${fmt(lo, 3)}-${fmt(hi, 3)})`);
  }
}
process.stdout.write(`${result.table}\n\n${targetsTable(result.report, result.ranges)}\n${lines.length > 0 ? `\n${lines.join('\n')}\n` : ''}`);
