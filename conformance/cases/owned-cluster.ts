/**
 * A cluster the harness owns (suite cluster-process, `conformance --suite cluster-process -- CMD ARGS`):
 * its own NATS server (`nats-server -js` on a free loopback port, storage in a scratch directory) and
 * N brokers started from the broker command with `{host}`, `{port}`, `{nats}` and `{id}` replaced. Owning
 * the processes is what lets a case do what the cluster suite cannot (section 19): kill a broker
 * (SIGKILL to its process group: a death, not a `bye`), stop the NATS server and start it again on the
 * same port and storage, watch the control subject and publish on it as a foreign broker would.
 * Every process is started by startPeerProcess (a process group of its own) and ended by its PID.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectNats, type NatsConnection } from '@nats-io/transport-node';
import { startPeerProcess, unstartable, type PeerProcess } from '../wire/peer-process.js';
import { ClusterPeer, TcpPeer } from '../wire/peer-target.js';
import type { WireConnection } from '../wire/connection.js';
import { CaseContext } from './context.js';
import { CaseFailure, CaseSkipped } from './model.js';

/** The NATS server the harness starts: Debian's `nats-server`, or the program NATS_SERVER names. */
const NATS_SERVER = process.env['NATS_SERVER'] ?? 'nats-server';
/** Between two tries to connect to a process that is starting. */
const POLL_MS = 50;
/** How long brokers may take to see each other once all listen: the heartbeats of section 19 make it 500 ms. */
const JOIN_WITHIN_MS = 10_000;

/** A free TCP port on loopback (bound, then released: the process started next takes it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

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

/** A process of the owned cluster could not be started: a fault of the setup, not a verdict on the brokers' conformance. */
export class ClusterSetupError extends Error {
  override name = 'ClusterSetupError';
}

/** Waits until `port` accepts, the process exits, or `ms` pass. */
async function listening(what: string, proc: PeerProcess, port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await accepts(port))) {
    if (proc.status !== undefined) throw new ClusterSetupError(`${what} exited (${proc.status}) before accepting on 127.0.0.1:${port}: ${proc.command.join(' ')}${proc.stderrTail() ? `\n${proc.stderrTail()}` : ''}`);
    if (Date.now() > deadline) throw new ClusterSetupError(`${what} did not accept on 127.0.0.1:${port} within ${ms} ms: ${proc.command.join(' ')}`);
    await sleep(POLL_MS);
  }
}

export interface OwnedBroker {
  readonly id: string;
  readonly port: number;
  process: PeerProcess;
}

export class OwnedCluster {
  private nats: PeerProcess | undefined;
  private readonly clients: NatsConnection[] = [];
  private context: CaseContext | undefined;

  private constructor(
    private readonly outer: CaseContext,
    private readonly command: string[],
    readonly brokers: OwnedBroker[],
    readonly natsPort: number,
    private readonly storeDir: string,
  ) {}

  /** Where the case's connections go once the brokers run: the k-th to broker k mod N (not recorded into replay bundles: a replay cannot own the cluster). */
  get ctx(): CaseContext {
    this.context ??= new CaseContext({ ...this.outer.options, target: new ClusterPeer(this.brokers.map((b) => new TcpPeer('127.0.0.1', b.port))), recorder: undefined });
    return this.context;
  }

  get natsUrl(): string {
    return `nats://127.0.0.1:${this.natsPort}`;
  }

