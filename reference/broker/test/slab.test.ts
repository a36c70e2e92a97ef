import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { takeBuffer } from '../slab.js';
import { propertySeed } from '../../properties/seed.js';

describe('frame buffers cut from slabs', () => {
  it('hands out buffers of the size asked that never share a byte, across slab ends and past the largest cut (property)', () => {
    // Frames cut from a slab (at most 4 KiB) and larger ones allocated on their own.
    const sizes = fc.array(fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 3000, max: 20 * 1024 })), { minLength: 1, maxLength: 60 });
    fc.assert(
      fc.property(sizes, (list) => {
        const taken = list.map((size, i) => {
          const b = takeBuffer(size);
          expect(b.length).toBe(size);
          b.fill(i & 0xff);
          return b;
        });
        // Written in order: a buffer that shared bytes with a later one would have been overwritten.
        taken.forEach((b, i) => expect(b.every((x) => x === (i & 0xff))).toBe(true));
      }),
      { seed: propertySeed(), numRuns: 300 },
    );
  });
});
