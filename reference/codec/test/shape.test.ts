/** LIM-15, LIM-16: the iterative depth and value-count scans that run before any parser recurses. */
import { describe, expect, it } from 'vitest';
import { checkCborShape, checkJsonShape, cborEncode, depthOf, ProtocolError } from '../index.js';

const nested = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const rule = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof ProtocolError ? String(e.details.rule) : `not a ProtocolError: ${String(e)}`;
  }
};
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('payload shape scans', () => {
  it('JSON: 64 levels pass, 65 and 1,000,000 are refused with max-depth; brackets inside strings do not count', () => {
    expect(rule(() => checkJsonShape(utf8(nested(64))))).toBeUndefined();
    expect(rule(() => checkJsonShape(utf8(nested(65))))).toBe('max-depth');
    expect(rule(() => checkJsonShape(utf8(nested(1_000_000))))).toBe('max-depth');
    expect(rule(() => checkJsonShape(utf8(`["${'['.repeat(100)}\\"${'{'.repeat(100)}"]`)))).toBeUndefined();
  });

  it('CBOR: arrays, maps and tags count as levels; 64 pass, 65 are refused', () => {
    let v: unknown = [];
    for (let i = 1; i < 64; i++) v = i % 2 ? [v] : { k: v };
    expect(rule(() => checkCborShape(cborEncode(v)))).toBeUndefined();
    expect(rule(() => checkCborShape(cborEncode([v])))).toBe('max-depth');
    // 100,000 nested one-element arrays (0x81 ...): refused on the bytes, no recursion.
    const hostile = new Uint8Array(100_001).fill(0x81);
    hostile[100_000] = 0x80;
    expect(rule(() => checkCborShape(hostile))).toBe('max-depth');
  });

  it('counts values, not map keys: max_payload_items values pass, one more is refused with max-items', () => {
    const limit = 100;
    const values = (n: number): string => `{"k":[${Array(n - 2).fill('1').join(',')}]}`; // the object and the array count too
    expect(rule(() => checkJsonShape(utf8(values(limit)), { maxItems: limit }))).toBeUndefined();
    expect(rule(() => checkJsonShape(utf8(values(limit + 1)), { maxItems: limit }))).toBe('max-items');
    const cbor = (n: number): Uint8Array => cborEncode({ k: Array(n - 2).fill(1) });
    expect(rule(() => checkCborShape(cbor(limit), { maxItems: limit }))).toBeUndefined();
    expect(rule(() => checkCborShape(cbor(limit + 1), { maxItems: limit }))).toBe('max-items');
  });

  it('leaves malformed input to the parser (no verdict from a truncated scan)', () => {
    expect(rule(() => checkJsonShape(utf8('{"a":')))).toBeUndefined();
    expect(rule(() => checkCborShape(Uint8Array.from([0x9f, 0x81])))).toBeUndefined();
  });

  it('depthOf measures application values iteratively', () => {
    expect(depthOf(1)).toBe(1);
    expect(depthOf({ a: [1] })).toBe(2);
    let v: unknown = [];
    for (let i = 1; i < 100_000; i++) v = [v];
    expect(depthOf(v)).toBe(100_000);
  });
});
