/**
 * Loads the data files of spec/, validates them against spec/meta.schema.json and checks what a
 * schema cannot: unique codes and names, responses and errors that exist, sections that exist in
 * spec/protocol.md, examples that satisfy their own schemas (checked by the generator with the codec).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { SpecModel, MessageSpec, AreaSpec, Statement, Section, Waiver } from './model.js';

export const SPEC_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const ROOT_DIR = dirname(SPEC_DIR);

/** A spec file breaks the meta-schema or a cross-file rule. */
export class SpecError extends Error {
  override name = 'SpecError';
  constructor(readonly problems: string[]) {
    super(`spec/ is inconsistent:\n  - ${problems.join('\n  - ')}`);
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SpecError([`${path}: ${(e as Error).message}`]);
  }
}

const STATEMENT_LINE = /^- \[([A-Z]{2,6}-[0-9]+)\] (.+)$/;
const HEADING_LINE = /^(#{1,4}) (.+?) \{#([a-z][a-z0-9-]*)\}\s*$/;
const KEYWORD = /\b(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\b/;

/** Parses section anchors and statements out of the normative prose. */
export function parseProse(text: string): { sections: Section[]; statements: Statement[] } {
  const sections: Section[] = [];
  const statements: Statement[] = [];
  let current: Section | undefined;
  for (const line of text.split('\n')) {
    const h = HEADING_LINE.exec(line);
    if (h) {
      current = { slug: h[3]!, title: h[2]!, depth: h[1]!.length };
      sections.push(current);
      continue;
    }
    const s = STATEMENT_LINE.exec(line);
    if (s && current) {
      const keyword = KEYWORD.exec(s[2]!)?.[1] ?? '';
      const level = keyword.startsWith('MUST') ? 'required' : keyword.startsWith('SHOULD') ? 'recommended' : 'informational';
      statements.push({ id: s[1]!, section: current.slug, text: s[2]!, keyword, level });
    }
  }
  return { sections, statements };
}

/**
 * Orders `MAJOR.MINOR` versions as pairs of decimal integers (VER-2). Not reference/codec/versions.ts's
 * isLaterVersion: that module loads the generated catalog, which the loader runs before it is regenerated.
 */
function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number) as [number, number];
  const [bm, bn] = b.split('.').map(Number) as [number, number];
  return am - bm || an - bn;
}

type SchemaNode = Record<string, unknown>;
const isNode = (x: unknown): x is SchemaNode => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A field's `since` (VER-3) must be later than its type's and no later than the protocol's, and the field
 * must be optional: a new minor only adds optional fields, so a sender of an older minor still writes valid payloads.
 */
function laterFieldProblems(m: MessageSpec, defs: Record<string, unknown>, protocol: string): string[] {
  const problems: string[] = [];
  const seen = new Set<unknown>();
  const visit = (node: unknown, path: string, required: boolean): void => {
    if (!isNode(node) || seen.has(node)) return;
    const ref = typeof node['$ref'] === 'string' ? /^#\/\$defs\/(.+)$/.exec(node['$ref']) : null;
    const since = node['since'];
    if (typeof since === 'string') {
      if (compareVersions(since, m.since) <= 0) problems.push(`${m.name} ${path}: since ${since} is not later than the type's ${m.since}; leave it out`);
      if (compareVersions(since, protocol) > 0) problems.push(`${m.name} ${path}: since ${since} is later than the protocol version ${protocol}`);
      if (required) problems.push(`${m.name} ${path}: a field of a later version (${since}) must be optional`);
    }
    if (ref) {
      seen.add(node);
      visit(defs[ref[1]!], path, false);
      return;
    }
    const props = node['properties'];
    const req = Array.isArray(node['required']) ? (node['required'] as string[]) : [];
    if (isNode(props)) for (const [k, v] of Object.entries(props)) visit(v, `${path}/${k}`, req.includes(k));
    if (isNode(node['items'])) visit(node['items'], `${path}/*`, false);
    if (isNode(node['additionalProperties'])) visit(node['additionalProperties'], `${path}/*`, false);
  };
  visit(m.payload, '', false);
  return problems;
}

