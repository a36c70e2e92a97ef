/**
 * Generates the implementer's guide, `docs/guide/implementers.md`, from the prose template
 * `spec/tools/guide/implementers.template.md` and the spec data: every count, limit, code, table,
 * check order and statement in the guide comes from spec/ (through the generated catalog), so the
 * guide cannot drift from the spec. A template names data with `{{NAME}}` or `{{NAME:ARG}}`; an
 * unknown name fails the generation. The example frames and payloads the guide shows are built
 * here and checked against their payload schemas, so a stale example fails `npm run gen`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { catalogData, type ArrayCheck, type CheckStep } from './gen-catalog.js';
import { BANNER } from './gen-ts.js';
import { SPEC_DIR } from './load.js';
import type { ErrorSpec, JsonSchema, LimitSpec, SpecModel, TransportSpec } from './model.js';

export const GUIDE_FILE = 'docs/guide/implementers.md';
const TEMPLATE = join(SPEC_DIR, 'tools', 'guide', 'implementers.template.md');

interface CatalogMessage {
  code: number; name: string; kind: string; directions: string[]; response: string | null; level: string;
  timeout_ms: number | null; effective_timeout_ms: number | null; payload: JsonSchema | null; errors: string[]; section: string;
}

/** A table cell: pipes escaped, line breaks flattened. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const code = (s: string): string => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);
const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
const num = (n: number): string => n.toLocaleString('en-US');

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---|').join('')}`, ...rows.map((r) => `| ${r.map((c) => cell(c) || ' ').join(' | ')} |`)].join('\n');
}

const isObj = (x: unknown): x is JsonSchema => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Schema keywords that carry data or annotations, not checks. */
const NOT_CHECKS = new Set(['description', 'title', 'default', 'examples', '$comment', 'since']);

/** Counts each keyword of the payload schemas (every level), for the list of what a validator needs. */
function keywordCounts(messages: CatalogMessage[]): Map<string, number> {
  const counts = new Map<string, number>();
  const walk = (s: unknown): void => {
    if (!isObj(s)) return;
    for (const [k, v] of Object.entries(s)) {
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (k === 'properties' && isObj(v)) Object.values(v).forEach(walk);
      else if (['items', 'additionalProperties', 'propertyNames', 'contains', 'not'].includes(k)) walk(v);
      else if (['anyOf', 'oneOf', 'allOf'].includes(k) && Array.isArray(v)) v.forEach(walk);
    }
  };
  messages.forEach((m) => walk(m.payload));
  return new Map([...counts].filter(([k]) => !NOT_CHECKS.has(k)).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

function typeText(s: JsonSchema): string {
  if (isObj(s['ndarray'])) {
    const nd = s['ndarray'];
    return `ndarray ${(nd['dtypes'] as string[]).join('/')}${nd['ndim'] !== undefined ? `, ndim ${nd['ndim']}` : ''}`;
  }
  if (typeof s['int64'] === 'string') return `${s['int64']} (decimal string in JSON)`;
  const t = s['type'];
  const base = Array.isArray(t) ? t.join(' or ') : typeof t === 'string' ? t : 'any value';
  return `${base}${s['float32'] === true ? ' (float32)' : ''}`;
}

function rulesText(s: JsonSchema): string {
  const out: string[] = [];
  for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'maxBytes', 'minItems', 'maxItems', 'minProperties', 'maxProperties']) {
    if (s[k] !== undefined) out.push(`${k} ${String(s[k])}`);
  }
  if (typeof s['pattern'] === 'string') out.push(`pattern ${code(s['pattern'])}`);
  if (Array.isArray(s['enum'])) out.push(`one of ${s['enum'].map((v) => code(JSON.stringify(v))).join(', ')}`);
  if (s['const'] !== undefined) out.push(`const ${code(JSON.stringify(s['const']))}`);
  if (s['uniqueItems'] === true) out.push('uniqueItems');
  if (isObj(s['contains'])) out.push(`contains ${code(JSON.stringify(s['contains']))}`);
  if (s['additionalProperties'] === false) out.push('unknown fields refused');
  else if (s['type'] === 'object') out.push('other keys allowed');
  if (isObj(s['ndarray'])) {
    const nd = s['ndarray'];
    for (const k of ['minSize', 'maxSize']) if (nd[k] !== undefined) out.push(`${k} ${String(nd[k])}`);
  }
  if (s['default'] !== undefined) out.push(`default ${code(JSON.stringify(s['default']))}`);
  return out.join('; ');
}