  /**
   * Starts the NATS server and `count` brokers from the suite's command, then waits until they have
   * heard each other (two heartbeats). Skips the case when the command or the machine cannot do it.
   */
  static async start(ctx: CaseContext, count = 3): Promise<OwnedCluster> {
    const t = ctx.options.target;
    if (t.kind !== 'broker-process') throw new CaseSkipped('needs the broker command: conformance --suite cluster-process -- CMD ARGS ({host} {port} {nats} {id} replaced)');
    const command = [...t.command];
    for (const p of ['port', 'nats', 'id']) if (!command.some((a) => a.includes(`{${p}}`))) throw new CaseSkipped(`the broker command has no {${p}}: the harness starts ${count} brokers on one NATS server of its own`);
    const missing = unstartable([NATS_SERVER]);
    if (missing !== undefined) throw new CaseSkipped(`needs a NATS server to own the cluster (${missing}; Debian: apt-get install nats-server, or set NATS_SERVER)`);
    const storeDir = mkdtempSync(join(tmpdir(), 'concord-owned-nats-'));
    const cluster = new OwnedCluster(ctx, command, [], await freePort(), storeDir);
    try {
      await cluster.startNats();
      for (let i = 0; i < count; i++) await cluster.startBroker();
      await cluster.joined();
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  /**
   * Starts one more broker from the command and waits until it accepts connections (the first ones
   * before `ctx` is first used: its entries are the brokers started by then). Returns its index.
   */
  async startBroker(): Promise<number> {
    const i = this.brokers.length;
    const id = this.outer.uniqueId(`broker${i + 1}`);
    const port = await freePort();
    const vars: Record<string, string> = { host: '127.0.0.1', port: String(port), nats: this.natsUrl, id };
    const args = this.command.map((a) => Object.entries(vars).reduce((x, [k, v]) => x.replaceAll(`{${k}}`, v), a));
    const proc = startPeerProcess(args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.brokers.push({ id, port, process: proc });
    await listening(`broker ${id}`, proc, port, this.outer.startTimeoutMs);
    return i;
  }

  /** A connection to broker `i` (one started after `ctx` too), tracked by `ctx`. */
  async openTo(i: number, label: string): Promise<WireConnection> {
    return this.ctx.adopt(await new TcpPeer('127.0.0.1', this.brokers[i]!.port).open(label, this.outer.timeoutMs));
  }

  /** Resolves at the first message broker `i` publishes on the control subject (its NATS link is up), or fails after JOIN_WITHIN_MS. */
  async announced(i: number): Promise<void> {
    const id = this.brokers[i]!.id;
    const nc = await this.natsClient();
    const sub = nc.subscribe('concord.v1.control');
    const timer = setTimeout(() => sub.unsubscribe(), JOIN_WITHIN_MS);
    let heard = false;
    try {
      for await (const m of sub) {
        if (brokerOf(m.data) === id) {
          heard = true;
          break;
        }
      }
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
    }
    if (!heard) throw new CaseFailure(`[CLU-4] within ${JOIN_WITHIN_MS} ms of listening, broker ${id} sent no message on concord.v1.control`, 'a heartbeat every 500 ms', 'none');
  }

  /** Starts (or starts again, on the same port and storage: the claims survive) the NATS server. */
  async startNats(): Promise<void> {
    const proc = startPeerProcess([NATS_SERVER, '-js', '-a', '127.0.0.1', '-p', String(this.natsPort), '-sd', this.storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.nats = proc;
    await listening('nats-server', proc, this.natsPort, this.outer.startTimeoutMs);
  }

  /** Kills the NATS server (SIGKILL to its group) and waits for its exit: every broker loses its link at once. */
  async stopNats(): Promise<void> {
    const proc = this.nats;
    this.nats = undefined;
    if (!proc) return;
    proc.stop();
    await proc.exited;
  }

  /** Kills broker `i` (SIGKILL to its process group: no `bye`, its connections reset) and waits for its exit. */
  async kill(i: number): Promise<void> {
    const b = this.brokers[i]!;
    b.process.stop();
    await b.process.exited;
  }

  /**
   * Waits until every broker has heard every other one: each broker's heartbeat seen on the control
   * subject after all of them listen, then one more period, so that each has received the others'.
   */
  private async joined(): Promise<void> {
    const nc = await this.natsClient();
    const heard = new Set<string>();
    const ids = new Set(this.brokers.map((b) => b.id));
    const sub = nc.subscribe('concord.v1.control');
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
    if (heard.size < ids.size) {
      const silent = [...ids].filter((id) => !heard.has(id));
      // The brokers run and the NATS server is the harness's: a broker that never announces itself breaks CLU-4.
      throw new CaseFailure(`[CLU-4] within ${JOIN_WITHIN_MS} ms of listening, ${silent.join(', ')} sent no message on concord.v1.control: no heartbeat, so the brokers did not form a cluster on the NATS server at ${this.natsUrl}`, 'a heartbeat every 500 ms from each broker', 'none');
    }
    await sleep(2 * 500);
  }

  /** A NATS connection of the harness's own to the owned server (closed with the cluster). */
  async natsClient(): Promise<NatsConnection> {
    const nc = await connectNats({ servers: this.natsUrl, name: 'concord-conformance', reconnect: false });
    this.clients.push(nc);
    return nc;
  }

  /** Ends the case's connections, every broker, the NATS server, and removes the storage. */
  async close(): Promise<void> {
    this.context?.close();
    await Promise.all(this.clients.map((nc) => nc.close().catch(() => undefined)));
    for (const b of this.brokers) b.process.stop();
    await Promise.all(this.brokers.map((b) => b.process.exited));
    await this.stopNats();
    rmSync(this.storeDir, { recursive: true, force: true });
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
