/**
 * Outgoing frames. Forwarded frames keep their type, flags and payload bytes untouched (REQ-9) and get
 * a re-serialised header (BODY-7, REQ-12, REQ-13); frames the broker originates are encoded by the codec
 * in JSON, which every peer accepts (ENC-1).
 */
import { DEFAULT_LIMITS, depthOf, encodeFrame, encodeMessage, ProtocolError, type Header } from '../codec/index.js';
import { ERROR_MESSAGE_MAX_LENGTH } from '../../spec/generated/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';

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
 * A string as a JSON string literal, byte for byte what JSON.stringify gives. Ids, names and ts are
 * printable ASCII without quote or backslash in practice: those are only wrapped in quotes, which costs
 * a third of JSON.stringify's call on the forwarding path (issue 15); anything else goes to it.
 */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

/**
 * The JSON of a forwarded header, byte for byte what JSON.stringify gives for the keys in this order
 * (id, re, src, dst, ts: the order every caller builds them in), without the object walk.
 */
export function forwardHeaderJson(header: ForwardHeader): string {
  let json = '{"id":' + jsonString(header.id);
  if (header.re !== undefined) json += ',"re":' + jsonString(header.re);
  json += ',"src":' + jsonString(header.src);
  if (header.dst !== undefined) json += ',"dst":' + jsonString(header.dst);
  if (header.ts !== undefined) json += ',"ts":' + jsonString(header.ts);
  return json + '}';
}

/** Builds the frame a broker forwards: header JSON is the only serialisation on the hot path. */
export function forwardFrame(type: number, flags: number, header: ForwardHeader, payload: Uint8Array): OutFrame {
  const json = forwardHeaderJson(header);
  const hlen = Buffer.byteLength(json);
  const bodyLength = 4 + hlen + payload.length;
  const inline = payload.length <= COPY_LIMIT;
  const head = Buffer.allocUnsafe(PREFIX + hlen + (inline ? payload.length : 0));
  head[0] = bodyLength >>> 24;
  head[1] = (bodyLength >>> 16) & 0xff;
  head[2] = (bodyLength >>> 8) & 0xff;
  head[3] = bodyLength & 0xff;
  head[4] = type;
  head[5] = flags;
  head[6] = hlen >>> 8;
  head[7] = hlen & 0xff;
  // Header text of one byte per character (ids, names and ts are ASCII in practice) is written as latin1, which
  // skips the UTF-8 encoder; anything else goes through it.
  head.write(json, PREFIX, hlen, hlen === json.length ? 'latin1' : 'utf8');
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

/**
 * A response the broker builds around a peer's value (BUS_QUERY_RESULT, SERVICE_RESULT, ...): when it
 * would exceed the requester's max_frame (a CBOR value re-encoded as JSON grows), the requester gets
 * ERROR `OVERLOADED` instead (REQ-11), so the answer is still exactly one.
 */
export function replyFrame(type: MessageName, id: string, re: string, payload: unknown, peerMaxFrame: number): OutFrame {
  let frame: OutFrame;
  try {
    frame = messageFrame(type, { id, re }, payload);
  } catch (e) {
    return errorFrame(id, re, e);
  }
  if (frame.bodyLength <= peerMaxFrame) return frame;
  return errorFrame(id, re, new ProtocolError('OVERLOADED', `the ${type} would exceed this connection's max_frame`, { limit: peerMaxFrame, statement: 'REQ-11' }));
}
