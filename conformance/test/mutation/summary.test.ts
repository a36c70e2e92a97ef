/**
 * The mutation summary (summary.ts) on small Stryker-shaped reports: its counts and scores, survivors
 * grouped by mutator class and file, reports merged file by file, malformed reports refused, and its
 * output valid against reports/mutation-summary.schema.json.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { summarize, ReportFormatError, type MutantStatus, type StrykerMutant } from './summary.js';

const META = { date: '2026-12-02T17:00:00.000Z', commit: '0123456789abcdef0123456789abcdef01234567' };
const schema = JSON.parse(readFileSync(new URL('../../../reports/mutation-summary.schema.json', import.meta.url), 'utf8')) as object;

let nextId = 0;
const mutant = (status: MutantStatus, mutatorName = 'ConditionalExpression', line = 1): StrykerMutant =>
  ({ id: String(nextId++), mutatorName, status, replacement: 'true', location: { start: { line, column: 4 } } });
const report = (files: Record<string, StrykerMutant[]>): unknown =>
  ({ schemaVersion: '1.0', files: Object.fromEntries(Object.entries(files).map(([f, mutants]) => [f, { language: 'typescript', source: '', mutants }])) });

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
      'reference/broker/a.ts': [{ line: 7, column: 4, replacement: 'true', status: 'Survived' }],
      'reference/broker/b.ts': [{ line: 3, column: 4, replacement: 'true', status: 'NoCoverage' }],
    });
  });

  it('merges reports over parts of the scope, the later one winning for a file both hold', () => {
    const first = report({ 'reference/broker/a.ts': [mutant('Survived')], 'reference/broker/c.ts': [mutant('Killed')] });
    const second = report({ 'reference/broker/a.ts': [mutant('Killed'), mutant('Killed')] });
    const s = summarize([{ label: 'first', report: first }, { label: 'second', report: second }], META);
    expect(s.counts.Killed).toBe(3);
    expect(s.counts.Survived).toBe(0);
    expect(s.score).toBe(100);
  });

  it('scores an empty scope 0 rather than dividing by zero', () => {
    expect(summarize([{ label: 'empty', report: report({}) }], META).score).toBe(0);
  });

  it.each([
    ['not an object', null, /no "files" object/],
    ['no files', { schemaVersion: '1.0' }, /no "files" object/],
    ['a later schema', { schemaVersion: '2.0', files: {} }, /schemaVersion 2\.0/],
    ['an unknown status', report({ 'x.ts': [{ ...mutant('Killed'), status: 'Zombie' as MutantStatus }] }), /unknown status Zombie/],
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
