/**
 * A ClusterDriver (conformance/wire/cluster-driver.ts) whose brokers run in this process, built from the
 * reference's sources: what lets the mutation tests run the cluster-process suite against mutated
 * brokers, which Stryker sees only in its own process. The NATS server is a process of its own
 * (NatsProcess), stopped with SIGKILL as the command's driver stops it; a kill is Broker.crash(): the
 * connections dropped, no `bye`, no claim released.
 */
import { Broker, type BrokerOptions } from '../../reference/broker/index.js';
import { NatsProcess } from '../../reference/broker/cluster/nats-process.js';
import type { ClusterDriver } from '../wire/cluster-driver.js';

/** Brokers get `options` (token, limits), with the host, port, id and cluster link the driver gives them. */
export type InProcessBrokerOptions = Omit<BrokerOptions, 'host' | 'port' | 'brokerId' | 'cluster'>;

export function inProcessClusterDriver(options: InProcessBrokerOptions = {}): () => Promise<ClusterDriver> {
  return async () => {
    const nats = await NatsProcess.start();
    const brokers = new Map<string, Broker>();
    return {
      natsUrl: nats.url,
      async startBroker(id) {
        const broker = new Broker({ logLevel: 'error', ...options, host: '127.0.0.1', port: 0, brokerId: id, cluster: { url: nats.url } });
        brokers.set(id, broker);
        const { port } = await broker.listen();
        return port!;
      },
      async kill(id) {
        const broker = brokers.get(id);
        if (!broker) throw new Error(`kill: no broker ${id} was started`);
        await broker.crash();
      },
      stopNats: () => nats.stop('SIGKILL'),
      startNats: () => nats.run(),
      async close() {
        await Promise.all([...brokers.values()].map((b) => b.close().catch(() => undefined)));
        await nats.dispose();
      },
    };
  };
}
