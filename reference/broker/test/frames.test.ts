import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { forwardFrame, forwardHeaderJson, type ForwardHeader } from '../frames.js';
import { propertySeed } from '../../properties/seed.js';

/** Strings of every kind the quoting must get right: ASCII with quotes, backslashes and controls, any UTF-16 (lone surrogates too). */
const anyString = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }));

describe('forwarded header JSON', () => {
  it('forwardFrame takes the byte-by-byte path and the JSON.stringify path at their boundaries', () => {
    for (const s of ['', 'c0', ' ~', 'a"b', 'a\\b', '\u001f', '\u007f', '\u0080', 'é', '\ud800']) {
      const header = Buffer.from(JSON.stringify({ id: s, src: 'c' }));
      const frame = Buffer.concat(forwardFrame(0x20, 0, { id: s, src: 'c' }, new Uint8Array(0)).parts);
      expect(frame.subarray(8).equals(header)).toBe(true);
    }
  });

  it('forwardHeaderJson is JSON.stringify of the header with its keys in order (property)', () => {
    const header = fc.record({ id: anyString, re: anyString, src: anyString, dst: anyString, ts: anyString }, { requiredKeys: ['id', 'src'] });
    fc.assert(
      fc.property(header, (h) => {
        const ordered: ForwardHeader = { id: h.id, ...(h.re !== undefined ? { re: h.re } : {}), src: h.src, ...(h.dst !== undefined ? { dst: h.dst } : {}), ...(h.ts !== undefined ? { ts: h.ts } : {}) };
        expect(forwardHeaderJson(ordered)).toBe(JSON.stringify(ordered));
      }),
      { seed: propertySeed(), numRuns: 1000 },
    );
  });

  it('forwardFrame writes the prefix, the header as UTF-8 and the payload untouched', () => {
    const payload = Uint8Array.of(1, 2, 3);
    const frame = forwardFrame(0x20, 0, { id: '7', src: 'é"', dst: 'w' }, payload);
    const bytes = Buffer.concat(frame.parts);
    const header = Buffer.from(JSON.stringify({ id: '7', src: 'é"', dst: 'w' }));
    expect(frame.bodyLength).toBe(4 + header.length + 3);
    expect(bytes.readUInt32BE(0)).toBe(frame.bodyLength);
    expect(bytes.readUInt16BE(6)).toBe(header.length);
    expect(bytes.subarray(8, 8 + header.length).equals(header)).toBe(true);
    expect([...bytes.subarray(8 + header.length)]).toEqual([1, 2, 3]);
  });

  it('forwardFrame gives the frame of JSON.stringify(header) for plain and other headers, small and large payloads (property)', () => {
    const plainString = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
    const value = fc.oneof(plainString, anyString);
    const header = fc.record({ id: value, re: value, src: value, dst: value, ts: value }, { requiredKeys: ['id', 'src'] });
    // 4096 bytes is the largest payload copied next to the header; one more goes as its own part.
    const payloadLength = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(4096, 4097));
    fc.assert(
      fc.property(header, payloadLength, fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (h, n, type, flags) => {
        const ordered: ForwardHeader = { id: h.id, ...(h.re !== undefined ? { re: h.re } : {}), src: h.src, ...(h.dst !== undefined ? { dst: h.dst } : {}), ...(h.ts !== undefined ? { ts: h.ts } : {}) };
        const payload = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
        const json = Buffer.from(JSON.stringify(ordered));
        const expected = Buffer.alloc(8 + json.length + n);
        expected.writeUInt32BE(4 + json.length + n, 0);
        expected[4] = type;
        expected[5] = flags;
        expected.writeUInt16BE(json.length, 6);
        json.copy(expected, 8);
        expected.set(payload, 8 + json.length);
        const frame = forwardFrame(type, flags, ordered, payload);
        expect(frame.bodyLength).toBe(4 + json.length + n);
        expect(Buffer.concat(frame.parts).equals(expected)).toBe(true);
      }),
      { seed: propertySeed(), numRuns: 1000 },
    );
  });
});
