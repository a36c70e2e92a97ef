/** WireConnection's automatic PONGs: turned on, they also answer the PINGs a case had not read yet. */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { WireConnection } from '../wire/connection.js';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessageFrame, type Message } from '../../reference/codec/message.js';

let server: Server | undefined;
let conn: WireConnection | undefined;
afterEach(() => {
  conn?.destroy();
  server?.close();
});

/** A loopback peer: the harness side is a WireConnection, the peer side a socket whose frames the test reads. */
async function pair(): Promise<{ peer: Socket; received: Message[] }> {
  const accepted = new Promise<Socket>((resolve) => {
    server = createServer(resolve).listen(0, '127.0.0.1');
  });
  await new Promise<void>((resolve) => server!.once('listening', resolve));
  const port = (server!.address() as { port: number }).port;
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  conn = WireConnection.accepted(socket, 'harness');
  const peer = await accepted;
  const received: Message[] = [];
  const decoder = new FrameDecoder();
  peer.on('data', (chunk: Buffer) => { for (const body of decoder.push(chunk)) received.push(decodeMessage(body)); });
  return { peer, received };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('WireConnection.answerPings', () => {
  it('answers the PINGs already queued when turned on, and keeps every other frame queued in order', async () => {
    const { peer, received } = await pair();
    peer.write(encodeMessageFrame({ type: 'PING', header: { id: 'early-1' } }));
    peer.write(encodeMessageFrame({ type: 'STATS_REQUEST', header: { id: 'kept' }, payload: {} }));
    peer.write(encodeMessageFrame({ type: 'PING', header: { id: 'early-2' } }));
    // Off: the PINGs are the case's to read, so they wait in the queue.
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toEqual([]);
    conn!.answerPings = true;
    await until(() => received.length === 2, 'the PONGs of the queued PINGs');
    expect(received.map((m) => [m.name, m.header.re])).toEqual([['PONG', 'early-1'], ['PONG', 'early-2']]);
    const next = await conn!.next(1000);
    expect(next.kind === 'message' ? [next.message.name, next.message.header.id] : next.kind).toEqual(['STATS_REQUEST', 'kept']);
    // On: a PING that arrives now is answered and never queued.
    peer.write(encodeMessageFrame({ type: 'PING', header: { id: 'late' } }));
    await until(() => received.length === 3, 'the PONG of the late PING');
    expect(received[2]!.header.re).toBe('late');
    expect((await conn!.next(100)).kind).toBe('timeout');
  });
});
