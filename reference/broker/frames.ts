/**
 * Outgoing frames. Forwarded frames keep their type, flags and payload bytes untouched (REQ-9) and get
 * a re-serialised header (BODY-7, REQ-12, REQ-13); frames the broker originates are encoded by the codec
 * in JSON, which every peer accepts (ENC-1).
 */
import { DEFAULT_LIMITS, depthOf, encodeFrame, encodeMessage, ProtocolError, type Header } from '../codec/index.js';
import { ERROR_MESSAGE_MAX_LENGTH } from '../../spec/generated/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { takeBuffer } from './slab.js';

/** Payloads up to this size are copied next to their header (one write); larger ones go as a second buffer (writev, no copy). */
const COPY_LIMIT = 4096;
const PREFIX = 8; // u32 length + u8 type + u8 flags + u16 hlen

/** A frame ready to write: its parts are written back to back, so the frame stays contiguous (FRM-6). */
export interface OutFrame {
  readonly parts: readonly Uint8Array[];
  /** The body length, what the receiver compares against its max_frame. */
  readonly bodyLength: number;
}

/** The header of a forwarded frame: only known keys survive (section 3 allows dropping unknown ones). */
export interface ForwardHeader {
  id: string;
  re?: string;
  src: string;
  dst?: string;
  ts?: string;
}

/**
 * The JSON of a forwarded header, byte for byte what JSON.stringify gives for the keys in this order
 * (id, re, src, dst, ts: the order every caller builds them in), without the object walk. Only headers
 * with a value that is not plain ASCII come here: forwardFrame writes the others byte by byte.
 */
export function forwardHeaderJson(header: ForwardHeader): string {
  let json = '{"id":' + JSON.stringify(header.id);
  if (header.re !== undefined) json += ',"re":' + JSON.stringify(header.re);
  json += ',"src":' + JSON.stringify(header.src);
  if (header.dst !== undefined) json += ',"dst":' + JSON.stringify(header.dst);
  if (header.ts !== undefined) json += ',"ts":' + JSON.stringify(header.ts);
  return json + '}';
}

/** True when `s` is printable ASCII without quote or backslash: its JSON literal is `"` + s + `"`, one byte per character. */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** Copies the one-byte characters of `s` into `buf` at `at`; returns the offset after them. */
function putAscii(buf: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
  return at + s.length;
}

// Key literals of the forwarded header, in forwardHeaderJson's order.
const OPEN_ID = '{"id":"';
const KEY_RE = '","re":"';
const KEY_SRC = '","src":"';
const KEY_DST = '","dst":"';
const KEY_TS = '","ts":"';
const CLOSE = '"}';

/** Bytes of the header forwardHeaderJson gives, when every value is plain; -1 when one is not. */
function plainHeaderLength(h: ForwardHeader): number {
  if (!plain(h.id) || !plain(h.src)) return -1;
  let n = OPEN_ID.length + h.id.length + KEY_SRC.length + h.src.length + CLOSE.length;
  if (h.re !== undefined) {
    if (!plain(h.re)) return -1;
    n += KEY_RE.length + h.re.length;
  }
  if (h.dst !== undefined) {
    if (!plain(h.dst)) return -1;
    n += KEY_DST.length + h.dst.length;
  }
  if (h.ts !== undefined) {
    if (!plain(h.ts)) return -1;
    n += KEY_TS.length + h.ts.length;
  }
  return n;
}

/** Writes the header forwardHeaderJson gives for a plain header straight into `buf` at `at` (no JSON string, no encoder call). */
function putPlainHeader(buf: Buffer, at: number, h: ForwardHeader): void {
  at = putAscii(buf, putAscii(buf, at, OPEN_ID), h.id);
  if (h.re !== undefined) at = putAscii(buf, putAscii(buf, at, KEY_RE), h.re);
  at = putAscii(buf, putAscii(buf, at, KEY_SRC), h.src);
  if (h.dst !== undefined) at = putAscii(buf, putAscii(buf, at, KEY_DST), h.dst);
  if (h.ts !== undefined) at = putAscii(buf, putAscii(buf, at, KEY_TS), h.ts);
  putAscii(buf, at, CLOSE);
}

/**
 * Builds the frame a broker forwards: the header is the only serialisation on the hot path. Plain
 * headers (the usual case) are written byte by byte into the frame, which skips building the JSON
 * string and the encoder call (issue 15); others go through forwardHeaderJson. Same bytes either way.
 */
