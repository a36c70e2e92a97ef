/**
 * A small client for the harness's own tests of the client suite's receiver cases
 * (receiver.cases.ts): `tsx broken-receiving-client.ts PORT [DEFECT]`. Without a defect it
 * conforms: its own framing (max_frame 65,536, announced in INIT), the reference codec for steps 2 to
 * 8, then PING answered, SHUTDOWN acknowledged, ERRORs never answered, responses and broker-bound
 * types refused. Each DEFECT breaks one rule the way clients are found to break it.
 */
import { connect } from 'node:net';
import { decodeMessage, encodeMessageFrame, type Message, type OutgoingMessage } from '../../reference/codec/message.js';
import { ProtocolError } from '../../reference/codec/errors.js';
import { messageByCode } from '../../reference/codec/catalog.js';
import { DEFAULT_LIMITS, MessageType, PROTOCOL_VERSION, type ErrorName } from '../../spec/generated/catalog.js';
import { RECEIVING_CLIENT_DEFECTS, type ReceivingClientDefect } from './receiving-client-defects.js';


const MAX_FRAME = 65_536;
const KNOWN_HEADER_KEYS = new Set(['id', 're', 'src', 'dst', 'ts']);
const defect = process.argv[3] as ReceivingClientDefect | undefined;
if (defect !== undefined && !RECEIVING_CLIENT_DEFECTS.includes(defect)) {
  process.stderr.write(`unknown defect ${defect}; known: ${RECEIVING_CLIENT_DEFECTS.join(', ')}\n`);
  process.exit(64);
}

let encodings: ('json' | 'cbor')[] = ['json', 'cbor'];
/** The encoding INIT_ACK chose. */
let negotiated: 'json' | 'cbor' = 'json';
/** The max_frame it refuses lengths above: the one it announced (with limit-from-init-ack, INIT_ACK's once it arrives). */
let limit = defect === 'limit-from-init-ack' ? DEFAULT_LIMITS.max_frame : MAX_FRAME;
/** With error-drops-read: set once a faulty frame of the current read has been answered. */
let dropRead = false;
let acked = false;
let closed = false;
let count = 0;
let buffered = Buffer.alloc(0);

const socket = connect({ host: '127.0.0.1', port: Number(process.argv[2]) }, () => {
  send({ type: 'INIT', header: { id: 'init' }, payload: {
    client_id: `receiving-${process.pid}`, language: 'typescript', role: 'client', protocol_version: PROTOCOL_VERSION, encodings: ['cbor', 'json'], max_frame: limit,
  } });
});

/** With drops-when-full: set while the socket's buffer is full, the frames written meanwhile dropped. */
let full = false;

function send(m: OutgoingMessage): void {
  if (closed || (defect === 'drops-when-full' && full)) return;
  if (defect === 'writes-offered-encoding' && acked && m.payload !== undefined) m = { ...m, encoding: 'cbor' };
  if (!socket.write(encodeMessageFrame(m)) && defect === 'drops-when-full') {
    full = true;
    socket.once('drain', () => { full = false; });
  }
}

/** A PONG whose header is written by concatenation, the id unescaped: the defect concatenated-header. */
function sendConcatenatedPong(re: string): void {
  const header = Buffer.from(`{"id":"pong-${++count}","re":"${re}"}`);
  const body = Buffer.concat([Uint8Array.of(MessageType.PONG, 0, header.length >> 8, header.length & 0xff), header]);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(body.length);
  if (!closed) socket.write(Buffer.concat([prefix, body]));
}

function error(code: ErrorName, message: string, re: string | undefined, details?: Record<string, unknown>, closes = false): void {
  send({ type: 'ERROR', header: { id: `err-${++count}`, ...(re !== undefined ? { re } : {}) }, payload: new ProtocolError(code, message, details ?? {}).toPayload() });
  if (closes) close();
}

function close(): void {
  closed = true;
  socket.end();
}

/** The id as a text search of the header finds it (header-id-by-search), or its escaped spelling (id-length-of-spelling). */
function headerText(body: Uint8Array): string {
  return Buffer.from(body.subarray(4, 4 + ((body[2]! << 8) | body[3]!))).toString('utf8');
}

