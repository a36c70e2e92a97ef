/**
 * A cluster the harness owns (suite cluster-process): a NATS server and N brokers a ClusterDriver starts
 * (conformance/wire/cluster-driver.ts: from the broker command, `conformance --suite cluster-process --
 * CMD ARGS`, or the API's `clusterDriver`). Owning them is what lets a case do what the cluster suite
 * cannot (section 19): kill a broker (a death, not a `bye`), stop the NATS server and start it again on
 * the same port and storage, watch the control subject and publish on it as a foreign broker would.
 */
import { connect as connectNats, type NatsConnection } from '@nats-io/transport-node';
import { ClusterDriverUnavailable, ProcessClusterDriver, type ClusterDriver } from '../wire/cluster-driver.js';
import { ClusterPeer, TcpPeer } from '../wire/peer-target.js';
import type { WireConnection } from '../wire/connection.js';
import { CaseContext } from './context.js';
import { CaseFailure, CaseSkipped } from './model.js';

/** How long a broker may take to announce itself once it listens: section 19's heartbeat is every 500 ms. */
const JOIN_WITHIN_MS = 10_000;
/** After every broker was heard: two heartbeats, so that each has heard the others too. */
const SETTLE_MS = 2 * 500;
/** Section 19's control subject. */
export const CONTROL_SUBJECT = 'concord.v1.control';
/** A name (broker id, client id, service name) as section 19 writes it in subjects and store keys. */
export const tokenOf = (name: string): string => Buffer.from(name, 'utf8').toString('base64url');
/** Section 19's subject of the frame messages for `broker`. */
export const frameSubjectOf = (broker: string): string => `concord.v1.frame.${tokenOf(broker)}`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The sending broker of a control message (section 19: JSON with `broker`), undefined for anything else. */
function brokerOf(data: Uint8Array): string | undefined {
  try {
    const broker = (JSON.parse(Buffer.from(data).toString('utf8')) as { broker?: unknown }).broker;
    return typeof broker === 'string' ? broker : undefined;
  } catch {
    return undefined;
  }
}

export interface OwnedBroker {
  readonly id: string;
  readonly port: number;
}

export class OwnedCluster {
  private readonly clients: NatsConnection[] = [];
  private context: CaseContext | undefined;
  readonly brokers: OwnedBroker[] = [];

  private constructor(
    private readonly outer: CaseContext,
    private readonly driver: ClusterDriver,
  ) {}

  get natsUrl(): string {
    return this.driver.natsUrl;
  }

  /** Where the case's connections go: the k-th to broker k mod N of those started before its first use (not recorded into replay bundles: a replay cannot own the cluster). */
  get ctx(): CaseContext {
    this.context ??= new CaseContext({ ...this.outer.options, target: new ClusterPeer(this.brokers.map((b) => new TcpPeer('127.0.0.1', b.port))), recorder: undefined });
    return this.context;
  }

  /** Starts the NATS server and `count` brokers, then waits until they have heard each other. Skips the case when the peer options cannot own a cluster. */
  static async start(ctx: CaseContext, count = 3): Promise<OwnedCluster> {
    const t = ctx.options.target;
    let driver: ClusterDriver;
    try {
      if (t.kind === 'broker-process') driver = await ProcessClusterDriver.start(t.command, ctx.startTimeoutMs);
      else if (t.kind === 'owned-cluster') driver = await t.driver();
      else throw new ClusterDriverUnavailable('needs the broker command: conformance --suite cluster-process -- CMD ARGS ({host} {port} {nats} {id} replaced)');
    } catch (e) {
      if (e instanceof ClusterDriverUnavailable) throw new CaseSkipped(e.message);
      throw e;
    }
    const cluster = new OwnedCluster(ctx, driver);
    try {
      for (let i = 0; i < count; i++) await cluster.startBroker();
      const all = cluster.brokers.map((_, i) => i);
      await cluster.announced(all);
      await sleep(SETTLE_MS);
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  /** Starts one more broker (its id unique to the run); returns its index. Brokers started after `ctx` was first used are reached with openTo. */
  async startBroker(): Promise<number> {
    const i = this.brokers.length;
    const id = this.outer.uniqueId(`broker${i + 1}`);
    const port = await this.driver.startBroker(id);
    this.brokers.push({ id, port });
    return i;
  }

  /** A connection to broker `i`, tracked by `ctx`. */
  async openTo(i: number, label: string): Promise<WireConnection> {
    return this.ctx.adopt(await new TcpPeer('127.0.0.1', this.brokers[i]!.port).open(label, this.outer.timeoutMs));
  }

  /**
   * Resolves once each broker of `which` has published on the control subject (its NATS link is up);
   * one that stays silent for JOIN_WITHIN_MS breaks CLU-4 (the brokers run, and the NATS server is the harness's).
   */
  async announced(which: number[]): Promise<void> {
    const ids = new Set(which.map((i) => this.brokers[i]!.id));
    const heard = new Set<string>();
    const nc = await this.natsClient();
    const sub = nc.subscribe(CONTROL_SUBJECT);
    const timer = setTimeout(() => sub.unsubscribe(), JOIN_WITHIN_MS);
    try {
      for await (const m of sub) {
        const broker = brokerOf(m.data);
        if (broker !== undefined && ids.has(broker)) heard.add(broker);
        if (heard.size === ids.size) break;
      }
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
    }
    const silent = [...ids].filter((id) => !heard.has(id));
    if (silent.length > 0) {
      throw new CaseFailure(`[CLU-4] within ${JOIN_WITHIN_MS} ms of listening, ${silent.join(', ')} sent no message on ${CONTROL_SUBJECT}: no heartbeat, so no cluster formed on the NATS server at ${this.natsUrl}`, 'a heartbeat every 500 ms from each broker', 'none');
    }
  }

  /** Kills broker `i`: no `bye`, its connections dropped (SIGKILL to its process group, with the command). */
  kill(i: number): Promise<void> {
    return this.driver.kill(this.brokers[i]!.id);
  }

  stopNats(): Promise<void> {
    return this.driver.stopNats();
  }

  startNats(): Promise<void> {
    return this.driver.startNats();
  }

  /** A NATS connection of the harness's own to the owned server (closed with the cluster). */
  async natsClient(): Promise<NatsConnection> {
    const nc = await connectNats({ servers: this.natsUrl, name: 'concord-conformance', reconnect: false });
    this.clients.push(nc);
    return nc;
  }

  /** Ends the case's connections, every broker and the NATS server. */
  async close(): Promise<void> {
    this.context?.close();
    await Promise.all(this.clients.map((nc) => nc.close().catch(() => undefined)));
    await this.driver.close();
  }
}

/** Runs `body` with a cluster the harness owns, ending every process of it whatever the outcome. */
export async function withOwnedCluster<T>(ctx: CaseContext, body: (cluster: OwnedCluster) => Promise<T>, count = 3): Promise<T> {
  const cluster = await OwnedCluster.start(ctx, count);
  try {
    return await body(cluster);
  } finally {
    await cluster.close();
  }
}
