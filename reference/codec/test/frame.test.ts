import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameDecoder, encodeFrame } from '../frame.js';
import { ProtocolError } from '../errors.js';
import { propertySeed } from '../../properties/seed.js';

const body = fc.uint8Array({ minLength: 1, maxLength: 300 });

/** Splits `bytes` at the given cut points (sorted, deduplicated, inside the range). */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  return out;
}

describe('FrameDecoder', () => {
  it('yields the same frames whatever the chunk boundaries (property)', () => {
    fc.assert(
      fc.property(fc.array(body, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (bodies, cuts) => {
        const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
        const decoder = new FrameDecoder({ maxFrame: 1024 });
        const got = chunked(new Uint8Array(stream), cuts).flatMap((c) => decoder.push(c).map((b) => Buffer.from(b).toString('hex')));
        expect(got).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
        expect(decoder.midFrame).toBe(false);
      }),
      { seed: propertySeed(), numRuns: 300 },
    );
  });

  it('handles a stream fed one byte at a time', () => {
    const stream = Buffer.concat([encodeFrame(Uint8Array.of(1, 2, 3)), encodeFrame(Uint8Array.of(9))]);
    const decoder = new FrameDecoder();
    const got = [...stream].flatMap((b) => decoder.push(Uint8Array.of(b)));
    expect(got.map((b) => [...b])).toEqual([[1, 2, 3], [9]]);
  });

  it('refuses a frame announcing a 4 GiB body before buffering any body byte', () => {
    const decoder = new FrameDecoder();
    const prefix = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
    let error: unknown;
    try {
      decoder.push(Buffer.concat([prefix, Buffer.alloc(64, 7)]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('FRAME_TOO_LARGE');
    expect((error as ProtocolError).closes).toBe(true);
    expect((error as ProtocolError).details.limit).toBe(16_777_216);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.reservedBytes).toBe(0);
  });

  it('refuses an oversized length even when the prefix arrives split', () => {
    const decoder = new FrameDecoder({ maxFrame: 100 });
    expect(decoder.push(Uint8Array.of(0, 0))).toEqual([]);
    expect(() => decoder.push(Uint8Array.of(0, 101))).toThrow(/exceeds max_frame 100/);
    expect(decoder.reservedBytes).toBe(0);
  });

  it('accepts a frame of exactly max_frame bytes', () => {
    const decoder = new FrameDecoder({ maxFrame: 100 });
    expect(decoder.push(encodeFrame(new Uint8Array(100)))).toHaveLength(1);
  });

  it('refuses length 0 as MALFORMED_FRAME and stays failed', () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(Uint8Array.of(0, 0, 0, 0))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
    expect(() => decoder.push(encodeFrame(Uint8Array.of(1)))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }));
  });

  it('hands over the whole frames that preceded a framing fault in the same chunk', () => {
    const decoder = new FrameDecoder();
    const chunk = Buffer.concat([encodeFrame(Uint8Array.of(1)), encodeFrame(Uint8Array.of(2, 3)), Buffer.from([0, 0, 0, 0])]);
    try {
      decoder.push(chunk);
      expect.unreachable();
    } catch (e) {
      expect((e as ProtocolError).code).toBe('MALFORMED_FRAME');
      expect((e as ProtocolError).framesBefore!.map((b) => [...b])).toEqual([[1], [2, 3]]);
    }
  });

  it('reports a truncated frame as mid-frame', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame(Uint8Array.of(1, 2, 3)).subarray(0, 5));
    expect(decoder.midFrame).toBe(true);
    expect(decoder.bufferedBytes).toBe(1);
  });

  it('returns a view, not a copy, for a frame inside one chunk', () => {
    const chunk = encodeFrame(Uint8Array.of(5, 6));
    const [b] = new FrameDecoder().push(chunk);
    expect(b!.buffer).toBe(chunk.buffer);
  });
});
