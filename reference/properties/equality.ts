/**
 * Equality of decoded values as the spec defines it (D3): values, not bytes of JSON, not key order;
 * arrays by dtype, shape, meta and element bytes (so NaN payloads and -0 count). Fields a schema
 * marks `"float32": true` are compared as ENC-16 says: both rounded to binary32, then exactly.
 * Differences are named by exact JSON Pointers (RFC 6901: `~` as `~0`, `/` as `~1`, the root as "").
 */
import { NDArray } from '../codec/ndarray.js';
import { SCHEMA_DEFS } from '../../spec/generated/catalog.js';

type Schema = Readonly<Record<string, unknown>>;

export interface CompareOptions {
  /** The schema of the compared value (a message's payload schema): its float32 fields are compared in binary32. */
  schema?: Schema | null;
  /** Stop at the first difference (the default collects every one). */
  first?: boolean;
}

function bytesOf(a: NDArray): Uint8Array {
  return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

/** A JSON Pointer reference token (RFC 6901 section 3). */
export function pointerToken(key: string | number): string {
  return String(key).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Resolves local `#/$defs/X` references against the shared definitions. */
function resolve(schema: Schema | undefined): Schema | undefined {
  let s = schema;
  for (let i = 0; s && typeof s['$ref'] === 'string' && i < 8; i++) {
    const name = (s['$ref'] as string).split('/').pop()!;
    s = SCHEMA_DEFS[name];
  }
  return s;
}

/** The schema of member `key` of a value whose schema is `schema` (undefined when the schema says nothing). */
function memberSchema(schema: Schema | undefined, key: string | number): Schema | undefined {
  const s = resolve(schema);
  if (!s) return undefined;
  if (typeof key === 'number') {
    const items = s['items'];
    return items && typeof items === 'object' && !Array.isArray(items) ? (items as Schema) : undefined;
  }
  const props = s['properties'] as Record<string, Schema> | undefined;
  if (props && key in props) return props[key];
  const extra = s['additionalProperties'];
  return extra && typeof extra === 'object' ? (extra as Schema) : undefined;
}

function isFloat32(schema: Schema | undefined): boolean {
  return resolve(schema)?.['float32'] === true;
}

function numbersEqual(a: number, b: number, float32: boolean): boolean {
  const x = float32 ? Math.fround(a) : a;
  const y = float32 ? Math.fround(b) : b;
  return x === y || (Number.isNaN(x) && Number.isNaN(y));
}

function walk(a: unknown, b: unknown, path: string, schema: Schema | undefined, out: string[], first: boolean): void {
  if (first && out.length > 0) return;
  if (a instanceof NDArray || b instanceof NDArray) {
    if (!(a instanceof NDArray) || !(b instanceof NDArray)) { out.push(path); return; }
    if (a.dtype !== b.dtype) out.push(`${path}/dtype`);
    if (a.shape.join() !== b.shape.join()) out.push(`${path}/shape`);
    const x = bytesOf(a);
    const y = bytesOf(b);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) out.push(`${path}/data`);
    walk(a.meta, b.meta, `${path}/meta`, undefined, out, first);
    return;
  }
  if (typeof a === 'number' && typeof b === 'number') {
    if (!numbersEqual(a, b, isFloat32(schema))) out.push(path);
    return;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    if (a !== b) out.push(path);
    return;
  }
  if (Array.isArray(a) !== Array.isArray(b)) { out.push(path); return; }
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    for (let i = 0; i < Math.max(a.length, bb.length); i++) {
      if (i >= a.length || i >= bb.length) { out.push(`${path}/${i}`); continue; }
      walk(a[i], bb[i], `${path}/${i}`, memberSchema(schema, i), out, first);
    }
    return;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort()) {
    const p = `${path}/${pointerToken(k)}`;
    if (!(k in ra) || !(k in rb)) { out.push(p); continue; }
    walk(ra[k], rb[k], p, memberSchema(schema, k), out, first);
  }
}

/** Every JSON Pointer at which the two values differ (a missing or extra member is named by its own pointer). */
export function differences(a: unknown, b: unknown, options: CompareOptions = {}): string[] {
  const out: string[] = [];
  walk(a, b, '', options.schema ?? undefined, out, options.first === true);
  return out;
}

/** Where two values first differ (a JSON Pointer, "" for the root), or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, options: CompareOptions = {}): string | null {
  const [d] = differences(a, b, { ...options, first: true });
  return d ?? null;
}

export function valuesEqual(a: unknown, b: unknown, options: CompareOptions = {}): boolean {
  return firstDifference(a, b, options) === null;
}

/** A pointer as a message shows it (the root is the empty pointer). */
export function showPointer(p: string): string {
  return p === '' ? '"" (the whole value)' : p;
}
