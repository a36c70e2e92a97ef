/**
 * The fixtures' typed-JSON notation (spec/protocol.md section fixtures): how a value JSON cannot
 * hold is written in a fixture file, and back.
 */
import { Tag } from './cbor.js';
import { setOwn } from './errors.js';

function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) setOwn(out, k, v);
  return out;
}

/** Converts a typed-JSON value (as read from a fixture file) into a JavaScript value. */
export function fromTypedJson(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(fromTypedJson);
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && typeof o['$bigint'] === 'string') return BigInt(o['$bigint']);
  if (keys.length === 1 && typeof o['$bytes'] === 'string') return Uint8Array.from(Buffer.from(o['$bytes'], 'hex'));
  if (keys.length === 1 && typeof o['$float'] === 'string') return ({ NaN, Infinity, '-Infinity': -Infinity, '-0': -0 } as Record<string, number>)[o['$float']];
  if (keys.length === 1 && o['$undefined'] === true) return undefined;
  if (keys.length === 1 && typeof o['$simple'] === 'number') return { simple: o['$simple'] };
  if (keys.length === 2 && typeof o['$tag'] === 'number' && 'value' in o) return new Tag(fromTypedJson(o['value']), o['$tag']);
  if (keys.length === 1 && Array.isArray(o['$map'])) {
    return new Map((o['$map'] as unknown[][]).map(([k, v]) => [fromTypedJson(k), fromTypedJson(v)]));
  }
  return objectOf(keys.map((k) => [k, fromTypedJson(o[k])]));
}

/** Converts a decoded JavaScript value into typed JSON, so it can be compared with a fixture. */
export function toTypedJson(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return Number.isSafeInteger(Number(value)) && BigInt(Number(value)) === value ? Number(value) : { $bigint: value.toString() };
  }
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { $float: 'NaN' };
    if (value === Infinity) return { $float: 'Infinity' };
    if (value === -Infinity) return { $float: '-Infinity' };
    if (Object.is(value, -0)) return { $float: '-0' };
    return value;
  }
  if (value === undefined) return { $undefined: true };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  if (value instanceof Tag) return { $tag: value.tag, value: toTypedJson(value.value) };
  if (value instanceof Map) {
    const entries = [...value.entries()];
    if (entries.every(([k]) => typeof k === 'string')) return objectOf(entries.map(([k, v]) => [k as string, toTypedJson(v)]));
    return { $map: entries.map(([k, v]) => [toTypedJson(k), toTypedJson(v)]) };
  }
  if (Array.isArray(value)) return value.map(toTypedJson);
  if (value !== null && typeof value === 'object') {
    return objectOf(Object.entries(value).map(([k, v]) => [k, toTypedJson(v)]));
  }
  return value;
}
