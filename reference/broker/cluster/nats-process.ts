/**
 * A NATS server with JetStream for tests and benchmarks: started on a free loopback port with its
 * own storage directory, stopped by its PID (never by name), its directory removed afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the Debian package puts it; NATS_SERVER overrides. */
export const NATS_SERVER = process.env['NATS_SERVER'] ?? 'nats-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class NatsProcess {
  private child: ChildProcess | undefined;
  private readonly storeDir: string;

  private constructor(readonly port: number) {
    this.storeDir = mkdtempSync(join(tmpdir(), 'concord-nats-'));
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port (or `port`), waiting at most `startMs` for it to accept. */
  static async start(port?: number, startMs = 20_000): Promise<NatsProcess> {
    const nats = new NatsProcess(port ?? (await freePort()));
    try {
      await nats.run(startMs);
    } catch (e) {
      // The caller gets no handle to a server that did not start: it is stopped (by PID) here.
      await nats.dispose();
      throw e;
    }
    return nats;
  }

  /** (Re)starts the server on the same port and storage: JetStream state (the claims) survives. */
  async run(startMs = 20_000): Promise<void> {
    const child = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], { stdio: 'ignore' });
    this.child = child;
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nats-server exited with ${code} before accepting`))));
    exited.catch(() => undefined);
    const deadline = Date.now() + startMs;
    while (!(await Promise.race([accepts(this.port), exited]))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not accept on ${this.port} within ${startMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server by its PID and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(force);
  }

  /** Stops it and removes its storage. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
