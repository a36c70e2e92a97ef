/**
 * Payload bytes <-> application values for one message type, in either encoding: parse, convert
 * the wire forms (ndarray, 64-bit integers), validate against the type's schema.
 */
import type { MessageInfo } from '../../spec/generated/catalog.js';
import { ProtocolError } from './errors.js';
import { cborDecode, cborEncode } from './cbor.js';
import { checkCborDataModel, fromWire, toWire } from './transform.js';
import { validatePayload } from './validate.js';
import { planOf } from './catalog.js';
import type { Encoding } from './body.js';
import { checkCborShape, checkJsonShape } from './shape.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** Only texts with a 3-digit exponent or a 309-digit run can overflow binary64; the rest skip the reviver. */
const OVERFLOW_CANDIDATE = /[eE][+]?[0-9]{3}|[0-9]{309}/;

function refuseNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new SyntaxError('a number is beyond the binary64 range');
  return value;
}

function parse(m: MessageInfo, encoding: Encoding, bytes: Uint8Array): unknown {
  if (encoding === 'json') {
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw new ProtocolError('INVALID_PAYLOAD', `${m.name}: payload is not valid UTF-8`, { path: '' });
    }
    checkJsonShape(bytes); // LIM-15, LIM-16: before the parser and the transforms recurse
    try {
      return OVERFLOW_CANDIDATE.test(text) ? JSON.parse(text, refuseNonFinite) : JSON.parse(text);
    } catch (e) {
      throw new ProtocolError('INVALID_PAYLOAD', `${m.name}: payload is not JSON (${(e as Error).message})`, { path: '' });
    }
  }
  checkCborShape(bytes); // LIM-15, LIM-16
  try {
    return cborDecode(bytes);
  } catch (e) {
    throw new ProtocolError('INVALID_PAYLOAD', `${m.name}: payload is not one well-formed CBOR item (${(e as Error).message})`, { path: '' });
  }
}

/** Decodes and validates a payload. Types without payload decode to null. */
export function decodePayload(m: MessageInfo, encoding: Encoding, bytes: Uint8Array): unknown {
  if (!m.payload) {
    if (bytes.length > 0) throw new ProtocolError('SCHEMA_VIOLATION', `${m.name} carries no payload, got ${bytes.length} bytes`, { path: '', rule: 'empty' });
    return null;
  }
  if (bytes.length === 0) throw new ProtocolError('INVALID_PAYLOAD', `${m.name}: payload is empty`, { path: '' });
  const plan = planOf(m);
  const parsed = parse(m, encoding, bytes);
  if (encoding === 'cbor') checkCborDataModel(plan, parsed);
  const value = fromWire(plan, parsed, encoding);
  validatePayload(m, value);
  return value;
}

/** Validates and encodes a payload. */
export function encodePayload(m: MessageInfo, encoding: Encoding, value: unknown): Uint8Array {
  validatePayload(m, value);
  if (!m.payload) return EMPTY;
  const wire = toWire(planOf(m), value, encoding);
  return encoding === 'json' ? utf8.encode(JSON.stringify(wire)) : cborEncode(wire);
}

/** A payload in the fixtures' typed-JSON notation, from its application value. */
export function payloadToFixture(m: MessageInfo, value: unknown): unknown {
  return m.payload ? toWire(planOf(m), value, 'fixture') : null;
}

/** An application value from the fixtures' typed-JSON notation (catalog examples, fixture files). */
export function payloadFromFixture(m: MessageInfo, value: unknown): unknown {
  if (!m.payload) return null;
  const v = fromWire(planOf(m), value, 'fixture');
  validatePayload(m, v);
  return v;
}
