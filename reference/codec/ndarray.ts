/**
 * The binary array layout of decision D4, interpreted from spec/ndarray.json: the field list says
 * what comes in which order; this module adds only what data cannot say (byte swapping, views).
 */
import { NDARRAY_LAYOUT, LIMITS, type DtypeName } from '../../spec/generated/catalog.js';
import { ProtocolError } from './errors.js';

export type { DtypeName };
/** The typed array holding an {@link NDArray}'s elements, by dtype. */
export type TypedData =
  | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

interface DtypeInfo {
  name: DtypeName;
  ctor: Function;
  kind: 'b' | 'i' | 'u' | 'f';
  itemsize: number;
  order: 'little' | 'big' | 'none';
  code: string;
  /** The code's bytes as packed (ASCII), encoded once rather than per array. */
  codeBytes: Uint8Array;
  make: (buffer: ArrayBufferLike, byteOffset: number, length: number) => TypedData;
  alloc: (length: number) => TypedData;
}

const CONSTRUCTORS: Record<string, { new (b: ArrayBufferLike, o: number, l: number): TypedData; new (l: number): TypedData }> = {
  b1: Uint8Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
  i8: BigInt64Array, u8: BigUint64Array, f4: Float32Array, f8: Float64Array,
} as never;

const DTYPES = new Map<string, DtypeInfo>();
for (const d of NDARRAY_LAYOUT.dtypes) {
  for (const code of d.codes) {
    const Ctor = CONSTRUCTORS[code.slice(1)];
    if (!Ctor) throw new Error(`ndarray.ts: no typed array for dtype ${code}`);
    DTYPES.set(code, {
      name: d.name as DtypeName,
      ctor: Ctor,
      kind: d.kind as DtypeInfo['kind'],
      itemsize: d.itemsize,
      order: code[0] === '<' ? 'little' : code[0] === '>' ? 'big' : 'none',
      code,
      codeBytes: new Uint8Array([...code].map((c) => c.charCodeAt(0))),
      make: (b, o, l) => new Ctor(b, o, l),
      alloc: (l) => new Ctor(l),
    });
  }
}
const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();
const EMPTY_META = utf8.encode('{}');
const MAX_NDIM = LIMITS.find((l) => l.name === 'max_ndim')?.default ?? NDARRAY_LAYOUT.max_ndim;

/** The dtype code for a name and byte order (`<f4` for float32 little-endian). */
export function dtypeCode(name: DtypeName, order: 'little' | 'big' = 'little'): string {
  const d = NDARRAY_LAYOUT.dtypes.find((x) => x.name === name);
  if (!d) throw new RangeError(`dtypeCode: unknown dtype ${name}`);
  if (d.codes.length === 1) return d.codes[0]!;
  return d.codes.find((c) => c[0] === (order === 'little' ? '<' : '>'))!;
}

export function dtypeInfo(code: string): DtypeInfo | undefined {
  return DTYPES.get(code);
}

/**
 * An n-dimensional array. `data` holds the element values in host order whatever the wire byte
 * order was; `dtype` keeps the wire code so re-encoding reproduces the same bytes.
 */
export class NDArray {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: TypedData;
  readonly meta: Record<string, unknown>;

  constructor(dtype: string, shape: readonly number[], data: TypedData, meta: Record<string, unknown> = {}) {
    const info = DTYPES.get(dtype);
    if (!info) throw new RangeError(`NDArray: unknown dtype ${dtype}`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== size) throw new RangeError(`NDArray: ${data.length} elements do not fill shape [${shape.join(', ')}]`);
    if (shape.length > MAX_NDIM) throw new RangeError(`NDArray: ${shape.length} dimensions exceed ${MAX_NDIM}`);
    if (info.ctor !== data.constructor) {
      throw new TypeError(`NDArray: dtype ${dtype} needs a ${info.ctor.name}, got ${data.constructor.name}`);
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
    this.meta = meta;
  }

  /** Builds an array from plain numbers (or bigints for 64-bit integer dtypes). */
  static from(dtype: string, shape: readonly number[], values: ArrayLike<number | bigint | boolean>, meta: Record<string, unknown> = {}): NDArray {
    const info = DTYPES.get(dtype);
    if (!info) throw new RangeError(`NDArray.from: unknown dtype ${dtype}`);
    const data = info.alloc(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      (data as unknown as (number | bigint)[])[i] = info.itemsize === 8 && info.kind !== 'f' ? BigInt(v as number) : Number(v);
    }
    return new NDArray(dtype, shape, data, meta);
  }

  get dtypeName(): DtypeName {
    return DTYPES.get(this.dtype)!.name;
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }
}

function fail(rule: string, message: string, path = ''): never {
  throw new ProtocolError('INVALID_ARRAY', message, { path, rule });
}

/**
 * Reads a u64 little-endian as a number. Values above 2^53 lose precision, which is harmless:
 * every u64 of the layout is a count or a length, and such a value fails its range check anyway.
 */
function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * 0x1_0000_0000 + view.getUint32(offset, true);
}

interface Layout {
  dims: number[];
  dtype: string;
  info: DtypeInfo;
  size: number;
  data: Uint8Array;
  meta: Record<string, unknown>;
}

/**
 * Reads the layout's fields in order from `bytes` and applies each rule of the check table (ARR-7)
 * as soon as the field it needs has been read, so the rule reported is the first one broken in the
 * table's order: a wrong `data_len` is `data-length` even when the bytes also end early.
 */
