// @ts-check
/**
 * The mutation score of the reference broker (issue 16): `npm run mutation` builds the harness into
 * dist/ (unmutated: conformance/test/mutation/harness-build.ts) and runs StrykerJS over the broker's
 * sources with the conformance suites as the only tests (one vitest test per case).
 *
 * Tests: `broker-cases.mutation.ts` runs the `core` and `bus` cases against one broker in process;
 * `cluster-cases.mutation.ts` runs the `core` cases again against three brokers in process joined by a
 * nats-server (one per file run, stopped by PID), the connections spread over them, so a requester and
 * its responder sit on different brokers: the only way to reach the broker's cluster-only paths.
 *
 * Scope: reference/broker/*.ts and reference/broker/cluster/*.ts, except
 * - command.ts: the `concord broker` command line; only the broker-process suite reaches it, and that
 *   suite starts the broker as a child process, where Stryker sees no coverage;
 * - index.ts: re-exports only;
 * - cluster/nats-process.ts: starts and stops the nats-server child for the tests, no broker behaviour;
 * - cluster/test/** (not matched by `cluster/*.ts`): the cluster tests' fixture, which the cluster
 *   cases use to start their brokers.
 * The cluster files (738 mutants by Stryker's instrumenter, a few static) are in since the cluster cases
 * reach them: applied by hand, relay.ts line 45 (`{ raw, ... }` -> `{}`) fails a cluster case, as do
 * router.ts lines 217 and 262 and dispatch.ts lines 54 and 92 ("cluster only" in survivors.md). The cost:
 * the cluster file takes 83-106 s for its 201 cases (the single broker's file 69 s for 239), and a
 * surviving mutant runs every case that reaches it in both files.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'conformance/test/mutation/vitest.mutation.config.ts' },
  mutate: ['reference/broker/*.ts', '!reference/broker/command.ts', '!reference/broker/index.ts', 'reference/broker/cluster/*.ts', '!reference/broker/cluster/nats-process.ts'],
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
