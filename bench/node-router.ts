/**
 * The minimal Node router: Node's floor for the broker benchmark (issue 15), what any broker written in
 * Node pays for I/O and the header alone. It registers a connection by its INIT's client_id (answering
 * INIT_ACK), parses each later frame's JSON header to read `dst` and writes the frame unchanged to that
 * connection; PING without `dst` gets PONG. No validation, no correlation, no id rewriting, no timeouts:
 * a baseline, not a broker. Writes are corked per 'data' chunk, as the reference broker's are.
 *
 *   node [tsx] bench/node-router.ts PORT      (0 = ephemeral; prints "listening PORT" when ready)
 */
import { createServer, type Socket } from 'node:net';
import { DEFAULT_LIMITS, MessageType, PROTOCOL_VERSION } from '../spec/generated/catalog.js';

const { PING, PONG, INIT, INIT_ACK } = MessageType;
const MAX_FRAME = DEFAULT_LIMITS.max_frame;

const byName = new Map<string, Socket>();
const corked: Socket[] = [];

function frame(type: number, header: string, payload: string): Buffer {
  const h = Buffer.from(header);
  const p = Buffer.from(payload);
  const out = Buffer.allocUnsafe(8 + h.length + p.length);
  out.writeUInt32BE(4 + h.length + p.length, 0);
  out[4] = type;
  out[5] = 0;
  out.writeUInt16BE(h.length, 6);
  h.copy(out, 8);
  p.copy(out, 8 + h.length);
  return out;
}

function send(to: Socket, bytes: Uint8Array): void {
  if (!to.writableCorked) {
    to.cork();
    corked.push(to);
  }
  to.write(bytes);
}

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let name: string | undefined;
  let pending: Buffer | undefined;
  const onFrame = (chunk: Buffer, start: number, end: number): void => {
    const type = chunk[start + 4]!;
    const hlen = chunk.readUInt16BE(start + 6);
    const header = JSON.parse(chunk.toString('utf8', start + 8, start + 8 + hlen)) as { id?: string; dst?: string };
    if (name === undefined) {
      const payload = JSON.parse(chunk.toString('utf8', start + 8 + hlen, end)) as { client_id?: string };
      if (type !== INIT || typeof payload.client_id !== 'string' || byName.has(payload.client_id)) return void socket.destroy();
      name = payload.client_id;
      byName.set(name, socket);
      const ack = { broker_id: 'node-router', client_id: name, protocol_version: PROTOCOL_VERSION, encoding: 'json', max_frame: MAX_FRAME, max_in_flight: DEFAULT_LIMITS.max_in_flight, heartbeat_ms: DEFAULT_LIMITS.heartbeat_ms };
      send(socket, frame(INIT_ACK, JSON.stringify({ id: 'ack', re: header.id }), JSON.stringify(ack)));
      return;
    }
    if (header.dst === undefined) {
      if (type === PING) send(socket, frame(PONG, JSON.stringify({ id: 'pong', re: header.id }), ''));
      return;
    }
    const to = byName.get(header.dst);
    if (to !== undefined) send(to, chunk.subarray(start, end));
  };
  socket.on('data', (data: Buffer) => {
    const chunk = pending === undefined ? data : Buffer.concat([pending, data]);
    pending = undefined;
    let off = 0;
    while (chunk.length - off >= 4) {
      const len = chunk.readUInt32BE(off);
      if (len < 4 || len > MAX_FRAME) return void socket.destroy();
      if (chunk.length - off - 4 < len) break;
      onFrame(chunk, off, off + 4 + len);
      off += 4 + len;
    }
    if (off < chunk.length) pending = chunk.subarray(off);
    for (const s of corked) s.uncork();
    corked.length = 0;
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    if (name !== undefined && byName.get(name) === socket) byName.delete(name);
  });
}

const server = createServer(serve);
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});
const stop = (): void => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
