// @ts-check
/**
 * The second run of `npm run mutation` (see stryker.config.mjs): the cluster's sources against the core
 * and cluster suites' cases run on three brokers in process joined by a nats-server (`cluster-cases.mutation.ts`: one
 * nats-server per file run, stopped by PID; new brokers for every case, the connections spread over
 * them, so a requester and its responder sit on different brokers).
 *
 * Scope: reference/broker/cluster/*.ts, except nats-process.ts (starts and stops the nats-server child
 * for the tests, no broker behaviour); cluster/test/** is not matched (the fixture that starts the brokers).
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
import base from './stryker.config.mjs';

export default {
  ...base,
  vitest: { configFile: 'conformance/test/mutation/vitest.cluster-mutation.config.ts' },
  mutate: ['reference/broker/cluster/*.ts', '!reference/broker/cluster/nats-process.ts'],
  incrementalFile: 'reports/mutation/stryker-incremental-cluster.json',
  jsonReporter: { fileName: 'reports/mutation/mutation-cluster.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation-cluster.html' },
};