/** The fields of a payload, nested ones as dotted paths. */
function payloadTable(m: CatalogMessage): string {
  if (m.payload === null) return `${m.name} has no payload: its frame ends after the header.`;
  const rows: string[][] = [];
  const walk = (s: JsonSchema, path: string, required: boolean | null, depth: number): void => {
    if (path) rows.push([code(path), typeText(s), required === null ? '—' : required ? 'yes' : 'no', rulesText(s), String(s['description'] ?? '')]);
    if (depth > 4) return;
    const req = Array.isArray(s['required']) ? (s['required'] as string[]) : [];
    if (isObj(s['properties'])) for (const [k, v] of Object.entries(s['properties'])) if (isObj(v)) walk(v, path ? `${path}.${k}` : k, req.includes(k), depth + 1);
    if (isObj(s['items'])) walk(s['items'], `${path}[]`, null, depth + 1);
  };
  walk(m.payload, '', null, 0);
  const root = `The payload is ${typeText(m.payload) === 'object' ? 'an object' : typeText(m.payload)}${m.payload['additionalProperties'] === false ? ' that refuses unknown fields (SCHEMA_VIOLATION, rule `additionalProperties`, path of the unknown key)' : ''}.`;
  return `${root}\n\n${table(['field', 'type', 'required', 'rules', 'description'], rows)}`;
}

/** The bytes of a frame, built by hand from the framing data (the guide's worked example). */
function frameBytes(spec: SpecModel, typeCode: number, header: object, payload: string): Uint8Array {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const p = Buffer.from(payload, 'utf8');
  const prefix = spec.framing.body_prefix_bytes;
  const body = Buffer.alloc(prefix + h.length + p.length);
  body[0] = typeCode;
  body[1] = 0;
  body.writeUInt16BE(h.length, 2);
  h.copy(body, prefix);
  p.copy(body, prefix + h.length);
  const len = Buffer.alloc(spec.framing.length_prefix.bytes);
  len.writeUInt32BE(body.length, 0);
  return Buffer.concat([len, body]);
}

function hexLines(bytes: Uint8Array): string {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = [...bytes.subarray(i, i + 16)];
    out.push(`${i.toString(16).padStart(4, '0')}  ${row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47)}  ${row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')}`);
  }
  return out.join('\n');
}

/**
 * The template's own prose must not name what the spec does not have: every code-quoted upper-case
 * name is an error code or a message type, and every bold statement id exists. A renamed code or a
 * withdrawn statement then fails the generation instead of leaving the guide wrong.
 */