export function forwardFrame(type: number, flags: number, header: ForwardHeader, payload: Uint8Array): OutFrame {
  let hlen = plainHeaderLength(header);
  const json = hlen < 0 ? forwardHeaderJson(header) : undefined;
  if (json !== undefined) hlen = Buffer.byteLength(json);
  const bodyLength = 4 + hlen + payload.length;
  const inline = payload.length <= COPY_LIMIT;
  const head = takeBuffer(PREFIX + hlen + (inline ? payload.length : 0));
  head[0] = bodyLength >>> 24;
  head[1] = (bodyLength >>> 16) & 0xff;
  head[2] = (bodyLength >>> 8) & 0xff;
  head[3] = bodyLength & 0xff;
  head[4] = type;
  head[5] = flags;
  head[6] = hlen >>> 8;
  head[7] = hlen & 0xff;
  if (json === undefined) putPlainHeader(head, PREFIX, header);
  else head.write(json, PREFIX, hlen, 'utf8');
  if (inline) {
    head.set(payload, PREFIX + hlen);
    return { parts: [head], bodyLength };
  }
  return { parts: [head, payload], bodyLength };
}

/** A frame the broker originates (INIT_ACK, PONG, STATS_RESPONSE, SHUTDOWN, SHUTDOWN_ACK, PING). */
export function messageFrame(type: MessageName, header: Header, payload?: unknown): OutFrame {
  const body = encodeMessage({ type, header, payload: payload ?? null, encoding: 'json' });
  return { parts: [encodeFrame(body)], bodyLength: body.length };
}

const MAX_MESSAGE = ERROR_MESSAGE_MAX_LENGTH;

/**
 * An ERROR frame reporting `error`; `re` is the faulty frame's id when it was readable (ERR-3). Never
 * throws: details that are too deep (a peer's `details.error` wrapped two levels down, LIM-15) or that
 * cannot be encoded are left out rather than turning the report into a second fault.
 */
export function errorFrame(id: string, re: string | undefined, error: unknown): OutFrame {
  const e = error instanceof ProtocolError ? error : new ProtocolError('INTERNAL', 'the broker failed handling this request');
  const payload = e.toPayload();
  // The ERROR schema caps `message` (ERROR_MESSAGE_MAX_LENGTH characters); a long text must not turn into an INTERNAL fault.
  if (payload.message.length > MAX_MESSAGE) payload.message = `${payload.message.slice(0, MAX_MESSAGE - 3)}...`;
  const header = re === undefined ? { id } : { id, re };
  if (payload.details !== undefined && depthOf(payload) > DEFAULT_LIMITS.max_payload_depth) {
    payload.details = { ...(e.details.statement !== undefined ? { statement: e.details.statement } : {}), truncated: true };
  }
  try {
    return messageFrame('ERROR', header, payload);
  } catch {
    const { details: _dropped, ...bare } = payload;
    return messageFrame('ERROR', header, bare);
  }
}

/** Where a frame goes, as far as REQ-11 is concerned: its max_frame, and whether another broker writes it on. */
export interface FrameDestination {
  readonly peerMaxFrame: number;
  readonly remote: boolean;
}

/**
 * REQ-11: whether a frame of `bodyLength` bytes exceeds its destination's max_frame. On the way to a
 * client of another broker, that broker writes the frame the client gets, with ids of its own in place of
 * `first` and `second` (at least 1 byte each), checks its max_frame exactly on it, and its refusal comes
 * back as an answer: here the frame exceeds only when it cannot fit whatever ids are written. The slack
 * is worked out only for a frame already over the limit, never on the forwarding path's usual frame.
 */
export function exceedsMaxFrame(bodyLength: number, to: FrameDestination, first?: string, second?: string): boolean {
  return bodyLength > to.peerMaxFrame && (!to.remote || bodyLength - idBytesOverOne(first) - idBytesOverOne(second) > to.peerMaxFrame);
}

/** The bytes an id takes in a JSON header beyond those of the shortest id (one byte, in quotes). */
const idBytesOverOne = (id: string | undefined): number => (id === undefined ? 0 : Buffer.byteLength(JSON.stringify(id)) - 3);

/**
 * A response the broker builds around a peer's value (BUS_QUERY_RESULT, SERVICE_RESULT, ...): when it
 * would exceed the requester's max_frame (a CBOR value re-encoded as JSON grows), the requester gets
 * ERROR `OVERLOADED` instead (REQ-11), so the answer is still exactly one. For a client of another broker,
 * that broker builds the reply again with its own ids and checks it exactly (exceedsMaxFrame).
 */
export function replyFrame(type: MessageName, id: string, re: string, payload: unknown, to: FrameDestination): OutFrame {
  let frame: OutFrame;
  try {
    frame = messageFrame(type, { id, re }, payload);
  } catch (e) {
    return errorFrame(id, re, e);
  }
  if (!exceedsMaxFrame(frame.bodyLength, to, id, re)) return frame;
  return errorFrame(id, re, new ProtocolError('OVERLOADED', `the ${type} would exceed this connection's max_frame`, { limit: to.peerMaxFrame, statement: 'REQ-11' }));
}
