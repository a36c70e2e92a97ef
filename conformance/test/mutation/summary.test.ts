/**
 * The mutation summary (summary.ts) on small Stryker-shaped reports: its counts and scores, survivors
 * grouped by mutator class and file, reports merged mutant by mutant (and into a summary published
 * before), malformed reports refused, and its output valid against reports/mutation-summary.schema.json.
 * write-summary.ts end to end: the fold into a base, and a report of an older source rebased, refused
 * while incomplete (with the lines to run again), then completed by a run over those lines.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { summarize, ReportFormatError, type MutantStatus, type MutationSummary, type StrykerMutant } from './summary.js';
import { currentMutants, mutateRanges, type CurrentMutant } from './current-mutants.js';

const META = { date: '2026-12-02T17:00:00.000Z', commit: '0123456789abcdef0123456789abcdef01234567' };
const schema = JSON.parse(readFileSync(new URL('../../../reports/mutation-summary.schema.json', import.meta.url), 'utf8')) as object;

let nextId = 0;
const mutant = (status: MutantStatus, mutatorName = 'ConditionalExpression', line = 1): StrykerMutant =>
  ({ id: String(nextId++), mutatorName, status, replacement: 'true', location: { start: { line, column: 4 }, end: { line, column: 8 } } });
/** A report of `files`, each mutated in `sources` (by default, an empty text). */
const report = (files: Record<string, StrykerMutant[]>, sources: Record<string, string> = {}): unknown =>
  ({ schemaVersion: '1.0', files: Object.fromEntries(Object.entries(files).map(([f, mutants]) => [f, { language: 'typescript', source: sources[f] ?? '', mutants }])) });

