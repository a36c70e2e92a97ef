// @ts-check
/**
 * The mutation score of the reference broker (issue 16): `npm run mutation` builds the harness into
 * dist/ (unmutated: conformance/test/mutation/harness-build.ts) and runs StrykerJS twice, each run with
 * the conformance suites as the only tests (one vitest test per case):
 * - this config: reference/broker/*.ts against `broker-cases.mutation.ts`, the `core` and `bus` cases
 *   against one broker in process, and the `broker-process` cases, which start their own;
 * - stryker.cluster.config.mjs: reference/broker/cluster/*.ts against `cluster-cases.mutation.ts`, the
 *   `core` cases against three brokers in process joined by a nats-server.
 * Why two runs: with both files in one run, a mutant of the broker's core (which every case reaches)
 * ran every case twice, once per file, though the cluster's cases add to the single broker's only on
 * cluster paths. A survivor there cost both files' time (69 s and 83-106 s), and a run of router.ts and
 * ten smaller files at --concurrency 4, alone on this machine, tested about 5 mutants a minute (2026-12-03).
 * The cluster-only lines outside cluster/, which this run's lone broker never reaches, are mutated by the
 * cluster's run too (its CLUSTER_ONLY_LINES); the summary merges the two reports mutant by mutant.
 *
 * Scope: reference/broker/*.ts, except
 * - command.ts: the `concord broker` command line (its worker thread, signals and exit codes), which only
 *   a broker started as a child process has, where Stryker sees no coverage; the broker-process suite
 *   runs here on brokers started in process from the same options (in-process-broker-launcher.ts);
 * - index.ts: re-exports only.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
/**
 * A worker count from the environment variable `name`, `fallback` when unset; anything but a positive
 * integer stops the run. The shape of scope.ts's `casesTogether`, written again because Stryker loads this
 * file as plain JavaScript, which cannot import the TypeScript one.
 */
function workers(name, fallback) {
  const given = process.env[name];
  if (given === undefined || given === '') return fallback;
  if (!/^[1-9][0-9]*$/.test(given)) throw new RangeError(`${name}=${given}: expected a positive integer (Stryker's --concurrency)`);
  return Number(given);
}

/** The JSON report's file: `fallback`, or the one CONCORD_MUTATION_REPORT names (a .json file). */
export function reportFile(fallback) {
  const given = process.env.CONCORD_MUTATION_REPORT;
  if (given === undefined || given === '') return fallback;
  if (!given.endsWith('.json')) throw new RangeError(`CONCORD_MUTATION_REPORT=${given}: expected a .json file`);
  return given;
}

export default {
  testRunner: 'vitest',
  vitest: { configFile: 'conformance/test/mutation/vitest.mutation.config.ts' },
  mutate: ['reference/broker/*.ts', '!reference/broker/command.ts', '!reference/broker/index.ts'],
  // Only what the suites and the built harness read is copied into the sandboxes.
  ignorePatterns: ['cpp-client', 'peers', 'bench', 'docs', 'reports'],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants) would rerun all cases each: counted as Ignored, listed in the summary.
  ignoreStatic: true,
  // A run reported apart (CONCORD_MUTATION_REPORT) is not incremental: its report holds what it measured,
  // not the verdicts the incremental file carries for the rest of the scope.
  incremental: !process.env.CONCORD_MUTATION_REPORT,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['json', 'html', 'clear-text', 'progress'],
  // CONCORD_MUTATION_REPORT names the JSON report of a run over part of the scope (a plan's ranges, see
  // write-summary.ts), so that it does not overwrite the whole run's; its HTML report goes beside it.
  jsonReporter: { fileName: reportFile('reports/mutation/mutation.json') },
  htmlReporter: { fileName: reportFile('reports/mutation/mutation.json').replace(/\.json$/, '.html') },
  // Two cores shared by every engineer: two workers. A mutant's timeout is timeoutFactor x the net time of
  // the cases that cover it (the slowest case takes ~8 s at load 10) plus timeoutMS: a hang guard, not a
  // measurement; every case ends on its own frame timeouts, so a hanging mutant is rare (why 30 s, below).
  // Four workers were tried, since the workers mostly wait on the cases' timers (inflight.ts, 48 mutants,
  // --force, 2026-12-03). Idle (load 0.5 to 3): 2 workers 256 s wall and 161 s CPU, 4 workers 171 s wall and
  // 189 s CPU, same verdicts. Loaded (load 10 to 13): 4 workers took 458 s wall and 207 s CPU and turned 5
  // survivors into Timeouts and 1 into a kill that no case makes on its own (cases that missed their frame
  // timeouts): false detections that would inflate the score. On this shared machine two stay; on an idle
  // one, `--concurrency 4` is a third faster: `CONCORD_MUTATION_WORKERS=4 npm run mutation` sets it for
  // both runs, since the chained script passes no flag on. The main run alone with eight took 54.6 minutes
  // at load 5 to 10 (2026-12-05), with 30 Timeouts against 29 at four, each a hang the mutant causes
  // (survivors.md, top section); three left the machine at load 1 and were projected at 2 h 14 min.
  // timeoutMS was 10 s until kills were confirmed (case-pool.ts): a failing case then runs again alone,
  // which the dry run's times do not foresee, and at 10 s a whole run at eight workers (2026-12-06) timed
  // out 35 mutants that the run before had killed or seen survive, one of them equivalent. 30 s leave room
  // for the second run of the slowest case.
  concurrency: workers('CONCORD_MUTATION_WORKERS', 2),
  timeoutMS: 30_000,
  timeoutFactor: 3,
  dryRunTimeoutMinutes: 20,
  thresholds: { high: 85, low: 70, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