function checkNames(template: string, spec: SpecModel): void {
  const names = new Set([...spec.errorFile.errors.map((e) => e.name), ...spec.messages.map((m) => m.name)]);
  const ids = new Set(spec.statements.map((s) => s.id));
  const bad: string[] = [];
  for (const [, name] of template.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})`/g)) if (!names.has(name!)) bad.push(name!);
  for (const [, id] of template.matchAll(/\*\*([A-Z]{2,6}-[0-9]+)\*\*/g)) if (!ids.has(id!)) bad.push(id!);
  for (const word of template.matchAll(/\b([A-Z]{2,}_[A-Z0-9_]+)\b/g)) if (!names.has(word[1]!)) bad.push(word[1]!);
  if (bad.length) throw new Error(`guide template names what the spec does not have: ${[...new Set(bad)].join(', ')}`);
}

export function generateGuide(spec: SpecModel, template = readFileSync(TEMPLATE, 'utf8')): string {
  const c = catalogData(spec) as {
    messages: CatalogMessage[]; check_order: CheckStep[]; errors: ErrorSpec[]; limits: LimitSpec[]; transports: TransportSpec[];
    extension_keywords: { keyword: string; meaning: string; error: string }[]; ndarray: { check_order: ArrayCheck[] };
  };
  const byName = new Map(c.messages.map((m) => [m.name, m]));
  const msg = (name: string): CatalogMessage => {
    const m = byName.get(name);
    if (!m) throw new Error(`guide template: no message type ${name}`);
    return m;
  };
  const limit = (name: string): LimitSpec => {
    const l = c.limits.find((x) => x.name === name);
    if (!l) throw new Error(`guide template: no limit ${name}`);
    return l;
  };
  const error = (name: string): ErrorSpec => {
    const e = c.errors.find((x) => x.name === name);
    if (!e) throw new Error(`guide template: no error ${name}`);
    return e;
  };
  const statement = (id: string): string => {
    const s = spec.statements.find((x) => x.id === id);
    if (!s) throw new Error(`guide template: no statement ${id}`);
    return `**${s.id}** ${s.text}`;
  };
  const catalogSchema = JSON.parse(readFileSync(join(SPEC_DIR, 'catalog.schema.json'), 'utf8')) as {
    properties: Record<string, { description?: string }>; definitions: { message: { properties: Record<string, { description?: string }> } };
  };

  // The worked examples, checked against their schemas so they stay valid when the spec changes.
  const ajv = new Ajv({ strict: false });
  const checked = (name: string, payload: Record<string, unknown>): Record<string, unknown> => {
    const validate = ajv.compile(msg(name).payload!);
    if (!validate(payload)) throw new Error(`guide: the example ${name} payload is invalid: ${ajv.errorsText(validate.errors)}`);
    return payload;
  };
  const testeeInit = checked('INIT', {
    client_id: 'testee-4242', role: 'testee', name: 'my-testee', language: 'other', version: '0.1.0',
    protocol_version: spec.protocolVersion, encodings: ['json'], max_frame: limit('max_frame').default, features: [],
  });
  const clientInit = checked('INIT', {
    client_id: 'my-client', role: 'client', language: 'other', protocol_version: spec.protocolVersion, encodings: ['json'], max_frame: limit('max_frame').default,
  });
  const sampleError = checked('ERROR', { code: 'SCHEMA_VIOLATION', message: 'ACK: /detail must NOT have more than 1024 characters', definite: error('SCHEMA_VIOLATION').definite, details: { path: '/detail', rule: 'maxLength' } });
  const ping = frameBytes(spec, msg('PING').code, { id: 'p-1' }, '');
  const ack = frameBytes(spec, msg('ACK').code, { id: 'a-7' }, '{"detail":"ok"}');

  const keywords = keywordCounts(c.messages);
  const extensions = new Set(c.extension_keywords.map((e) => e.keyword));
  const values: Record<string, (arg: string) => string> = {
    banner: () => `<!-- ${BANNER} -->`,
    version: () => spec.protocolVersion,
    message_count: () => String(c.messages.length),
    payload_count: () => String(c.messages.filter((m) => m.payload !== null).length),
    error_count: () => String(c.errors.length),
    limit_count: () => String(c.limits.length),
    statement_count: () => String(spec.statements.length),
    limit: (name) => num(limit(name).default),
    code: (name) => hex2(msg(name).code),
    definite: (name) => String(error(name).definite),
    statement: (id) => statement(id),
    statements: (section) => {
      const list = spec.statements.filter((s) => s.section === section);
      if (!list.length) throw new Error(`guide template: no statements in section ${section}`);
      return list.map((s) => `- ${statement(s.id)}`).join('\n');
    },
    closing_errors: () => c.errors.filter((e) => e.closes).map((e) => code(e.name)).join(', '),
    catalog_top: () => table(['key', 'what it holds'], Object.entries(catalogSchema.properties).filter(([k]) => k !== '$schema').map(([k, v]) => [code(k), v.description ?? ''])),
    catalog_record: () => table(['field', 'meaning'], Object.entries(catalogSchema.definitions.message.properties).map(([k, v]) => [code(k), v.description ?? ''])),
    framing: () => table(['offset', 'bytes', 'field', 'meaning'], [
      ['0', String(spec.framing.length_prefix.bytes), `length (${spec.framing.length_prefix.byte_order}-endian)`, spec.framing.length_prefix.meaning],
      ...spec.framing.body_prefix.map((f) => [String(spec.framing.length_prefix.bytes + f.offset), String(f.bytes), `${f.name}${f.byte_order ? ` (${f.byte_order}-endian)` : ''}`, f.meaning]),
      [String(spec.framing.length_prefix.bytes + spec.framing.body_prefix_bytes), 'hlen', 'header', 'UTF-8 JSON object'],
      ['after the header', 'the rest', 'payload', spec.framing.encodings.map((e) => `encoding ${e.value}: ${e.meaning}`).join('; ')],
    ]),
    encodings: () => spec.framing.encodings.map((e) => `${e.value} = ${code(e.name)}`).join(', '),
    check_order: () => table(['step', 'check', 'error', 'closes', 'made by'], c.check_order.map((s) => [String(s.step), s.check, s.error_text, s.closes, s.made_by])),
    testee_steps: () => String(c.check_order.filter((s) => s.made_by !== 'broker').length),
    errors: () => table(['code', 'id', 'definite', 'closes', 'meaning'], c.errors.map((e) => [code(e.name), String(e.id), String(e.definite), e.closes ? '**yes**' : 'no', e.meaning])),
    limits: () => table(['limit', 'default', 'range', 'unit', 'meaning'], c.limits.map((l) => [code(l.name), num(l.default), `${num(l.min)} .. ${num(l.max)}`, l.unit, l.meaning])),
    ndarray_layout: () => table(['#', 'field', 'type', 'count or length', 'meaning'], spec.ndarray.fields.map((f, i) => [String(i + 1), code(f.name), f.type, f.count ?? f.length ?? '', f.meaning])),
    ndarray_dtypes: () => table(['dtype', 'codes', 'itemsize'], spec.ndarray.dtypes.map((d) => [code(d.name), d.codes.map(code).join(', '), String(d.itemsize)])),
    ndarray_check_order: () => table(['order', 'check', 'rule'], c.ndarray.check_order.map((r) => [String(r.order), r.check, code(r.rule)])),
    ndarray_wrapper: () => spec.ndarray.json_wrapper,
    ndarray_tag: () => String(spec.ndarray.cbor_tag),
    max_ndim: () => String(spec.ndarray.max_ndim),
    max_dtype_len: () => String(spec.ndarray.max_dtype_len),
    schema_keywords: () => table(['keyword', 'occurrences', 'kind'], [...keywords].map(([k, n]) => [code(k), String(n), extensions.has(k) ? 'Concord extension' : 'JSON Schema'])),
    extension_keywords: () => table(['keyword', 'meaning', 'fault'], c.extension_keywords.map((e) => [code(e.keyword), e.meaning, e.error])),
    payload: (name) => payloadTable(msg(name)),
    messages: () => table(['code', 'name', 'kind', 'directions', 'payload', 'response', 'timeout (ms)', 'level'], c.messages.map((m) => [
      hex2(m.code), code(m.name), m.kind, m.directions.join(', '), m.payload === null ? 'none' : 'object', m.response ?? '—', m.effective_timeout_ms === null ? '—' : num(m.effective_timeout_ms), m.level,
    ])),
    null_payload_types: () => c.messages.filter((m) => m.payload === null).map((m) => code(m.name)).join(', '),
    ndarray_types: () => c.messages.filter((m) => m.payload !== null && JSON.stringify(m.payload).includes('"ndarray"')).map((m) => code(m.name)).join(', '),
    tcp_default: () => {
      const tcp = c.transports.find((t) => t.name === 'tcp')?.default_address;
      if (!tcp) throw new Error('guide: transports.json gives tcp no default_address');
      return tcp;
    },
    transports: () => table(['transport', 'address', 'framing', 'summary'], c.transports.map((t) => [code(t.name), code(t.address), t.framing, t.summary])),
    json_testee_init: () => JSON.stringify(testeeInit, null, 2),
    json_client_init: () => JSON.stringify(clientInit, null, 2),
    json_error: () => JSON.stringify(sampleError, null, 2),
    hex_ping: () => hexLines(ping),
    hex_ack: () => hexLines(ack),
    bytes_ping: () => Buffer.from(ping).toString('hex'),
    len_ping: () => String(ping.length),
    len_ack: () => String(ack.length),
    error_message_max: () => {
      const max = ((msg('ERROR').payload!['properties'] as Record<string, JsonSchema>)['message'] ?? {})['maxLength'];
      if (typeof max !== 'number') throw new Error('guide: the ERROR payload has no message maxLength');
      return num(max);
    },
    bytes_ack: () => Buffer.from(ack).toString('hex'),
  };
  const unknown: string[] = [];
  const text = template.replace(/\{\{([a-z_]+)(?::([A-Za-z0-9_-]+))?\}\}/g, (whole, name: string, arg: string | undefined) => {
    const f = values[name];
    if (!f) {
      unknown.push(whole);
      return whole;
    }
    return f(arg ?? '');
  });
  if (unknown.length) throw new Error(`guide template: unknown placeholders ${unknown.join(', ')}`);
  checkNames(template, spec);
  return text;
}

/** Stage-2 entry point. */
export function generate(spec: SpecModel): Map<string, string> {
  return new Map([[GUIDE_FILE, generateGuide(spec)]]);
}
