/**
 * `npm run gen` writes every file derived from spec/; `npm run gen:check` regenerates them in memory
 * and fails with a readable diff when a committed file differs (or is missing).
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadSpec, ROOT_DIR, SpecError } from './load.js';
import { generateBusAdapterTypes, generateCatalog, generateFixtureTypes, generateTypes } from './gen-ts.js';
import { generate as generateCatalogJson } from './gen-catalog.js';
import type { SpecModel } from './model.js';

export type Outputs = Map<string, string>;

/** Stage 1 has no dependency on the codec; stage 2 (fixtures, docs) runs the codec on stage 1's catalog. */
async function stageOne(spec: SpecModel): Promise<Outputs> {
  return new Map([
    ['spec/generated/catalog.ts', await generateCatalog(spec, readFileSync(join(ROOT_DIR, 'spec', 'catalog.schema.json'), 'utf8'))],
    ['spec/generated/types.ts', await generateTypes(spec)],
    ['spec/generated/fixture.ts', await generateFixtureTypes(readFileSync(join(ROOT_DIR, 'fixtures', 'fixture.schema.json'), 'utf8'))],
    ['spec/generated/bus-adapter.ts', await generateBusAdapterTypes(readFileSync(join(ROOT_DIR, 'spec', 'bus', 'adapter.schema.json'), 'utf8'))],
    ...generateCatalogJson(spec),
  ]);
}

async function stageTwo(spec: SpecModel): Promise<Outputs> {
  const out: Outputs = new Map();
  // Order matters: the docs take their example frames from the generated fixtures.
  const generators = ['./gen-constants.js', './gen-fixtures.js', './gen-docs.js', './gen-guide.js', '../../reference/engine/gen-fixtures.js'];
  for (const path of generators) {
    const mod = (await import(path)) as { generate: (s: SpecModel, earlier: Outputs) => Promise<Outputs> | Outputs };
    for (const [file, text] of await mod.generate(spec, out)) out.set(file, text);
  }
  return out;
}

/** A short line diff: the first differing lines with their numbers. */
export function describeDiff(file: string, expected: string, actual: string | undefined): string {
  if (actual === undefined) return `${file}: missing (run \`npm run gen\`)`;
  const a = actual.split('\n');
  const e = expected.split('\n');
  const lines: string[] = [`${file}: stale (run \`npm run gen\`)`];
  let shown = 0;
  for (let i = 0; i < Math.max(a.length, e.length) && shown < 12; i++) {
    if (a[i] !== e[i]) {
      if (a[i] !== undefined) lines.push(`  ${i + 1} - ${a[i]!.slice(0, 160)}`);
      if (e[i] !== undefined) lines.push(`  ${i + 1} + ${e[i]!.slice(0, 160)}`);
      shown++;
    }
  }
  return lines.join('\n');
}

/** Regenerates everything; returns the stale files' diffs (empty when all are current). */
export async function check(root = ROOT_DIR, specOverride?: SpecModel): Promise<string[]> {
  const spec = specOverride ?? loadSpec(join(root, 'spec'));
  const problems: string[] = [];
  const outputs = new Map([...(await stageOne(spec)), ...(await stageTwo(spec))]);
  for (const [file, text] of outputs) {
    const path = join(root, file);
    const actual = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (actual !== text) problems.push(describeDiff(file, text, actual));
  }
  return problems;
}

/** Writes the files that changed; returns their names. */
function write(outputs: Outputs): string[] {
  const changed: string[] = [];
  for (const [file, text] of outputs) {
    const path = join(ROOT_DIR, file);
    mkdirSync(dirname(path), { recursive: true });
    const old = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (old !== text) {
      writeFileSync(path, text);
      console.log(`wrote ${file}`);
      changed.push(file);
    }
  }
  return changed;
}

async function main(): Promise<void> {
  const checkOnly = process.argv.includes('--check');
  try {
    if (checkOnly) {
      const problems = await check();
      if (problems.length) {
        console.error(`gen:check: ${problems.length} generated file(s) are stale:\n${problems.join('\n')}`);
        process.exit(1);
      }
      console.log('gen:check: every generated file matches spec/');
      return;
    }
    const spec = loadSpec();
    write(await stageOne(spec));
    // The coverage matrix in the docs lists the harness's cases, which read the fixture files from
    // disk: when this run rewrote fixtures, generate once more so the docs see the new ones.
    if (write(await stageTwo(spec)).some((f) => f.startsWith('fixtures/'))) write(await stageTwo(spec));
  } catch (e) {
    if (e instanceof SpecError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
