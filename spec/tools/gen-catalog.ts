/**
 * Generates `spec/generated/catalog.json`: the spec as one normalised file any language can load
 * without knowing how spec/ is authored. Every payload schema is resolved (each `$ref` to a shared
 * definition is replaced by that definition), so a payload schema stands alone; the check order of
 * section 8 is taken from its table in spec/protocol.md. `spec/catalog.schema.json` describes the
 * result; a test validates the generated file against it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SPEC_DIR } from './load.js';
import type { JsonSchema, SpecModel } from './model.js';

export const CATALOG_FILE = 'spec/generated/catalog.json';

/** A `$ref` the payload schemas may use: `#/$defs/NAME` into spec/defs.json. */
const REF = /^#\/\$defs\/([A-Za-z0-9]+)$/;

/**
 * Replaces every `$ref` by the definition it names, recursively, keeping the referring node's own
 * annotations (its `description`) over the definition's. Throws on an unknown or cyclic reference.
 */
export function resolveSchema(node: unknown, defs: Record<string, JsonSchema>, seen: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((x) => resolveSchema(x, defs, seen));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  // `enum`, `const`, `default` and `examples` hold data, not schemas: copied as they are.
  const walk = (o: Record<string, unknown>, path: string[]): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, ['enum', 'const', 'default', 'examples'].includes(k) ? v : resolveSchema(v, defs, path)]));
  if (typeof obj['$ref'] !== 'string') return walk(obj, seen);
  const m = REF.exec(obj['$ref']);
  const name = m?.[1];
  if (name === undefined || defs[name] === undefined) throw new Error(`unresolvable $ref ${String(obj['$ref'])}`);
  if (seen.includes(name)) throw new Error(`cyclic $ref: ${[...seen, name].join(' -> ')}`);
  const { $ref: _ref, ...own } = obj;
  return { ...(resolveSchema(defs[name], defs, [...seen, name]) as Record<string, unknown>), ...walk(own, seen) };
}

export interface CheckStep {
  step: number;
  check: string;
  errors: string[];
  error_text: string;
  closes: string;
  made_by: string;
}