function onBody(body: Uint8Array): void {
  const isError = body[0] === MessageType.ERROR;
  if (defect === 'decodes-negotiated-encoding' && acked && negotiated === 'cbor' && (body[1]! & 3) === 0 && body.length > 4 + ((body[2]! << 8) | body[3]!)) {
    body = Uint8Array.from(body);
    body[1] = body[1]! | 1;
  }
  let m: Message;
  try {
    m = decodeMessage(body, { encodings });
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    if (isError && defect !== 'answers-faulty-error') return e.closes ? close() : undefined;
    send({ type: 'ERROR', header: { id: `err-${++count}`, ...(e.frameId !== undefined ? { re: e.frameId } : {}) }, payload: e.toPayload() });
    if (e.closes) close();
    else if (defect === 'error-drops-read') dropRead = true;
    return;
  }
  if (defect === 'header-id-by-search') {
    const found = /id"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(headerText(body));
    if (found) m.header.id = JSON.parse(found[1]!) as string;
  }
  if (defect === 'id-length-of-spelling') {
    const spelled = /"id"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(headerText(body));
    if (spelled && Buffer.byteLength(spelled[1]!) > DEFAULT_LIMITS.max_id_bytes) return error('INVALID_HEADER', 'id longer than max_id_bytes', undefined, { path: '/header/id' });
  }
  if (defect === 'strict-header') {
    const unknown = Object.keys(m.header).filter((k) => !KNOWN_HEADER_KEYS.has(k));
    if (unknown.length > 0) return error('INVALID_HEADER', `unknown header keys ${unknown.join(', ')}`, m.header.id, { path: `/header/${unknown[0]}` });
  }
  if (!acked) {
    acked = m.name === 'INIT_ACK';
    if (!acked) return;
    const ack = m.payload as { encoding?: string; max_frame?: number };
    negotiated = ack.encoding === 'cbor' ? 'cbor' : 'json';
    if (negotiated !== 'cbor' && defect !== 'cbor-unasked') encodings = ['json'];
    if (defect === 'limit-from-init-ack' && typeof ack.max_frame === 'number') limit = ack.max_frame;
    return;
  }
  const info = messageByCode(body[0]!)!;
  if (m.name === 'ERROR') return defect === 'error-without-re-closes' && m.header.re === undefined ? close() : undefined;
  if (!info.directions.includes('broker-to-client') && !info.directions.includes('routed')) {
    if (defect === 'any-direction') return error('UNSUPPORTED', `${m.name} is not implemented`, m.header.id);
    return error('UNEXPECTED_MESSAGE', `${m.name} never travels from broker to client`, m.header.id);
  }
  if (info.kind === 'response') return defect === 'response-by-type' ? undefined : error('UNEXPECTED_MESSAGE', `${m.name} answers no open request`, m.header.id);
  if (m.name === 'PING') {
    if (defect === 'concatenated-header') return sendConcatenatedPong(m.header.id);
    return send({ type: 'PONG', header: { id: `pong-${++count}`, re: m.header.id } });
  }
  if (m.name === 'SHUTDOWN') {
    if (defect === 'shutdown-needs-drain-ms' && typeof (m.payload as { drain_ms?: unknown }).drain_ms !== 'number') return;
    send({ type: 'SHUTDOWN_ACK', header: { id: `ack-${++count}`, re: m.header.id }, payload: { drained: defect === 'shutdown-ack-miscounts' ? 1 : 0, timed_out: 0 } });
    return close();
  }
  if (defect === 'drops-unimplemented' && info.kind === 'request') return;
  error('UNSUPPORTED', `no handler for ${m.name}`, m.header.id);
}

/** Takes whole frames off the buffer; refuses a length of 0 or above max_frame as the check table says. */
function onData(chunk: Buffer): void {
  if (defect === 'one-read-one-frame' || (defect === 'handshake-one-read' && !acked)) {
    if (chunk.length >= 4) onBody(chunk.subarray(4, 4 + chunk.readUInt32BE(0)));
    return;
  }
  buffered = Buffer.concat([buffered, chunk]);
  const bodies: Uint8Array[] = [];
  // The frames of one read, in order (with shutdown-first, a SHUTDOWN before the frames that preceded it).
  const handle = (): void => {
    if (defect === 'shutdown-first') bodies.sort((a, b) => Number(b[0] === MessageType.SHUTDOWN) - Number(a[0] === MessageType.SHUTDOWN));
    for (const body of bodies) if (!closed && !dropRead) onBody(body);
    dropRead = false;
  };
  while (!closed && buffered.length >= 4) {
    const length = buffered.readUInt32BE(0);
    if (length === 0) {
      handle();
      return error('MALFORMED_FRAME', 'length 0', undefined, {}, true);
    }
    const tooLarge = defect === 'limit-inclusive' ? length >= limit : length > limit;
    if (tooLarge && !(defect === 'limit-after-body' && buffered.length < 4 + length)) {
      handle();
      return error('FRAME_TOO_LARGE', `length ${length} above max_frame ${limit}`, undefined, defect === 'limit-not-given' ? {} : { limit }, true);
    }
    if (buffered.length < 4 + length) break;
    bodies.push(buffered.subarray(4, 4 + length));
    buffered = buffered.subarray(4 + length);
  }
  handle();
}

socket.on('data', (chunk: Buffer) => {
  if (!closed) onData(chunk);
});
socket.on('error', () => process.exit(1));
socket.on('close', () => process.exit(0));
