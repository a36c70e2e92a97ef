/**
 * Statement coverage as data (issue 12): every required statement of spec/protocol.md has a
 * conformance case or a waiver with its reason; the matrix counts only cases as covered; statements
 * are named one by one everywhere, never as ranges, so grep finds every place that cites one.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STATEMENTS } from '../../spec/generated/catalog.js';
import { coverageMatrix, currentCoverage, uncoveredRequired, coverageCommand, casesOfStatement, coverageText } from '../coverage.js';
import { repoFile } from '../../reference/paths.js';

describe('statement coverage', () => {
  const rows = currentCoverage();

  it('gives every required statement a case or a waiver', () => {
    const missing = uncoveredRequired(rows);
    expect(missing, `required statements with neither a conformance case nor a waiver in spec/waivers.json: ${missing.join(' ')}`).toEqual([]);
  });

  it('waives only statements that have no case (a waiver is the exception, not a second label)', () => {
    const both = rows.filter((r) => r.waiver !== null && r.cases.length > 0).map((r) => r.id);
    expect(both, `waived statements that have cases: remove their waivers: ${both.join(' ')}`).toEqual([]);
  });

  it('prints the matrix as JSON in the documented shape, one entry per statement', () => {
    const doc = JSON.parse(coverageCommand(true)) as { statements: Record<string, unknown>[] };
    expect(doc.statements.map((s) => s['id'])).toEqual(STATEMENTS.map((s) => s.id));
    for (const s of doc.statements) {
      expect(Object.keys(s).sort()).toEqual(['cases', 'id', 'level', 'section', 'vectors', 'waiver']);
      expect(['required', 'recommended', 'informational']).toContain(s['level']);
      expect(s['waiver'] === null || typeof s['waiver'] === 'string').toBe(true);
    }
    const must = doc.statements.find((s) => s['id'] === 'FRM-2')!;
    const should = doc.statements.find((s) => s['id'] === 'CONV-3')!;
    expect([must['level'], should['level']]).toEqual(['required', 'recommended']);
    expect(must['cases']).toContain('framing/framing-zero-length');
    expect(must['vectors']).toContain('frame/invalid/framing/zero-length');
  });

  it('counts a vector only through a case, and a case for every statement it names', () => {
    const m = coverageMatrix({
      statements: [{ id: 'AA-1', section: 's', level: 'required' }, { id: 'AA-2', section: 's', level: 'required' }, { id: 'AA-3', section: 't', level: 'recommended' }],
      cases: [{ id: 's/one', statements: ['AA-1', 'AA-3'] }],
      vectors: [{ id: 'v/x/only-vector', spec: ['AA-2', 'framing'] }],
      waivers: [],
    });
    expect(m.map((r) => [r.id, r.cases, r.vectors])).toEqual([['AA-1', ['s/one'], []], ['AA-2', [], ['v/x/only-vector']], ['AA-3', ['s/one'], []]]);
    expect(uncoveredRequired(m)).toEqual(['AA-2']);
    expect(coverageText(m)).toContain('uncovered: AA-2');
    const waived = coverageMatrix({ statements: [{ id: 'AA-2', section: 's', level: 'required' }], cases: [], vectors: [], waivers: [{ id: 'AA-2', reason: 'about the spec text' }] });
    expect(uncoveredRequired(waived)).toEqual([]);
  });

  it('lists the cases of one statement across every suite', () => {
    const cases = casesOfStatement('ENC-14')!;
    expect(cases.map((c) => c.id)).toContain('testee/echo/edge/json-integer-as-2.0');
    expect(cases.every((c) => c.statements.includes('ENC-14'))).toBe(true);
    expect(casesOfStatement('NOPE-1')).toBeUndefined();
  });

  it('credits the statements of the vectors a case runs, keeping the case\'s first statement', () => {
    const echo = casesOfStatement('TST-4')!.find((c) => c.id === 'testee/echo/edge/cbor-indefinite-map')!;
    expect(echo.statements[0]).toBe('TST-4');
    expect(echo.statements).toContain('ENC-18');
  });
});

/** Source trees whose comments and case lists cite statements. */
const SOURCE_DIRS = ['conformance', 'reference', 'spec/tools', 'peers'];
const SOURCE_FILE = /\.(ts|mts|py|pm|pl|t|cpp|hpp|h)$/;
/** `BUS-5..7`, `BUS-5-7`, `BUS-5–BUS-7`, `HS-12 to HS-15`: a range hides every id but its ends from grep. */
const RANGE = /\b[A-Z]{2,6}-[0-9]+ ?(?:\.\.\.?|…|-|–|—| to | through )(?:[A-Z]{2,6}-)?[0-9]+\b/;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'build' || e.name.startsWith('.') || e.name === '__pycache__') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (SOURCE_FILE.test(e.name)) out.push(p);
  }
  return out;
}

describe('statements are named one by one', () => {
  it('finds a range in a line that has one, and none in a list', () => {
    for (const range of ['BUS-5..7', 'BUS-5-7', 'REG-4..REG-12', 'HS-12 to HS-15', 'SVC-1–13']) expect(range, range).toMatch(RANGE);
    for (const list of ['BUS-5, BUS-6, BUS-7', 'rules 1-13', 'ENC-17)', 'H-1 2']) expect(list, list).not.toMatch(RANGE);
  });

  it('has no statement range in the sources of conformance/, reference/, spec/tools/ and peers/', () => {
    const root = join(repoFile('package.json'), '..');
    const found: string[] = [];
    for (const dir of SOURCE_DIRS) {
      for (const file of sourceFiles(join(root, dir))) {
        readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
          const m = RANGE.exec(line);
          if (m && file !== fileURLToPath(import.meta.url)) found.push(`${relative(root, file)}:${i + 1}: ${m[0]}`);
        });
      }
    }
    expect(found, `name each statement instead of a range:\n${found.join('\n')}`).toEqual([]);
  });
});
