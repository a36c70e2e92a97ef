/**
 * Whole messages: a frame body decoded through every check in the spec's order (prefix, header,
 * type, encoding, payload, arrays, schema), and messages encoded to bodies and frames.
 */
import { messageByCode, messageByName } from './catalog.js';
import { ProtocolError } from './errors.js';
import { decodeEnvelope, encodeEnvelope, ENCODINGS, type Encoding } from './body.js';
import { decodePayload, encodePayload } from './payload.js';
import { encodeFrame } from './frame.js';
import type { Header } from './header.js';
import type { MessageName } from '../../spec/generated/catalog.js';

/** A decoded message in the application model. */
export interface Message<P = unknown> {
  type: number;
  name: MessageName;
  encoding: Encoding;
  header: Header;
  payload: P;
}

/** Limits and negotiated encodings a frame body is decoded with. */
export interface DecodeOptions {
  /** Largest header accepted (default max_header). */
  maxHeader?: number;
  /** Encodings negotiated on this connection (default: both). */
  encodings?: readonly Encoding[];
}

/** Decodes a frame body. Faults are ProtocolErrors; `frameId` is set when the header was readable. */
export function decodeMessage(body: Uint8Array, options: DecodeOptions = {}): Message {
  const envelope = decodeEnvelope(body, options);
  try {
    const info = messageByCode(envelope.type);
    if (!info) throw new ProtocolError('UNKNOWN_TYPE', `type code 0x${envelope.type.toString(16).padStart(2, '0')} is not in the catalog`, { rule: 'type' });
    const encoding = ENCODINGS[envelope.encodingBits];
    if (!encoding) throw new ProtocolError('UNSUPPORTED_ENCODING', `payload encoding ${envelope.encodingBits} is reserved`, { rule: 'encoding' });
    if (options.encodings && !options.encodings.includes(encoding)) {
      throw new ProtocolError('UNSUPPORTED_ENCODING', `payload encoding ${encoding} was not negotiated`, { rule: 'encoding' });
    }
    const payload = decodePayload(info, encoding, envelope.payload);
    return { type: info.code, name: info.name, encoding, header: envelope.header, payload };
  } catch (e) {
    if (e instanceof ProtocolError) e.frameId = envelope.header.id;
    throw e;
  }
}

/** A message to encode: its type by name or code, header, payload and encoding (default json). */
export interface OutgoingMessage {
  /** Catalog name or type code. */
  type: MessageName | number;
  header: Header;
  payload?: unknown;
  encoding?: Encoding;
}

/** Encodes a message to a frame body (validating the payload first). */
export function encodeMessage(message: OutgoingMessage): Uint8Array {
  const info = typeof message.type === 'number' ? messageByCode(message.type) : messageByName(message.type);
  if (!info) throw new RangeError(`encodeMessage: unknown type ${message.type}`);
  const encoding = message.encoding ?? 'json';
  return encodeEnvelope(info.code, encoding, message.header, encodePayload(info, encoding, message.payload ?? null));
}

/** Encodes a message to a whole frame, length prefix included. */
export function encodeMessageFrame(message: OutgoingMessage): Uint8Array {
  return encodeFrame(encodeMessage(message));
}
