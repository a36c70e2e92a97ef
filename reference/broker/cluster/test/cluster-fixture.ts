/**
 * A NATS server and brokers joined to it, for the cluster tests: every broker and the server are
 * stopped (by PID for the server) when the test file ends.
 */
import { afterAll } from 'vitest';
import { Broker, type BrokerOptions } from '../../index.js';
import { NatsProcess } from '../nats-process.js';

export interface ClusterUnderTest {
  nats: NatsProcess;
  brokers: Broker[];
  ports: number[];
  /** Starts another broker joined to the cluster. */
  add(id: string, options?: BrokerOptions): Promise<{ broker: Broker; port: number }>;
  /** Waits until every broker lists `brokers` members (the heartbeats went round). */
  settled(brokers?: Broker[]): Promise<void>;
}

/** Cluster timers for tests: heartbeat 200 ms; dead after 2 s, so a loaded machine declares no live broker dead. */
export const TEST_CLUSTER_TIMERS = { heartbeatMs: 200, deadAfterMs: 2000 };

/**
 * No broker yet on the running NATS server `nats`: `add` starts each. A broker is listed in `brokers`
 * as soon as it is made, so one that never becomes ready is still there to close.
 */
export function clusterOn(nats: NatsProcess, options: BrokerOptions = {}, timers: { heartbeatMs: number; deadAfterMs: number } = TEST_CLUSTER_TIMERS): ClusterUnderTest {
  const c: ClusterUnderTest = {
    nats,
    brokers: [],
    ports: [],
    async add(id, more = {}) {
      const broker = new Broker({ port: 0, logLevel: 'error', ...options, ...more, brokerId: id, cluster: { ...options.cluster, url: nats.url, ...timers } });
      c.brokers.push(broker);
      const bound = await broker.listen();
      await broker.clusterReady();
      c.ports.push(bound.port!);
      return { broker, port: bound.port! };
    },
    async settled(brokers = c.brokers) {
      const deadline = Date.now() + 15_000;
      while (brokers.some((b) => (b.stats().cluster?.length ?? 0) < brokers.length)) {
        if (Date.now() > deadline) throw new Error('the brokers did not see each other within 15 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
  return c;
}

/** A NATS server of its own and the brokers `ids` joined to it, each seeing the others. */
export async function startCluster(ids: string[], options: BrokerOptions = {}): Promise<ClusterUnderTest> {
  const c = clusterOn(await NatsProcess.start(), options);
  for (const id of ids) await c.add(id);
  await c.settled();
  return c;
}

/** Registers the cleanup of a cluster made by `make` in the calling test file. */
export function stopAfterAll(get: () => ClusterUnderTest | undefined): void {
  afterAll(async () => {
    const c = get();
    if (!c) return;
    await Promise.all(c.brokers.map((b) => b.close()));
    await c.nats.dispose();
  }, 30_000);
}
