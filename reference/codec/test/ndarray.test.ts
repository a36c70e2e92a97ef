import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { NDArray, packNDArray, unpackNDArray } from '../ndarray.js';
import { ndarrayArb } from '../../properties/arbitraries.js';
import { firstDifference } from '../../properties/equality.js';
import { propertySeed } from '../../properties/seed.js';
import { NDARRAY_LAYOUT } from '../../../spec/generated/catalog.js';

describe('ndarray codec', () => {
  it('unpack(pack(a)) equals a for every dtype, byte order and shape up to 32 dims (property)', () => {
    fc.assert(
      fc.property(ndarrayArb(), (a) => {
        const back = unpackNDArray(packNDArray(a));
        expect(firstDifference(back, a)).toBeNull();
        expect(packNDArray(back)).toEqual(packNDArray(a));
      }),
      { seed: propertySeed(), numRuns: 500 },
    );
  });

  it('covers every dtype code listed in spec/ndarray.json', () => {
    const codes = NDARRAY_LAYOUT.dtypes.flatMap((d) => d.codes);
    for (const code of codes) {
      const a = NDArray.from(code, [2], [1, 0]);
      expect(unpackNDArray(packNDArray(a)).dtype).toBe(code);
    }
    expect(codes).toHaveLength(19);
  });

  it('decodes little-endian aligned data as a view on the input (zero copy)', () => {
    const bytes = packNDArray(NDArray.from('<f4', [4], [1, 2, 3, 4]));
    // Header: 8 ndim + 8 dim + 8 dtype_len + 3 dtype + 8 data_len = 35; realign the data to 4.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const aligned = unpackNDArray(shifted.subarray(1));
    expect(aligned.data.buffer).toBe(shifted.buffer);
    expect(Array.from(aligned.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it('copies and swaps big-endian data into host order', () => {
    const a = unpackNDArray(packNDArray(NDArray.from('>i4', [2], [1, -2])));
    expect(Array.from(a.data as Int32Array)).toEqual([1, -2]);
    expect(a.dtype).toBe('>i4');
  });

  it('keeps the wire bytes of big-endian data exact', () => {
    const bytes = packNDArray(NDArray.from('>u2', [1], [0x0102]));
    const dataStart = 8 + 8 + 8 + 3 + 8;
    expect([...bytes.subarray(dataStart, dataStart + 2)]).toEqual([1, 2]);
  });
});