describe('the mutation summary', () => {
  const sample = report({
    'reference/broker/a.ts': [mutant('Killed'), mutant('Killed'), mutant('Timeout'), mutant('Survived', 'StringLiteral', 7), mutant('Ignored')],
    'reference/broker/b.ts': [mutant('Killed'), mutant('NoCoverage', 'StringLiteral', 3), mutant('Survived', 'EqualityOperator', 9), mutant('CompileError')],
  });

  it('counts every status and scores killed and timed-out mutants among the valid ones', () => {
    const s = summarize([{ label: 'sample', report: sample }], META);
    expect(s.counts).toEqual({ Killed: 3, Survived: 2, NoCoverage: 1, Timeout: 1, CompileError: 1, RuntimeError: 0, Ignored: 1, Pending: 0 });
    expect(s.score).toBe(57.14); // 4 of 7 (Ignored and CompileError are not valid mutants)
    expect(s.score_of_covered).toBe(66.67); // 4 of 6
    expect(s.files).toEqual(['reference/broker/a.ts', 'reference/broker/b.ts']);
    expect({ date: s.date, commit: s.commit }).toEqual(META);
  });

  it('groups survivors by mutator class, then file, saying which no case reached', () => {
    const s = summarize([{ label: 'sample', report: sample }], META);
    expect(Object.keys(s.survivors).sort()).toEqual(['EqualityOperator', 'StringLiteral']);
    expect(s.survivors['StringLiteral']).toEqual({
      'reference/broker/a.ts': [{ line: 7, column: 4, end: { line: 7, column: 8 }, replacement: 'true', status: 'Survived' }],
      'reference/broker/b.ts': [{ line: 3, column: 4, end: { line: 3, column: 8 }, replacement: 'true', status: 'NoCoverage' }],
    });
  });

  it('merges overlapping reports mutant by mutant: a mutant killed in either run counts as killed', () => {
    const first = report({
      'reference/broker/a.ts': [mutant('Survived', 'ConditionalExpression', 1), mutant('NoCoverage', 'ConditionalExpression', 2), mutant('Killed', 'ConditionalExpression', 3)],
      'reference/broker/c.ts': [mutant('Killed')],
    });
    const second = report({
      'reference/broker/a.ts': [mutant('Killed', 'ConditionalExpression', 1), mutant('Survived', 'ConditionalExpression', 2), mutant('Survived', 'ConditionalExpression', 3), mutant('NoCoverage', 'StringLiteral', 4)],
    });
    const s = summarize([{ label: 'first', report: first }, { label: 'second', report: second }], META);
    // a.ts line 1 killed by the second run, line 2 reached by it, line 3 killed by the first, line 4 only in the second
    expect(s.counts).toMatchObject({ Killed: 3, Survived: 1, NoCoverage: 1 });
    expect(s.survivors['ConditionalExpression']).toEqual({ 'reference/broker/a.ts': [{ line: 2, column: 4, end: { line: 2, column: 8 }, replacement: 'true', status: 'Survived' }] });
    expect(s.score).toBe(60);
  });

  it('keeps two mutants of one report at one place with one replacement apart', () => {
    const twice = report({ 'reference/broker/a.ts': [mutant('Survived', 'BlockStatement', 5), mutant('Killed', 'BlockStatement', 5)] });
    expect(summarize([{ label: 'twice', report: twice }], META).counts).toMatchObject({ Killed: 1, Survived: 1 });
  });

  it('tells mutants with one start and one replacement apart by their end, whichever report holds which', () => {
    // `a && b && c` made true (ends at 20) and `a && b` made true (ends at 12): a run over part of the
    // scope that holds the second alone kills the second, not the first
    const ending = (status: MutantStatus, column: number): StrykerMutant => ({ ...mutant(status), location: { start: { line: 5, column: 4 }, end: { line: 5, column } } });
    const whole = report({ 'reference/broker/a.ts': [ending('Survived', 20), ending('Survived', 12)] });
    const part = report({ 'reference/broker/a.ts': [ending('Killed', 12)] });
    const s = summarize([{ label: 'whole', report: whole }, { label: 'part', report: part }], META);
    expect(s.counts).toMatchObject({ Killed: 1, Survived: 1 });
    expect(s.survivors['ConditionalExpression']).toEqual({ 'reference/broker/a.ts': [{ line: 5, column: 4, end: { line: 5, column: 20 }, replacement: 'true', status: 'Survived' }] });
  });

  it('folds a run over part of the scope into a summary published before: only its survivors can change', () => {
    const published = summarize([{ label: 'whole', report: report({
      'reference/broker/a.ts': [mutant('Killed', 'ConditionalExpression', 1), mutant('Survived', 'ConditionalExpression', 2), mutant('NoCoverage', 'ConditionalExpression', 3), mutant('NoCoverage', 'ConditionalExpression', 4)],
    }) }], META);
    const part = report({
      // line 1: killed in the base, survives here (the base's detection stands); 2 killed; 3 reached; 4 unchanged
      'reference/broker/a.ts': [mutant('Survived', 'ConditionalExpression', 1), mutant('Killed', 'ConditionalExpression', 2), mutant('Survived', 'ConditionalExpression', 3), mutant('NoCoverage', 'ConditionalExpression', 4)],
      'reference/broker/cluster/n.ts': [mutant('Killed'), mutant('Survived', 'StringLiteral', 8)],
    });
    const s = summarize([{ label: 'part', report: part }], META, published);
    expect(s.counts).toMatchObject({ Killed: 3, Survived: 2, NoCoverage: 1 });
    expect(s.files).toEqual(['reference/broker/a.ts', 'reference/broker/cluster/n.ts']);
    expect(s.survivors).toEqual({
      ConditionalExpression: { 'reference/broker/a.ts': [{ line: 3, column: 4, end: { line: 3, column: 8 }, replacement: 'true', status: 'Survived' }, { line: 4, column: 4, end: { line: 4, column: 8 }, replacement: 'true', status: 'NoCoverage' }] },
      StringLiteral: { 'reference/broker/cluster/n.ts': [{ line: 8, column: 4, end: { line: 8, column: 8 }, replacement: 'true', status: 'Survived' }] },
    });
    expect(s.score).toBe(50);
    // the same fold again changes nothing
    expect(summarize([{ label: 'part', report: part }], META, s)).toEqual(s);
  });

  it('scores an empty scope 0 rather than dividing by zero', () => {
    expect(summarize([{ label: 'empty', report: report({}) }], META).score).toBe(0);
  });

  it.each([
    ['not an object', null, /no "files" object/],
    ['no files', { schemaVersion: '1.0' }, /no "files" object/],
    ['a later schema', { schemaVersion: '2.0', files: {} }, /schemaVersion 2\.0/],
    ['an unknown status', report({ 'x.ts': [{ ...mutant('Killed'), status: 'Zombie' as MutantStatus }] }), /unknown status Zombie/],
    ['a mutant without its end', report({ 'x.ts': [{ ...mutant('Killed'), location: { start: { line: 1, column: 4 } } } as StrykerMutant] }), /mutant \d+ has no start and end location/],
  ])('refuses %s with a ReportFormatError naming the report', (_what, bad, message) => {
    expect(() => summarize([{ label: 'bad.json', report: bad }], META)).toThrow(ReportFormatError);
    expect(() => summarize([{ label: 'bad.json', report: bad }], META)).toThrow(message);
    expect(() => summarize([{ label: 'bad.json', report: bad }], META)).toThrow(/^bad\.json: /);
  });

  it('writes summaries valid against reports/mutation-summary.schema.json, which refuses a wrong one', () => {
    const validate = new Ajv({ allErrors: true }).compile(schema);
    const s = summarize([{ label: 'sample', report: sample }], META);
    expect(validate(s), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...s, score: 101 })).toBe(false);
    expect(validate({ ...s, commit: 'HEAD' })).toBe(false);
  });

  it.each(['summary.json', 'summary-cluster.json'])('publishes reports/mutation/%s valid against the schema', (name) => {
    const validate = new Ajv({ allErrors: true }).compile(schema);
    const published = JSON.parse(readFileSync(new URL(`../../../reports/mutation/${name}`, import.meta.url), 'utf8')) as unknown;
    expect(validate(published), JSON.stringify(validate.errors)).toBe(true);
  });
});

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('write-summary --base (a part of the scope folded into the summary published before)', () => {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  // The first commit of the repository: the broker's sources have changed since.
  const first = spawnSync('git', ['rev-list', '--max-parents=0', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim().split('\n')[0]!;
  const run = (dir: string, base: unknown): { status: number | null; stderr: string; out: MutationSummaryLike | undefined } => {
    writeFileSync(join(dir, 'base.json'), JSON.stringify(base));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'conformance/test/mutation/write-summary.ts'), '--out', join(dir, 'out.json'), '--base', join(dir, 'base.json'), join(dir, 'part.json')], { cwd: root, encoding: 'utf8' });
    let out: MutationSummaryLike | undefined;
    try {
      out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as MutationSummaryLike;
    } catch {
      out = undefined;
    }
    return { status: r.status, stderr: r.stderr, out };
  };
  interface MutationSummaryLike { counts: { Killed: number; Survived: number }; commit: string }
  const file = 'reference/broker/frames.ts';
  const baseAt = (commit: string): unknown => summarize([{ label: 'whole', report: report({ [file]: [mutant('Survived', 'ConditionalExpression', 2)] }) }], { ...META, commit });

  it('folds the part in when the base\'s sources are unchanged, and refuses (exit 65) when they changed or it is not a summary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-summary-'));
    try {
      writeFileSync(join(dir, 'part.json'), JSON.stringify(report({ [file]: [mutant('Killed', 'ConditionalExpression', 2)] }, { [file]: readFileSync(join(root, file), 'utf8') })));
      const folded = run(dir, baseAt(head));
      expect(folded.status, folded.stderr).toBe(0);
      expect(folded.out?.counts).toMatchObject({ Killed: 1, Survived: 0 });
      expect(folded.out?.commit).toBe(head);
      rmSync(join(dir, 'out.json'));
      const stale = run(dir, baseAt(first));
      expect(stale.status).toBe(65);
      expect(stale.stderr).toContain('changed since its commit');
      expect(stale.out).toBeUndefined();
      const invalid = run(dir, { score: 'high' });
      expect(invalid.status).toBe(65);
      expect(invalid.stderr).toContain('not a valid summary');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('write-summary over a changed source: rebased, then checked complete', () => {
  const file = 'reference/broker/slab.ts';
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'conformance/test/mutation/write-summary.ts'), ...args], { cwd: root, encoding: 'utf8' });

  it('refuses (exit 65) while a current mutant is in no report, --plan names its lines, and a run over them completes it', async () => {
    const source = readFileSync(join(root, file), 'utf8');
    const current = await currentMutants(file, source);
    const asReport = (mutants: CurrentMutant[], mutated: string): unknown =>
      report({ [file]: mutants.map((c, i) => ({ id: String(i), status: 'Killed', ...c })) }, { [file]: mutated });
    // The old run mutated a source that differed on one line: the mutants spanning it are dropped.
    const changed = current.find((c) => c.location.start.line === c.location.end.line)!.location.start.line;
    const oldSource = source.split('\n').map((l, i) => (i + 1 === changed ? `${l} // since edited` : l)).join('\n');
    const onChanged = current.filter((c) => c.location.start.line <= changed && changed <= c.location.end.line);
    expect(onChanged.length).toBeGreaterThan(0);
    const ranges = mutateRanges(file, onChanged);
    expect(ranges[0]).toMatch(new RegExp(`^${file}:\\d+-\\d+$`));
    const dir = mkdtempSync(join(tmpdir(), 'concord-summary-'));
    try {
      const old = join(dir, 'old.json');
      const rerun = join(dir, 'rerun.json');
      const out = join(dir, 'out.json');
      writeFileSync(old, JSON.stringify(asReport(current, oldSource)));
      writeFileSync(rerun, JSON.stringify(asReport(onChanged, source)));
      const incomplete = run('--out', out, old);
      expect(incomplete.status, incomplete.stderr).toBe(65);
      expect(incomplete.stderr).toContain(`${onChanged.length} mutants of the current sources are unmeasured`);
      expect(incomplete.stderr).toContain(`npx stryker run stryker.config.mjs --mutate ${ranges.join(',')}`);
      expect(incomplete.stderr).toContain(`${current.length - onChanged.length} mutants carried, ${onChanged.length} dropped`);
      expect(() => readFileSync(out)).toThrow();
      const plan = run('--plan', old);
      expect(plan.status, plan.stderr).toBe(0);
      expect(plan.stdout).toBe(ranges.map((r) => `stryker.config.mjs ${r}\n`).join(''));
      const complete = run('--out', out, old, rerun);
      expect(complete.status, complete.stderr).toBe(0);
      const summary = JSON.parse(readFileSync(out, 'utf8')) as MutationSummary;
      expect(summary.counts.Killed).toBe(current.length);
      expect(summary.rebased).toEqual([{ report: old, file, carried: current.length - onChanged.length, dropped: onChanged.length }]);
      expect(run('--plan', old, rerun).stdout).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('write-summary over reports made before kills were confirmed (--unconfirmed)', () => {
  const file = 'reference/broker/slab.ts';
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'conformance/test/mutation/write-summary.ts'), ...args], { cwd: root, encoding: 'utf8' });
  const CLUSTER_TESTS = 'conformance/test/mutation/cluster-cases.mutation.ts';
  const BROKER_TESTS = 'conformance/test/mutation/broker-cases.mutation.ts';

  it('counts their survivors, owes a run of the same tests for each of their kills, and takes the verdict of that run', async () => {
    const source = readFileSync(join(root, file), 'utf8');
    const current = await currentMutants(file, source);
    expect(current.length).toBeGreaterThan(3);
    const statusOf = (i: number): MutantStatus => (i === 0 ? 'Survived' : 'Killed');
    const asReport = (mutants: CurrentMutant[], status: (i: number) => MutantStatus, tests: string): unknown => ({
      ...(report({ [file]: mutants.map((c, i) => ({ id: String(i), status: status(i), ...c })) }, { [file]: source }) as object),
      testFiles: { [tests]: { tests: [] } },
    });
    const dir = mkdtempSync(join(tmpdir(), 'concord-unconfirmed-'));
    try {
      const old = join(dir, 'old.json');
      const oldCluster = join(dir, 'old-cluster.json');
      const again = join(dir, 'again.json');
      const out = join(dir, 'out.json');
      // The single broker's old run: the first mutant survived, the rest were killed. The cluster's killed the last.
      writeFileSync(old, JSON.stringify(asReport(current, statusOf, BROKER_TESTS)));
      writeFileSync(oldCluster, JSON.stringify(asReport(current.slice(-1), () => 'Killed', CLUSTER_TESTS)));
      const plan = run('--plan', '--unconfirmed', old, '--unconfirmed', oldCluster);
      expect(plan.status, plan.stderr).toBe(0);
      const lines = plan.stdout.trim().split('\n');
      // One exact range per mutant killed, in the config of the tests that killed it.
      expect(lines.filter((l) => l.startsWith('stryker.config.mjs '))).toHaveLength(current.length - 1);
      expect(lines.filter((l) => l.startsWith('stryker.cluster.config.mjs '))).toHaveLength(1);
      const { start, end } = current[1]!.location;
      expect(lines).toContain(`stryker.config.mjs ${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`);
      const incomplete = run('--out', out, '--unconfirmed', old, '--unconfirmed', oldCluster);
      expect(incomplete.status).toBe(65);
      expect(incomplete.stderr).toContain(`${current.length - 1} mutants of the current sources are unmeasured`);
      // Before the runs owed, a lower bound: every unconfirmed kill counted a survivor.
      const lower = run('--out', out, '--count-doubted', 'survived', '--unconfirmed', old, '--unconfirmed', oldCluster);
      expect(lower.status, lower.stderr).toBe(0);
      const bound = JSON.parse(readFileSync(out, 'utf8')) as MutationSummary;
      expect(bound.counts).toMatchObject({ Killed: 0, Survived: current.length });
      expect(bound.doubted).toMatchObject({ mutants: current.length - 1, counted_as: 'Survived' });
      expect(Object.values(bound.doubted!.sites).flatMap((byFile) => byFile[file] ?? [])).toHaveLength(current.length - 1);
      expect(new Ajv({ allErrors: true }).validate(schema, bound)).toBe(true);
      // And an upper bound: every unconfirmed kill counted.
      expect(run('--out', out, '--count-doubted', 'killed', '--unconfirmed', old, '--unconfirmed', oldCluster).status).toBe(0);
      const upper = JSON.parse(readFileSync(out, 'utf8')) as MutationSummary;
      expect(upper.counts).toMatchObject({ Killed: current.length - 1, Survived: 1 });
      expect(upper.doubted).toMatchObject({ mutants: current.length - 1, counted_as: 'Killed' });
      expect(new Ajv({ allErrors: true }).validate(schema, upper)).toBe(true);
      expect(run('--out', out, '--count-doubted', 'maybe', old).status).toBe(64);
      // The confirmed run of the single broker's tests: the second mutant survives now; the last is killed,
      // which settles the cluster's kill too.
      writeFileSync(again, JSON.stringify(asReport(current.slice(1), (i) => (i === 0 ? 'Survived' : 'Killed'), BROKER_TESTS)));
      const complete = run('--out', out, '--unconfirmed', old, '--unconfirmed', oldCluster, again);
      expect(complete.status, complete.stderr).toBe(0);
      const summary = JSON.parse(readFileSync(out, 'utf8')) as MutationSummary;
      expect(summary.counts).toMatchObject({ Killed: current.length - 2, Survived: 2 });
      expect(summary.doubted).toBeUndefined();
      // A confirmed run whose timeouts are doubted: the timed-out mutant is owed again, its kills stand.
      const timedOut = join(dir, 'timed-out.json');
      writeFileSync(timedOut, JSON.stringify(asReport(current, (i) => (i === 1 ? 'Timeout' : 'Killed'), BROKER_TESTS)));
      const owedTimeout = run('--plan', '--unconfirmed-timeouts', timedOut);
      expect(owedTimeout.stdout).toBe(`stryker.config.mjs ${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}\n`);
      expect(run('--out', out, '--unconfirmed-timeouts', timedOut, again).status).toBe(0);
      expect((JSON.parse(readFileSync(out, 'utf8')) as MutationSummary).counts).toMatchObject({ Killed: current.length - 1, Survived: 1, Timeout: 0 });
      // Without the old runs, the confirmed one alone lacks the first mutant.
      expect(run('--plan', again).stdout).not.toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
