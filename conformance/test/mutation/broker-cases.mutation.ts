/**
 * The conformance suites as the tests that kill the broker's mutants (`npm run mutation`): one vitest
 * test per conformance case, so Stryker's per-test coverage runs only the cases that reach a mutant.
 * Each test starts the broker from the (mutated) sources in process, on a free loopback port with the
 * embedded broker's options, and runs its one case through the compiled harness (harness-build.ts); a
 * case of suite broker-process starts its own brokers, in process too, from their command line.
 * A mutant is killed when a case that passes the reference broker does not pass it.
 */
import { Broker } from '../../../reference/broker/index.js';
import { loadBuiltHarness } from './harness-build.js';
import { defineCaseTests, reportDirForThisFile, runCaseAgainst, runLaunchedCase, type StartBrokers } from './case-runner.js';
import { launchBrokerInProcess, IN_PROCESS_BROKER_COMMAND } from './in-process-broker-launcher.js';
import { BROKER_PROCESS_LEFT_OUT, CASES_TOGETHER, MUTATION_SEED, MUTATION_SUITES } from './scope.js';

const harness = await loadBuiltHarness();
const reportDir = reportDirForThisFile();
// Replay one case with: npx tsx conformance/cli.ts --seed MUTATION_SEED --run ID
console.log(`mutation cases: suites ${MUTATION_SUITES.join(', ')}, seed ${MUTATION_SEED}`);

/** One broker on a free loopback port. */
const oneBroker: StartBrokers = async (_caseId, options) => {
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', ...options });
  const bound = await broker.listen();
  return {
    target: `127.0.0.1:${bound.port!}`,
    shutdown: () => void broker.shutdown(),
    close: () => broker.close().catch(() => undefined),
  };
};

defineCaseTests(harness, {
  suites: MUTATION_SUITES,
  testName: (c, expected) => `${c.id} -> ${expected}`,
  together: CASES_TOGETHER,
  run: (suite, c) => runCaseAgainst(harness, oneBroker, reportDir, suite, c),
});

// The cases that start their own brokers (sockets and directories of their own, so one at a time).
defineCaseTests(harness, {
  suites: ['broker-process'],
  testName: (c, expected) => `${c.id} -> ${expected}`,
  leftOut: BROKER_PROCESS_LEFT_OUT,
  together: 1,
  run: (suite, c) => runLaunchedCase(harness, launchBrokerInProcess, IN_PROCESS_BROKER_COMMAND, reportDir, suite, c),
});
