/**
 * Generates the protocol reference in docs/protocol/: an index (catalog, errors, limits, transports,
 * ndarray layout), one page per message area and the statements of spec/protocol.md. Every page is
 * built once as a small document model and rendered twice, to Markdown and to self-contained HTML,
 * so the two formats cannot drift. Example frames come from the generated fixtures.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BANNER } from './gen-ts.js';
import { ROOT_DIR } from './load.js';
import type { AreaSpec, JsonSchema, MessageSpec, SpecModel } from './model.js';

// ---- Document model ----

/** A link target: a generated page (without extension; '' = this page) and an anchor. */
interface Ref { page: string; anchor?: string }
interface Span { text: string; code?: boolean; href?: Ref }
type Inline = Span[];
type Block =
  | { t: 'h'; level: 2 | 3; text: Inline; id?: string }
  | { t: 'p'; text: Inline }
  | { t: 'list'; items: Inline[] }
  | { t: 'table'; head: string[]; rows: { id?: string; cells: Inline[] }[] }
  | { t: 'pre'; text: string; lang?: string; cls?: string };
interface Page { name: string; title: string; nav: string; blocks: Block[] }

const T = (text: string): Span => ({ text });
const C = (text: string): Span => ({ text, code: true });
const L = (text: string, href: Ref, code = false): Span => ({ text, href, code });
/** Text whose `backtick` spans are code. */
const rich = (s: string): Inline => s.split(/`([^`]*)`/).map((part, i) => (i % 2 ? C(part) : T(part))).filter((x) => x.text !== '');
const joined = (parts: Inline[], sep = ', '): Inline => parts.flatMap((p, i) => (i ? [T(sep), ...p] : p));
const p = (...text: Span[]): Block => ({ t: 'p', text });
const h = (level: 2 | 3, text: string, id?: string): Block => ({ t: 'h', level, text: [T(text)], ...(id ? { id } : {}) });
const table = (head: string[], rows: (Inline[] | { id?: string; cells: Inline[] })[]): Block =>
  ({ t: 'table', head, rows: rows.map((r) => (Array.isArray(r) ? { cells: r } : r)) });

// ---- Markdown rendering ----

const mdEscape = (s: string): string => s.replace(/[\\`*_[\]<>|&]/g, (c) => (c === '&' ? '&amp;' : `\\${c}`)).replace(/^([#+-])/, '\\$1');
function mdCode(s: string): string {
  const fence = '`'.repeat(Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length)) + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}
const href = (r: Ref, ext: string): string => `${r.page ? r.page + ext : ''}${r.anchor ? `#${r.anchor}` : ''}`;
function mdInline(spans: Inline, inTable = false): string {
  return spans.map((s) => {
    let text = s.code ? mdCode(s.text.replace(/\s+/g, ' ')) : mdEscape(inTable ? s.text.replace(/\s+/g, ' ') : s.text);
    if (s.code && inTable) text = text.replace(/\|/g, '\\|');
    return s.href ? `[${text}](${href(s.href, '.md')})` : text;
  }).join('');
}
const anchor = (id?: string): string => (id ? `<a id="${id}"></a>` : '');

function renderMarkdown(page: Page, pages: Page[]): string {
  const nav = pages.map((x) => (x.name === page.name ? `**${x.nav}**` : `[${x.nav}](${x.name}.md)`)).join(' · ');
  const out = [`<!-- ${BANNER} -->`, '', nav, '', `# ${mdEscape(page.title)}`];
  for (const b of page.blocks) {
    out.push('');
    if (b.t === 'h') out.push(`${'#'.repeat(b.level)} ${anchor(b.id)}${mdInline(b.text)}`);
    else if (b.t === 'p') out.push(mdInline(b.text));
    else if (b.t === 'list') out.push(...b.items.map((i) => `- ${mdInline(i)}`));
    else if (b.t === 'pre') {
      const fence = '`'.repeat(Math.max(3, ...(b.text.match(/`+/g) ?? []).map((r) => r.length + 1)));
      out.push(`${fence}${b.lang ?? ''}`, b.text, fence);
    } else {
      out.push(`| ${b.head.map((x) => mdEscape(x)).join(' | ')} |`, `|${b.head.map(() => '---|').join('')}`);
      for (const r of b.rows) out.push(`| ${r.cells.map((c, i) => (i === 0 ? anchor(r.id) : '') + (mdInline(c, true) || ' ')).join(' | ')} |`);
    }
  }
  return `${out.join('\n')}\n`;
}

// ---- HTML rendering ----

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const htmlInline = (spans: Inline): string => spans.map((s) => {
  const text = s.code ? `<code>${esc(s.text)}</code>` : esc(s.text);
  return s.href ? `<a href="${esc(href(s.href, '.html'))}">${text}</a>` : text;
}).join('');
const idAttr = (id?: string): string => (id ? ` id="${esc(id)}"` : '');

const STYLE = `
body { margin: 0; color: #1f2328; background: #fff; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
nav { background: #24292f; padding: .55rem 1.5rem; }
nav a { color: #d0d7de; margin-right: 1.1rem; text-decoration: none; white-space: nowrap; }
nav a:hover, nav a.here { color: #fff; text-decoration: underline; }
main { max-width: 76rem; margin: 0 auto; padding: .5rem 1.5rem 4rem; }
h1 { font-size: 1.9rem; margin: 1.2rem 0 .6rem; }
h2 { font-size: 1.4rem; margin-top: 2.4rem; padding-bottom: .25rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.1rem; margin-top: 1.6rem; }
a { color: #0969da; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0 1.1rem; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
tr:nth-child(even) td { background: #fbfcfd; }
:target, tr:target td { background: #fff8c5 !important; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
code { background: #eff1f3; padding: .05em .3em; border-radius: 4px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .75rem 1rem; overflow-x: auto; line-height: 1.4; }
pre code { background: none; padding: 0; }
pre.hex { background: #fdfdf8; }
footer { color: #57606a; font-size: 13px; margin-top: 3rem; }
`;

function renderHtml(page: Page, pages: Page[]): string {
  const body: string[] = [];
  for (const b of page.blocks) {
    if (b.t === 'h') body.push(`<h${b.level}${idAttr(b.id)}>${htmlInline(b.text)}</h${b.level}>`);
    else if (b.t === 'p') body.push(`<p>${htmlInline(b.text)}</p>`);
    else if (b.t === 'list') body.push(`<ul>\n${b.items.map((i) => `<li>${htmlInline(i)}</li>`).join('\n')}\n</ul>`);
    else if (b.t === 'pre') body.push(`<pre${b.cls ? ` class="${b.cls}"` : ''}><code>${esc(b.text)}</code></pre>`);
    else {
      const head = `<thead><tr>${b.head.map((x) => `<th>${esc(x)}</th>`).join('')}</tr></thead>`;
      const rows = b.rows.map((r) => `<tr${idAttr(r.id)}>${r.cells.map((c) => `<td>${htmlInline(c)}</td>`).join('')}</tr>`);
      body.push(`<div class="scroll"><table>\n${head}\n<tbody>\n${rows.join('\n')}\n</tbody></table></div>`);
    }
  }
  const nav = pages.map((x) => `<a href="${x.name}.html"${x.name === page.name ? ' class="here"' : ''}>${esc(x.nav)}</a>`).join('\n');
  return `<!DOCTYPE html>
<!-- ${BANNER} -->
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<nav>
${nav}
</nav>
<main>
<h1>${esc(page.title)}</h1>
${body.join('\n')}
<footer>${esc(BANNER)}</footer>
</main>
</body>
</html>
`;
}

// ---- Content ----

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;
const yesNo = (b: boolean): Inline => [T(b ? 'yes' : 'no')];
const msgRef = (m: MessageSpec): Ref => ({ page: m.area, anchor: m.name.toLowerCase() });
const errRef = (name: string): Ref => ({ page: 'index', anchor: `error-${name.toLowerCase()}` });

interface Ctx { spec: SpecModel; byName: Map<string, MessageSpec>; slugs: Set<string>; vectors: Vector[]; coverage: Map<string, CoverageRow> }

function sectionLink(ctx: Ctx, slug: string): Inline {
  return ctx.slugs.has(slug) ? [L(slug, { page: 'statements', anchor: slug }, true)] : [C(slug)];
}
function msgLink(ctx: Ctx, name: string | null): Inline {
  const m = name === null ? undefined : ctx.byName.get(name);
  return m ? [L(m.name, msgRef(m), true)] : [T(name ?? '—')];
}

// Payload fields: walk a schema into rows of (path, type, required, constraints, description).

function resolve(ctx: Ctx, node: JsonSchema): { s: JsonSchema; def?: string } {
  const ref = typeof node['$ref'] === 'string' ? /^#\/\$defs\/(.+)$/.exec(node['$ref']) : null;
  const target = ref ? ctx.spec.defsFile.$defs[ref[1]!] : undefined;
  if (!ref || !target) return { s: node };
  const { $ref: _ignored, ...rest } = node;
  return { s: { ...target, ...rest }, def: ref[1]! };
}
const isObj = (x: unknown): x is JsonSchema => typeof x === 'object' && x !== null && !Array.isArray(x);
const range = (lo: unknown, hi: unknown, what: string): string | undefined =>
  lo !== undefined && hi !== undefined ? `${what} ${lo}..${hi}` : lo !== undefined ? `${what} ≥ ${lo}` : hi !== undefined ? `${what} ≤ ${hi}` : undefined;

function typeOf(s: JsonSchema, def?: string): Inline {
  const nd = s['ndarray'];
  let out: Inline;
  if (isObj(nd)) out = [T(`ndarray ${(nd['dtypes'] as string[]).join('|')}${nd['ndim'] !== undefined ? ` ndim ${nd['ndim']}` : ''}`)];
  else if (typeof s['int64'] === 'string') out = [T(`${s['int64']} (decimal string in JSON)`)];
  else {
    const t = s['type'];
    out = [T(Array.isArray(t) ? t.join(' | ') : typeof t === 'string' ? t : 'any')];
    if (def) out.push(T(` (${def})`));
    if (s['float32'] === true) out.push(T(' (float32)'));
    if (Array.isArray(s['enum'])) out.push(T(', one of '), ...joined(s['enum'].map((v) => [C(String(v))]), ' | '));
    if (s['const'] !== undefined) out.push(T(', always '), C(JSON.stringify(s['const'])));
    return out;
  }
  if (def) out.push(T(` (${def})`));
  return out;
}

function constraintsOf(s: JsonSchema): Inline {
  const parts: Inline[] = [];
  const add = (x: string | undefined): void => { if (x) parts.push([T(x)]); };
  if (s['exclusiveMinimum'] !== undefined) add(`> ${s['exclusiveMinimum']}`);
  if (s['exclusiveMaximum'] !== undefined) add(`< ${s['exclusiveMaximum']}`);
  add(range(s['minimum'], s['maximum'], 'value'));
  add(range(s['minLength'], s['maxLength'], 'length'));
  if (s['maxBytes'] !== undefined) add(`at most ${s['maxBytes']} bytes of UTF-8`);
  if (typeof s['pattern'] === 'string') parts.push([T('pattern '), C(s['pattern'])]);
  add(range(s['minItems'], s['maxItems'], 'items'));
  if (s['uniqueItems'] === true) add('unique items');
  add(range(s['minProperties'], s['maxProperties'], 'keys'));
  const names = s['propertyNames'];
  if (isObj(names) && typeof names['pattern'] === 'string') parts.push([T('keys match '), C(names['pattern'])]);
  if (s['additionalProperties'] === true && isObj(s['properties'])) add('other keys allowed');
  if (s['additionalProperties'] === false) add('unknown fields refused');
  const nd = s['ndarray'];
  if (isObj(nd)) {
    if (Array.isArray(nd['shape'])) add(`shape [${nd['shape'].map((d) => (d === null ? '*' : String(d))).join(', ')}]`);
    add(range(nd['minSize'], nd['maxSize'], 'size'));
  }
  if (s['default'] !== undefined) parts.push([T('default '), C(JSON.stringify(s['default']))]);
  if (typeof s['since'] === 'string') add(`since ${s['since']}: not sent on a session of an earlier version (VER-3)`);
  return joined(parts, '; ');
}

function walk(ctx: Ctx, node: JsonSchema, path: string, req: string, rows: Inline[][], depth: number): void {
  const { s, def } = resolve(ctx, node);
  if (path) rows.push([[C(path)], typeOf(s, def ?? (typeof s['title'] === 'string' ? s['title'] : undefined)), [T(req)], constraintsOf(s), rich(String(s['description'] ?? ''))]);
  if (depth > 8) return;
  const props = s['properties'];
  const required = Array.isArray(s['required']) ? (s['required'] as string[]) : [];
  if (isObj(props)) {
    for (const [k, v] of Object.entries(props)) if (isObj(v)) walk(ctx, v, path ? `${path}.${k}` : k, required.includes(k) ? 'yes' : 'no', rows, depth + 1);
  }
  if (isObj(s['additionalProperties'])) walk(ctx, s['additionalProperties'], `${path}.*`, '—', rows, depth + 1);
  if (isObj(s['items'])) walk(ctx, s['items'], `${path}[]`, '—', rows, depth + 1);
}

// Example frames: the first valid JSON vector of the type in fixtures/frames/valid.json.

interface Vector { id?: string; kind?: string; message?: string; hex?: string; decoded?: { encoding?: string; header?: unknown; payload?: unknown } }

function readVectors(earlier: Map<string, string>): Vector[] {
  const text = earlier.get('fixtures/frames/valid.json');
  if (text === undefined) return [];
  try {
    const doc = JSON.parse(text) as { vectors?: unknown };
    return Array.isArray(doc.vectors) ? (doc.vectors.filter(isObj) as Vector[]) : [];
  } catch {
    return [];
  }
}

const FIELD_MARKS: [string, string][] = [['LN', 'length prefix (u32 big-endian)'], ['TY', 'type'], ['FL', 'flags'], ['HL', 'hlen (u16 big-endian)'], ['hd', 'header (JSON)'], ['pl', 'payload']];
const MAX_DUMP = 4096;

/** The hex dump with an annotation line wherever a field starts, and a table of the byte ranges. */
function frameBlocks(ctx: Ctx, v: Vector): Block[] {
  const bytes = Uint8Array.from(Buffer.from(v.hex ?? '', 'hex'));
  const n = bytes.length;
  const u32 = n >= 4 ? ((bytes[0]! << 24) >>> 0) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]! : -1;
  const prefix = v.kind === 'frame' || (v.kind === undefined && u32 === n - 4) ? 4 : 0;
  const hlen = n >= prefix + 4 ? (bytes[prefix + 2]! << 8) | bytes[prefix + 3]! : 0;
  const bounds = [0, prefix, prefix + 1, prefix + 2, prefix + 4, Math.min(n, prefix + 4 + hlen), n].map((x) => Math.min(x, n));
  const markOf = (i: number): number => bounds.findIndex((b, k) => k < 6 && i >= b && i < bounds[k + 1]!);
  const lines = ['offset    00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f'];
  for (let off = 0; off < Math.min(n, MAX_DUMP); off += 16) {
    const row = [...bytes.subarray(off, Math.min(off + 16, n))];
    const cols = (f: (b: number, i: number) => string): string => row.map((b, i) => (i === 8 ? ' ' : '') + f(b, off + i)).join(' ');
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${cols((b) => b.toString(16).padStart(2, '0')).padEnd(48)}  |${ascii}|`);
    if (row.some((_, i) => off + i === 0 || markOf(off + i) !== markOf(off + i - 1))) lines.push(`          ${cols((_, i) => FIELD_MARKS[markOf(i)]![0])}`);
  }
  if (n > MAX_DUMP) lines.push(`... ${n - MAX_DUMP} more bytes`);
  const type = bytes[prefix] ?? 0;
  const flags = bytes[prefix + 1] ?? 0;
  const span = (k: number): string => (bounds[k + 1]! - bounds[k]! <= 1 ? `${bounds[k]}` : `${bounds[k]}–${bounds[k + 1]! - 1}`);
  const rows: Inline[][] = [];
  if (prefix) rows.push([[T(span(0))], [T('LN length prefix')], [T(`${u32} (body length)`)]]);
  rows.push([[T(span(1))], [T('TY type')], [T(`${hex2(type)} `), ...msgLink(ctx, v.message ?? null)]]);
  rows.push([[T(span(2))], [T('FL flags')], [T(`${hex2(flags)}: encoding ${['json', 'cbor', 'reserved', 'reserved'][flags & 3]}, reserved bits ${flags >> 2}`)]]);
  rows.push([[T(span(3))], [T('HL hlen')], [T(String(hlen))]]);
  rows.push([[T(span(4))], [T('hd header')], [T(`${hlen} bytes of JSON`)]]);
  rows.push([[T(bounds[6]! > bounds[5]! ? span(5) : '—')], [T('pl payload')], [T(bounds[6]! > bounds[5]! ? `${n - bounds[5]!} bytes, ${v.decoded?.encoding ?? 'json'} encoding` : 'empty')]]);
  const payload = v.decoded?.payload;
  return [
    p(T('Fixture vector '), C(v.id ?? '?'), T(' of '), C('fixtures/frames/valid.json'), T(`, ${n} bytes. Marks: ${FIELD_MARKS.map(([m, what]) => `${m} ${what}`).join(', ')}.`)),
    { t: 'pre', text: lines.join('\n'), cls: 'hex' },
    table(['bytes', 'field', 'value'], rows),
    p(T('Decoded header:')),
    { t: 'pre', text: JSON.stringify(v.decoded?.header ?? null, null, 2), lang: 'json' },
    p(T(payload === null || payload === undefined ? 'Decoded payload: none (this type carries no payload).' : 'Decoded payload (typed-JSON notation of the fixtures):')),
    ...(payload === null || payload === undefined ? [] : [{ t: 'pre', text: JSON.stringify(payload, null, 2), lang: 'json' } as Block]),
  ];
}

function messageBlocks(ctx: Ctx, m: MessageSpec): Block[] {
  const id = m.name.toLowerCase();
  const answers = ctx.spec.messages.filter((x) => x.response === m.name);
  const defaultTimeout = ctx.spec.limitFile.limits.find((l) => l.name === 'request_timeout_ms')?.default;
  const timeout = m.kind !== 'request' ? '—' : m.timeout_ms !== undefined ? `${m.timeout_ms} ms` : `default (request_timeout_ms${defaultTimeout !== undefined ? `, ${defaultTimeout} ms` : ''})`;
  const facts: [string, Inline][] = [
    ['kind', [T(m.kind)]], ['level', [T(m.level)]], ['since', [T(m.since)]],
    ['directions', [T(m.directions.join(', '))]], ['sender roles', [T(m.sender.join(', '))]], ['receiver roles', [T(m.receiver.join(', '))]],
    ['response', m.response === null ? [T('none')] : msgLink(ctx, m.response)],
    ...(answers.length ? [['answers', joined(answers.map((a) => msgLink(ctx, a.name)))] as [string, Inline]] : []),
    ['timeout', [T(timeout)]],
    ['errors', m.errors.length ? joined(m.errors.map((e) => [L(e, errRef(e), true)])) : [T('none')]],
    ['spec section', sectionLink(ctx, m.section)],
  ];
  const rows: Inline[][] = [];
  const root = m.payload === null ? undefined : resolve(ctx, m.payload);
  if (m.payload !== null) walk(ctx, m.payload, '', '', rows, 0);
  const vector = ctx.vectors.find((v) => v.message === m.name && v.decoded?.encoding === 'json' && typeof v.hex === 'string');
  return [
    { t: 'h', level: 2, text: [T(`${m.name} (${hex2(m.code)})`)], id },
    p(...rich(m.summary)),
    table(['property', 'value'], facts.map(([k, v]) => [[T(k)], v])),
    h(3, 'Payload', `${id}-payload`),
    ...(root?.def ? [p(T('A '), C(root.def), T(': '), ...rich(String(root.s['description'] ?? '')))] : []),
    m.payload === null ? p(T('No payload: the body ends after the header.'))
      : rows.length ? table(['field', 'type', 'required', 'constraints', 'description'], rows) : p(T('An empty object.')),
    ...(m.payload !== null && root?.s['additionalProperties'] === false
      ? [p(T('The payload object refuses unknown fields, as does every object marked "unknown fields refused": a key the table does not list is answered with '), L('SCHEMA_VIOLATION', errRef('SCHEMA_VIOLATION'), true), T(', '), C('details.rule'), T(' '), C('additionalProperties'), T(', '), C('details.path'), T(' the unknown key\'s own pointer (for example '), C('/unknown_field'), T(').'))]
      : []),
    h(3, 'Example frame', `${id}-example`),
    ...(vector ? frameBlocks(ctx, vector) : [p(T('(no example frame)'))]),
  ];
}

/** Areas in the order of their lowest type code (system first). */
function areasInOrder(spec: SpecModel): AreaSpec[] {
  const low = (a: AreaSpec): number => Math.min(...a.messages.map((m) => m.code));
  return [...spec.areas].sort((a, b) => low(a) - low(b) || a.area.localeCompare(b.area));
}

function areaPage(ctx: Ctx, area: AreaSpec): Page {
  const messages = ctx.spec.messages.filter((m) => m.area === area.area);
  return {
    name: area.area, nav: area.title, title: `${area.title} (${area.area})`,
    blocks: [
      p(...rich(area.description)),
      p(T('Spec section: '), ...sectionLink(ctx, area.section), T(`. ${messages.length} message types:`)),
      { t: 'list', items: messages.map((m) => [L(`${m.name} (${hex2(m.code)})`, { page: '', anchor: m.name.toLowerCase() }), T(` — ${m.kind}`)]) },
      ...messages.flatMap((m) => messageBlocks(ctx, m)),
    ],
  };
}

function indexPage(ctx: Ctx): Page {
  const { spec } = ctx;
  const nd = spec.ndarray;
  const limitSection = (slug: string): Inline => sectionLink(ctx, slug);
  const counts = spec.sections.map((s) => ({ s, list: spec.statements.filter((x) => x.section === s.slug) })).filter((x) => x.list.length);
  const level = (list: typeof spec.statements, l: string): string => String(list.filter((x) => x.level === l).length);
  return {
    name: 'index', nav: 'Index', title: `Concord protocol ${spec.protocolVersion} reference`,
    blocks: [
      p(T(`The Concord wire protocol, version ${spec.protocolVersion}, as the machine-readable spec in `), C('spec/'), T(' states it. The normative prose is '), C('spec/protocol.md'), T('; its numbered statements are listed in '), L('Statements', { page: 'statements' }), T('.')),
      h(2, 'Message areas', 'areas'),
      { t: 'list', items: areasInOrder(spec).map((a) => [L(a.title, { page: a.area }), T(` (${spec.messages.filter((m) => m.area === a.area).length} types): `), ...rich(a.description)]) },
      h(2, 'Message types', 'messages'),
      table(['code', 'name', 'kind', 'directions', 'response', 'area', 'level', 'since'], spec.messages.map((m) => [
        [C(hex2(m.code))], msgLink(ctx, m.name), [T(m.kind)], [T(m.directions.join(', '))], m.response === null ? [T('—')] : msgLink(ctx, m.response),
        [L(m.area, { page: m.area })], [T(m.level)], [T(m.since)],
      ])),
      h(2, 'Error registry', 'errors'),
      p(...rich(spec.errorFile.description)),
      table(['id', 'name', 'definite', 'closes', 'section', 'meaning'], spec.errorFile.errors.map((e) => ({
        id: errRef(e.name).anchor, cells: [[T(String(e.id))], [C(e.name)], yesNo(e.definite), yesNo(e.closes), sectionLink(ctx, e.section), rich(e.meaning)],
      }))),
      h(2, 'Limits', 'limits'),
      p(...rich(spec.limitFile.description)),
      table(['name', 'default', 'unit', 'range', 'announced', 'section', 'meaning'], spec.limitFile.limits.map((l) => ({
        id: `limit-${l.name}`, cells: [[C(l.name)], [T(String(l.default))], [T(l.unit)], [T(`${l.min}..${l.max}`)], yesNo(l.announced), limitSection(l.section), rich(l.meaning)],
      }))),
      h(2, 'Transports', 'transports'),
      p(...rich(spec.transportFile.description)),
      table(['name', 'framing', 'address', 'default address', 'section', 'summary'], spec.transportFile.transports.map((t) => [
        [C(t.name)], [T(t.framing)], [C(t.address)], t.default_address ? [C(t.default_address)] : [T('—')], sectionLink(ctx, t.section), rich(t.summary),
      ])),
      h(2, 'ndarray layout', 'ndarray'),
      p(...rich(nd.description), T(' Section: '), ...sectionLink(ctx, nd.section), T('.')),
      { t: 'pre', text: nd.fields.map((f) => (f.count ? `${f.name}[${f.count}]` : f.length ? `${f.name}(${f.length} bytes)` : f.name)).join(' | ') },
      table(['#', 'field', 'type', 'count / length', 'meaning'], nd.fields.map((f, i) => [
        [T(String(i + 1))], [C(f.name)], [T(f.type)], f.count ? [T('count '), C(f.count)] : f.length ? [T('length '), C(f.length)] : [T('—')], rich(f.meaning),
      ])),
      p(T(`At most ${nd.max_ndim} dimensions; dtype strings at most ${nd.max_dtype_len} bytes. In JSON an array is an object with the single key `), C(nd.json_wrapper),
        T(` holding base64 of the layout; in CBOR it is a byte string under tag ${nd.cbor_tag}.`)),
      table(['byte order', 'meaning'], Object.entries(nd.byte_orders).map(([k, v]) => [[C(k)], [T(v)]])),
      table(['dtype', 'kind', 'itemsize', 'codes'], nd.dtypes.map((d) => [[C(d.name)], [C(d.kind)], [T(String(d.itemsize))], joined(d.codes.map((c) => [C(c)]))])),
      table(['rule (INVALID_ARRAY details.rule)', 'meaning'], nd.rules.map((r) => [[C(r.name)], rich(r.meaning)])),
      h(2, 'Statements per section', 'statements'),
      counts.length
        ? table(['section', 'title', 'statements', 'required', 'recommended', 'informational'], counts.map(({ s, list }) => [
          sectionLink(ctx, s.slug), [T(s.title)], [T(String(list.length))], [T(level(list, 'required'))], [T(level(list, 'recommended'))], [T(level(list, 'informational'))],
        ]))
        : p(C('spec/protocol.md'), T(' has no numbered statements yet.')),
    ],
  };
}

function statementsPage(ctx: Ctx): Page {
  const { spec } = ctx;
  return {
    name: 'statements', nav: 'Statements', title: 'Normative statements',
    blocks: [
      p(T(`${spec.statements.length} numbered statements of `), C('spec/protocol.md'), T(', grouped by section. The level follows the RFC 2119 keyword: MUST is required, SHOULD recommended, MAY informational.')),
      ...spec.sections.flatMap((s): Block[] => {
        const list = spec.statements.filter((x) => x.section === s.slug);
        return [
          { t: 'h', level: 2, text: [T(`${s.title} `), C(s.slug)], id: s.slug },
          list.length ? table(['id', 'level', 'statement', 'checked by'], list.map((x) => ({ id: x.id, cells: [[C(x.id)], [T(x.level)], rich(x.text), checkedBy(ctx.coverage.get(x.id))] }))) : p(T('No numbered statements.')),
        ];
      }),
    ],
  };
}

// ---- Coverage: which cases, vectors and reference tests check each statement ----

interface CoverageRow { id: string; level: string; section: string; cases: string[]; vectors: string[]; tests: string[]; waiver: string | null }

/** Statement ids cited in the reference implementation's own tests (names and comments), per test file. */
function referenceTests(known: Set<string>, root = ROOT_DIR): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts')) {
        const file = relative(root, p);
        for (const id of new Set(readFileSync(p, 'utf8').match(/\b[A-Z]{2,6}-[0-9]+\b/g) ?? [])) {
          if (known.has(id)) out.set(id, [...(out.get(id) ?? []), file]);
        }
      }
    }
  };
  walk(join(root, 'reference'));
  return out;
}

/**
 * The harness's cases come from conformance/ (imported here, not at module load, so the spec tools
 * do not load the harness unless docs are generated); vectors from the fixtures generated in this
 * run (`earlier`) and the hand-written ones on disk.
 */
async function coverageRows(spec: SpecModel, earlier: Map<string, string>): Promise<Map<string, CoverageRow>> {
  const { coverageMatrix, allCases, fixtureVectors } = await import('../../conformance/coverage.js');
  const generated = [...earlier].filter(([f]) => f.startsWith('fixtures/') && f.endsWith('.json') && f !== 'fixtures/index.json');
  const vectors = [
    ...generated.flatMap(([, text]) => ((JSON.parse(text) as { vectors?: { id: string; spec: string[] }[] }).vectors ?? [])),
    ...(existsSync(join(ROOT_DIR, 'fixtures')) ? fixtureVectors(join(ROOT_DIR, 'fixtures')) : []).filter((v) => !generated.some(([, text]) => text.includes(`"id": "${v.id}"`))),
  ];
  const matrix = coverageMatrix({ statements: spec.statements, cases: allCases(), vectors, waivers: spec.waivers });
  const tests = referenceTests(new Set(spec.statements.map((s) => s.id)));
  return new Map(matrix.map((r) => [r.id, { ...r, tests: tests.get(r.id) ?? [] }]));
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function checkedBy(row: CoverageRow | undefined): Inline {
  if (!row) return [T('—')];
  const detail = row.cases.length || row.vectors.length || row.tests.length;
  const ref = { page: 'coverage', anchor: `cov-${row.id.toLowerCase()}${detail ? '-detail' : ''}` };
  if (row.cases.length) return [L(plural(row.cases.length, 'case'), ref)];
  if (row.waiver !== null) return [L('waived', ref)];
  return [L('no case', ref)];
}

function coveragePage(ctx: Ctx): Page {
  const rows = [...ctx.coverage.values()];
  const required = rows.filter((r) => r.level === 'required');
  const withCase = required.filter((r) => r.cases.length).length;
  const waived = required.filter((r) => !r.cases.length && r.waiver !== null).length;
  const sections = [...new Set(rows.map((r) => r.section))];
  const list = (ids: string[]): Inline => (ids.length ? joined(ids.map((x) => [C(x)])) : [T('none')]);
  return {
    name: 'coverage', nav: 'Coverage', title: 'Statement coverage',
    blocks: [
      p(T(`${withCase} of ${required.length} required statements have a conformance case, ${waived} are waived (`), C('spec/waivers.json'), T(`), ${required.length - withCase - waived} have neither. Only a case counts as covered: a vector counts through the case that runs it, and a reference test checks only the reference implementation. `), C('npx conformance coverage --json'), T(' prints the same matrix.')),
      h(2, 'Required statements per section', 'per-section'),
      table(['section', 'required', 'with a case', 'waived', 'neither'], sections.map((s) => {
        const req = required.filter((r) => r.section === s);
        const c = req.filter((r) => r.cases.length).length;
        const w = req.filter((r) => !r.cases.length && r.waiver !== null).length;
        return [[L(s, { page: 'statements', anchor: s }, true)], [T(String(req.length))], [T(String(c))], [T(String(w))], [T(String(req.length - c - w))]];
      }).filter((r) => r[1]![0]!.text !== '0')),
      h(2, 'Statements', 'statements'),
      table(['id', 'level', 'cases', 'vectors', 'reference tests', 'waiver'], rows.map((r) => ({ id: `cov-${r.id.toLowerCase()}`, cells: [
        [L(r.id, { page: 'statements', anchor: r.id }, true)], [T(r.level)], [T(String(r.cases.length))], [T(String(r.vectors.length))], [T(String(r.tests.length))], r.waiver === null ? [T('')] : rich(r.waiver),
      ] }))),
      h(2, 'Cases, vectors and reference tests of each statement', 'detail'),
      ...rows.filter((r) => r.cases.length || r.vectors.length || r.tests.length).flatMap((r): Block[] => [
        { t: 'h', level: 3, text: [C(r.id)], id: `cov-${r.id.toLowerCase()}-detail` },
        { t: 'list', items: [[T('cases: '), ...list(r.cases)], [T('vectors: '), ...list(r.vectors)], [T('reference tests: '), ...list(r.tests)]] },
      ]),
    ],
  };
}

/** Stage-2 entry point: docs/protocol/*.md and *.html. */
export async function generate(spec: SpecModel, earlier: Map<string, string>): Promise<Map<string, string>> {
  const ctx: Ctx = { spec, byName: new Map(spec.messages.map((m) => [m.name, m])), slugs: new Set(spec.sections.map((s) => s.slug)), vectors: readVectors(earlier), coverage: await coverageRows(spec, earlier) };
  const pages = [indexPage(ctx), ...areasInOrder(spec).map((a) => areaPage(ctx, a)), statementsPage(ctx), coveragePage(ctx)];
  const out = new Map<string, string>();
  for (const page of pages) {
    out.set(`docs/protocol/${page.name}.md`, renderMarkdown(page, pages));
    out.set(`docs/protocol/${page.name}.html`, renderHtml(page, pages));
  }
  return out;
}
