/**
 * The broker benchmark alone (bench/broker.ts), without the codec, bus, FIFO, engine and cluster ones
 * that `npm run bench` runs around it: prints its figures and the issue-15 ratios against their targets,
 * writes no report file. The same environment variables apply, e.g. a before/after pair of builds:
 *
 *   CONCORD_BENCH_SUITES=0 CONCORD_BENCH_TARGETS=broker,before,router \
 *   CONCORD_BENCH_BEFORE_CLI=OTHER_ROOT/dist/reference/cli.js npx tsx bench/broker-only.ts
 */
import { runBrokerBench } from './broker.js';
import { targetsTable } from './broker/report.js';

const result = await runBrokerBench();
process.stdout.write(`${result.table}\n\n${targetsTable(result.report, result.ranges)}\n`);
