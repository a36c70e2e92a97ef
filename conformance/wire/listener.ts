/**
 * Listen mode: the harness plays the broker for a client under test. Connections are queued as
 * they arrive and handed out one per case; when a client command is given, the harness starts it
 * for each case with `{port}` replaced by the listening port (and CONCORD_PORT set).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { WireConnection, ConnectError } from './connection.js';
import { startPeerProcess, type PeerProcess } from './peer-process.js';

/** The client under test ended before it connected (the peer's doing, not an unreachable target). */
export class ClientGone extends Error {
  override name = 'ClientGone';
}

export class Listener {
  private readonly waiting: Socket[] = [];
  private waiter: ((s: Socket) => void) | null = null;
  private readonly children = new Set<PeerProcess>();
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
  launch(): PeerProcess | undefined {
    if (!this.clientCommand) return undefined;
    const [cmd, ...args] = this.clientCommand.map((a) => a.replaceAll('{port}', String(this.port)));
    const peer = startPeerProcess([cmd!, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CONCORD_PORT: String(this.port) } });
    this.children.add(peer);
    void peer.exited.then(() => this.children.delete(peer));
    return peer;
  }

  /**
   * The next client connection, or ConnectError after `timeoutMs`; a client process that ends (or
   * cannot start) before connecting ends the wait with ClientGone.
   */
  accept(label: string, timeoutMs: number, peer?: PeerProcess): Promise<WireConnection> {
    const queued = this.waiting.shift();
    if (queued) {
      if (peer) peer.spoke = true;
      return Promise.resolve(WireConnection.accepted(queued, label));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new ConnectError(`no client connected to 127.0.0.1:${this.port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (s: Socket): void => { clearTimeout(timer); if (peer) peer.spoke = true; resolve(WireConnection.accepted(s, label)); };
      this.waiter = waiter;
      void peer?.exited.then(() => setTimeout(() => {
        if (this.waiter !== waiter) return; // connected meanwhile, or a later case waits now
        this.waiter = null;
        clearTimeout(timer);
        reject(new ClientGone(`the client ended before connecting (${peer.status})${peer.stderrTail() ? `; stderr: ${peer.stderrTail()}` : ''}`));
      }, 100));
    });
  }

  /** Ends the clients this listener started (by their PID) and stops listening. */
  async close(): Promise<void> {
    for (const c of this.children) c.stop();
    for (const s of this.waiting) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Ends one case's client process, if this listener started it. */
  stop(child: PeerProcess | undefined): void {
    child?.stop();
  }
}
