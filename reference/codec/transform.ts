/**
 * Converts payloads between their wire forms (JSON text model, CBOR data model, the fixtures'
 * typed JSON) and the application model, where ndarray fields are NDArray instances and 64-bit
 * integer fields are bigints. Decoding also enforces the payload data model: CBOR maps with text
 * keys only, no tags but the ndarray tag, no byte strings, undefined or non-finite numbers.
 */
import { NDARRAY_LAYOUT } from '../../spec/generated/catalog.js';
import { ProtocolError, pointer, setOwn } from './errors.js';
import { NDArray, packNDArray, unpackNDArray, dtypeInfo } from './ndarray.js';
import { Tag } from './cbor.js';
import type { NdarrayRule, Plan } from './plan.js';

export type WireForm = 'json' | 'cbor' | 'fixture';

const WRAPPER = NDARRAY_LAYOUT.json_wrapper;
const CBOR_TAG = NDARRAY_LAYOUT.cbor_tag;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UINT64 = /^(0|[1-9][0-9]{0,19})$/;
const INT64 = /^-?(0|[1-9][0-9]{0,18})$/;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const PLAIN: Plan = { kind: 'plain' };

function invalidPayload(path: string, message: string): never {
  throw new ProtocolError('INVALID_PAYLOAD', message, { path });
}

function arrayFault(path: string, rule: string, message: string): never {
  throw new ProtocolError('INVALID_ARRAY', `${path || '/'}: ${message}`, { path, rule });
}

/** Checks an array against its field's rule (dtype names, ndim, shape, element count). */
export function checkNdarrayRule(array: NDArray, rule: NdarrayRule, path: string): void {
  if (!rule.dtypes.includes(array.dtypeName)) arrayFault(path, 'field-dtype', `dtype ${array.dtype} is not one of ${rule.dtypes.join(', ')}`);
  if (rule.ndim !== undefined && array.ndim !== rule.ndim) arrayFault(path, 'field-shape', `has ${array.ndim} dimensions, the field needs ${rule.ndim}`);
  if (rule.shape) {
    rule.shape.forEach((want, i) => {
      if (want !== null && array.shape[i] !== want) arrayFault(path, 'field-shape', `dimension ${i} is ${array.shape[i]}, the field needs ${want}`);
    });
  }
  if (rule.minSize !== undefined && array.size < rule.minSize) arrayFault(path, 'field-shape', `has ${array.size} elements, the field needs at least ${rule.minSize}`);
  if (rule.maxSize !== undefined && array.size > rule.maxSize) arrayFault(path, 'field-shape', `has ${array.size} elements, the field allows at most ${rule.maxSize}`);
}

function ndarrayFromFixture(node: unknown, path: string): NDArray {
  const o = (node as Record<string, unknown> | null)?.[WRAPPER] as { dtype: string; shape: number[]; data: unknown[]; meta?: Record<string, unknown> } | undefined;
  if (!o || typeof o !== 'object') arrayFault(path, 'wrapper', 'fixture ndarray is not {"$ndarray": {dtype, shape, data, meta}}');
  const info = dtypeInfo(o.dtype);
  if (!info) arrayFault(path, 'dtype-unknown', `dtype ${o.dtype} is not listed`);
  const values = o.data.map((v) => {
    if (v !== null && typeof v === 'object' && '$float' in v) return ({ NaN, Infinity, '-Infinity': -Infinity, '-0': -0 } as Record<string, number>)[(v as { $float: string }).$float]!;
    if (typeof v === 'string') return BigInt(v);
    return typeof v === 'boolean' ? Number(v) : (v as number);
  });
  return NDArray.from(o.dtype, o.shape, values, o.meta ?? {});
}

/** The fixtures' notation of an array: 64-bit integers as decimal strings, bools as booleans. */
export function ndarrayToFixture(array: NDArray): unknown {
  const info = dtypeInfo(array.dtype)!;
  const data = Array.from(array.data as ArrayLike<number | bigint>, (v) => {
    if (typeof v === 'bigint') return v.toString();
    if (info.kind === 'b') return v === 1;
    if (Number.isNaN(v)) return { $float: 'NaN' };
    if (!Number.isFinite(v)) return { $float: v > 0 ? 'Infinity' : '-Infinity' };
    if (Object.is(v, -0)) return { $float: '-0' };
    return v;
  });
  return { [WRAPPER]: { dtype: array.dtype, shape: [...array.shape], data, meta: array.meta } };
}

