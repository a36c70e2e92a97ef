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
import { readFileSync } from 'node:fs';
import base, { reportFile } from './stryker.config.mjs';

/**
 * `reference/broker/FILE:FROM-TO` once line FROM of FILE still opens with `opening`: the ranges are line
 * numbers, which an edit above them shifts, and a stale range would mutate lines no cluster case is for.
 * Loading this config (a Stryker run, or conformance/test/mutation/cluster-lines.test.ts in npm test)
 * then fails and names the range to move.
 */
function clusterOnlyRange(file, from, to, opening) {
  const path = `reference/broker/${file}`;
  const line = readFileSync(new URL(path, import.meta.url), 'utf8').split('\n')[from - 1] ?? '';
  if (!line.trim().startsWith(opening)) {
    throw new Error(`stryker.cluster.config.mjs: ${path}:${from} no longer opens with ${JSON.stringify(opening)} (it reads ${JSON.stringify(line.trim())}): move the range ${from}-${to}`);
  }
  return `${path}:${from}-${to}`;
}

/**
 * Lines of reference/broker/*.ts taken only with the `cluster` option (file, from, to, and how line
 * `from` opens, checked by clusterOnlyRange; Stryker's mutation ranges): claims before INIT_ACK, look-ups of an unknown `dst`, remote clients, the cluster's part of
 * STATS, SERVICE_LIST, SERVICE_DISPATCH, the bus's subscriptions and handlers, and the cluster options.
 * Whole functions where the function is cluster-only, single conditions where it is not. A range holds
 * a block's mutant (its body emptied) only when it reaches the block's closing line. Kept to the
 * lines (not the files) so that the single broker's mutants, which every case reaches, are not run here
 * a second time against three brokers.
 */
const CLUSTER_ONLY_LINES = [
  ['frames.ts', 174, 174, 'const idBytesOverOne = (id: string | undefined):'],
  ['router.ts', 136, 139, 'if (conn.held !== undefined) {'],
  ['router.ts', 212, 214, 'if (this.deps.cluster && body !== undefined && !'],
  ['router.ts', 217, 217, 'if (target.remote) this.checkRemote(conn, dst);'],
  ['router.ts', 239, 242, 'private checkRemote(conn: Connection, dst: strin'],
  ['router.ts', 249, 249, 'if (target === conn || target.state !== \'open\' |'],
  ['router.ts', 257, 257, 'if (!conn.remote) this.deps.cluster?.broadcast(f'],
  ['router.ts', 279, 279, 'if (requester.remote) (requester as RemoteConnec'],
  ['router.ts', 283, 287, 'const relayed = isError && conn.remote ? (conn a'],
  ['router.ts', 353, 353, 'if (this.deps.cluster) return this.registerInClu'],
  ['router.ts', 361, 362, 'this.deps.cluster?.servicesChanged();'],
  ['router.ts', 369, 369, 'this.deps.cluster?.servicesChanged();'],
  ['router.ts', 390, 409, 'private registerInCluster(conn: Connection, id: '],
  ['router.ts', 417, 417, 'if (!c.remote) local++;'],
  ['router.ts', 423, 423, 'if (this.deps.cluster && minor >= 1) payload[\'cl'],
  ['broker.ts', 132, 137, 'this.cluster = this.config.cluster === undefined'],
  ['broker.ts', 203, 203, 'this.cluster?.start();'],
  ['broker.ts', 215, 216, 'const cluster = this.cluster?.stop();'],
  ['broker.ts', 231, 233, 'clusterReady(): Promise<void> {'],
  ['broker.ts', 286, 286, 'await this.cluster?.stop();'],
  ['broker.ts', 343, 343, '...(this.cluster ? { cluster: this.cluster.broke'],
  ['broker.ts', 347, 376, 'private *localClients(): Iterable<Connection> {'],
  ['broker.ts', 517, 520, 'if (conn.held) {'],
  ['broker.ts', 529, 529, 'if (this.cluster) this.claimThenOpen(conn, accep'],
  ['broker.ts', 538, 582, 'private claimThenOpen(conn: Connection, accepted'],
  ['broker.ts', 626, 626, 'if (wasClient) this.cluster?.clientLeft(conn, dr'],
  ['bus.ts', 72, 72, 'const sub: Subscription = { id: this.deps.cluste'],
  ['bus.ts', 84, 89, 'const cluster = this.deps.cluster;'],
  ['bus.ts', 111, 127, '/** CLU-13: the handler is registered, and ackno'],
  ['bus.ts', 156, 159, '/** The handlers of this broker\'s own clients: me'],
  ['bus.ts', 172, 174, 'const others = this.deps.cluster && !conn.remote'],
  ['bus.ts', 183, 190, 'let delivered = targets.length;'],
  ['bus.ts', 198, 207, 'const cluster = this.deps.cluster;'],
  ['dispatch.ts', 58, 63, 'const cluster = this.deps.cluster;'],
  ['dispatch.ts', 94, 104, 'const cluster = this.deps.cluster;'],
  ['dispatch.ts', 112, 133, 'private relay(conn: Connection, m: Message, raw:'],
  ['dispatch.ts', 198, 204, '/** The longest a dispatch can take on the provi'],
  ['services.ts', 53, 59, 'adopt(owner: Connection, descriptor: ServiceDesc'],
  ['services.ts', 86, 91, '/** `ownOnly`: only services of this broker\'s ow'],
  ['config.ts', 150, 153, 'if (options.cluster !== undefined) {'],
  ['calls.ts', 62, 62, 'const header = options.dst === undefined ? { id,'],
].map(([file, from, to, opening]) => clusterOnlyRange(file, from, to, opening));

export default {
  ...base,
  vitest: { configFile: 'conformance/test/mutation/vitest.cluster-mutation.config.ts' },
  mutate: ['reference/broker/cluster/*.ts', '!reference/broker/cluster/nats-process.ts', ...CLUSTER_ONLY_LINES],
  incrementalFile: 'reports/mutation/stryker-incremental-cluster.json',
  // Sandboxes of its own, so that it can run beside the main config in one checkout.
  tempDirName: '.stryker-tmp-cluster',
  jsonReporter: { fileName: reportFile('reports/mutation/mutation-cluster.json') },
  htmlReporter: { fileName: reportFile('reports/mutation/mutation-cluster.json').replace(/\.json$/, '.html') },
};
