// @ts-check
/**
 * The mutation score of the reference broker (issue 16): `npm run mutation` builds the harness into
 * dist/ (unmutated: conformance/test/mutation/harness-build.ts) and runs StrykerJS over the broker's
 * sources with the conformance suites as the only tests (one vitest test per case).
 *
 * Scope: reference/broker/*.ts, except
 * - command.ts: the `concord broker` command line; only the broker-process suite reaches it, and that
 *   suite starts the broker as a child process, where Stryker sees no coverage;
 * - index.ts: re-exports only;
 * - cluster/**: the NATS-backed cluster (its rewrite for cluster-wide dispatch, issue 17, is done) is
 *   reached only by the cluster suites, which need a nats-server and two brokers per case; the mutation
 *   tests run the in-process core and bus suites, where every cluster mutant would be NoCoverage. A
 *   cluster test file (a nats-server per worker) is the next step, not yet written.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'conformance/test/mutation/vitest.mutation.config.ts' },
  mutate: ['reference/broker/*.ts', '!reference/broker/command.ts', '!reference/broker/index.ts'],
  // Only what the suites and the built harness read is copied into the sandboxes.
  ignorePatterns: ['cpp-client', 'peers', 'bench', 'docs', 'reports'],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants) would rerun all cases each: counted as Ignored, listed in the summary.
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['json', 'html', 'clear-text', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  // Two cores shared by every engineer: two workers. A mutant's timeout is timeoutFactor x the net time of
  // the cases that cover it (the slowest case takes ~8 s at load 10) plus timeoutMS: a hang guard, not a
  // measurement; every case ends on its own frame timeouts, so a hanging mutant is rare and 10 s suffice.
  // Four workers were tried, since the workers mostly wait on the cases' timers (inflight.ts, 48 mutants,
  // --force, 2026-12-03). Idle (load 0.5 to 3): 2 workers 256 s wall and 161 s CPU, 4 workers 171 s wall and
  // 189 s CPU, same verdicts. Loaded (load 10 to 13): 4 workers took 458 s wall and 207 s CPU and turned 5
  // survivors into Timeouts and 1 into a kill that no case makes on its own (cases that missed their frame
  // timeouts): false detections that would inflate the score. On this shared machine two stay; on an idle
  // one, `--concurrency 4` is a third faster.
  concurrency: 2,
  timeoutMS: 10_000,
  timeoutFactor: 3,
  dryRunTimeoutMinutes: 20,
  thresholds: { high: 85, low: 70, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
