import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, type RunCommandOptions } from '../run-command.js';
import type { CaseResult } from '../runner.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'concord-testee-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

/** A selection across every kind of testee case (the whole suite runs in `conformance selftest`). */
const SELECTION = [
  'testee/exits-zero-at-end-of-input',
  'testee/echo/reasoning-request/**', 'testee/echo/stats-response/**', 'testee/echo/error/**', 'testee/echo/init/**',
  'testee/refuse/framing/zero-length', 'testee/refuse/header/id-missing', 'testee/refuse/ndarray/dtype-native-order',
  'testee/refuse/schema/uint64-as-json-number', 'testee/refuse/payload/cbor-int-key',
  'testee/prop-generated-messages-echo-equal/**', 'testee/prop-missing-required-field-refused',
];

async function run(exec: string[], runPatterns: string[], extra: Partial<RunCommandOptions> = {}): Promise<{ code: number; results: CaseResult[] }> {
  const lines: string[] = [];
  const o: RunCommandOptions = {
    exec, suites: ['testee'], run: runPatterns, skip: [], seed: 4242, timeoutMs: 3000, failFast: false, strict: false, ...extra,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  };
  const code = await runCommand(o);
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results };
}

const tsx = (file: string, ...args: string[]): string[] => [process.execPath, '--import', 'tsx', join(root, file), ...args];

describe('the testee suite', () => {
  it('passes the reference TypeScript testee', async () => {
    const { code, results } = await run(tsx('reference/cli.ts', 'testee'), SELECTION);
    expect(results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    expect(results.length).toBeGreaterThan(15);
    expect(code).toBe(0);
  }, 180_000);

  it('skips the CBOR cases of a testee that declares JSON only', async () => {
    const { code, results } = await run(tsx('reference/cli.ts', 'testee', '--json-only'), ['testee/echo/init/**', 'testee/refuse/payload/cbor-int-key']);
    expect(results.find((r) => r.id === 'testee/echo/init/encoding:cbor')?.outcome).toBe('skipped');
    expect(results.find((r) => r.id === 'testee/echo/init/encoding:json')?.outcome).toBe('pass');
    expect(code).toBe(0);
  }, 60_000);

  it.each([
    ['lose-re', 'testee/echo/reasoning-request/encoding:json'],
    ['accept-all', 'testee/refuse/header/id-missing'],
  ])('catches a testee that has defect %s with %s', async (defect, caseId) => {
    const { code, results } = await run(tsx('conformance/test/broken-testee.ts', defect), [caseId]);
    const r = results.find((x) => x.id === caseId)!;
    expect(['fail', 'timeout'], `${r.outcome}: ${r.message}`).toContain(r.outcome);
    expect(r.requirement).toMatch(/^\[TST-\d\]/);
    expect(code).not.toBe(0);
  }, 60_000);

  // A testee that is slow to start (an interpreter on a loaded machine) is given --start-timeout for
  // its INIT, not the per-frame timeout; one that never starts is reported as a timeout, not a failure.
  const slowStart = ['sh', '-c', `sleep 1; exec "$0" "$@"`, ...tsx('reference/cli.ts', 'testee')];
  it('waits --start-timeout for the INIT of a slow-starting testee', async () => {
    const { code, results } = await run(slowStart, ['testee/echo/init/encoding:json'], { timeoutMs: 200, startTimeoutMs: 60_000 });
    expect(results.map((r) => `${r.id}: ${r.outcome} ${r.message ?? ''}`)).toEqual(['testee/echo/init/encoding:json: pass ']);
    expect(code).toBe(0);
  }, 90_000);

  it('reports a timeout when the testee sends no INIT within --start-timeout', async () => {
    const { code, results } = await run(['sh', '-c', 'sleep 30'], ['testee/echo/init/encoding:json'], { timeoutMs: 200, startTimeoutMs: 300 });
    expect(results.map((r) => [r.outcome, r.message])).toEqual([['timeout', 'expected INIT from the testee (TST-2); nothing arrived within 300 ms']]);
    expect(code).toBe(2); // inconclusive: a required case timed out and none failed
  }, 60_000);
});
