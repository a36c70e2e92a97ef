import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT_DIR } from '../load.js';

// Issue rule: no peer hand-writes an error name; they come from the generated constants
// (spec/generated/...). A quoted registry name in a peer's source is such a hand-written copy.
const errorNames = (JSON.parse(readFileSync(join(ROOT_DIR, 'spec', 'errors.json'), 'utf8')) as { errors: { name: string }[] }).errors.map((e) => e.name);
const quoted = new RegExp(`["'](${errorNames.join('|')})["']`);

const SOURCES: Record<string, RegExp> = {
  'peers/python/concord': /\.py$/,
  'peers/python': /^concord_[a-z_]+\.py$/,
  'peers/perl/lib': /\.pm$/,
  'peers/perl': /\.pl$/,
  'cpp-client/src': /\.(cpp|hpp)$/,
  'cpp-client/include': /\.hpp$/,
  'cpp-client/tools': /\.cpp$/,
};

function files(dir: string, pattern: RegExp, deep: boolean): string[] {
  const abs = join(ROOT_DIR, dir);
  return readdirSync(abs).flatMap((name) => {
    const path = join(abs, name);
    if (statSync(path).isDirectory()) return deep ? files(relative(ROOT_DIR, path), pattern, deep) : [];
    return pattern.test(name) ? [path] : [];
  });
}

describe('peers take error names from the generated constants', () => {
  const all = Object.entries(SOURCES).flatMap(([dir, pattern]) => files(dir, pattern, !['peers/python', 'peers/perl'].includes(dir)));

  it('finds the peer sources', () => {
    expect(all.length).toBeGreaterThan(20);
  });

  it('has no quoted registry name outside comments in any peer source', () => {
    const found: string[] = [];
    for (const file of all) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        const code = line.replace(/(\s#|\/\/).*$/, '');
        if (!/^\s*(#|\/\/|\*)/.test(line) && quoted.test(code)) found.push(`${relative(ROOT_DIR, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });
});
