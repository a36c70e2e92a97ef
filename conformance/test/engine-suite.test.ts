/** The engine suite passes the reference engine and catches one whose state differs (seed 43, not 42). */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, type RunCommandOptions } from '../run-command.js';
import type { CaseResult } from '../runner.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'concord-engine-suite-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

async function run(exec: string[], runPatterns: string[]): Promise<{ code: number; results: CaseResult[] }> {
  const lines: string[] = [];
  const o: RunCommandOptions = {
    exec, suites: ['engine'], run: runPatterns, skip: [], seed: 4242, timeoutMs: 10_000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  };
  const code = await runCommand(o);
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results };
}

const engine = (...args: string[]): string[] => [process.execPath, '--import', 'tsx', join(root, 'reference/cli.ts'), 'engine', 'serve', '--stdio', ...args];
const SELECTION = ['engine/initial-digest', 'engine/fixtures/reason-encodings', 'engine/random-feedback-digests-agree'];

describe('the engine suite', () => {
  it('passes the reference TypeScript engine', async () => {
    const { code, results } = await run(engine(), SELECTION);
    expect(results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    expect(results).toHaveLength(3);
    expect(code).toBe(0);
  }, 120_000);

  it('fails an engine whose weights come from another seed, on every selected case', async () => {
    const { code, results } = await run(engine('--seed', '43'), SELECTION);
    expect(results.map((r) => r.outcome)).toEqual(['fail', 'fail', 'fail']);
    expect(results[0]!.requirement).toMatch(/^\[ENG-4\]/);
    expect(code).toBe(1);
  }, 120_000);
});
