/**
 * The binary array layout of decision D4, interpreted from spec/ndarray.json: the field list says
 * what comes in which order; this module adds only what data cannot say (byte swapping, views).
 */
import { NDARRAY_LAYOUT, LIMITS, type DtypeName } from '../../spec/generated/catalog.js';
import { ProtocolError } from './errors.js';

export type { DtypeName };
export type TypedData =
  | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

interface DtypeInfo {
  name: DtypeName;
  kind: 'b' | 'i' | 'u' | 'f';
  itemsize: number;
  order: 'little' | 'big' | 'none';
  code: string;
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
      kind: d.kind as DtypeInfo['kind'],
      itemsize: d.itemsize,
      order: code[0] === '<' ? 'little' : code[0] === '>' ? 'big' : 'none',
      code,
      make: (b, o, l) => new Ctor(b, o, l),
      alloc: (l) => new Ctor(l),
    });
  }
}
const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
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
    if (info.make(new ArrayBuffer(0), 0, 0).constructor !== data.constructor) {
      throw new TypeError(`NDArray: dtype ${dtype} needs a ${info.alloc(0).constructor.name}, got ${data.constructor.name}`);
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

/** Reads the layout's fields in order from `bytes`; every length is checked against what remains. */
function readFields(bytes: Uint8Array, path: string): Record<string, bigint | bigint[] | Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, bigint | bigint[] | Uint8Array> = {};
  let offset = 0;
  const need = (n: number, what: string): void => {
    if (offset + n > bytes.byteLength) fail('truncated', `ndarray ends inside ${what} (needs ${n} bytes at offset ${offset}, has ${bytes.byteLength - offset})`, path);
  };
  const u64 = (what: string): bigint => {
    need(8, what);
    const v = view.getBigUint64(offset, true);
    offset += 8;
    return v;
  };
  const lengthOf = (ref: string): number => {
    const v = out[ref];
    if (typeof v !== 'bigint') throw new Error(`ndarray.json: field refers to ${ref}, which is not a preceding u64`);
    if (v > BigInt(bytes.byteLength - offset)) fail('truncated', `${ref} is ${v} but only ${bytes.byteLength - offset} bytes remain`, path);
    return Number(v);
  };
  for (const f of NDARRAY_LAYOUT.fields) {
    if (f.type === 'u64le' && f.count) {
      const n = out[f.count];
      if (typeof n !== 'bigint') throw new Error(`ndarray.json: count ${f.count} is not a preceding u64`);
      if (n > BigInt(MAX_NDIM)) fail('ndim-range', `ndim ${n} exceeds ${MAX_NDIM}`, path);
      const list: bigint[] = [];
      for (let i = 0; i < Number(n); i++) list.push(u64(`${f.name}[${i}]`));
      out[f.name] = list;
    } else if (f.type === 'u64le') {
      out[f.name] = u64(f.name);
    } else {
      const n = lengthOf(f.length!);
      out[f.name] = bytes.subarray(offset, offset + n);
      offset += n;
    }
  }
  if (offset !== bytes.byteLength) fail('trailing-bytes', `${bytes.byteLength - offset} bytes follow the meta block`, path);
  return out;
}

/** Decodes the D4 layout. Little-endian aligned data becomes a view on `bytes` (no copy). */
export function unpackNDArray(bytes: Uint8Array, path = ''): NDArray {
  const f = readFields(bytes, path);
  const dims = f['dims'] as bigint[];
  const dtypeBytes = f['dtype'] as Uint8Array;
  const dtype = String.fromCharCode(...dtypeBytes);
  const info = DTYPES.get(dtype);
  if (!info || dtypeBytes.length > NDARRAY_LAYOUT.max_dtype_len) fail('dtype-unknown', `dtype ${JSON.stringify(dtype)} is not one of the listed codes`, path);
  let size = 1n;
  for (const d of dims) size *= d;
  const data = f['data'] as Uint8Array;
  if (size * BigInt(info.itemsize) !== BigInt(data.byteLength)) {
    fail('data-length', `data_len ${data.byteLength} differs from ${size} elements x ${info.itemsize} bytes`, path);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(f['meta'] as Uint8Array));
  } catch {
    fail('meta-json', 'meta is not UTF-8 JSON', path);
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) fail('meta-json', 'meta is not a JSON object', path);

  const n = Number(size);
  let values: TypedData;
  const aligned = (data.byteOffset % info.itemsize) === 0;
  const swap = info.order === (HOST_LITTLE ? 'big' : 'little');
  if (!swap && aligned) {
    values = info.make(data.buffer, data.byteOffset, n);
  } else {
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    if (swap) swapBytes(copy, info.itemsize);
    values = info.make(copy.buffer, 0, n);
  }
  if (info.kind === 'b') {
    for (let i = 0; i < values.length; i++) if ((values as Uint8Array)[i]! > 1) fail('bool-value', `bool element ${i} is ${(values as Uint8Array)[i]}`, path);
  }
  return new NDArray(dtype, dims.map(Number), values, meta as Record<string, unknown>);
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

/** Encodes an array in the D4 layout, in the byte order its dtype names. */
export function packNDArray(array: NDArray): Uint8Array {
  const info = DTYPES.get(array.dtype)!;
  const dtype = new TextEncoder().encode(array.dtype);
  const meta = new TextEncoder().encode(JSON.stringify(array.meta ?? {}));
  const raw = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const values: Record<string, bigint | bigint[] | Uint8Array> = {
    ndim: BigInt(array.shape.length),
    dims: array.shape.map(BigInt),
    dtype_len: BigInt(dtype.length),
    dtype,
    data_len: BigInt(raw.byteLength),
    data: raw,
    meta_len: BigInt(meta.length),
    meta,
  };
  let total = 0;
  for (const f of NDARRAY_LAYOUT.fields) {
    const v = values[f.name];
    if (v === undefined) throw new Error(`ndarray.ts: layout field ${f.name} has no encoder value`);
    total += typeof v === 'bigint' ? 8 : Array.isArray(v) ? 8 * v.length : v.byteLength;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const f of NDARRAY_LAYOUT.fields) {
    const v = values[f.name]!;
    if (typeof v === 'bigint') {
      view.setBigUint64(offset, v, true);
      offset += 8;
    } else if (Array.isArray(v)) {
      for (const x of v) { view.setBigUint64(offset, x, true); offset += 8; }
    } else {
      out.set(v, offset);
      if (f.name === 'data' && info.order === (HOST_LITTLE ? 'big' : 'little')) swapBytes(out.subarray(offset, offset + v.byteLength), info.itemsize);
      offset += v.byteLength;
    }
  }
  return out;
}
