import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { caseFingerprints, readBuiltFiles, textPattern, type FingerprintedCase } from './case-fingerprint.js';

// Two cases in `a`, one in `b` (which imports `a`), one in `c` (outside cases/); the texts are what tsc would emit.
const runA1 = async (): Promise<void> => { await Promise.resolve('a1'); };
const runA2 = async (): Promise<void> => { await Promise.resolve('a2'); };
const runB = async (): Promise<void> => { await Promise.resolve('b'); };
const runC = async (): Promise<void> => { await Promise.resolve('c'); };
const cases: Record<string, FingerprintedCase> = {
  a1: { id: 'framing/a1', statements: ['FRM-1'], run: runA1 },
  a2: { id: 'framing/a2', statements: ['FRM-1'], run: runA2 },
  b: { id: 'framing/b', statements: ['FRM-2'], run: runB },
  c: { id: 'framing/c', statements: ['FRM-3'], run: runC },
};

function build(edit: Record<string, string> = {}): Map<string, string> {
  return new Map(Object.entries({
    'conformance/cases/a.cases.js': `import { defineCase } from './model.js';\nconst helper = 1;\nexport const a = [defineCase({ run: ${runA1.toString()} }), defineCase({ run: ${runA2.toString()} })];`,
    'conformance/cases/b.cases.js': `import { defineCase } from './model.js';\nimport { a } from './a.cases.js';\nexport const b = [defineCase({ run: ${runB.toString()} })];`,
    'conformance/bus/c-rules.js': `import { defineCase } from '../cases/model.js';\nexport const c = [defineCase({ run: ${runC.toString()} })];`,
    'conformance/cases/model.js': 'export function defineCase(def) { return def; }',
    'conformance/cases/context.js': 'export const shared = 1;',
    'conformance/wire/session.js': 'export const wire = 1;',
    'reference/broker/router.js': 'export const router = 1;',
    ...edit,
  }));
}

const printsOf = (files: Map<string, string>): Record<string, string> => {
  const p = caseFingerprints(files);
  return Object.fromEntries(Object.entries(cases).map(([k, c]) => [k, p.of(c)]));
};
const changed = (before: Record<string, string>, after: Record<string, string>): string[] =>
  Object.keys(before).filter((k) => before[k] !== after[k]).sort();

describe('mutation test names: case fingerprints for Stryker incremental mode', () => {
  const base = printsOf(build());

  it('are 12 hex digits, distinct per case, and the same for the same build', () => {
    for (const v of Object.values(base)) expect(v).toMatch(/^[0-9a-f]{12}$/);
    expect(new Set(Object.values(base)).size).toBe(4);
    expect(printsOf(build())).toEqual(base);
  });

  it('a helper changed in a case module renames that module\'s cases and its importers\' only', () => {
    const files = build();
    const edited = files.get('conformance/cases/a.cases.js')!.replace('helper = 1', 'helper = 2');
    expect(changed(base, printsOf(build({ 'conformance/cases/a.cases.js': edited })))).toEqual(['a1', 'a2', 'b']);
    const editedC = files.get('conformance/bus/c-rules.js')!.replace('export const c', 'const tail = 0;\nexport const c');
    expect(changed(base, printsOf(build({ 'conformance/bus/c-rules.js': editedC })))).toEqual(['c']);
  });

  it('shared harness code (the wire, a non-case module of cases/) renames every case', () => {
    expect(changed(base, printsOf(build({ 'conformance/wire/session.js': 'export const wire = 2;' })))).toEqual(['a1', 'a2', 'b', 'c']);
    expect(changed(base, printsOf(build({ 'conformance/cases/context.js': 'export const shared = 2;' })))).toEqual(['a1', 'a2', 'b', 'c']);
    expect(changed(base, printsOf(build({ 'conformance/cases/model.js': 'export function defineCase(d) { return d; }' })))).toEqual(['a1', 'a2', 'b', 'c']);
  });

  it('the broker\'s built files rename nothing: Stryker diffs the broker\'s sources itself', () => {
    expect(changed(base, printsOf(build({ 'reference/broker/router.js': 'export const router = 2;' })))).toEqual([]);
  });

  it('a case whose run is in no case module depends on every case module', () => {
    const orphan: FingerprintedCase = { id: 'framing/orphan', statements: ['FRM-1'], run: async () => { await Promise.resolve('nowhere'); } };
    const before = caseFingerprints(build()).of(orphan);
    const editedC = build().get('conformance/bus/c-rules.js')!.replace('export const c', 'const tail = 0;\nexport const c');
    expect(caseFingerprints(build({ 'conformance/bus/c-rules.js': editedC })).of(orphan)).not.toBe(before);
  });

  it('finds a run through vitest\'s renaming of imported bindings, and not a run that differs', () => {
    const written = 'async run(ctx) {\n  const f = encodeMessageFrame({ id: 1 });\n  await delay(5);\n  return fc.asyncProperty(f);\n}';
    const transformed = 'async run(ctx) {\n    const f = (0,__vite_ssr_import_0__.encodeMessageFrame)({ id: 1 });\n    await (0, __vite_ssr_import_3__.setTimeout)(5);\n    return __vite_ssr_import_1__.default.asyncProperty(f);\n};';
    const squashedFile = `x${written}y`.replace(/[\s;]+/g, '');
    expect(textPattern(transformed).test(squashedFile)).toBe(true);
    expect(textPattern(written).test(squashedFile)).toBe(true);
    expect(textPattern(transformed.replace('id: 1', 'id: 2')).test(squashedFile)).toBe(false);
  });

  it('reads only the built files whose source still exists: a stale output of a removed source changes nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'concord-fingerprint-'));
    try {
      for (const [path, text] of [['conformance/a.ts', 'a'], ['dist/conformance/a.js', 'a'], ['dist/conformance/gone.js', 'gone'], ['dist/conformance/a.js.map', '{}']]) {
        mkdirSync(dirname(join(root, path!)), { recursive: true });
        writeFileSync(join(root, path!), text!);
      }
      expect([...readBuiltFiles(join(root, 'dist'), root).keys()]).toEqual(['conformance/a.js']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the statements a case names are part of it', () => {
    const p = caseFingerprints(build());
    expect(p.homeOf(cases.a1!)).toBe('conformance/cases/a.cases.js');
    expect(p.of({ ...cases.a1!, statements: ['FRM-2'] })).not.toBe(base.a1);
  });

  it('reads a real build: every case of the mutation run found in exactly one case module', async () => {
    const dist = fileURLToPath(new URL('../../../dist/', import.meta.url));
    if (!existsSync(`${dist}conformance/suites.js`)) return expect.fail('no dist/: run npm run build first (npm test does)');
    const files = readBuiltFiles(dist, fileURLToPath(new URL('../../../', import.meta.url)));
    const { casesOf } = (await import(new URL('conformance/suites.js', `file://${dist}`).href)) as typeof import('../../suites.js');
    const prints = caseFingerprints(files);
    // Loaded through vitest's transform, as the mutation run loads them (textPattern sees through it).
    const homeless = casesOf(['core', 'bus', 'broker-process', 'cluster']).filter((c) => prints.homeOf(c) === undefined);
    expect(homeless.map((c) => c.id)).toEqual([]);
  });
});
