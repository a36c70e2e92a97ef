import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseFlatAsciiObject } from '../flat-json.js';
import { propertySeed } from '../../properties/seed.js';

/** The fast path on the UTF-8 bytes of `text`, as a header arrives. */
const parseFlatStringObject = (text: string): Record<string, string> | undefined => parseFlatAsciiObject(Buffer.from(text, 'utf8'));

/** JSON.parse's result or the error it throws, for comparing with the fast path. */
function parsed(text: string): { value: unknown } | { error: true } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { error: true };
  }
}

/** Text near the fast path's shape: fragments of compact flat objects, with the characters that must send it to JSON.parse. */
const nearHeader = fc
  .array(fc.constantFrom('{', '}', '"', ':', ',', '\\', ' ', 'id', 'dst', '__proto__', 'a', '1', '\u0000', '\u001f', 'é', '\ud800', 'null', '[', ']'), { maxLength: 24 })
  .map((parts) => parts.join(''));

describe('parseFlatAsciiObject', () => {
  it('reads any flat object of strings as JSON.parse does, keys in the same order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.tuple(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 24 })), fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 24 }))), { maxLength: 6 }), (entries) => {
        const text = JSON.stringify(Object.fromEntries(entries));
        const fast = parseFlatStringObject(text);
        if (fast === undefined) return; // escapes, non-ASCII or __proto__: JSON.parse's job
        expect(Object.entries(fast)).toEqual(Object.entries(JSON.parse(text) as object));
      }),
      { seed: propertySeed(), numRuns: 400 },
    );
  });

  it('never gives a result JSON.parse would not (property)', () => {
    fc.assert(
      fc.property(fc.oneof(nearHeader, fc.json(), fc.string()), (text) => {
        const fast = parseFlatStringObject(text);
        if (fast === undefined) return;
        const slow = parsed(text);
        expect('value' in slow).toBe(true);
        expect(Object.entries(fast)).toEqual(Object.entries((slow as { value: object }).value));
      }),
      { seed: propertySeed(), numRuns: 3000 },
    );
  });

  it('reads a header lying inside a larger body exactly as the header alone, whatever bytes surround it (property)', () => {
    const around = fc.uint8Array({ maxLength: 6 });
    fc.assert(
      fc.property(fc.oneof(nearHeader, fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 10 })).map((o) => JSON.stringify(o))), around, around, (text, before, after) => {
        const bytes = Buffer.from(text, 'utf8');
        const body = Buffer.concat([before, bytes, after]);
        expect(parseFlatAsciiObject(body, before.length, before.length + bytes.length)).toEqual(parseFlatAsciiObject(bytes));
      }),
      { seed: propertySeed(), numRuns: 2000 },
    );
  });

  it('takes the fast path for a compact header of plain strings', () => {
    expect(parseFlatStringObject('{"id":"7","dst":"worker","src":"c0","ts":"1"}')).toEqual({ id: '7', dst: 'worker', src: 'c0', ts: '1' });
    expect(parseFlatStringObject('{}')).toEqual({});
    expect(parseFlatStringObject('{"id":" \u007f","x":""}')).toEqual({ id: ' \u007f', x: '' });
    // Values and keys of every length the string building distinguishes: up to 8 bytes in one call, up to
    // 16 in two, up to 64 spread, decoded above; the bytes differ so that a mixed-up position shows.
    const text = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(0x21 + ((i * 7) % 94)).replace(/["\\]/, 'q')).join('');
    for (let n = 0; n <= 66; n++) {
      expect(parseFlatStringObject(`{"k${n}":"${text(n)}"}`)).toEqual({ [`k${n}`]: text(n) });
      expect(parseFlatStringObject(`{"${text(n)}":"v"}`)).toEqual(JSON.parse(`{"${text(n)}":"v"}`));
    }
    // Spread into String.fromCharCode up to 64 bytes, decoded above: a value as long as a 16-bit hlen allows is read too.
    for (const n of [64, 65, 0xffff]) expect(parseFlatStringObject(`{"x":"${'a~'.repeat(n).slice(0, n)}"}`)).toEqual({ x: 'a~'.repeat(n).slice(0, n) });
  });

  it('leaves everything else to JSON.parse', () => {
    for (const text of ['{"id":"é"}', '{"é":"7"}', '{"id": "7"}', '{"id":"a\\"b"}', '{"id":7}', '{"id":"7",}', '{"id":"7"}}', '{"__proto__":"x"}', '{"id":"\u0001"}', '{"a":{"b":"c"}}', '', '{', '{"id":"7"']) {
      expect(parseFlatStringObject(text)).toBeUndefined();
    }
  });

  it('reads the routing keys and keys one character off them as JSON.parse does, repeated keys too (property)', () => {
    // The routing keys are returned as literals: a key that differs in one character or in length must not be taken for one.
    const key = fc.constantFrom('id', 're', 'ts', 'src', 'dst', 'i', 'd', 'ie', 'jd', 'rf', 'se', 'tt', 'us', 'sr', 'srd', 'trc', 'dsu', 'est', 'ids', 'dstx', '');
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.string({ maxLength: 8 })), { maxLength: 7 }), (entries) => {
        const text = '{' + entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + '}';
        const fast = parseFlatStringObject(text);
        if (fast === undefined) return; // an escape: JSON.parse's job
        expect(Object.entries(fast)).toEqual(Object.entries(JSON.parse(text) as object));
      }),
      { seed: propertySeed(), numRuns: 2000 },
    );
  });
});
