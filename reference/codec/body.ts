/**
 * The body of a frame (decision D2): `u8 type | u8 flags | u16 hlen | header | payload`. This layer
 * is what a broker needs to route: it reads the prefix and header and leaves the payload bytes
 * untouched.
 */
import { DEFAULT_LIMITS, FRAMING, type PayloadEncoding } from '../../spec/generated/catalog.js';
import { ProtocolError } from './errors.js';
import { decodeHeaderIn, encodeHeader, type Header } from './header.js';

export const BODY_PREFIX_BYTES = FRAMING.bodyPrefixBytes;
export const ENCODING_MASK = FRAMING.encodingMask;
export const RESERVED_FLAGS_MASK = FRAMING.reservedFlagsMask;
/** Payload encodings; the index is the value of the flags' encoding bits. */
export const ENCODINGS: readonly PayloadEncoding[] = FRAMING.encodings;
/** A payload encoding: `json` or `cbor`. */
export type Encoding = PayloadEncoding;

/** A frame body split into its parts: type, flags, header and the still-encoded payload. */
export interface Envelope {
  type: number;
  flags: number;
  /** Raw encoding bits: 0 json, 1 cbor, 2 and 3 reserved. */
  encodingBits: number;
  header: Header;
  /** The payload bytes, a view on the body. */
  payload: Uint8Array;
}

/** Options of {@link decodeEnvelope}. */
export interface EnvelopeOptions {
  maxHeader?: number;
}

/** Checks the prefix (closing faults) and the header (non-closing faults), in the spec's order. */
export function decodeEnvelope(body: Uint8Array, options: EnvelopeOptions = {}): Envelope {
  if (body.length < BODY_PREFIX_BYTES) {
    throw new ProtocolError('MALFORMED_FRAME', `body of ${body.length} bytes is shorter than its 4-byte prefix`, { rule: 'short-body' });
  }
  const type = body[0]!;
  const flags = body[1]!;
  if (flags & RESERVED_FLAGS_MASK) {
    throw new ProtocolError('MALFORMED_FRAME', `reserved flag bits set (flags 0x${flags.toString(16).padStart(2, '0')})`, { rule: 'reserved-flags' });
  }
  const hlen = (body[2]! << 8) | body[3]!;
  if (hlen > body.length - BODY_PREFIX_BYTES) {
    throw new ProtocolError('MALFORMED_FRAME', `header length ${hlen} overruns the ${body.length - BODY_PREFIX_BYTES} bytes after the prefix`, { rule: 'hlen-overrun' });
  }
  // Plain Uint8Array views: a Buffer's subarray builds a Buffer, which costs more on every routed frame.
  const start = body.byteOffset + BODY_PREFIX_BYTES;
  const header = decodeHeaderIn(body, BODY_PREFIX_BYTES, BODY_PREFIX_BYTES + hlen, options.maxHeader ?? DEFAULT_LIMITS.max_header);
  return { type, flags, encodingBits: flags & ENCODING_MASK, header, payload: new Uint8Array(body.buffer, start + hlen, body.length - BODY_PREFIX_BYTES - hlen) };
}

/** Assembles a body from its parts. */
export function encodeEnvelope(type: number, encoding: Encoding, header: Header | Uint8Array, payload: Uint8Array): Uint8Array {
  const headerBytes = header instanceof Uint8Array ? header : encodeHeader(header);
  if (headerBytes.length > 0xffff) throw new RangeError('encodeEnvelope: header exceeds 65535 bytes');
  const body = new Uint8Array(BODY_PREFIX_BYTES + headerBytes.length + payload.length);
  body[0] = type;
  body[1] = ENCODINGS.indexOf(encoding);
  body[2] = headerBytes.length >> 8;
  body[3] = headerBytes.length & 0xff;
  body.set(headerBytes, BODY_PREFIX_BYTES);
  body.set(payload, BODY_PREFIX_BYTES + headerBytes.length);
  return body;
}
