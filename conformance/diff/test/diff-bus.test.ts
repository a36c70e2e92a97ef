/**
 * `conformance diff --kind bus`: the TypeScript and Python bus adapters agree on generated bus
 * scripts; a copy of the TypeScript adapter with one injected defect is reported with the shrunk
 * script, both observations and the statement it breaks; a difference no statement decides is a
 * spec gap; an adapter that cannot start is exit 69.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runBusDiff, formatBusDiff, type BusDiffOptions } from '../run-bus-diff.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const line = (words: string[]): string => words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
const tsx = (file: string, ...args: string[]): string => line([process.execPath, '--import', 'tsx', join(root, file), ...args]);
const TS_ADAPTER = tsx('reference/cli.ts', 'bus-adapter');
/** Debian's python3 when it is there (a version manager's may lack Debian's packages); the adapter needs only the standard library. */
const PY_ADAPTER = line([existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', join(root, 'peers/python/concord_bus_adapter.py')]);

const SEED = Number(process.env['DIFF_SEED'] ?? 20261202);
console.log(`bus diff tests: seed ${SEED} (DIFF_SEED=${SEED} replays them)`);

const options = (peers: string[], extra: Partial<BusDiffOptions> = {}): BusDiffOptions => ({ peers, seed: SEED, timeoutMs: 20_000, ...extra });

describe('conformance diff --kind bus', () => {
  it('finds nothing between the TypeScript and Python adapters', async () => {
    const r = await runBusDiff(options([TS_ADAPTER, PY_ADAPTER], { runs: 30 }));
    expect(r.problem).toBeUndefined();
    expect(r.disagreement ? formatBusDiff(r) : '').toBe('');
    expect(r).toMatchObject({ exit: 0, kind: 'bus', runs: 30 });
    expect(r.peers.map((p) => p.language)).toEqual(['typescript', 'python']);
  }, 300_000);

  it('reports the shrunk script and BUS-19 when one adapter lets a second handler replace the first (exit 1)', () => {
    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'conformance/cli.ts'), 'diff', '--kind', 'bus', '--peer', TS_ADAPTER, '--peer', tsx('conformance/test/broken-adapter.ts', 'replacing-handlers'), '--seed', String(SEED), '--runs', '30'], { cwd: root, encoding: 'utf8', timeout: 280_000 });
    expect(cli.stderr).toContain(`seed ${SEED}`);
    expect(cli.status, cli.stderr).toBe(1);
    const out = cli.stdout;
    // The smallest script: two registrations of one type; the second is where they differ.
    expect(out).toMatch(/smallest script \(from reset\):\n {2}0\. register\((\w+), \w+, [^)]+\)\n {2}1\. register\(\1, \w+, [^)]+\)\nwhat step 1 /);
    expect(out).toContain('  A: {"reply":{"ok":false,"code":"HANDLER_EXISTS"}}  -- as the spec says');
    expect(out).toContain('  B: {"reply":{"ok":true,"value":null}}  -- wrong: reply (BUS-19)');
    expect(out.trimEnd().split('\n').at(-1)).toBe('B is wrong by BUS-19');
  }, 300_000);

  it('names a difference no statement decides a spec gap', async () => {
    const r = await runBusDiff(options([TS_ADAPTER, tsx('conformance/test/broken-adapter.ts', 'unsubscribe-true')], { runs: 30 }));
    expect(r.exit).toBe(1);
    const d = r.disagreement!;
    expect(d.script.at(-1)).toMatch(/^unsubscribe/);
    expect(d.observations.map((o) => o.observation)).toEqual([{ reply: { ok: true, value: null } }, { reply: { ok: true, value: true } }]);
    expect(d.verdicts.every((v) => v.verdict === 'undecided')).toBe(true);
    expect(formatBusDiff(r)).toMatch(/spec gap: the spec does not say which answer is right/);
  }, 300_000);

  it('exits 69 when an adapter cannot start, 64 for a --peer that needs a shell', async () => {
    const missing = await runBusDiff(options([TS_ADAPTER, line([join(root, 'no-such-adapter')])], { runs: 1 }));
    expect(missing).toMatchObject({ exit: 69 });
    expect(missing.problem).toMatch(/no-such-adapter/);
    expect(await runBusDiff(options([TS_ADAPTER, 'python3 x.py | tee log'], { runs: 1 }))).toMatchObject({ exit: 64 });
  }, 120_000);
});
