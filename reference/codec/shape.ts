/**
 * Payload shape limits (LIM-15, LIM-16): nesting depth and value count, measured on the raw bytes by
 * iterative scans before any parser or transform recurses into a peer's value. A 4,200-level array
 * once overflowed the stack of the recursive passes; a scan with no recursion cannot.
 *
 * Levels: the payload value is level 1; each array, map (JSON object) or CBOR tag inside adds one.
 * Values: every scalar, array, map and tag; map keys are not values. A malformed payload is left to
 * the parser, which reports it with its own error: the scans only refuse what is well formed so far
 * and too deep or too large.
 */
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { ProtocolError } from './errors.js';

/** The depth and size limits a payload is checked against before it is parsed (LIM-15, LIM-16). */
export interface ShapeLimits {
  /** Deepest nesting accepted (default max_payload_depth). */
  maxDepth?: number;
  /** Most values accepted (default max_payload_items). */
  maxItems?: number;
}

function tooDeep(maxDepth: number): ProtocolError {
  return new ProtocolError('INVALID_PAYLOAD', `payload nests deeper than max_payload_depth (${maxDepth})`, { path: '', rule: 'max-depth', limit: maxDepth, statement: 'LIM-15' });
}

function tooMany(maxItems: number): ProtocolError {
  return new ProtocolError('INVALID_PAYLOAD', `payload holds more than max_payload_items (${maxItems}) values`, { path: '', rule: 'max-items', limit: maxItems, statement: 'LIM-16' });
}

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** Throws INVALID_PAYLOAD (rule max-depth or max-items) when JSON text `bytes` exceeds the limits. */
export function checkJsonShape(bytes: Uint8Array, limits: ShapeLimits = {}): void {
  const maxDepth = limits.maxDepth ?? DEFAULT_LIMITS.max_payload_depth;
  const maxItems = limits.maxItems ?? DEFAULT_LIMITS.max_payload_items;
  // inObject[d]: whether level d is an object; expectKey: the next string in that object is a key.
  const inObject: boolean[] = [];
  let depth = 0;
  let items = 0;
  let expectKey = false;
  let inScalar = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === QUOTE) {
      inScalar = false;
      const key = expectKey && depth > 0 && inObject[depth - 1] === true;
      if (!key && ++items > maxItems) throw tooMany(maxItems);
      expectKey = false;
      for (i++; i < bytes.length && bytes[i] !== QUOTE; i++) if (bytes[i] === BACKSLASH) i++;
      continue;
    }
    if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      inScalar = false;
      if (++depth > maxDepth) throw tooDeep(maxDepth);
      if (++items > maxItems) throw tooMany(maxItems);
      inObject[depth - 1] = b === OPEN_OBJECT;
      expectKey = b === OPEN_OBJECT;
      continue;
    }
    if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      inScalar = false;
      if (depth > 0) depth--;
      expectKey = false;
      continue;
    }
    if (b === COMMA) {
      inScalar = false;
      expectKey = depth > 0 && inObject[depth - 1] === true;
      continue;
    }
    if (b === COLON || isSpace(b)) {
      inScalar = false;
      if (b === COLON) expectKey = false;
      continue;
    }
    if (!inScalar) {
      inScalar = true;
      if (++items > maxItems) throw tooMany(maxItems);
    }
  }
}

/** Throws INVALID_PAYLOAD (rule max-depth or max-items) when the CBOR item in `bytes` exceeds the limits. */
export function checkCborShape(bytes: Uint8Array, limits: ShapeLimits = {}): void {
  const maxDepth = limits.maxDepth ?? DEFAULT_LIMITS.max_payload_depth;
  const maxItems = limits.maxItems ?? DEFAULT_LIMITS.max_payload_items;
  // One frame per open container: items still to read (Infinity when indefinite), whether it is a map
  // (then keys alternate with values), whether it counts as a level (indefinite strings do not).
  const remaining: number[] = [];
  const isMap: boolean[] = [];
  const counted: boolean[] = [];
  const read: number[] = []; // items read so far in each frame (for the key/value alternation)
  let levels = 0;
  let items = 0;
  let i = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Reads one item's head; returns false on truncation (left to the parser).
  for (;;) {
    // Pop finished containers.
    while (remaining.length > 0 && remaining[remaining.length - 1] === 0) {
      remaining.pop();
      isMap.pop();
      read.pop();
      if (counted.pop()) levels--;
    }
    if (i >= bytes.length) return;
    const top = remaining.length - 1;
    const initial = bytes[i++]!;
    if (initial === 0xff) {
      // A break ends the innermost indefinite container.
      if (top < 0 || remaining[top] !== Infinity) return;
      remaining[top] = 0;
      continue;
    }
    const isKey = top >= 0 && isMap[top] === true && read[top]! % 2 === 0;
    if (top >= 0) {
      read[top]!++;
      if (remaining[top] !== Infinity) remaining[top]!--;
    }
    const major = initial >> 5;
    const info = initial & 0x1f;
    let arg: number;
    if (info < 24) arg = info;
    else if (info === 24) {
      if (i + 1 > bytes.length) return;
      arg = bytes[i]!;
      i += 1;
    } else if (info === 25) {
      if (i + 2 > bytes.length) return;
      arg = view.getUint16(i);
      i += 2;
    } else if (info === 26) {
      if (i + 4 > bytes.length) return;
      arg = view.getUint32(i);
      i += 4;
    } else if (info === 27) {
      if (i + 8 > bytes.length) return;
      arg = Number(view.getBigUint64(i));
      i += 8;
    } else if (info === 31 && major >= 2 && major <= 5) arg = Infinity;
    else return; // reserved or invalid: the parser reports it
    if (!isKey && ++items > maxItems) throw tooMany(maxItems);
    switch (major) {
      case 2:
      case 3:
        if (arg === Infinity) {
          remaining.push(Infinity);
          isMap.push(false);
          read.push(0);
          counted.push(false);
        } else {
          if (arg > bytes.length - i) return;
          i += arg;
        }
        break;
      case 4:
      case 5:
      case 6: {
        if (++levels > maxDepth) throw tooDeep(maxDepth);
        const n = major === 6 ? 1 : major === 5 ? arg * 2 : arg;
        if (n > bytes.length - i && n !== Infinity) return; // cannot hold that many items: truncated
        remaining.push(n);
        isMap.push(major === 5);
        read.push(0);
        counted.push(true);
        break;
      }
      default:
        break; // integers, simple values, floats: the head is the whole item
    }
  }
}

/** Levels of an application value (same counting as the scans; iterative). */
export function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) {
      if (d - 1 > max) max = d - 1;
      continue;
    }
    if (d > max) max = d;
    const children = Array.isArray(v) ? v : v instanceof Map ? [...v.values()] : Object.values(v as object);
    for (const c of children) stack.push([c, d + 1]);
  }
  return Math.max(max, 1);
}
