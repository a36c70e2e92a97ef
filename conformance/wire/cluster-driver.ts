/**
 * How the harness owns a cluster of brokers (suite cluster-process): a NATS server it can stop and start
 * again, and brokers it can start and kill. Two drivers: `ProcessClusterDriver` starts `nats-server` and
 * the broker command (`{host}`, `{port}`, `{nats}`, `{id}` replaced) as processes of their own, each in a
 * process group ended by its PID; the API's `clusterDriver` option takes any other, such as brokers in
 * the harness's own process (the mutation tests: a kill there is a broker that drops its connections and
 * its NATS link without a word, as a killed process does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPeerProcess, unstartable, type PeerProcess } from './peer-process.js';

/** What starts and ends the NATS server and brokers of one case of suite cluster-process. */
export interface ClusterDriver {
  /** The NATS server's URL (`nats://127.0.0.1:PORT`), the same across a stop and a start. */
  readonly natsUrl: string;
  /** Starts a broker joined to the NATS server with this id; resolves with its TCP port once it accepts connections. */
  startBroker(id: string): Promise<number>;
  /** Ends broker `id` as a crash would: no `bye`, no claim released, its connections dropped. */
  kill(id: string): Promise<void>;
  /** Stops the NATS server: every broker loses its link at once. */
  stopNats(): Promise<void>;
  /** Starts the NATS server again on the same port and storage (the claims survive). */
  startNats(): Promise<void>;
  /** Ends every broker and the NATS server. */
  close(): Promise<void>;
}

/** A driver cannot be made: the command lacks a placeholder, or nats-server is missing (the case is skipped, saying which). */
export class ClusterDriverUnavailable extends Error {
  override name = 'ClusterDriverUnavailable';
}

/** A process of the owned cluster could not be started: a fault of the setup, not a verdict on the brokers. */
export class ClusterSetupError extends Error {
  override name = 'ClusterSetupError';
}

/** The NATS server the harness starts: Debian's `nats-server`, or the program NATS_SERVER names. */
const NATS_SERVER = process.env['NATS_SERVER'] ?? 'nats-server';
/** Between two tries to connect to a process that is starting. */
const POLL_MS = 50;

/** A free TCP port on `host` (bound, then released: the process started next takes it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
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

/** Waits until `port` accepts, the process exits, or `ms` pass. */
async function listening(what: string, proc: PeerProcess, port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await accepts(port))) {
    if (proc.status !== undefined) throw new ClusterSetupError(`${what} exited (${proc.status}) before accepting on 127.0.0.1:${port}: ${proc.command.join(' ')}${proc.stderrTail() ? `\n${proc.stderrTail()}` : ''}`);
    if (Date.now() > deadline) throw new ClusterSetupError(`${what} did not accept on 127.0.0.1:${port} within ${ms} ms: ${proc.command.join(' ')}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** `nats-server -js` and the broker command as processes of their own. */
export class ProcessClusterDriver implements ClusterDriver {
  private nats: PeerProcess | undefined;
  private readonly brokers = new Map<string, PeerProcess>();

  private constructor(
    private readonly command: readonly string[],
    private readonly startMs: number,
    private readonly natsPort: number,
    private readonly storeDir: string,
  ) {}

  /** Checks the command and the machine, then starts the NATS server. */
  static async start(command: readonly string[], startMs: number): Promise<ProcessClusterDriver> {
    for (const p of ['port', 'nats', 'id']) if (!command.some((a) => a.includes(`{${p}}`))) throw new ClusterDriverUnavailable(`the broker command has no {${p}}: the harness starts its brokers on one NATS server of its own`);
    const missing = unstartable([NATS_SERVER]);
    if (missing !== undefined) throw new ClusterDriverUnavailable(`needs a NATS server to own the cluster (${missing}; Debian: apt-get install nats-server, or set NATS_SERVER)`);
    const driver = new ProcessClusterDriver(command, startMs, await freePort(), mkdtempSync(join(tmpdir(), 'concord-owned-nats-')));
    try {
      await driver.startNats();
    } catch (e) {
      await driver.close();
      throw e;
    }
    return driver;
  }

  get natsUrl(): string {
    return `nats://127.0.0.1:${this.natsPort}`;
  }

  async startNats(): Promise<void> {
    const proc = startPeerProcess([NATS_SERVER, '-js', '-a', '127.0.0.1', '-p', String(this.natsPort), '-sd', this.storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.nats = proc;
    await listening('nats-server', proc, this.natsPort, this.startMs);
  }

  /** SIGKILL to the server's group, then its exit. */
  async stopNats(): Promise<void> {
    const proc = this.nats;
    this.nats = undefined;
    if (!proc) return;
    proc.stop();
    await proc.exited;
  }

  async startBroker(id: string): Promise<number> {
    const port = await freePort();
    const vars: Record<string, string> = { host: '127.0.0.1', port: String(port), nats: this.natsUrl, id };
    const args = this.command.map((a) => Object.entries(vars).reduce((x, [k, v]) => x.replaceAll(`{${k}}`, v), a));
    const proc = startPeerProcess(args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.brokers.set(id, proc);
    await listening(`broker ${id}`, proc, port, this.startMs);
    return port;
  }

  /** SIGKILL to the broker's process group (everything it started), then its exit. */
  async kill(id: string): Promise<void> {
    const proc = this.brokers.get(id);
    if (!proc) throw new Error(`kill: no broker ${id} was started`);
    proc.stop();
    await proc.exited;
  }

  async close(): Promise<void> {
    for (const proc of this.brokers.values()) proc.stop();
    await Promise.all([...this.brokers.values()].map((p) => p.exited));
    await this.stopNats();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
