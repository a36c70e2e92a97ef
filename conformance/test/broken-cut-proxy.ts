/**
 * A byte-level proxy in front of the reference broker that mishandles a client stream ending
 * inside a frame (FRM-7), for the `cut` fault's tests. Every other byte passes through as it came.
 *   keep-session    closes the client's side but keeps the broker's connection, so the session and
 *                   its client id live on, as a broker still waiting for the rest of the frame would
 *                   (a reconnect with that id is refused, HS-19)
 *   carry-partial   keeps the partial frame and puts it in front of the next bytes a connection
 *                   sends, as a broker whose frame buffer outlives the connection would
 *   none            no defect: passes everything through, counting the streams that ended inside a frame
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type CutDefect = 'keep-session' | 'carry-partial' | 'none';

export interface CutProxy {
  port: number;
  /** Client streams that ended inside a frame so far. */
  midFrameEnds(): number;
  close(): Promise<void>;
}

/** Where a client's byte stream stands: the bytes of the frame in progress (none at a boundary). */
class FrameTracker {
  private partial: Buffer[] = [];
  private header = Buffer.alloc(0);
  private left = 0;

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.left === 0 && this.header.length < 4) {
        const take = Math.min(4 - this.header.length, chunk.length - at);
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.header.length === 4) {
          this.left = this.header.readUInt32BE(0);
          if (this.left === 0) this.header = Buffer.alloc(0);
        }
        continue;
      }
      const take = Math.min(this.left, chunk.length - at);
      this.partial.push(chunk.subarray(at, at + take));
      this.left -= take;
      at += take;
      if (this.left === 0) {
        this.header = Buffer.alloc(0);
        this.partial = [];
      }
    }
  }

  /** The bytes of the frame in progress, its length prefix included (empty at a frame boundary). */
  inProgress(): Buffer {
    return this.header.length === 0 ? Buffer.alloc(0) : Buffer.concat([this.header, ...this.partial]);
  }
}

export async function startCutProxy(defect: CutDefect, brokerPort: number): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  let carried: Buffer = Buffer.alloc(0);
  let midFrameEnds = 0;
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: '127.0.0.1', port: brokerPort, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    const stream = new FrameTracker();
    client.on('data', (chunk: Buffer) => {
      stream.push(chunk);
      if (carried.length > 0) upstream.write(carried);
      carried = Buffer.alloc(0);
      upstream.write(chunk);
    });
    client.on('end', () => {
      const partial = stream.inProgress();
      if (partial.length > 0) midFrameEnds++;
      if (partial.length > 0 && defect === 'keep-session') {
        client.end();
        return;
      }
      if (partial.length > 0 && defect === 'carry-partial') carried = partial;
      upstream.end();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.writableEnded) client.write(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    port: (server.address() as { port: number }).port,
    midFrameEnds: () => midFrameEnds,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
