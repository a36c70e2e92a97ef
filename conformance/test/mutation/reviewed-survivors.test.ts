/**
 * The survivors classed by review (reviewed-survivors.ts): an entry applies only while its line reads as
 * reviewed, never over a rule, and the committed list names survivors of the published summary only,
 * each with a known reason.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReviewedList, ReviewedListError, type ReviewedSurvivors } from './reviewed-survivors.js';
import { withClasses } from './survivor-classes.js';
import type { MutationSummary } from './summary.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const FILE = 'reference/broker/sample.ts';
const LINES = ['function f(conn: any): void {', '  if (conn.ready && conn.open) conn.go();', "  conn.log.info('went');", '}'];
/** `conn.ready` made true; `conn.ready && conn.open` made true starts there too, and ends at column 30. */
const site = { mutatorName: 'ConditionalExpression', line: 2, column: 7, end: { line: 2, column: 17 }, replacement: 'true' };
const whole = { ...site, end: { line: 2, column: 30 } };
/** `s` on line `line`, as when lines were added above it. */
const movedTo = (s: typeof site, line: number) => ({ ...s, line, end: { line, column: s.end.column } });

function list(overrides: Partial<ReviewedSurvivors> = {}): ReviewedSurvivors {
  return {
    reasons: {
      'sample-ready-always': { class: 'equivalent', text: 'conn.ready is always true when f runs, so the guard never skips go()' },
      'sample-log-field': { class: 'out-of-reach', text: '[log] only the log line changes' },
    },
    mutants: [{ file: FILE, line: 2, column: 7, end: { line: 2, column: 17 }, mutator: 'ConditionalExpression', replacement: 'true', source: 'if (conn.ready && conn.open) conn.go();', reason: 'sample-ready-always' }],
    ...overrides,
  };
}

describe('a reviewed list', () => {
  it('classes the survivor it names while its line reads as reviewed, wherever edits above move that line, and no other', () => {
    const reviewed = new ReviewedList(list());
    expect(reviewed.reviewOf(FILE, site, LINES)).toEqual({ id: 'reviewed:sample-ready-always', class: 'equivalent', reason: expect.stringContaining('conn.ready') });
    expect(reviewed.reviewOf(FILE, movedTo(site, 3), ['// a line added above', ...LINES])?.id).toBe('reviewed:sample-ready-always');
    const changed = LINES.map((l, i) => (i === 1 ? '  if (conn.ready && conn.open && conn.up) conn.go();' : l));
    expect(reviewed.reviewOf(FILE, site, changed)).toBeUndefined();
    expect(reviewed.reviewOf(FILE, { ...site, replacement: 'false' }, LINES)).toBeUndefined();
    expect(reviewed.reviewOf(FILE, { ...site, column: 8 }, LINES)).toBeUndefined();
    expect(reviewed.reviewOf(FILE, whole, LINES)).toBeUndefined(); // one start and replacement, another end
    expect(reviewed.reviewOf('reference/broker/other.ts', site, LINES)).toBeUndefined();
    expect(reviewed.stale(() => ['// a line added above', ...LINES].join('\n'))).toEqual([]);
    expect(reviewed.stale(() => changed.join('\n')).map((m) => m.line)).toEqual([2]);
  });

  it('holds a text found on several lines at its own line only', () => {
    const twice = [...LINES, '  if (conn.ready && conn.open) conn.go();'];
    const reviewed = new ReviewedList(list());
    expect(reviewed.reviewOf(FILE, site, twice)?.id).toBe('reviewed:sample-ready-always');
    expect(reviewed.reviewOf(FILE, movedTo(site, 5), twice)).toBeUndefined();
    expect(reviewed.stale(() => twice.join('\n'))).toEqual([]);
    expect(reviewed.stale(() => ['', ...twice].join('\n')).map((m) => m.line)).toEqual([2]);
  });

  it('tells the mutants with one start and replacement apart by their end, and refuses a mutant listed twice', () => {
    const [entry] = list().mutants;
    const reasons = { ...list().reasons, 'sample-open-always': { class: 'equivalent' as const, text: 'conn.open is always true when conn.ready is, so the whole guard is' } };
    const both = new ReviewedList(list({ reasons, mutants: [entry!, { ...entry!, end: { line: 2, column: 30 }, reason: 'sample-open-always' }] }));
    expect([site, whole].map((s) => both.reviewOf(FILE, s, LINES)?.id)).toEqual(['reviewed:sample-ready-always', 'reviewed:sample-open-always']);
    expect(both.reviewOf(FILE, movedTo(whole, 3), ['', ...LINES])?.id).toBe('reviewed:sample-open-always');
    expect(() => new ReviewedList(list({ mutants: [entry!, { ...entry! }] }))).toThrow(/listed twice/);
  });

  it('refuses an unknown reason and an out-of-reach reason without its kind', () => {
    const [entry] = list().mutants;
    expect(() => new ReviewedList(list({ mutants: [{ ...entry!, reason: 'nowhere' }] }))).toThrow(ReviewedListError);
    expect(() => new ReviewedList(list({ reasons: { ...list().reasons, 'sample-vague': { class: 'out-of-reach', text: 'nobody can see this one anyway' } } }))).toThrow(/starts with its kind/);
  });

  it("counts a review in the summary's classes, after the rules", () => {
    const summary: MutationSummary = {
      score: 50, score_of_covered: 50, date: '2026-12-06T00:00:00.000Z', commit: '0'.repeat(40), files: [FILE],
      counts: { Killed: 2, Timeout: 0, Survived: 2, NoCoverage: 0, CompileError: 0, RuntimeError: 0, Ignored: 0, Pending: 0 },
      survivors: {
        ConditionalExpression: { [FILE]: [{ line: 2, column: 7, end: { line: 2, column: 17 }, replacement: 'true', status: 'Survived' }] },
        StringLiteral: { [FILE]: [{ line: 3, column: 17, end: { line: 3, column: 23 }, replacement: '""', status: 'Survived' }] },
      },
    };
    const logLine = { file: FILE, line: 3, column: 17, end: { line: 3, column: 23 }, mutator: 'StringLiteral', replacement: '""', source: "conn.log.info('went');", reason: 'sample-log-field' };
    const classed = withClasses(summary, () => LINES.join('\n'), new ReviewedList(list({ mutants: [...list().mutants, logLine] })));
    expect(classed.survivors['ConditionalExpression']![FILE]![0]!.rule).toBe('reviewed:sample-ready-always');
    expect(classed.survivors['StringLiteral']![FILE]![0]!.rule).toBe('log-line'); // the rule, not the review
    expect(classed.classes?.['reviewed:sample-ready-always']).toEqual({ class: 'equivalent', reason: expect.any(String), survivors: 1 });
    expect(classed.score_of_non_equivalent).toBe(100);
  });
});

