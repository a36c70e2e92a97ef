/**
 * Sender rules checked on the raw bytes a peer writes (its echoes and ERRORs): they are invisible
 * after decoding, so the harness reads the bytes themselves. FRM-4 (length within the max_frame
 * the harness announced), BODY-8 (header at most max_header bytes, no duplicate keys), ENC-2 (no
 * CBOR unless INIT_ACK chose it), ENC-7 (no duplicate keys), ENC-9 (definite lengths only),
 * ENC-10 (no tag but 49344). And one rule on the decoded message: VER-3, nothing later than the version
 * the harness's INIT_ACK negotiated.
 */
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import type { RuleFailure } from './context.js';
import type { Message } from '../../reference/codec/message.js';
import { describeLaterParts, partsLaterThan } from '../../reference/codec/versions.js';

const NDARRAY_TAG = 49344;
const text = new TextDecoder('utf-8', { fatal: false });

export interface AuditOptions {
  /** The max_frame the harness announced to the peer. */
  maxFrame: number;
  /** Whether INIT_ACK chose CBOR. */
  cbor: boolean;
}

/** Duplicate object keys in JSON text, as JSON Pointers of the objects holding them. */
export function jsonDuplicateKeys(source: string): string[] {
  const found: string[] = [];
  let i = 0;
  const ws = (): void => { while (i < source.length && ' \t\r\n'.includes(source[i]!)) i++; };
  const str = (): string => {
    const start = i;
    i++;
    while (i < source.length && source[i] !== '"') i += source[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(source.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = source[i];
    if (c === '{') {
      i++;
      const keys = new Set<string>();
      ws();
      if (source[i] === '}') { i++; return; }
      for (;;) {
        ws();
        const k = str();
        if (keys.has(k)) found.push(`${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
        keys.add(k);
        ws();
        i++; // ':'
        value(`${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
        ws();
        if (source[i++] === '}') return;
      }
    } else if (c === '[') {
      i++;
      ws();
      if (source[i] === ']') { i++; return; }
      for (let n = 0; ; n++) {
        value(`${path}/${n}`);
        ws();
        if (source[i++] === ']') return;
      }
    } else if (c === '"') {
      str();
    } else {
      while (i < source.length && !',]} \t\r\n'.includes(source[i]!)) i++;
    }
  };
  try {
    value('');
  } catch {
    // Not JSON: the decoder reports that; the audit has nothing to add.
  }
  return found;
}

/** CBOR faults of a sender: indefinite lengths, tags other than 49344, duplicate map keys. */
export function cborSenderFaults(bytes: Uint8Array): RuleFailure[] {
  const out: RuleFailure[] = [];
  let i = 0;
  const arg = (ai: number): number => {
    if (ai < 24) return ai;
    const n = 2 ** (ai - 24);
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + bytes[i++]!;
    return v;
  };
  const item = (path: string): string => {
    const start = i;
    const first = bytes[i++];
    if (first === undefined) throw new RangeError('truncated');
    const major = first >> 5;
    const ai = first & 0x1f;
    if (ai === 31) {
      out.push({ statement: 'ENC-9', message: `the CBOR payload has an indefinite-length item at ${path || '""'}`, expected: 'definite lengths only', actual: `initial byte 0x${first.toString(16)}` });
      throw new RangeError('indefinite');
    }
    const n = arg(ai);
    if (major === 2 || major === 3) i += n;
    else if (major === 4) for (let k = 0; k < n; k++) item(`${path}/${k}`);
    else if (major === 5) {
      const keys = new Set<string>();
      for (let k = 0; k < n; k++) {
        const ks = i;
        item(path);
        const keyBytes = Buffer.from(bytes.subarray(ks, i)).toString('hex');
        const keyInfo = bytes[ks]! & 0x1f;
        const name = bytes[ks]! >> 5 === 3 ? text.decode(bytes.subarray(ks + (keyInfo < 24 ? 1 : 1 + 2 ** (keyInfo - 24)), i)) : keyBytes;
        if (keys.has(keyBytes)) out.push({ statement: 'ENC-7', message: `the CBOR payload repeats key ${JSON.stringify(name)} at ${path || '""'}`, expected: 'no duplicate keys', actual: keyBytes });
        keys.add(keyBytes);
        item(`${path}/${name}`);
      }
    } else if (major === 6) {
      if (n !== NDARRAY_TAG) out.push({ statement: 'ENC-10', message: `the CBOR payload has tag ${n} at ${path || '""'}`, expected: `no tag but ${NDARRAY_TAG}`, actual: `tag ${n}` });
      item(path);
    }
    return Buffer.from(bytes.subarray(start, i)).toString('hex');
  };
  try {
    if (bytes.length > 0) item('');
  } catch {
    // A truncated or indefinite item: what was found so far is reported.
  }
  return out;
}

/** Every sender rule a frame the peer wrote breaks. */
export function auditFrame(frame: Uint8Array, options: AuditOptions): RuleFailure[] {
  const out: RuleFailure[] = [];
  if (frame.length < 8) return out;
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
  if (length > options.maxFrame) out.push({ statement: 'FRM-4', message: `the peer sent a frame of ${length} bytes, above the max_frame ${options.maxFrame} announced to it`, expected: `<= ${options.maxFrame}`, actual: String(length) });
  const body = frame.subarray(4);
  const encodingBits = body[1]! & 3;
  const hlen = (body[2]! << 8) | body[3]!;
  if (hlen > DEFAULT_LIMITS.max_header) out.push({ statement: 'BODY-8', message: `the peer wrote a header of ${hlen} bytes`, expected: `<= ${DEFAULT_LIMITS.max_header}`, actual: String(hlen) });
  for (const d of jsonDuplicateKeys(text.decode(body.subarray(4, 4 + hlen)))) out.push({ statement: 'BODY-8', message: `the peer wrote a header with duplicate key ${d}`, expected: 'no duplicate keys', actual: d });
  const payload = body.subarray(4 + hlen);
  if (encodingBits === 1 && !options.cbor) out.push({ statement: 'ENC-2', message: 'the peer sent a CBOR payload on a connection whose INIT_ACK chose json', expected: 'json', actual: 'cbor' });
  if (payload.length === 0) return out;
  if (encodingBits === 0) for (const d of jsonDuplicateKeys(text.decode(payload))) out.push({ statement: 'ENC-7', message: `the peer wrote a JSON payload with duplicate key ${d}`, expected: 'no duplicate keys', actual: d });
  if (encodingBits === 1) out.push(...cborSenderFaults(payload));
  return out;
}

/** VER-3: the types and fields of `m` later than the version `negotiated` with the peer. */
export function auditVersion(m: Message, negotiated: string): RuleFailure[] {
  const later = partsLaterThan(m.name, m.payload, negotiated);
  if (later.length === 0) return [];
  const what = describeLaterParts(m.name, later);
  return [{ statement: 'VER-3', message: `the peer sent ${what} on a connection that negotiated ${negotiated}`, expected: `types and fields of ${negotiated} or earlier`, actual: what }];
}
