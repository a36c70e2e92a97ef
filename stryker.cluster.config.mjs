// @ts-check
/**
 * The second run of `npm run mutation` (see stryker.config.mjs): the cluster's sources against the core
 * and cluster suites' cases run on three brokers in process joined by a nats-server (`cluster-cases.mutation.ts`: one
 * nats-server per file run, stopped by PID; new brokers for every case, the connections spread over
 * them, so a requester and its responder sit on different brokers).
 *
 * Scope: reference/broker/cluster/*.ts, except nats-process.ts (starts and stops the nats-server child
 * for the tests, no broker behaviour); cluster/test/** is not matched (the fixture that starts the brokers).
 * Also the cluster-only lines of the single broker's files (CLUSTER_ONLY_LINES): no case of the main run
 * reaches them, since that run's broker has no cluster, and the `cluster` suite does. A mutant of those
 * lines is in both runs' reports; the summary counts it killed when either run killed it (summary.ts).
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
import base from './stryker.config.mjs';

/**
 * Lines of reference/broker/*.ts taken only with the `cluster` option (file:from-to, Stryker's mutation
 * ranges): claims before INIT_ACK, look-ups of an unknown `dst`, remote clients, the cluster's part of
 * STATS, SERVICE_LIST, SERVICE_DISPATCH, the bus's subscriptions and handlers, and the cluster options.
 * Whole functions where the function is cluster-only, single conditions where it is not. A range holds
 * a block's mutant (its body emptied) only when it reaches the block's closing line. Kept to the
 * lines (not the files) so that the single broker's mutants, which every case reaches, are not run here
 * a second time against three brokers.
 */
const CLUSTER_ONLY_LINES = [
  'router.ts:141-144', 'router.ts:217-219', 'router.ts:222-222', 'router.ts:244-247', 'router.ts:254-254', 'router.ts:262-262',
  'router.ts:348-348', 'router.ts:356-357', 'router.ts:364-364', 'router.ts:385-404', 'router.ts:412-412', 'router.ts:418-418',
  'broker.ts:132-137', 'broker.ts:203-203', 'broker.ts:215-216', 'broker.ts:221-223', 'broker.ts:276-276', 'broker.ts:333-333',
  'broker.ts:337-366', 'broker.ts:507-510', 'broker.ts:519-519', 'broker.ts:528-572', 'broker.ts:616-616',
  'bus.ts:70-70', 'bus.ts:82-87', 'bus.ts:109-125', 'bus.ts:150-154', 'bus.ts:167-169', 'bus.ts:178-185', 'bus.ts:193-202',
  'dispatch.ts:53-58', 'dispatch.ts:89-99', 'dispatch.ts:107-128', 'dispatch.ts:187-193',
  'services.ts:53-59', 'services.ts:86-91',
  'config.ts:148-151',
  'calls.ts:56-56',
].map((range) => `reference/broker/${range}`);

export default {
  ...base,
  vitest: { configFile: 'conformance/test/mutation/vitest.cluster-mutation.config.ts' },
  mutate: ['reference/broker/cluster/*.ts', '!reference/broker/cluster/nats-process.ts', ...CLUSTER_ONLY_LINES],
  incrementalFile: 'reports/mutation/stryker-incremental-cluster.json',
  jsonReporter: { fileName: 'reports/mutation/mutation-cluster.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation-cluster.html' },
};