export function loadSpec(specDir: string = SPEC_DIR): SpecModel {
  const meta = readJson(join(specDir, 'meta.schema.json')) as Record<string, unknown>;
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(meta, 'meta');
  const problems: string[] = [];
  const check = (file: string, def: string, data: unknown): void => {
    const validate = ajv.getSchema(`meta#/definitions/${def}`);
    if (!validate) throw new SpecError([`meta.schema.json has no definition ${def}`]);
    if (!validate(data)) {
      for (const err of validate.errors ?? []) problems.push(`${file}${err.instancePath}: ${err.message}`);
    }
  };

  const file = <T>(name: string, definition: string): T => {
    const data = readJson(join(specDir, name)) as T;
    check(name, definition, data);
    return data;
  };
  const errors = file<SpecModel['errorFile']>('errors.json', 'errorRegistry');
  const limits = file<SpecModel['limitFile']>('limits.json', 'limitTable');
  const ndarray = file<SpecModel['ndarray']>('ndarray.json', 'ndarrayLayout');
  const framing = file<SpecModel['framing']>('framing.json', 'framingLayout');
  const transports = file<SpecModel['transportFile']>('transports.json', 'transportTable');
  const defs = file<SpecModel['defsFile']>('defs.json', 'defsFile');
  const waiverFile = file<{ waivers: Waiver[] }>('waivers.json', 'waiverFile');

  const areas: AreaSpec[] = [];
  for (const file of readdirSync(join(specDir, 'messages')).filter((f) => f.endsWith('.json')).sort()) {
    const area = readJson(join(specDir, 'messages', file)) as AreaSpec;
    check(`messages/${file}`, 'messageArea', area);
    area.file = `messages/${file}`;
    areas.push(area);
  }
  if (problems.length) throw new SpecError(problems);

  const prose = readFileSync(join(specDir, 'protocol.md'), 'utf8');
  const { sections, statements } = parseProse(prose);
  const sectionSlugs = new Set(sections.map((s) => s.slug));

  const messages: MessageSpec[] = areas.flatMap((a) => a.messages.map((m) => ({ ...m, area: a.area, section: a.section })));
  messages.sort((a, b) => a.code - b.code);
  const byName = new Map<string, MessageSpec>();
  const byCode = new Map<number, MessageSpec>();
  for (const m of messages) {
    if (byName.has(m.name)) problems.push(`message name ${m.name} appears twice`);
    if (byCode.has(m.code)) problems.push(`message code ${m.code} is used by ${byCode.get(m.code)!.name} and ${m.name}`);
    byName.set(m.name, m);
    byCode.set(m.code, m);
  }
  const errorNames = new Set(errors.errors.map((e) => e.name));
  const errorIds = new Set<number>();
  for (const e of errors.errors) {
    if (errorIds.has(e.id)) problems.push(`error id ${e.id} appears twice`);
    errorIds.add(e.id);
    if (!sectionSlugs.has(e.section)) problems.push(`error ${e.name}: section ${e.section} is not in protocol.md`);
  }
  if (errorNames.size !== errors.errors.length) problems.push('an error name appears twice');
  for (const m of messages) {
    if (m.response !== null && !byName.has(m.response)) problems.push(`${m.name}: response ${m.response} is not a message`);
    if (m.kind === 'request' && m.response === null) problems.push(`${m.name}: a request needs a response type`);
    if (m.kind !== 'request' && m.response !== null) problems.push(`${m.name}: only requests have a response type`);
    for (const e of m.errors) if (!errorNames.has(e)) problems.push(`${m.name}: error ${e} is not in errors.json`);
    if (!sectionSlugs.has(m.section)) problems.push(`${m.name}: section ${m.section} is not in protocol.md`);
    if (m.payload === null && m.examples.some((x) => x !== null)) problems.push(`${m.name}: a type without payload has non-null examples`);
  }
  for (const l of limits.limits) {
    if (l.default < l.min || l.default > l.max) problems.push(`limit ${l.name}: default outside [min, max]`);
    if (!sectionSlugs.has(l.section)) problems.push(`limit ${l.name}: section ${l.section} is not in protocol.md`);
  }
  framing.encodings.forEach((e, i) => {
    if (e.value !== i) problems.push(`framing.json: encoding ${e.name} has value ${e.value}, expected ${i} (values are list positions)`);
    if ((e.value & ~framing.encoding_mask) !== 0) problems.push(`framing.json: encoding ${e.name} does not fit encoding_mask`);
  });
  if ((framing.encoding_mask & framing.reserved_flags_mask) !== 0 || (framing.encoding_mask | framing.reserved_flags_mask) !== 0xff) {
    problems.push('framing.json: encoding_mask and reserved_flags_mask must split the flags byte');
  }
  const prefixEnd = Math.max(...framing.body_prefix.map((f) => f.offset + f.bytes));
  if (prefixEnd !== framing.body_prefix_bytes) problems.push(`framing.json: body_prefix fields end at ${prefixEnd}, body_prefix_bytes is ${framing.body_prefix_bytes}`);
  if (!sectionSlugs.has(framing.section)) problems.push(`framing.json: section ${framing.section} is not in protocol.md`);
  for (const t of transports.transports) {
    if (!sectionSlugs.has(t.section)) problems.push(`transport ${t.name}: section ${t.section} is not in protocol.md`);
  }
  const seen = new Set<string>();
  for (const s of statements) {
    if (seen.has(s.id)) problems.push(`statement ${s.id} appears twice in protocol.md`);
    seen.add(s.id);
    if (!s.keyword) problems.push(`statement ${s.id} has no RFC 2119 keyword`);
  }
  const byId = new Map(statements.map((s) => [s.id, s]));
  const waived = new Set<string>();
  for (const w of waiverFile.waivers) {
    const s = byId.get(w.id);
    if (!s) problems.push(`waivers.json: ${w.id} is not a statement of protocol.md`);
    else if (s.level !== 'required') problems.push(`waivers.json: ${w.id} is ${s.level}; only required statements are waived`);
    if (waived.has(w.id)) problems.push(`waivers.json: ${w.id} is waived twice`);
    waived.add(w.id);
  }
  if (problems.length) throw new SpecError(problems);

  const versionMatch = /^# .*version (\d+\.\d+)/m.exec(prose);
  if (!versionMatch) throw new SpecError(['protocol.md: the title must name the protocol version ("# ... version MAJOR.MINOR")']);
  for (const m of messages) problems.push(...laterFieldProblems(m, defs.$defs, versionMatch[1]!));
  if (problems.length) throw new SpecError(problems);
  return {
    protocolVersion: versionMatch[1]!,
    messages,
    areas,
    errorFile: errors,
    limitFile: limits,
    ndarray,
    framing,
    transportFile: transports,
    defsFile: defs,
    sections,
    statements,
    waivers: waiverFile.waivers,
    prose,
  };
}
