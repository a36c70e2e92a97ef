/**
 * fast-check arbitraries derived from the spec: valid application-model payloads for every message
 * type (NDArray for ndarray fields, bigint for 64-bit fields) and random arrays of every dtype.
 * Property tests and the harness's generated cases both draw from here.
 */
import fc from 'fast-check';
import { MESSAGES, SCHEMA_DEFS, NDARRAY_LAYOUT, type MessageInfo } from '../../spec/generated/catalog.js';
import { NDArray, dtypeInfo } from '../codec/ndarray.js';
import { setOwn } from '../codec/errors.js';
import type { NdarrayRule } from '../codec/plan.js';

type Schema = Record<string, unknown>;

/** Largest element count generated for an array field; keeps runs fast while covering shapes. */
const MAX_GENERATED_ELEMENTS = 64;
const MAX_GENERATED_ITEMS = 4;

function resolve(schema: Schema): Schema {
  const ref = schema['$ref'];
  if (typeof ref !== 'string') return schema;
  const target = SCHEMA_DEFS[ref.replace('#/$defs/', '')];
  if (!target) throw new Error(`arbitraries: unresolved ${ref}`);
  return resolve(target as Schema);
}

/** The UTF-16 surrogates, which are no code points of their own. */
const SURROGATE_FIRST = 0xd800;
const SURROGATE_COUNT = 0xe000 - SURROGATE_FIRST;

/**
 * One code point, drawn exactly as fast-check's `unit: 'binary'` draws it (an index over every code
 * point but the surrogates), with an unmapper that computes the index instead of looking it up: the
 * built-in one first builds a map of all 1.1 million code points, 2 to 10 s of a harness start.
 */
const binaryUnit: fc.Arbitrary<string> = fc.nat({ max: 0x10ffff - SURROGATE_COUNT }).map(
  (i) => String.fromCodePoint(i < SURROGATE_FIRST ? i : i + SURROGATE_COUNT),
  (c) => {
    const cp = typeof c === 'string' ? c.codePointAt(0) : undefined;
    if (cp === undefined || String.fromCodePoint(cp) !== c || (cp >= SURROGATE_FIRST && cp < SURROGATE_FIRST + SURROGATE_COUNT)) throw new Error('not one code point');
    return cp < SURROGATE_FIRST ? cp : cp - SURROGATE_COUNT;
  },
);

/** Strings of any code points (fast-check's unit binary). */
const binaryString = (constraints: { minLength?: number; maxLength?: number }): fc.Arbitrary<string> => fc.string({ ...constraints, unit: binaryUnit });

/** JSON text cannot carry -0; payload values never hold it. */
const noNegativeZero = (x: number): number => (Object.is(x, -0) ? 0 : x);

/** Any JSON value, normalised the way a JSON round trip leaves it. */
export const jsonValue = (): fc.Arbitrary<unknown> => fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

function elementArb(code: string): fc.Arbitrary<number | bigint> {
  const info = dtypeInfo(code)!;
  const bits = info.itemsize * 8;
  switch (info.kind) {
    case 'b': return fc.integer({ min: 0, max: 1 });
    case 'f': return info.itemsize === 4 ? fc.float() : fc.double();
    case 'u': return bits === 64 ? fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) : fc.integer({ min: 0, max: 2 ** bits - 1 });
    case 'i': return bits === 64 ? fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }) : fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 });
  }
}

function shapeArb(ndim: fc.Arbitrary<number>, minSize: number, maxSize: number): fc.Arbitrary<number[]> {
  return ndim.chain((n) => fc.array(fc.integer({ min: 0, max: n > 3 ? 2 : 6 }), { minLength: n, maxLength: n }))
    .filter((shape) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return size >= minSize && size <= Math.min(maxSize, MAX_GENERATED_ELEMENTS);
    });
}

/** Arrays of the given dtype codes and shapes (any dtype and up to 32 dimensions by default). */
export function ndarrayArb(options: { codes?: string[]; ndim?: number; minSize?: number; maxSize?: number; withMeta?: boolean } = {}): fc.Arbitrary<NDArray> {
  const codes = options.codes ?? NDARRAY_LAYOUT.dtypes.flatMap((d) => d.codes);
  const ndim = options.ndim !== undefined ? fc.constant(options.ndim) : fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: NDARRAY_LAYOUT.max_ndim }));
  const meta = options.withMeta === false ? fc.constant({}) : fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 8 }), jsonValue(), { maxKeys: 3 }));
  return fc.record({ code: fc.constantFrom(...codes), shape: shapeArb(ndim, options.minSize ?? 0, options.maxSize ?? Number.MAX_SAFE_INTEGER), meta })
    .chain(({ code, shape, meta }) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return fc.array(elementArb(code), { minLength: size, maxLength: size }).map((values) => NDArray.from(code, shape, values, meta as Record<string, unknown>));
    });
}

function ndarrayFieldArb(rule: NdarrayRule): fc.Arbitrary<NDArray> {
  const codes = NDARRAY_LAYOUT.dtypes.filter((d) => rule.dtypes.includes(d.name)).flatMap((d) => d.codes);
  return ndarrayArb({ codes, ndim: rule.ndim ?? 1, minSize: rule.minSize ?? 0, maxSize: rule.maxSize ?? MAX_GENERATED_ELEMENTS, withMeta: true });
}

