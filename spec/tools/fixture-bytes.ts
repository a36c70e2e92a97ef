/**
 * Low-level byte builders for fixtures that must be wrong on purpose: the codec refuses to encode
 * them, so they are assembled here field by field.
 */
import { NDArray, packNDArray } from '../../reference/codec/ndarray.js';

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) { out.set(a, o); o += a.length; }
  return out;
}

export function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

export function u64le(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** A frame from raw parts: any type, flags, header bytes and payload bytes. */
export function rawFrame(type: number, flags: number, header: Uint8Array | string, payload: Uint8Array | string = new Uint8Array(0), hlenOverride?: number): Uint8Array {
  const h = typeof header === 'string' ? utf8(header) : header;
  const p = typeof payload === 'string' ? utf8(payload) : payload;
  const hlen = hlenOverride ?? h.length;
  const body = concat([type, flags, hlen >> 8, hlen & 0xff], h, p);
  return concat(u32be(body.length), body);
}

/** The D4 layout from raw field values, for layouts the packer would never write. */
export function rawNdarray(o: { dims: (number | bigint)[]; ndim?: number | bigint; dtype: string; data: Uint8Array; dataLen?: number; meta?: string; trailing?: number[] }): Uint8Array {
  const dtype = utf8(o.dtype);
  const meta = utf8(o.meta ?? '{}');
  return concat(
    u64le(o.ndim ?? o.dims.length), ...o.dims.map(u64le),
    u64le(dtype.length), dtype,
    u64le(o.dataLen ?? o.data.length), o.data,
    u64le(meta.length), meta,
    o.trailing ?? [],
  );
}

/** A valid layout, through the codec. */
export function packed(dtype: string, shape: number[], values: (number | bigint | boolean)[], meta: Record<string, unknown> = {}): Uint8Array {
  return packNDArray(NDArray.from(dtype, shape, values, meta));
}