describe('the committed review (reviewed-survivors.json)', () => {
  const reviewed = ReviewedList.read();
  const summary = JSON.parse(readFileSync(join(root, 'reports/mutation/summary.json'), 'utf8')) as MutationSummary;
  const known = spawnSync('git', ['cat-file', '-e', `${summary.commit}^{commit}`], { cwd: root }).status === 0;
  if (!known) process.stdout.write(`reviewed-survivors.test: the summary's commit ${summary.commit} is not in this clone (shallow?); the review's lines are not rechecked\n`);

  it('uses every reason it gives', () => {
    const used = new Set(reviewed.list.mutants.map((m) => m.reason));
    expect(Object.keys(reviewed.list.reasons).filter((r) => !used.has(r))).toEqual([]);
  });

  // The review is of the code the published figure measured: edits since then leave it alone, and the
  // next whole run's summary drops (and this test then names) the entries whose lines changed.
  it.runIf(known)("names lines that read as reviewed in the sources of the published summary's commit", () => {
    const stale = reviewed.stale((file) => execFileSync('git', ['show', `${summary.commit}:${file}`], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
    expect(stale.map((m) => `${m.file}:${m.line}: ${m.source}`)).toEqual([]);
  });

  // A mutant the figure counts killed only on an unconfirmed run's word (`doubted`, counted as killed) is
  // still a survivor for the review, until a confirmed run of its tests measures it.
  it('names only survivors of the published summary (a mutant killed since leaves the list)', () => {
    const keyOf = (file: string, mutator: string, s: { line: number; column: number; end: { line: number; column: number }; replacement: string }) =>
      `${file}:${s.line}:${s.column}-${s.end.line}:${s.end.column} ${mutator} -> ${s.replacement}`;
    const survived = new Set<string>();
    const doubtedKills = summary.doubted?.counted_as === 'Killed' ? summary.doubted.sites : {};
    for (const [mutator, files] of [...Object.entries(summary.survivors), ...Object.entries(doubtedKills)]) {
      for (const [file, list] of Object.entries(files)) for (const s of list) survived.add(keyOf(file, mutator, s));
    }
    expect(reviewed.list.mutants.map((m) => keyOf(m.file, m.mutator, m)).filter((key) => !survived.has(key))).toEqual([]);
  });
});
