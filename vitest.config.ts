import { defineConfig } from 'vitest/config';

/**
 * Files whose cases wait on FIFO opens, line-protocol phases, sub-second silences, a soak or a
 * connection handover: they run
 * after every other file, one at a time, with nothing else of vitest running beside them.
 */
const TIMING_SENSITIVE = [
  'conformance/test/fifo-suite.test.ts',
  'conformance/test/lines-suite.test.ts',
  'conformance/test/testee-suite.test.ts',
  'conformance/test/hostile/hostile.test.ts',
  'reference/transport/test/fifo.test.ts',
  'reference/transport/test/pipes-command.test.ts',
  'reference/broker/test/soak.test.ts',
  // Starts and stops worker processes in quick succession on ports it hands between connections.
  'conformance/test/instrument-worker.test.ts',
];

export default defineConfig({
  test: {
    exclude: ['node_modules/**', 'dist/**', '.stryker-tmp/**'],
    testTimeout: 60_000,
    // Property tests print their seed on stdout; keep it visible.
    silent: false,
    // Most files wait on child processes and sockets rather than compute: two at a time on two cores
    // (vitest's default here would be one).
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      { extends: true, test: { name: 'main', include: ['**/*.test.ts'], exclude: ['node_modules/**', 'dist/**', '.stryker-tmp/**', ...TIMING_SENSITIVE] } },
      { extends: true, test: { name: 'timing', include: TIMING_SENSITIVE, sequence: { groupOrder: 1 }, poolOptions: { forks: { singleFork: true } } } },
    ],
  },
});