function stringArb(s: Schema): fc.Arbitrary<string> {
  const min = (s['minLength'] as number | undefined) ?? 0;
  const max = Math.min((s['maxLength'] as number | undefined) ?? 24, 24);
  const length = (x: string): boolean => [...x].length >= min && [...x].length <= ((s['maxLength'] as number | undefined) ?? Infinity);
  if (typeof s['pattern'] === 'string') return fc.stringMatching(new RegExp(s['pattern'] as string, 'u')).filter(length);
  return binaryString({ minLength: min, maxLength: Math.max(min, max) });
}

function numberArb(s: Schema, integer: boolean): fc.Arbitrary<number> {
  const lo = (s['minimum'] as number | undefined) ?? (s['exclusiveMinimum'] as number | undefined);
  const hi = (s['maximum'] as number | undefined) ?? (s['exclusiveMaximum'] as number | undefined);
  const excl = (x: number): boolean => x !== s['exclusiveMinimum'] && x !== s['exclusiveMaximum'];
  if (integer) return fc.integer({ min: lo ?? -(2 ** 31), max: hi ?? 2 ** 31 }).filter(excl);
  if (s['float32']) {
    return fc.float({ min: Math.fround(lo ?? -3.4e38), max: Math.fround(hi ?? 3.4e38), noNaN: true, noDefaultInfinity: true })
      .filter((x) => (lo === undefined || x >= lo) && (hi === undefined || x <= hi) && excl(x)).map(noNegativeZero);
  }
  return fc.double({ min: lo ?? -1e300, max: hi ?? 1e300, noNaN: true, noDefaultInfinity: true }).filter(excl).map(noNegativeZero);
}

/**
 * Arbitraries built so far, by schema: building one can cost far more than drawing from it (fc.string
 * with unit binary maps all of Unicode, about 30 ms), and a message arbitrary builds its payload's
 * for every message it draws. An arbitrary is immutable, so the values drawn stay the same.
 */
const built = new WeakMap<Schema, fc.Arbitrary<unknown>>();

/** An arbitrary of valid values for a payload schema (the subset of JSON Schema the catalog uses). */
export function schemaArb(input: Schema): fc.Arbitrary<unknown> {
  let arb = built.get(input);
  if (arb === undefined) {
    arb = buildSchemaArb(input);
    built.set(input, arb);
  }
  return arb;
}

function buildSchemaArb(input: Schema): fc.Arbitrary<unknown> {
  const s = resolve(input);
  if (s['ndarray']) return ndarrayFieldArb(s['ndarray'] as NdarrayRule);
  if (s['int64']) return s['int64'] === 'int64' ? fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }) : fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  if (Array.isArray(s['enum'])) return fc.constantFrom(...(s['enum'] as unknown[]));
  switch (s['type']) {
    case 'string': return stringArb(s);
    case 'integer': return numberArb(s, true);
    case 'number': return numberArb(s, false);
    case 'boolean': return fc.boolean();
    case 'null': return fc.constant(null);
    case 'array': {
      const items = schemaArb(s['items'] as Schema);
      const minLength = (s['minItems'] as number | undefined) ?? 0;
      const maxLength = Math.max(minLength, Math.min((s['maxItems'] as number | undefined) ?? MAX_GENERATED_ITEMS, MAX_GENERATED_ITEMS));
      const arrays = s['uniqueItems'] ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) }) : fc.array(items, { minLength, maxLength });
      const contains = s['contains'] as Schema | undefined;
      if (contains && 'const' in contains) return arrays.filter((a) => a.some((x) => JSON.stringify(x) === JSON.stringify(contains['const'])));
      return arrays;
    }
    case 'object': return objectArb(s);
    default: return jsonValue();
  }
}

function objectArb(s: Schema): fc.Arbitrary<Record<string, unknown>> {
  const props = (s['properties'] as Record<string, Schema> | undefined) ?? {};
  const required = new Set((s['required'] as string[] | undefined) ?? []);
  const additional = s['additionalProperties'];
  const fixed = fc.record(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, schemaArb(v)])), { requiredKeys: [...required] });
  if (!additional || typeof additional !== 'object') {
    if (additional === false) return fixed as fc.Arbitrary<Record<string, unknown>>;
    return fixed as fc.Arbitrary<Record<string, unknown>>;
  }
  const names = s['propertyNames'] as Schema | undefined;
  const key = names ? stringArb({ type: 'string', ...names }) : binaryString({ maxLength: 12 });
  const minKeys = (s['minProperties'] as number | undefined) ?? 0;
  const rest = fc.dictionary(key.filter((k) => !(k in props)), schemaArb(additional as Schema), { minKeys, maxKeys: Math.max(minKeys, 4), noNullPrototype: true });
  return fc.tuple(fixed, rest).map(([a, b]) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b)) setOwn(out, k, v);
    for (const [k, v] of Object.entries(a)) setOwn(out, k, v);
    return out;
  });
}

/** Valid payloads of a message type (null for types without payload). */
export function payloadArb(m: MessageInfo): fc.Arbitrary<unknown> {
  return m.payload ? schemaArb(m.payload as Schema) : fc.constant(null);
}

/** A message type of the catalog with one of its valid payloads. */
export function messageArb(): fc.Arbitrary<{ info: MessageInfo; payload: unknown }> {
  return fc.constantFrom(...MESSAGES).chain((info) => payloadArb(info).map((payload) => ({ info, payload })));
}
