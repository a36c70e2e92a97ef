import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string; types: string; exports: Record<string, string | { types: string; default: string }>;
};
const typedoc = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { entryPoints: string[]; readme: string };

/** The source module a `dist/` path is built from (tsconfig.build.json keeps the tree under dist/). */
const sourceOf = (distPath: string): string => distPath.replace(/^\.\/dist\//, '').replace(/\.(d\.ts|js)$/, '.ts');
const entries = Object.entries(pkg.exports).filter(([k]) => k !== './package.json') as [string, { types: string; default: string }][];

describe('package entry points and API docs', () => {
  it('every exported subpath has its types beside its code, built from a module in the repository', () => {
    expect(entries.map(([k]) => k)).toEqual(expect.arrayContaining(['.', './harness', './client', './broker', './codec', './engine', './bus', './instrument']));
    for (const [path, target] of entries) {
      expect(Object.keys(target), path).toEqual(['types', 'default']);
      expect(sourceOf(target.types), path).toBe(sourceOf(target.default));
      expect(existsSync(join(root, sourceOf(target.default))), `${path} -> ${sourceOf(target.default)}`).toBe(true);
    }
    expect(pkg.types).toBe((pkg.exports['.'] as { types: string }).types);
  });

  it('the API docs cover exactly the exported modules, and the landing page names each of them', () => {
    const exported = [...new Set(entries.map(([, t]) => sourceOf(t.default)))].sort();
    expect([...typedoc.entryPoints].sort()).toEqual(exported);
    const landing = readFileSync(join(root, typedoc.readme), 'utf8');
    for (const [path] of entries.filter(([k]) => k !== '.')) expect(landing, path).toContain(`\`${pkg.name}/${path.slice(2)}\``);
  });
});
