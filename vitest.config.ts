import { defineConfig } from 'vitest/config';

/**
 * Files whose cases wait on sub-second silences, a soak, a connection handover or a peer's process
 * tree: they run after every other file, one at a time within the project, with nothing else of vitest
 * running beside them except the `pipes` project.
 */
const TIMING_SENSITIVE = [
  'conformance/test/testee-suite.test.ts',
  'conformance/test/hostile/hostile.test.ts',
  'reference/broker/test/soak.test.ts',
  // Starts and stops worker processes in quick succession on ports it hands between connections.
  'conformance/test/instrument-worker.test.ts',
  // Starts a nats-server and three or four brokers per case and judges heartbeat gaps and a death's 2.5 s
  // bound; beside the main files its brokers' load made a proxy case there miss its 1 s frame timeout.
  'conformance/test/cluster-process-suite.test.ts',
];

/**
 * Files that time FIFO opens and line-protocol phases. They form their own lane beside `timing`
 * (npm test runs the two projects at once, then the selftest's FIFO column in this lane): neither lane
 * is CPU-bound (together about 45% of two cores), and no FIFO or lines case ever shares the machine with
 * another one. Measured side by side against one after the other: 140 s against 270 s, all passing.
 */
const PIPES = [
  'conformance/test/fifo-suite.test.ts',
  'conformance/test/lines-suite.test.ts',
  'reference/transport/test/fifo.test.ts',
  'reference/transport/test/pipes-command.test.ts',
  'reference/broker/test/fifo-fd-ownership.test.ts',
];

/**
 * Files that start no child process and change no process-wide state (environment, listeners, module
 * mocks): they share one module registry per worker (`isolate: false`) instead of each importing the
 * codec, the catalog and ajv afresh. Measured on these and two more (16 files): 57 s of CPU isolated,
 * 33 s shared.
 */
const SHARED_MODULES = [
  'reference/codec/test/frame.test.ts',
  'reference/codec/test/ndarray.test.ts',
  'reference/codec/test/payload.test.ts',
  'reference/codec/test/shape.test.ts',
  'spec/tools/test/catalog.test.ts',
  'spec/tools/test/type-names.test.ts',
  'spec/tools/test/prose.test.ts',
  'reference/client/test/units.test.ts',
  'conformance/test/verdicts.test.ts',
  'conformance/test/statement-counts.test.ts',
  'conformance/test/report-decode.test.ts',
  'reference/instrument/test/model.test.ts',
  'conformance/test/target-spread.test.ts',
  'reference/engine/test/engine.test.ts',
];

export default defineConfig({
  test: {
    exclude: ['node_modules/**', 'dist/**', '.stryker-tmp*/**'],
    testTimeout: 60_000,
    // Property tests print their seed on stdout; keep it visible.
    silent: false,
    // Most files wait on child processes and sockets rather than compute: three at a time on two cores
    // (vitest's default here would be one). Measured (CPU-s = user+sys of the file's processes, at load
    // 7-12): runtime-mutants 10 CPU-s in 130 s, robustness-mutants 12 in 56, cluster-core-suite 23 in 91,
    // broker-process-suite 26 in 117; those four together at four a time passed in 160 s wall against
    // 394 s one by one. The timing and pipes projects run after the rest, each one file at a time.
    maxWorkers: 3,
    minWorkers: 1,
    projects: [
      { extends: true, test: { name: 'main', include: ['**/*.test.ts'], exclude: ['node_modules/**', 'dist/**', '.stryker-tmp*/**', ...TIMING_SENSITIVE, ...PIPES, ...SHARED_MODULES] } },
      { extends: true, test: { name: 'shared', include: SHARED_MODULES, isolate: false } },
      { extends: true, test: { name: 'timing', include: TIMING_SENSITIVE, sequence: { groupOrder: 1 }, poolOptions: { forks: { singleFork: true } } } },
      { extends: true, test: { name: 'pipes', include: PIPES, sequence: { groupOrder: 2 }, poolOptions: { forks: { singleFork: true } } } },
    ],
  },
});
