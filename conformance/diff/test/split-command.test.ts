/** The --peer splitter agrees with a POSIX shell on what it accepts and refuses what needs a shell. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { CommandSplitError, splitCommand } from '../split-command.js';

/** The words /bin/sh makes of `line` (printed NUL-separated, nothing expanded in the lines tested). */
function shellWords(line: string): string[] {
  const r = spawnSync('/bin/sh', ['-c', `for w in ${line}; do printf '%s\\0' "$w"; done`], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
}

/** One word quoted one of the ways a shell user would. */
function quoted(word: string, style: number): string {
  if (style === 0) return `'${word.replace(/'/g, `'\\''`)}'`;
  if (style === 1) return `"${word.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
  return word.replace(/[^A-Za-z0-9_./=,:@%+-]/g, (c) => (c === '\n' ? `'\n'` : `\\${c}`));
}

describe('splitCommand', () => {
  it.each([
    ['python3 peers/python/concord_testee.py', ['python3', 'peers/python/concord_testee.py']],
    [`  node  --import tsx 'a b.ts'  `, ['node', '--import', 'tsx', 'a b.ts']],
    [`perl -e "print \\"x\\$y\\""`, ['perl', '-e', 'print "x$y"']],
    [`a\\ b c"d"'e' ""`, ['a b', 'cde', '']],
    [`a\\\nb "c\\\nd" 'e\\f'`, ['ab', 'cd', 'e\\f']],
    ['x~ a#b', ['x~', 'a#b']],
  ])('splits %j as sh does', (line, words) => {
    expect(splitCommand(line)).toEqual(words);
    expect(shellWords(line)).toEqual(words);
  });

  it.each([
    ['run $HOME', /"\$" at offset 4/],
    ['run "$HOME"', /"\$" at offset 5/],
    ['a | b', /"\|"/],
    ['a > out', /">"/],
    ['ls *.ts', /"\*"/],
    ['cd ~/x', /"~"/],
    ['echo `id`', /"`"/],
    ['a # comment', /"#"/],
    [`a 'b`, /unterminated single quote at offset 2/],
    ['a "b', /unterminated double quote at offset 2/],
    ['a \\', /backslash ends/],
  ])('refuses %j', (line, message) => {
    expect(() => splitCommand(line)).toThrow(CommandSplitError);
    expect(() => splitCommand(line)).toThrow(message);
  });

  it('gives back any words quoted any way (property; seed printed)', () => {
    const seed = Number(process.env['SPLIT_SEED'] ?? Date.now() % 2 ** 31);
    console.log(`splitCommand property seed ${seed} (SPLIT_SEED=${seed} replays it)`);
    const word = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '\t', '\n', "'", '"', '\\', '$', '`', '|', '*', '~', '#', 'é', '-', '='), maxLength: 12 });
    fc.assert(fc.property(fc.array(fc.tuple(word, fc.integer({ min: 0, max: 2 })), { minLength: 1, maxLength: 6 }), (ws) => {
      const line = ws.map(([w, s]) => (w === '' ? "''" : quoted(w, s))).join(' ');
      expect(splitCommand(line)).toEqual(ws.map(([w]) => w));
    }), { seed, numRuns: 300 });
  });
});
