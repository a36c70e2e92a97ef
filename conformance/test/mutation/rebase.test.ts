/**
 * Results carried across a source change (rebase.ts, summary.ts with current sources) and the
 * completeness check (current-mutants.ts): a mutant on unchanged lines moves with the lines around it,
 * one whose lines changed is dropped, a report of the current source merges as it is, and a current
 * mutant no report holds is found and named by its lines.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { changedLines, rebaseMutant, unchangedLines, type Span } from './rebase.js';
import { mergeReports, summarize, type MutantStatus, type StrykerMutant } from './summary.js';
import { currentMutants, mutateRanges, unmeasured, type CurrentMutant } from './current-mutants.js';

const META = { date: '2026-12-02T17:00:00.000Z', commit: '0123456789abcdef0123456789abcdef01234567' };
const lines = (...ls: string[]): string => ls.map((l) => `${l}\n`).join('');
const span = (from: number, to: number, column = 3): Span => ({ start: { line: from, column }, end: { line: to, column: column + 5 } });

const OLD = lines('function f(a) {', '  if (a > 1) {', '    return a;', '  }', '  return 0;', '}');

describe('unchangedLines and changedLines (a line diff by jsdiff)', () => {
  it('maps each unchanged line to its new line, and names the inserted ones', () => {
    const inserted = lines('// one', '// two', ...OLD.trimEnd().split('\n'));
    const map = unchangedLines(OLD, inserted);
    expect([...map]).toEqual([[1, 3], [2, 4], [3, 5], [4, 6], [5, 7], [6, 8]]);
    expect([...changedLines(inserted, map)]).toEqual([1, 2]);
  });

  it('leaves a changed line out of the map', () => {
    const changed = OLD.replace('return 0;', 'return -1;');
    const map = unchangedLines(OLD, changed);
    expect(map.has(5)).toBe(false);
    expect(map.get(6)).toBe(6);
    expect([...changedLines(changed, map)]).toEqual([5]);
  });

  it('is one to one, strictly increasing and maps a line to the same text, for any edit', () => {
    const line = fc.constantFrom('{', '}', 'a;', 'b;', 'return x;', '');
    // A source, and a few edits of it (lines removed, inserted or both at a place): mostly equal hunks.
    const edit = fc.record({ at: fc.nat(), remove: fc.nat({ max: 3 }), insert: fc.array(line, { maxLength: 3 }) });
    fc.assert(fc.property(fc.array(line, { maxLength: 40 }), fc.array(edit, { maxLength: 4 }), (before, edits) => {
      const after = [...before];
      for (const e of edits) after.splice(e.at % (after.length + 1), e.remove, ...e.insert);
      const oldSource = lines(...before);
      const newSource = lines(...after);
      const map = unchangedLines(oldSource, newSource);
      const pairs = [...map].sort(([a], [b]) => a - b);
      for (let i = 1; i < pairs.length; i++) expect(pairs[i]![1]).toBeGreaterThan(pairs[i - 1]![1]);
      for (const [o, n] of pairs) expect(after[n - 1]).toBe(before[o - 1]);
      const changed = changedLines(newSource, map);
      // every new line is either an unchanged line's image or changed, never both
      expect(changed.size + map.size).toBe(after.length);
      for (const n of map.values()) expect(changed.has(n)).toBe(false);
      if (oldSource === newSource) expect(map.size).toBe(before.length);
    }));
  });
});

describe('rebaseMutant', () => {
  const mutant = (location: Span) => ({ id: '1', mutatorName: 'ConditionalExpression', location });

  it('moves a mutant on unchanged lines with the lines inserted above it, columns kept', () => {
    const map = unchangedLines(OLD, lines('// one', '// two', ...OLD.trimEnd().split('\n')));
    expect(rebaseMutant(mutant(span(2, 2, 7)), map)?.location).toEqual({ start: { line: 4, column: 7 }, end: { line: 4, column: 12 } });
    expect(rebaseMutant(mutant(span(2, 4, 14)), map)?.location).toEqual({ start: { line: 4, column: 14 }, end: { line: 6, column: 19 } });
  });

  it('drops a mutant on a changed line', () => {
    const map = unchangedLines(OLD, OLD.replace('a > 1', 'a >= 1'));
    expect(rebaseMutant(mutant(span(2, 2)), map)).toBeUndefined();
    expect(rebaseMutant(mutant(span(3, 3)), map)).toEqual(mutant(span(3, 3)));
  });

  it('drops a mutant whose span holds a changed line, or lines inserted between its own', () => {
    const changedInside = unchangedLines(OLD, OLD.replace('return a;', 'return a + 1;'));
    expect(rebaseMutant(mutant(span(2, 4)), changedInside)).toBeUndefined(); // the block of the `if`
    expect(rebaseMutant(mutant(span(1, 6)), changedInside)).toBeUndefined(); // the function's body
    expect(rebaseMutant(mutant(span(5, 5)), changedInside)?.location.start.line).toBe(5);
    const insertedInside = unchangedLines(OLD, OLD.replace('    return a;\n', '    return a;\n    log(a);\n'));
    expect(insertedInside.get(3)).toBe(3);
    expect(insertedInside.get(4)).toBe(5);
    expect(rebaseMutant(mutant(span(2, 4)), insertedInside)).toBeUndefined();
    expect(rebaseMutant(mutant(span(5, 5)), insertedInside)?.location.start.line).toBe(6);
  });
});

describe('summarize with the current sources', () => {
  const FILE = 'reference/broker/x.ts';
  let nextId = 0;
  const m = (status: MutantStatus, location: Span, mutatorName = 'ConditionalExpression'): StrykerMutant =>
    ({ id: String(nextId++), mutatorName, status, replacement: 'true', location });
  const report = (source: string, mutants: StrykerMutant[]): unknown => ({ schemaVersion: '1.0', files: { [FILE]: { language: 'typescript', source, mutants } } });
  const NEW = lines('// added', ...OLD.replace('return 0;', 'return -1;').trimEnd().split('\n'));
  const current = (file: string): string | undefined => (file === FILE ? NEW : undefined);

  it('merges a report of the current source as it is', () => {
    const now = report(NEW, [m('Killed', span(3, 3)), m('Survived', span(6, 6))]);
    const withReader = summarize([{ label: 'now', report: now }], META, undefined, current);
    expect(withReader).toEqual(summarize([{ label: 'now', report: now }], META));
    expect(withReader.rebased).toBeUndefined();
    expect(withReader.survivors['ConditionalExpression']).toEqual({ [FILE]: [{ line: 6, column: 3, end: { line: 6, column: 8 }, replacement: 'true', status: 'Survived' }] });
  });

  it('carries an older report\'s mutants on unchanged lines, drops the rest, and a new run over the changed lines completes it', () => {
    // old lines 2 (if), 3 (return a), 2-4 (the if's block) are unchanged and move down one; 5 changed; 1-6 spans it
    const old = report(OLD, [m('Killed', span(2, 2)), m('Survived', span(3, 3)), m('Killed', span(2, 4), 'BlockStatement'), m('Survived', span(5, 5)), m('NoCoverage', span(1, 6), 'BlockStatement')]);
    const rerun = report(NEW, [m('Killed', span(6, 6)), m('Survived', span(2, 7), 'BlockStatement')]);
    const s = summarize([{ label: 'old.json', report: old }, { label: 'rerun.json', report: rerun }], META, undefined, current);
    expect(s.counts).toMatchObject({ Killed: 3, Survived: 2, NoCoverage: 0 });
    expect(s.score).toBe(60);
    expect(s.rebased).toEqual([{ report: 'old.json', file: FILE, carried: 3, dropped: 2 }]);
    expect(s.survivors).toEqual({
      ConditionalExpression: { [FILE]: [{ line: 4, column: 3, end: { line: 4, column: 8 }, replacement: 'true', status: 'Survived' }] },
      BlockStatement: { [FILE]: [{ line: 2, column: 3, end: { line: 7, column: 8 }, replacement: 'true', status: 'Survived' }] },
    });
  });

  it('keeps none of a file that is gone, and leaves it out', () => {
    const s = summarize([{ label: 'old.json', report: report(OLD, [m('Killed', span(2, 2))]) }], META, undefined, () => undefined);
    expect(s.files).toEqual([]);
    expect(s.counts.Killed).toBe(0);
    expect(s.rebased).toEqual([{ report: 'old.json', file: FILE, carried: 0, dropped: 1 }]);
  });
});

const PICK = 'reference/broker/pick.ts';

describe('the completeness check (current-mutants.ts)', () => {
  const SOURCE = lines('export function pick(a: number, b: number): number {', '  if (a > b) {', '    return a;', '  }', '  return b;', '}');
  const at = (mutatorName: string, replacement: string, from: [number, number], to: [number, number]): CurrentMutant =>
    ({ mutatorName, replacement, location: { start: { line: from[0], column: from[1] }, end: { line: to[0], column: to[1] } } });

  it('enumerates what Stryker\'s instrumenter makes of a source, placed as its JSON report places them', async () => {
    expect(await currentMutants('pick.ts', SOURCE)).toEqual([
      at('BlockStatement', '{}', [1, 52], [6, 2]),
      at('ConditionalExpression', 'true', [2, 7], [2, 12]),
      at('ConditionalExpression', 'false', [2, 7], [2, 12]),
      at('EqualityOperator', 'a >= b', [2, 7], [2, 12]),
      at('EqualityOperator', 'a <= b', [2, 7], [2, 12]),
      at('BlockStatement', '{}', [2, 14], [4, 4]),
    ]);
  });

  it('finds the current mutants no report holds, and names their lines as --mutate ranges', async () => {
    const current = await currentMutants(PICK, SOURCE);
    const measured = (mutants: CurrentMutant[]) => mergeReports([{ label: 'r', report: killedReport(mutants) }]).files.get(PICK)!;
    const innerBlock = current.findIndex((c) => c.mutatorName === 'BlockStatement' && c.location.start.line === 2);
    const lessOrEqual = current.findIndex((c) => c.replacement === 'a <= b');
    const missing = unmeasured(current, measured(current.filter((_, i) => i !== innerBlock && i !== lessOrEqual)));
    expect(missing).toEqual([current[lessOrEqual], current[innerBlock]]);
    expect(mutateRanges(PICK, missing)).toEqual([`${PICK}:2-4`]);
    expect(unmeasured(current, measured(current))).toEqual([]);
  });

  it('counts two mutants at one place with one replacement as two, told apart by their end', () => {
    const twice = [at('BlockStatement', '{}', [3, 5], [3, 9]), at('BlockStatement', '{}', [3, 5], [3, 9])];
    const measured = mergeReports([{ label: 'r', report: killedReport(twice.slice(0, 1)) }]).files.get(PICK)!;
    expect(unmeasured(twice, measured)).toEqual([twice[1]]);
    // `a && b` and `a && b && c` made `true`: a report of the second alone measures the second only
    const nested = [at('ConditionalExpression', 'true', [3, 5], [3, 11]), at('ConditionalExpression', 'true', [3, 5], [3, 16])];
    const measuredWhole = mergeReports([{ label: 'r', report: killedReport(nested.slice(1)) }]).files.get(PICK)!;
    expect(unmeasured(nested, measuredWhole)).toEqual([nested[0]]);
  });

  it('merges ranges that overlap or touch, and keeps apart those that do not', () => {
    const on = (from: number, to: number) => at('X', 'y', [from, 1], [to, 2]);
    expect(mutateRanges('f.ts', [on(10, 10), on(12, 14), on(11, 11), on(13, 13), on(20, 25), on(30, 30)])).toEqual(['f.ts:10-14', 'f.ts:20-25', 'f.ts:30-30']);
    expect(mutateRanges('f.ts', [])).toEqual([]);
  });
});

/** A report that holds `mutants` of PICK as killed. */
function killedReport(mutants: CurrentMutant[]): unknown {
  return { schemaVersion: '1.0', files: { [PICK]: { language: 'typescript', mutants: mutants.map((c, i) => ({ id: String(i), status: 'Killed', ...c })) } } };
}
