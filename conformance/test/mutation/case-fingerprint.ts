/**
 * Why the mutation tests' names carry a fingerprint of their case. Stryker's incremental mode
 * (`incremental: true`) reuses a mutant's last result while the tests that killed or covered it keep
 * their names and their text in the test file. The cases are not in the test file: every test comes
 * from one `it(...)` in a loop over the built harness (dist/). Without a fingerprint, an incremental run
 * after a case changed reused its old verdicts: a survivor stayed a survivor though the new case kills
 * it, and a kill stood though the case that made it was weakened.
 *
 * A test's fingerprint covers what its verdict depends on apart from the mutated broker:
 * - the module of the built harness that defines the case (a module calling `defineCase`, found by the
 *   text of the case's `run`) and the case modules it imports, so a case changed, or a helper of its
 *   module, renames that module's tests (and its importers') only;
 * - every other built file of the harness, except the broker's own (Stryker tracks the broker's sources
 *   itself, mutant by mutant; no case of the mutation suites runs the built broker, which oracle.js
 *   re-exports for the embedded target), so a change to shared code (the wire, the oracle, the limits)
 *   renames every test, and the next run is a whole one.
 * A case whose module cannot be found is fingerprinted with every case module: never reused wrongly.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/** The parts of a case the fingerprint reads. */
export interface FingerprintedCase {
  id: string;
  statements: readonly string[];
  run: (...args: never[]) => unknown;
}

/** The built files of the harness, `relative path -> text`, as one fingerprint reads them. */
export type BuiltFiles = ReadonlyMap<string, string>;

/** A module of the harness that defines cases (model.js defines `defineCase` itself, and no case). */
const isCaseModule = (path: string, text: string): boolean =>
  path.startsWith('conformance/') && !path.endsWith('/model.js') && text.includes('defineCase(');
/** A module's relative imports, as tsc writes them. */
const RELATIVE_IMPORT = /from ['"](\.\.?\/[^'"]+\.js)['"]/g;
/** The broker under mutation: Stryker diffs its sources itself. */
const BROKER = /^reference\/broker\//;

/**
 * Every `.js` file under `distRoot` (dist/) whose TypeScript source is still under `sourceRoot`, by its
 * path relative to dist/ with `/` separators. tsc never deletes the output of a source that was moved or
 * removed, so a working tree's dist/ keeps files a clean build lacks; nothing imports them, and counted
 * they renamed every test (reference/instrument/parent.js, left behind when the module moved to
 * reference/transport/, made a rerun with nothing changed retest all 2,150 mutants).
 */
export function readBuiltFiles(distRoot: string, sourceRoot: string): BuiltFiles {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js')) {
        const relativePath = relative(distRoot, path);
        if (existsSync(join(sourceRoot, relativePath.replace(/\.js$/, '.ts')))) files.set(relativePath.split(sep).join('/'), readFileSync(path, 'utf8'));
      }
    }
  };
  walk(distRoot);
  return files;
}

const sha = (parts: readonly string[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};

/** Code without whitespace and semicolons, which vitest's transform also moves (a closure's `}` becomes `};`). */
const squash = (text: string): string => text.replace(/[\s;]+/g, '');
/**
 * What vitest's module transform writes for an imported binding: the mutation run loads the harness
 * through vitest, and `toString()` returns the transformed text. A binding `x` becomes
 * `(0,__vite_ssr_import_N__.x)` in a call and `__vite_ssr_import_N__.x` elsewhere, under its exported
 * name, not its local alias (`delay` for `setTimeout`, `fc` for `default`).
 */
const IMPORTED_BINDING = /\(0,__vite_ssr_import_\d+__\.[\w$]+\)|__vite_ssr_import_\d+__(?:\.[\w$]+)?|__vite_ssr_dynamic_import__/g;

/** A pattern that finds a function's text, transformed by vitest or not, in the squashed text of the file tsc wrote. */
export function textPattern(fnText: string): RegExp {
  const literal = squash(fnText).split(IMPORTED_BINDING).map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  return new RegExp(literal.join('[\\w$]+'));
}

/** The built modules that define cases, sorted. */
function caseModulesOf(files: BuiltFiles): string[] {
  return [...files.keys()].filter((p) => isCaseModule(p, files.get(p)!)).sort();
}

/** Fingerprints cases against one build: `of(c)` is 12 hex digits. */
export function caseFingerprints(files: BuiltFiles): { of(c: FingerprintedCase): string; homeOf(c: FingerprintedCase): string | undefined } {
  const paths = [...files.keys()].sort();
  const caseModules = caseModulesOf(files);
  const caseModuleSet = new Set(caseModules);
  const shared = sha(paths.filter((p) => !caseModuleSet.has(p) && !BROKER.test(p)).flatMap((p) => [p, files.get(p)!]));
  const everyCaseModule = sha(caseModules.flatMap((p) => [p, files.get(p)!]));
  /** `module` and the case modules it imports, directly or not, sorted. */
  const closure = (module: string): string[] => {
    const seen = new Set<string>();
    const visit = (p: string): void => {
      if (seen.has(p) || !caseModuleSet.has(p)) return;
      seen.add(p);
      for (const m of files.get(p)!.matchAll(RELATIVE_IMPORT)) visit(posix.join(posix.dirname(p), m[1]!));
    };
    visit(module);
    return [...seen].sort();
  };
  const squashed = new Map(caseModules.map((p) => [p, squash(files.get(p)!)]));
  /** The one case module whose text holds the case's `run`, if exactly one does. */
  const homeOf = (c: FingerprintedCase): string | undefined => {
    const body = textPattern(c.run.toString());
    const homes = caseModules.filter((p) => body.test(squashed.get(p)!));
    return homes.length === 1 ? homes[0] : undefined;
  };
  /** The hash of a home module and the case modules it imports, once per module (most hold many cases). */
  const moduleHashes = new Map<string, string>();
  const moduleHash = (home: string): string => {
    let hash = moduleHashes.get(home);
    if (hash === undefined) moduleHashes.set(home, (hash = sha(closure(home).flatMap((p) => [p, files.get(p)!]))));
    return hash;
  };
  return {
    homeOf,
    of(c) {
      const home = homeOf(c);
      const module = home !== undefined ? moduleHash(home) : everyCaseModule;
      return sha([shared, module, c.id, ...c.statements]).slice(0, 12);
    },
  };
}
