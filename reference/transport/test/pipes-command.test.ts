/** `concord pipes setup|cleanup DIR`: idempotent, documented exit codes, never touching foreign files. */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPipesCommand } from '../pipes-command.js';
import { tsProgram } from '../../test/programs.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'concord-pipes-'));
  dirs.push(d);
  return d;
}
const quiet = (): void => undefined;
const pipes = (...args: string[]): Promise<number> => runPipesCommand(args, quiet, quiet);

describe('concord pipes', () => {
  it('setup creates the pair, a second setup changes nothing, cleanup removes it, a second cleanup is a no-op', async () => {
    const dir = join(scratch(), 'pair');
    expect(await pipes('setup', dir)).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const n of ['client-to-broker', 'broker-to-client']) {
      expect(statSync(join(dir, n)).isFIFO()).toBe(true);
      expect(statSync(join(dir, n)).mode & 0o777).toBe(0o600);
    }
    const ino = statSync(join(dir, 'client-to-broker')).ino;
    expect(await pipes('setup', dir)).toBe(0);
    expect(statSync(join(dir, 'client-to-broker')).ino).toBe(ino);
    expect(await pipes('cleanup', dir)).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(await pipes('cleanup', dir)).toBe(0);
  });

  it('setup refuses (73) and changes nothing when a regular file, a wrong mode or a missing FIFO is in the way', async () => {
    const base = scratch();
    writeFileSync(join(base, 'file'), 'x');
    expect(await pipes('setup', join(base, 'file'))).toBe(73);
    expect(readFileSync(join(base, 'file'), 'utf8')).toBe('x');
    const half = join(base, 'half');
    mkdirSync(half, { mode: 0o700 });
    writeFileSync(join(half, 'client-to-broker'), 'regular');
    expect(await pipes('setup', half)).toBe(73);
    expect(readFileSync(join(half, 'client-to-broker'), 'utf8')).toBe('regular');
    expect(existsSync(join(half, 'broker-to-client'))).toBe(false);
    const open = join(base, 'open');
    expect(await pipes('setup', open)).toBe(0);
    chmodSync(open, 0o755);
    expect(await pipes('setup', open)).toBe(73);
  });

  it('cleanup leaves foreign files (73) and never deletes a regular file in a FIFO\'s place', async () => {
    const base = scratch();
    const dir = join(base, 'pair');
    expect(await pipes('setup', dir)).toBe(0);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(await pipes('cleanup', dir)).toBe(73);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(dir, 'client-to-broker'))).toBe(false);
    writeFileSync(join(base, 'plain'), 'keep');
    expect(await pipes('cleanup', join(base, 'plain'))).toBe(73);
    expect(readFileSync(join(base, 'plain'), 'utf8')).toBe('keep');
  });

  it('the CLI returns the exit codes: 0, 64 for usage', () => {
    const dir = join(scratch(), 'cli-pair');
    const cli = (...args: string[]) => spawnSync(process.execPath, tsProgram('reference/cli.ts', 'pipes', ...args).slice(1), { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(cli('setup', dir).status).toBe(0);
    expect(statSync(join(dir, 'broker-to-client')).isFIFO()).toBe(true);
    expect(cli('cleanup', dir).status).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(cli('frobnicate', dir).status).toBe(64);
  });
});
