/**
 * Listening sockets: TCP (TCP-1) and Unix (UNIX-1, UNIX-2).
 */
import { createConnection, type Server } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';

/** A listening address that cannot be used; raised by Broker.listen(). */
export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`Broker: cannot listen on ${address}: ${message}`, options);
  }
}

function listenOn(server: Server, address: string, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(new ListenError(address, e.message, { cause: e }));
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
    start();
  });
}

export async function listenTcp(server: Server, host: string, port: number): Promise<number> {
  await listenOn(server, `${host}:${port}`, () => server.listen({ host, port }));
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

/** true when a connection attempt to the socket at `path` is refused (a stale socket file). */
function isStaleSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/**
 * UNIX-2: an existing file at `path` is removed only when it is a socket nobody answers on. UNIX-1: the
 * socket is created 0600; the umask is narrowed around the bind so that no wider mode ever exists
 * (process.umask is refused in worker threads, where the chmod right after the bind remains).
 */
export async function listenUnix(server: Server, path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    stat = undefined;
  }
  if (stat !== undefined) {
    if (!stat.isSocket()) throw new ListenError(`unix:${path}`, 'a file that is not a socket is in the way');
    if (!(await isStaleSocket(path))) throw new ListenError(`unix:${path}`, 'another process is listening there');
    unlinkSync(path);
  }
  let previous: number | undefined;
  try {
    previous = process.umask(0o177);
  } catch {
    previous = undefined;
  }
  try {
    await listenOn(server, `unix:${path}`, () => {
      server.listen({ path });
      // The bind has happened synchronously inside listen(); restore the umask at once.
      if (previous !== undefined) process.umask(previous);
      previous = undefined;
    });
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
  chmodSync(path, 0o600);
}
