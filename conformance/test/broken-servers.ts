/**
 * Deliberately broken servers the harness must catch: one that accepts and closes, one that answers
 * garbage, one that never answers. Each listens on 127.0.0.1 with an ephemeral port.
 */
import { createServer, type Server, type Socket } from 'node:net';

export type BrokenKind = 'accept-and-close' | 'garbage' | 'silent';

export interface BrokenServer {
  port: number;
  close(): Promise<void>;
}

function behaviour(kind: BrokenKind): (socket: Socket) => void {
  switch (kind) {
    case 'accept-and-close':
      return (socket) => socket.destroy();
    case 'garbage':
      // A plausible length prefix followed by bytes that are no Concord body, in answer to anything.
      return (socket) => socket.on('data', () => socket.write(Buffer.from('0000000bdeadbeefcafebabe0102ff', 'hex')));
    case 'silent':
      return (socket) => socket.on('data', () => undefined);
  }
}

export async function startBrokenServer(kind: BrokenKind): Promise<BrokenServer> {
  const sockets = new Set<Socket>();
  const handle = behaviour(kind);
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    handle(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