function readLayout(bytes: Uint8Array, path: string): Layout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, number | number[] | Uint8Array> = {};
  const total = bytes.byteLength;
  let offset = 0;
  let info: DtypeInfo | undefined;
  let dtype = '';
  let size = 1;
  for (const f of NDARRAY_LAYOUT.fields) {
    if (f.type === 'u64le') {
      const count = f.count === undefined ? 1 : (out[f.count] as number);
      if (offset + 8 * count > total) fail('truncated', `ndarray ends inside ${f.name} (needs ${8 * count} bytes at offset ${offset}, has ${total - offset})`, path);
      if (f.count === undefined) {
        out[f.name] = readU64(view, offset);
      } else {
        const list = new Array<number>(count);
        for (let i = 0; i < count; i++) list[i] = readU64(view, offset + 8 * i);
        out[f.name] = list;
      }
      offset += 8 * count;
    } else {
      const n = out[f.length!] as number;
      if (n > total - offset) fail('truncated', `${f.length} is ${n} but only ${total - offset} bytes remain`, path);
      out[f.name] = bytes.subarray(offset, offset + n);
      offset += n;
    }
    switch (f.name) {
      case 'ndim': // rule 3
        if ((out['ndim'] as number) > MAX_NDIM) fail('ndim-range', `ndim ${out['ndim'] as number} exceeds ${MAX_NDIM}`, path);
        break;
      case 'dtype_len': // rule 5
        if ((out['dtype_len'] as number) > NDARRAY_LAYOUT.max_dtype_len) fail('dtype-unknown', `dtype_len ${out['dtype_len'] as number} exceeds ${NDARRAY_LAYOUT.max_dtype_len}`, path);
        break;
      case 'dtype': { // rule 7
        dtype = String.fromCharCode(...(out['dtype'] as Uint8Array));
        info = DTYPES.get(dtype);
        if (!info) fail('dtype-unknown', `dtype ${JSON.stringify(dtype)} is not one of the listed codes`, path);
        break;
      }
      case 'data_len': { // rule 9, exact: a product beyond 2^53 can never equal a length that fits
        for (const d of out['dims'] as number[]) size *= d;
        const want = size * info!.itemsize;
        if (!Number.isSafeInteger(want) || want !== out['data_len']) {
          fail('data-length', `data_len ${out['data_len'] as number} differs from product(dims) x ${info!.itemsize} bytes`, path);
        }
        break;
      }
    }
  }
  const metaBytes = out['meta'] as Uint8Array; // rule 11
  let meta: unknown;
  if (metaBytes.length === 2 && metaBytes[0] === 0x7b && metaBytes[1] === 0x7d) {
    meta = {};
  } else {
    try {
      meta = JSON.parse(utf8Strict.decode(metaBytes));
    } catch {
      fail('meta-json', 'meta is not UTF-8 JSON', path);
    }
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) fail('meta-json', 'meta is not a JSON object', path);
  if (offset !== total) fail('trailing-bytes', `${total - offset} bytes follow the meta block`, path); // rule 12
  return { dims: out['dims'] as number[], dtype, info: info!, size, data: out['data'] as Uint8Array, meta: meta as Record<string, unknown> };
}

/** Decodes the D4 layout. Little-endian aligned data becomes a view on `bytes` (no copy). */
export function unpackNDArray(bytes: Uint8Array, path = ''): NDArray {
  const { dims, dtype, info, size, data, meta } = readLayout(bytes, path);
  let values: TypedData;
  const aligned = (data.byteOffset % info.itemsize) === 0;
  const swap = info.order === (HOST_LITTLE ? 'big' : 'little');
  if (!swap && aligned) {
    values = info.make(data.buffer, data.byteOffset, size);
  } else {
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    if (swap) swapBytes(copy, info.itemsize);
    values = info.make(copy.buffer, 0, size);
  }
  if (info.kind === 'b') {
    const b = values as Uint8Array;
    for (let i = 0; i < b.length; i++) if (b[i]! > 1) fail('bool-value', `bool element ${i} is ${b[i]}`, path);
  }
  return new NDArray(dtype, dims, values, meta);
}

function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** Encodes an array in the D4 layout, in the byte order its dtype names. */
export function packNDArray(array: NDArray): Uint8Array {
  const info = DTYPES.get(array.dtype)!;
  const dtype = info.codeBytes;
  const meta = array.meta && Object.keys(array.meta).length > 0 ? utf8.encode(JSON.stringify(array.meta)) : EMPTY_META;
  const raw = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const blocks: Record<string, number | readonly number[] | Uint8Array> = {
    ndim: array.shape.length, dims: array.shape, dtype_len: dtype.length, dtype,
    data_len: raw.byteLength, data: raw, meta_len: meta.length, meta,
  };
  let total = 0;
  for (const f of NDARRAY_LAYOUT.fields) {
    const v = blocks[f.name];
    if (v === undefined) throw new Error(`ndarray.ts: layout field ${f.name} has no encoder value`);
    total += typeof v === 'number' ? 8 : v instanceof Uint8Array ? v.byteLength : 8 * v.length;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const f of NDARRAY_LAYOUT.fields) {
    const v = blocks[f.name]!;
    if (typeof v === 'number') {
      writeU64(view, offset, v);
      offset += 8;
    } else if (v instanceof Uint8Array) {
      out.set(v, offset);
      if (f.name === 'data' && info.order === (HOST_LITTLE ? 'big' : 'little')) swapBytes(out.subarray(offset, offset + v.byteLength), info.itemsize);
      offset += v.byteLength;
    } else {
      for (const x of v) { writeU64(view, offset, x); offset += 8; }
    }
  }
  return out;
}