/** The rows of the check table of section 8 (`| step | check | error | closes | made by |`). */
export function checkOrder(spec: SpecModel): CheckStep[] {
  const start = spec.prose.indexOf('{#errors}');
  const end = spec.prose.indexOf('\n## ', start);
  const text = spec.prose.slice(start, end < 0 ? undefined : end);
  const known = new Set(spec.errorFile.errors.map((e) => e.name));
  const steps: CheckStep[] = [];
  for (const line of text.split('\n')) {
    const cells = /^\|\s*(\d+)\s*\|(.*)\|\s*$/.exec(line);
    if (!cells) continue;
    const [check, errorText, closes, madeBy] = cells[2]!.split('|').map((c) => c.trim());
    if (madeBy === undefined) throw new Error(`protocol.md check table: row ${cells[1]} does not have 5 cells`);
    const errors = [...errorText!.matchAll(/`([A-Z_]+)`/g)].map((x) => x[1]!).filter((n) => known.has(n));
    steps.push({ step: Number(cells[1]), check: check!, errors: [...new Set(errors)], error_text: errorText!.replace(/`/g, ''), closes: closes!, made_by: madeBy });
  }
  steps.forEach((s, i) => {
    if (s.step !== i + 1) throw new Error(`protocol.md check table: step ${s.step} where ${i + 1} was expected`);
  });
  if (steps.length === 0) throw new Error('protocol.md: section 8 has no check table');
  return steps;
}

export interface ArrayCheck {
  order: number;
  check: string;
  rule: string;
}

/** The rows of the ndarray check table of section 5 (`| order | check | rule |`). */
export function ndarrayCheckOrder(spec: SpecModel): ArrayCheck[] {
  const start = spec.prose.indexOf(`{#${spec.ndarray.section}}`);
  const end = spec.prose.indexOf('\n## ', start);
  const known = new Set(spec.ndarray.rules.map((r) => r.name));
  const rows: ArrayCheck[] = [];
  for (const line of spec.prose.slice(start, end < 0 ? undefined : end).split('\n')) {
    const cells = /^\|\s*(\d+)\s*\|(.*)\|\s*`([a-z-]+)`\s*\|\s*$/.exec(line);
    if (!cells) continue;
    if (!known.has(cells[3]!)) throw new Error(`protocol.md ndarray check table: rule ${cells[3]} is not in ndarray.json`);
    rows.push({ order: Number(cells[1]), check: cells[2]!.trim().replace(/`/g, ''), rule: cells[3]! });
  }
  rows.forEach((r, i) => {
    if (r.order !== i + 1) throw new Error(`protocol.md ndarray check table: order ${r.order} where ${i + 1} was expected`);
  });
  if (rows.length === 0) throw new Error('protocol.md: the ndarray section has no check table');
  return rows;
}

/** The extension keywords of the payload schemas: a plain validator ignores them (non-strict mode). */
const EXTENSIONS: { keyword: string; meaning: string; error: string }[] = [
  { keyword: 'ndarray', meaning: 'The value is an ndarray (section 5): in JSON an object whose one key is the ndarray json_wrapper holding base64 of the layout, in CBOR a byte string under the ndarray cbor_tag. The keyword\'s object restricts `dtypes`, `ndim`, `shape` (null = any size), `minSize` and `maxSize` (element counts).', error: 'INVALID_ARRAY' },
  { keyword: 'int64', meaning: 'A 64-bit integer, `uint64` or `int64`: a decimal string in JSON (patterns of ENC-12), an integer in CBOR.', error: 'SCHEMA_VIOLATION (rule int64)' },
  { keyword: 'float32', meaning: 'A number computed in binary32: written as the binary64 value of that binary32, compared after rounding to binary32 (ENC-15, ENC-16).', error: 'none (a comparison rule)' },
  { keyword: 'maxBytes', meaning: 'A string\'s greatest length in bytes of UTF-8, where maxLength counts characters (LIM-6).', error: 'SCHEMA_VIOLATION (rule maxBytes)' },
  { keyword: 'since', meaning: 'The protocol version that introduced the field, when later than its type\'s `since`: a sender leaves the field out of a session that negotiated an earlier version (VER-3). Such a field is always optional.', error: 'none (an annotation for senders)' },
];

const strip = <T extends Record<string, unknown>>(o: T): Omit<T, '$schema'> => {
  const { $schema: _s, ...rest } = o;
  return rest;
};

export function catalogData(spec: SpecModel): Record<string, unknown> {
  const defs = spec.defsFile.$defs;
  const requestTimeout = spec.limitFile.limits.find((l) => l.name === 'request_timeout_ms')?.default;
  if (requestTimeout === undefined) throw new Error('limits.json has no request_timeout_ms');
  const messages = spec.messages.map((m) => {
    const payload = m.payload === null ? null : (resolveSchema(m.payload, defs) as JsonSchema);
    const props = payload && typeof payload['properties'] === 'object' ? (payload['properties'] as Record<string, JsonSchema>) : {};
    const payloadDefaults = Object.fromEntries(Object.entries(props).filter(([, s]) => s['default'] !== undefined).map(([k, s]) => [k, s['default']]));
    return {
      code: m.code, name: m.name, area: m.area, section: m.section, kind: m.kind, level: m.level, since: m.since, summary: m.summary,
      directions: m.directions, sender: m.sender, receiver: m.receiver, response: m.response, errors: m.errors,
      timeout_ms: m.timeout_ms ?? null,
      effective_timeout_ms: m.kind === 'request' ? m.timeout_ms ?? requestTimeout : null,
      payload_defaults: payloadDefaults,
      payload,
      examples: m.examples,
    };
  });
  return {
    $schema: '../catalog.schema.json',
    generated: 'Generated by `npm run gen` from spec/ (spec/tools/gen-catalog.ts). Do not edit: change spec/ and regenerate.',
    protocol_version: spec.protocolVersion,
    schema_dialect: 'http://json-schema.org/draft-07/schema#',
    extension_keywords: EXTENSIONS,
    framing: strip(spec.framing as unknown as Record<string, unknown>),
    check_order: checkOrder(spec),
    messages,
    errors: spec.errorFile.errors,
    limits: spec.limitFile.limits,
    ndarray: { ...strip(spec.ndarray as unknown as Record<string, unknown>), check_order: ndarrayCheckOrder(spec) },
    transports: spec.transportFile.transports,
    instrument: strip(JSON.parse(readFileSync(join(SPEC_DIR, 'instrument', 'commands.json'), 'utf8')) as Record<string, unknown>),
    defs: Object.fromEntries(Object.entries(defs).map(([k, v]) => [k, resolveSchema(v, defs)])),
  };
}

export function generate(spec: SpecModel): Map<string, string> {
  return new Map([[CATALOG_FILE, `${JSON.stringify(catalogData(spec), null, 2)}\n`]]);
}
