/**
 * Listen mode: the harness plays the broker for a client under test. Connections are queued as
 * they arrive and handed out one per case; when a client command is given, the harness starts it
 * for each case with `{port}` replaced by the listening port (and CONCORD_PORT set).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { WireConnection, ConnectError } from './connection.js';

export class Listener {
  private readonly waiting: Socket[] = [];
  private waiter: ((s: Socket) => void) | null = null;
  private readonly children = new Set<ChildProcess>();
  private server: Server | null = null;
  port = 0;

  constructor(readonly clientCommand?: string[]) {}

  async start(port: number, host = '127.0.0.1'): Promise<number> {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(socket);
      } else {
        this.waiting.push(socket);
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new ConnectError(`cannot listen on ${host}:${port}: ${e.message}`)));
      server.listen({ host, port }, resolve);
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  /** Starts the client command for one case (no-op without a command). */
  launch(): ChildProcess | undefined {
    if (!this.clientCommand) return undefined;
    const [cmd, ...args] = this.clientCommand.map((a) => a.replaceAll('{port}', String(this.port)));
    const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CONCORD_PORT: String(this.port) } });
    child.stderr?.resume();
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  /** The next client connection, or ConnectError after `timeoutMs`. */
  accept(label: string, timeoutMs: number): Promise<WireConnection> {
    const queued = this.waiting.shift();
    if (queued) return Promise.resolve(WireConnection.accepted(queued, label));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new ConnectError(`no client connected to 127.0.0.1:${this.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (s) => { clearTimeout(timer); resolve(WireConnection.accepted(s, label)); };
    });
  }

  /** Ends the clients this listener started (by their PID) and stops listening. */
  async close(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of this.waiting) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Ends one case's client process, if this listener started it. */
  stop(child: ChildProcess | undefined): void {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