/** `rule` is absent in a field that allows any value: only the layout rules apply there (ARR-8). */
function decodeNdarray(node: unknown, form: WireForm, path: string, rule?: NdarrayRule): NDArray {
  let array: NDArray;
  if (form === 'fixture') {
    array = ndarrayFromFixture(node, path);
  } else if (form === 'json') {
    const o = node as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || Array.isArray(o) || Object.keys(o).length !== 1 || typeof o[WRAPPER] !== 'string') {
      arrayFault(path, 'wrapper', `must be an object {"${WRAPPER}": "<base64>"}`);
    }
    const text = o[WRAPPER] as string;
    if (!BASE64.test(text)) arrayFault(path, 'wrapper', 'is not canonical base64 (RFC 4648 section 4, padded)');
    const bytes = Buffer.from(text, 'base64');
    if (bytes.toString('base64') !== text) arrayFault(path, 'wrapper', 'is not canonical base64 (non-zero pad bits)');
    array = unpackNDArray(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  } else {
    if (!(node instanceof Tag) || node.tag !== CBOR_TAG || !(node.value instanceof Uint8Array)) {
      arrayFault(path, 'wrapper', `must be a byte string under tag ${CBOR_TAG}`);
    }
    array = unpackNDArray(node.value as Uint8Array, path);
  }
  if (rule) checkNdarrayRule(array, rule, path);
  return array;
}

/** Whether a value in an any-typed field is an ndarray in this wire form (ARR-8). */
function isAnyNdarray(node: unknown, form: WireForm): boolean {
  if (form === 'cbor') return node instanceof Tag && node.tag === CBOR_TAG;
  return node !== null && typeof node === 'object' && !Array.isArray(node) && !(node instanceof Map) && Object.keys(node).length === 1 && WRAPPER in node;
}

/** An any-typed field, wire form to application model: ndarrays anywhere inside are decoded and checked (ARR-8). */
function fromWireAny(node: unknown, form: WireForm, path: string): unknown {
  if (isAnyNdarray(node, form)) return decodeNdarray(node, form, path);
  if (Array.isArray(node)) return node.map((v, i) => fromWireAny(v, form, pointer(path, i)));
  if (form === 'cbor' && node instanceof Map) return mapToObject(node, path, (v, p) => fromWireAny(v, form, p));
  if (form === 'cbor') return decodePlainCbor(node, path);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) setOwn(out, k, fromWireAny(v, form, pointer(path, k)));
  return out;
}

/** An any-typed field, application model to wire form. */
function toWireAny(value: unknown, form: WireForm): unknown {
  if (value instanceof NDArray) return toWire({ kind: 'ndarray', rule: { dtypes: [] } }, value, form);
  if (Array.isArray(value)) return value.map((v) => toWireAny(v, form));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setOwn(out, k, toWireAny(v, form));
  return out;
}

function decodeInt64(node: unknown, form: WireForm, signed: boolean): unknown {
  let v: bigint | undefined;
  if (form === 'cbor') {
    if (typeof node === 'bigint') v = node;
    else if (typeof node === 'number' && Number.isSafeInteger(node)) v = BigInt(node);
  } else if (typeof node === 'string' && (signed ? INT64 : UINT64).test(node) && node !== '-0') {
    v = BigInt(node);
  }
  if (v === undefined) return node; // left as is: the schema's int64 keyword reports it
  if (signed ? v < I64_MIN || v > I64_MAX : v < 0n || v > U64_MAX) return node;
  return v;
}

/** Data-model check for values outside ndarray/int64 fields. */
function decodePlainCbor(node: unknown, path: string): unknown {
  if (node === null || typeof node === 'string' || typeof node === 'boolean') return node;
  if (typeof node === 'number') {
    if (!Number.isFinite(node)) invalidPayload(path, `${path || '/'}: ${node} is not a JSON number`);
    return node;
  }
  if (typeof node === 'bigint') {
    // cbor-x returns every 8-byte integer as a bigint; keep it when a double holds it exactly.
    if (BigInt(Number(node)) === node) return Number(node);
    invalidPayload(path, `${path || '/'}: integer ${node} has no exact double value outside a 64-bit field`);
  }
  if (Array.isArray(node)) return node.map((v, i) => decodePlainCbor(v, pointer(path, i)));
  if (node instanceof Map) return mapToObject(node, path, (v, p) => decodePlainCbor(v, p));
  if (node instanceof Tag) invalidPayload(path, `${path || '/'}: tag ${node.tag} is not allowed here`);
  if (node instanceof Uint8Array) invalidPayload(path, `${path || '/'}: a byte string is allowed only in an ndarray field`);
  if (node instanceof Date) invalidPayload(path, `${path || '/'}: a date tag is not allowed`);
  invalidPayload(path, `${path || '/'}: ${node === undefined ? 'undefined' : typeof node} is not in the payload data model`);
}

