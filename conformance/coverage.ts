/**
 * Statement coverage as data: for every statement of spec/protocol.md, the harness cases that check
 * it, the fixture vectors that exercise it and its waiver (spec/waivers.json) if it has one. Only
 * cases count as covered: a vector counts through the case that runs it. `conformance coverage`
 * prints it, `npm run gen` writes it into docs/protocol/, and a test fails on a required statement
 * with neither a case nor a waiver. Importing this module has no side effect.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { STATEMENTS, type Level } from '../spec/generated/catalog.js';
import { SUITES } from './suites.js';
import { repoFile } from '../reference/paths.js';
import type { Case } from './cases/model.js';

export interface StatementCoverage {
  id: string;
  level: Level;
  section: string;
  cases: string[];
  vectors: string[];
  waiver: string | null;
}

export interface CoverageInput {
  statements: readonly { id: string; section: string; level: Level }[];
  cases: readonly Pick<Case, 'id' | 'statements'>[];
  vectors: readonly { id: string; spec: string[] }[];
  waivers: readonly { id: string; reason: string }[];
}

export const STATEMENT_ID = /^[A-Z]{2,6}-[0-9]+$/;

/** The matrix, in the order of the statements in protocol.md; case and vector ids sorted. */
export function coverageMatrix(input: CoverageInput): StatementCoverage[] {
  const cases = new Map<string, Set<string>>();
  const vectors = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, key: string, value: string): void => {
    let set = m.get(key);
    if (!set) m.set(key, (set = new Set()));
    set.add(value);
  };
  for (const c of input.cases) for (const s of c.statements) add(cases, s, c.id);
  for (const v of input.vectors) for (const s of v.spec) if (STATEMENT_ID.test(s)) add(vectors, s, v.id);
  const waivers = new Map(input.waivers.map((w) => [w.id, w.reason]));
  return input.statements.map((s) => ({
    id: s.id, level: s.level, section: s.section,
    cases: [...(cases.get(s.id) ?? [])].sort(),
    vectors: [...(vectors.get(s.id) ?? [])].sort(),
    waiver: waivers.get(s.id) ?? null,
  }));
}

/** Every case of every suite, once (the fifo suite repeats the core cases). */
export function allCases(): Case[] {
  const byId = new Map<string, Case>();
  for (const make of Object.values(SUITES)) for (const c of make()) if (!byId.has(c.id)) byId.set(c.id, c);
  return [...byId.values()];
}

/** Every vector of the fixture files under `dir` (index.json, the schema and vector-less files aside). */
export function fixtureVectors(dir: string): { id: string; spec: string[] }[] {
  const out: { id: string; spec: string[] }[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.json') && e.name !== 'index.json' && e.name !== 'fixture.schema.json') {
        const doc = JSON.parse(readFileSync(p, 'utf8')) as { vectors?: { id: string; spec: string[] }[] };
        if (Array.isArray(doc.vectors)) out.push(...doc.vectors.map((v) => ({ id: v.id, spec: v.spec })));
      }
    }
  };
  walk(dir);
  return out;
}

export function readWaivers(): { id: string; reason: string }[] {
  return (JSON.parse(readFileSync(repoFile('spec/waivers.json'), 'utf8')) as { waivers: { id: string; reason: string }[] }).waivers;
}

/** The matrix of this checkout: its suites, fixtures and waivers. */
export function currentCoverage(): StatementCoverage[] {
  return coverageMatrix({ statements: STATEMENTS, cases: allCases(), vectors: fixtureVectors(repoFile('fixtures')), waivers: readWaivers() });
}

/** Required statements with neither a case nor a waiver. */
export function uncoveredRequired(rows: readonly StatementCoverage[]): string[] {
  return rows.filter((r) => r.level === 'required' && r.cases.length === 0 && r.waiver === null).map((r) => r.id);
}

export interface SectionCoverage { section: string; required: number; with_case: number; waived: number; uncovered: number }

export function coverageBySection(rows: readonly StatementCoverage[]): SectionCoverage[] {
  const out = new Map<string, SectionCoverage>();
  for (const r of rows) {
    if (r.level !== 'required') continue;
    const s = out.get(r.section) ?? { section: r.section, required: 0, with_case: 0, waived: 0, uncovered: 0 };
    s.required++;
    if (r.cases.length) s.with_case++;
    else if (r.waiver !== null) s.waived++;
    else s.uncovered++;
    out.set(r.section, s);
  }
  return [...out.values()];
}

/** The terminal view: a per-section table of required statements, then the uncovered ids. */
export function coverageText(rows: readonly StatementCoverage[]): string {
  const sections = coverageBySection(rows);
  const total = sections.reduce((t, s) => ({ section: 'total', required: t.required + s.required, with_case: t.with_case + s.with_case, waived: t.waived + s.waived, uncovered: t.uncovered + s.uncovered }),
    { section: 'total', required: 0, with_case: 0, waived: 0, uncovered: 0 });
  const head = ['section', 'required', 'with case', 'waived', 'uncovered'];
  const body = [...sections, total].map((s) => [s.section, String(s.required), String(s.with_case), String(s.waived), String(s.uncovered)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  const missing = uncoveredRequired(rows);
  const pct = total.required ? ((100 * total.with_case) / total.required).toFixed(1) : '100.0';
  return [
    line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), '',
    `${total.with_case} of ${total.required} required statements (${pct}%) have a case; ${total.waived} waived; ${missing.length} uncovered`,
    ...(missing.length ? [`uncovered: ${missing.join(' ')}`] : []),
  ].join('\n');
}

/** `conformance coverage [--json]`. */
export function coverageCommand(json: boolean): string {
  const rows = currentCoverage();
  return json ? JSON.stringify({ statements: rows }, null, 2) : coverageText(rows);
}

/** `conformance list --statement ID`: the cases of every suite that check one statement; undefined for an unknown id. */
export function casesOfStatement(id: string): Case[] | undefined {
  if (!STATEMENTS.some((s) => s.id === id)) return undefined;
  return allCases().filter((c) => c.statements.includes(id));
}
