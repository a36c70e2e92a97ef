/**
 * A reference broker process on a fixed loopback port that a test kills (SIGKILL, as a crash: no
 * SHUTDOWN reaches the clients) and starts again on the same port, so that clients reconnect to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../cli.ts', import.meta.url));

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export class BrokerProcess {
  private child: ChildProcess | undefined;

  constructor(readonly port: number) {}

  /** Starts the broker and resolves once it listens. */
  start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'broker', '--port', String(this.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let text = '';
      const onData = (d: Buffer): void => {
        text += d.toString();
        if (/"msg":"listening"/.test(text)) {
          child.stderr!.off('data', onData);
          child.stderr!.resume(); // keep draining the log so the broker never blocks on stderr
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null): void => reject(new Error(`the broker exited (${code}) before listening on ${this.port}: ${text}`));
      child.stderr!.on('data', onData);
      child.once('exit', onExit);
    });
  }

  /** SIGKILL by PID; resolves once the process is gone. */
  kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