function mapToObject(map: Map<unknown, unknown>, path: string, each: (v: unknown, p: string) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of map) {
    if (typeof k !== 'string') invalidPayload(path, `${path || '/'}: map key ${String(k)} is not a text string`);
    setOwn(out, k, each(v, pointer(path, k)));
  }
  return out;
}

/**
 * Step 6 of the check table over a whole CBOR document, before any array (step 7) or schema
 * (step 8) rule: a data-model fault anywhere wins over an array or schema fault earlier in the
 * document (ENC-11). Values in ndarray fields are left to the array rules (rule `wrapper`), and a
 * 64-bit field may hold any CBOR integer (its range is a schema rule, ENC-13).
 */
export function checkCborDataModel(plan: Plan, node: unknown, path = ''): void {
  if (plan.kind === 'ndarray') return;
  if (plan.kind === 'any' && node instanceof Tag && node.tag === CBOR_TAG) return; // an ndarray (ARR-8): step 7 checks it
  if (node === null || typeof node === 'string' || typeof node === 'boolean') return;
  if (typeof node === 'number') {
    if (!Number.isFinite(node)) invalidPayload(path, `${path || '/'}: ${node} is not a JSON number`);
    return;
  }
  if (typeof node === 'bigint') {
    if (plan.kind !== 'int64' && BigInt(Number(node)) !== node) invalidPayload(path, `${path || '/'}: integer ${node} has no exact double value outside a 64-bit field`);
    return;
  }
  if (Array.isArray(node)) {
    node.forEach((v, i) => checkCborDataModel(plan.kind === 'array' ? plan.items : plan.kind === 'any' ? plan : PLAIN, v, pointer(path, i)));
    return;
  }
  if (node instanceof Map) {
    for (const [k, v] of node) {
      if (typeof k !== 'string') invalidPayload(path, `${path || '/'}: map key ${String(k)} is not a text string`);
      checkCborDataModel(plan.kind === 'object' ? plan.props.get(k) ?? plan.rest ?? PLAIN : plan.kind === 'any' ? plan : PLAIN, v, pointer(path, k));
    }
    return;
  }
  decodePlainCbor(node, path); // tags, byte strings, dates, undefined: each refused with its reason
}

/** Wire form to application model. Throws INVALID_ARRAY / INVALID_PAYLOAD with the field's path. */
export function fromWire(plan: Plan, node: unknown, form: WireForm, path = ''): unknown {
  switch (plan.kind) {
    case 'ndarray':
      return decodeNdarray(node, form, path, plan.rule);
    case 'int64':
      return decodeInt64(node, form, plan.signed);
    case 'any':
      return fromWireAny(node, form, path);
    case 'plain':
      return form === 'cbor' ? decodePlainCbor(node, path) : node;
    case 'array':
      if (!Array.isArray(node)) return form === 'cbor' ? decodePlainCbor(node, path) : node;
      return node.map((v, i) => fromWire(plan.items, v, form, pointer(path, i)));
    case 'object': {
      const each = (v: unknown, p: string, key: string): unknown => {
        const sub = plan.props.get(key) ?? plan.rest;
        return sub ? fromWire(sub, v, form, p) : form === 'cbor' ? decodePlainCbor(v, p) : v;
      };
      if (form === 'cbor' && node instanceof Map) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of node) {
          if (typeof k !== 'string') invalidPayload(path, `${path || '/'}: map key ${String(k)} is not a text string`);
          setOwn(out, k, each(v, pointer(path, k), k));
        }
        return out;
      }
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return form === 'cbor' ? decodePlainCbor(node, path) : node;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) setOwn(out, k, each(v, pointer(path, k), k));
      return out;
    }
  }
}

/** Application model to wire form. The value must already be valid (see validate.ts). */
export function toWire(plan: Plan, value: unknown, form: WireForm): unknown {
  switch (plan.kind) {
    case 'ndarray': {
      const array = value as NDArray;
      if (form === 'fixture') return ndarrayToFixture(array);
      const bytes = packNDArray(array);
      return form === 'json' ? { [WRAPPER]: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') } : new Tag(bytes, CBOR_TAG);
    }
    case 'int64': {
      const v = value as bigint;
      if (form === 'cbor') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
      return v.toString();
    }
    case 'any':
      return toWireAny(value, form);
    case 'plain':
      return value;
    case 'array':
      return Array.isArray(value) ? value.map((v) => toWire(plan.items, v, form)) : value;
    case 'object': {
      if (value === null || typeof value !== 'object') return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const sub = plan.props.get(k) ?? plan.rest;
        setOwn(out, k, sub ? toWire(sub, v, form) : v);
      }
      return out;
    }
  }
}
