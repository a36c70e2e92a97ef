/**
 * --faults against real peers: a testee that assumes one read is one frame passes the selection
 * without faults and fails it with them (the failure reported with its shrunk schedule and the
 * faults in its wire log); the reference testee passes the same selection under the same faults.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, type RunCommandOptions } from '../run-command.js';
import type { CaseResult } from '../runner.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'concord-faults-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

/** Cases that send one frame and await its answer before the next: without faults, one write is one read. */
const SELECTION = ['testee/echo/reasoning-request/**', 'testee/echo/init/**', 'testee/refuse/header/id-missing'];
/** The seed CI runs the faults with (the selftest's faults column uses the same). */
const CI_FAULTS = { seed: 7, profile: 'all' };

async function run(exec: string[], extra: Partial<RunCommandOptions> = {}): Promise<{ code: number; results: CaseResult[]; faults?: unknown }> {
  const lines: string[] = [];
  let results: CaseResult[] = [];
  const o: RunCommandOptions = {
    exec, suites: ['testee'], run: SELECTION, skip: [], seed: 4242, timeoutMs: 3000, failFast: false, strict: false, ...extra,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
    // The results with their wire logs (the JSON on stdout leaves those out).
    onFinish: (finished) => (results = finished.results),
  };
  const code = await runCommand(o);
  const json = JSON.parse(lines.find((l) => l.startsWith('{'))!) as { faults?: unknown };
  return { code, results, faults: json.faults };
}

const tsx = (file: string, ...args: string[]): string[] => [process.execPath, '--import', 'tsx', join(root, file), ...args];
const notPassed = (results: CaseResult[]): string[] => results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.outcome} ${r.message}`);

describe('--faults', () => {
  it('passes the one-read-one-frame testee without faults', async () => {
    const { code, results } = await run(tsx('conformance/test/broken-testee.ts', 'one-read-one-frame'));
    expect(notPassed(results)).toEqual([]);
    expect(results.length).toBe(7);
    expect(code).toBe(0);
  }, 180_000);

  it('fails it under faults, with the smallest schedule found and the faults in the wire log', async () => {
    const { code, results, faults } = await run(tsx('conformance/test/broken-testee.ts', 'one-read-one-frame'), { faults: CI_FAULTS });
    expect(faults).toEqual(CI_FAULTS);
    const failed = results.filter((r) => r.outcome === 'fail' || r.outcome === 'timeout');
    expect(failed.length).toBeGreaterThan(0);
    expect(code).toBe(1);
    const shrunk = failed.filter((r) => r.faults?.shrink && !r.faults.shrink.fails_without_faults && r.faults.shrink.steps > 0);
    expect(shrunk.length, JSON.stringify(failed.map((r) => r.faults))).toBeGreaterThan(0);
    for (const r of shrunk) {
      expect(r.faults!.shrink!.steps).toBeLessThanOrEqual(r.faults!.shrink!.drawn_steps);
      // The failure shown is the one under the smallest schedule: its wire log names those faults.
      const notes = r.wire.flatMap((w) => w.entries).filter((e) => e.note.startsWith('fault ')).map((e) => e.note);
      expect(notes.length, r.id).toBeGreaterThan(0);
    }
  }, 600_000);

  it('passes the reference testee under the same faults', async () => {
    const { code, results } = await run(tsx('reference/cli.ts', 'testee'), { faults: CI_FAULTS });
    expect(notPassed(results)).toEqual([]);
    expect(code).toBe(0);
  }, 180_000);
});
