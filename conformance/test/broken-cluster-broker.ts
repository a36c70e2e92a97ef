/**
 * A deliberately broken cluster broker for the cluster-process suite's own tests: the reference broker
 * joined to a cluster with one defect. Run as `tsx broken-cluster-broker.ts <defect> --host H --port P
 * --cluster URL --broker-id ID`.
 *   heartbeat-1000      announces itself every 1,000 ms instead of 500 (CLU-4)
 *   dead-after-8000     holds another broker dead after 8,000 ms of silence instead of 2,000 (CLU-4, CLU-6, CLU-7)
 *   any-format          handles inter-broker messages of any format version (CLU-5)
 *   dead-while-cut-off  goes on judging the other brokers while NATS is unreachable (CLU-4, CLU-8)
 *   keep-dead-claims    leaves a dead broker's claims in the store (CLU-7)
 *   drop-unannounced-senders  drops a frame message whose src is a client the sender never announced (CLU-2)
 *   no-claims-look-up   never asks the claims stores where an unknown `dst` is (CLU-2, CLU-12)
 *   heartbeat-adds-only reads a heartbeat's clients as joins, never as the full list (section 19, HS-18)
 *   services-ignored    never adopts the services other brokers announce (CLU-2)
 */
import { parseArgs } from 'node:util';
import { Broker } from '../../reference/broker/broker.js';
import { ClusterNode, type ClusterOptions } from '../../reference/broker/cluster/node.js';

const DEFECTS: Record<string, Omit<ClusterOptions, 'url'>> = {
  'heartbeat-1000': { heartbeatMs: 1000 },
  'dead-after-8000': { deadAfterMs: 8000 },
  'any-format': { defects: { anyFormat: true } },
  'dead-while-cut-off': { defects: { deadWhileCutOff: true } },
  'keep-dead-claims': { defects: { keepDeadClaims: true } },
  'drop-unannounced-senders': {},
  'no-claims-look-up': {},
  'heartbeat-adds-only': {},
  'services-ignored': {},
};

/** Defects the reference has no option for, patched into it here (this program only). */
const PATCHES: Record<string, () => void> = {
  // Section 19 handles a frame message "as coming from a client of the sender: by its src", announced or not.
  'drop-unannounced-senders': () => {
    (ClusterNode.prototype as unknown as { adopt: () => undefined }).adopt = () => undefined;
  },
  'no-claims-look-up': () => {
    (ClusterNode.prototype as unknown as { lookUp: () => Promise<undefined> }).lookUp = () => Promise.resolve(undefined);
  },
  'heartbeat-adds-only': () => {
    type Reconciling = { add(c: unknown, broker: string): unknown; reconcile(broker: string, clients: unknown[]): void };
    (ClusterNode.prototype as unknown as Reconciling).reconcile = function (this: Reconciling, broker, clients) {
      for (const c of clients) this.add(c, broker);
    };
  },
  'services-ignored': () => {
    (ClusterNode.prototype as unknown as { adoptServices: () => void }).adoptServices = () => undefined;
  },
};

const [defect, ...argv] = process.argv.slice(2);
const broken = DEFECTS[defect ?? ''];
if (broken === undefined) throw new RangeError(`unknown defect ${String(defect)} (known: ${Object.keys(DEFECTS).join(', ')})`);
PATCHES[defect!]?.();
const { values } = parseArgs({ args: argv, options: { host: { type: 'string' }, port: { type: 'string' }, cluster: { type: 'string' }, 'broker-id': { type: 'string' } } });
const broker = new Broker({ host: values.host, port: Number(values.port), brokerId: values['broker-id'], logLevel: 'error', cluster: { url: values.cluster!, ...broken } });
await broker.listen();
