/**
 * The header block of a frame body (decision D2): a small JSON object the broker routes on.
 * Known keys are checked; unknown keys are kept and ignored.
 */
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { ProtocolError } from './errors.js';
import { parseFlatAsciiObject } from './flat-json.js';

/** The header of a frame body: `id`, and for routed frames `src`, `dst`, `re`; unknown keys are kept. */
export interface Header {
  /** Required on every frame; unique per sender and connection among open requests. */
  id: string;
  /** Nanoseconds since the Unix epoch, u64 as a decimal string. */
  ts?: string;
  /** Id of the frame this one answers. */
  re?: string;
  /** Sender's client id; set by the broker. */
  src?: string;
  /** Destination client id or service name. */
  dst?: string;
  [key: string]: unknown;
}

const UINT64 = /^(0|[1-9][0-9]{0,19})$/;
const utf8 = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bad(key: string, message: string): never {
  throw new ProtocolError('INVALID_HEADER', `header ${key}: ${message}`, { path: `/header${key ? `/${key}` : ''}` });
}

function checkString(h: Record<string, unknown>, key: string, max: number, name: boolean): void {
  const v = h[key];
  if (v === undefined) return;
  if (typeof v !== 'string') bad(key, 'must be a string');
  // A string of n UTF-16 units is n to 3n bytes of UTF-8, so most lengths are decided without counting;
  // Buffer.byteLength counts like TextEncoder (a lone surrogate as the 3 bytes of U+FFFD) without
  // allocating the encoded copy: this check runs for up to four keys of every frame a broker routes.
  if (v.length === 0 || v.length * 3 > max) {
    const len = Buffer.byteLength(v, 'utf8');
    if (len < 1 || len > max) bad(key, `must be 1 to ${max} bytes of UTF-8, has ${len}`);
  }
  if (name && hasControl(v)) bad(key, 'must not contain control characters');
}

/** true when `v` holds U+0000..U+001F or U+007F (a loop: cheaper than a regular expression on short names). */
function hasControl(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Parses and checks header bytes; `maxHeader` is the receiver's limit. */
export function decodeHeader(bytes: Uint8Array, maxHeader: number = DEFAULT_LIMITS.max_header): Header {
  return decodeHeaderIn(bytes, 0, bytes.length, maxHeader);
}

/** {@link decodeHeader} of the header lying from `start` to `end` in `body`: no view is built unless the header is not plain ASCII. */
export function decodeHeaderIn(body: Uint8Array, start: number, end: number, maxHeader: number): Header {
  const length = end - start;
  if (length > maxHeader) throw new ProtocolError('INVALID_HEADER', `header of ${length} bytes exceeds max_header ${maxHeader}`, { path: '/header', limit: maxHeader });
  if (length === 0) bad('', 'is empty (the id is required)');
  // ASCII bytes are valid UTF-8 as they are: only other headers need the strict decoder.
  let parsed: unknown = parseFlatAsciiObject(body, start, end);
  if (parsed === undefined) {
    try {
      parsed = JSON.parse(strictDecoder.decode(body.subarray(start, end)));
    } catch {
      bad('', 'is not UTF-8 JSON');
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) bad('', 'is not a JSON object');
  const h = parsed as Record<string, unknown>;
  if (h['id'] === undefined) bad('id', 'is required');
  checkString(h, 'id', DEFAULT_LIMITS.max_id_bytes, false);
  // From here the id is readable: a fault of another key is answered with `re` set to it (ERR-3).
  try {
    checkString(h, 're', DEFAULT_LIMITS.max_id_bytes, false);
    checkString(h, 'src', DEFAULT_LIMITS.max_name_bytes, true);
    checkString(h, 'dst', DEFAULT_LIMITS.max_name_bytes, true);
    if (h['ts'] !== undefined) {
      if (typeof h['ts'] !== 'string' || !UINT64.test(h['ts']) || BigInt(h['ts']) > (1n << 64n) - 1n) bad('ts', 'must be a decimal string of a u64');
    }
  } catch (e) {
    if (e instanceof ProtocolError) e.frameId = h['id'] as string;
    throw e;
  }
  return h as Header;
}

/** Serialises a header. Keys keep their insertion order. */
export function encodeHeader(header: Header): Uint8Array {
  return utf8.encode(JSON.stringify(header));
}
