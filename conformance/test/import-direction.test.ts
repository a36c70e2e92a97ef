/**
 * Layers point one way: spec/generated <- reference <- conformance. Nothing under reference/ imports
 * the harness; the harness reaches reference/ only through its shared pieces or conformance/oracle.ts;
 * generated code imports nothing of reference/ but the NDArray type. Every import of every .ts file
 * is read with TypeScript's own pre-processor (static, type-only, re-exports and dynamic imports).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { repoFile } from '../../reference/paths.js';

const ROOT = dirname(repoFile('package.json'));

/** The reference modules both reference/ and conformance/ depend on (anything else is an oracle). */
const SHARED = [/^reference\/codec\//, /^reference\/properties\//, /^reference\/paths\.ts$/, /^reference\/transport\/fifo-(fs|stream)\.ts$/,
  /^reference\/table\.ts$/, /^reference\/token-source\.ts$/, /^reference\/cli-usage\.ts$/, /^reference\/version\.ts$/, /^reference\/bus\/adapter\/protocol\.ts$/,
  // The spec's xorshift32 (the engine's weights; the harness's fault schedules draw from it too).
  /^reference\/engine\/prng\.ts$/];
/** The one module through which the harness consults reference components as oracles. */
const ORACLE = 'conformance/oracle.ts';
/** Generated code may name the codec's NDArray class as a type, and nothing else of reference/. */
const GENERATED_MAY_IMPORT = ['reference/codec/ndarray.ts'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Repository-relative .ts paths a source file imports (relative specifiers only; packages are not layers). */
export function importsOf(file: string, text = readFileSync(join(ROOT, file), 'utf8')): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('.'))
    .map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).split('\\').join('/').replace(/\.js$/, '.ts'));
}

const FILES = ['spec', 'reference', 'conformance', 'fixtures', 'bench'].flatMap(sources);
const EDGES = FILES.flatMap((from) => importsOf(from).map((to) => ({ from, to })));
const isTest = (file: string): boolean => /\/test\//.test(file) || file.endsWith('.test.ts');

describe('import direction', () => {
  it('reads the imports of every source file', () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(importsOf('x/a.ts', "import type { A } from './b.js';\nexport * from '../c/d.js';\nconst m = await import('./e.js');")).toEqual(['x/b.ts', 'c/d.ts', 'x/e.ts']);
  });

  it('nothing under reference/ imports conformance/', () => {
    expect(EDGES.filter((e) => e.from.startsWith('reference/') && e.to.startsWith('conformance/'))).toEqual([]);
  });

  it('the harness reaches reference/ through shared modules or conformance/oracle.ts only', () => {
    const stray = EDGES.filter((e) => e.from.startsWith('conformance/') && !isTest(e.from) && e.from !== ORACLE
      && e.to.startsWith('reference/') && !SHARED.some((re) => re.test(e.to)));
    expect(stray).toEqual([]);
  });

  it('shared modules import neither the harness nor oracle components', () => {
    const shared = EDGES.filter((e) => SHARED.some((re) => re.test(e.from)) && !isTest(e.from));
    expect(shared.filter((e) => e.to.startsWith('conformance/') || (e.to.startsWith('reference/') && !SHARED.some((re) => re.test(e.to))))).toEqual([]);
  });

  it('spec/generated imports nothing of reference/ or conformance/ beyond the NDArray type', () => {
    const up = EDGES.filter((e) => e.from.startsWith('spec/generated/') && (e.to.startsWith('reference/') || e.to.startsWith('conformance/')));
    expect(up.filter((e) => !GENERATED_MAY_IMPORT.includes(e.to))).toEqual([]);
  });
});
