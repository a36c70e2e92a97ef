/**
 * The bus adapter cases (section bus-adapter) against adapter processes: the reference TypeScript
 * adapter passes them, and a broken adapter (broken-adapter.ts) is caught by the case meant for its defect.
 * A bus that breaks a rule while an operation is still pending fails its case and the run goes on to
 * write its report (issue 13 item 7).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { tsProgram } from '../../reference/test/programs.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-bus-adapters-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const tsx = tsProgram;
const ADAPTER_CASES = ['bus-adapter/**', 'coordinator-semantics/dispatch-check-order'];
/** The cases the bus and coordinator defects of broken-adapter.ts are caught by: the reference adapter passes them too. */
const DEFECT_CASES = [
  'bus-semantics/unsubscribe-one-of-a-functions-two', 'bus-semantics/before-failure-ends-every-operation', 'coordinator-semantics/load-restored-whatever-the-outcome',
  'coordinator-semantics/retries-at-their-bounds', 'coordinator-semantics/absent-priority-is-normal',
  'bus-semantics/routing-key-before-middleware-publish-and-send', 'bus-semantics/after-error-fails-a-successful-operation',
  'coordinator-semantics/health-checked-before-load', 'coordinator-semantics/zero-timeout-means-default',
  'coordinator-semantics/service-without-handler',
];

async function run(exec: string[], patterns: string[]): Promise<{ code: number; results: CaseResult[] }> {
  const lines: string[] = [];
  const code = await runCommand({
    exec, suites: ['bus'], run: patterns, skip: [], seed: 7, timeoutMs: 2000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  });
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results };
}

describe('bus adapter processes', () => {
  it('the reference TypeScript adapter passes the adapter cases', async () => {
    const { code, results } = await run(tsx('reference/cli.ts', 'bus-adapter'), [...ADAPTER_CASES, ...DEFECT_CASES]);
    expect(results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    expect(results).toHaveLength(6 + DEFECT_CASES.length);
    expect(code).toBe(0);
  }, 90_000);

  it.each([
    ['stdout-noise', 'bus-adapter/one-line-per-line'],
    ['double-reply', 'bus-adapter/one-line-per-line'],
    ['serial', 'bus-adapter/lines-handled-concurrently'],
    ['own-codes', 'bus-adapter/error-code-from-registry'],
    // A reply of the wrong shape fails its case (checked against spec/bus/adapter.schema.json), never the harness.
    ['messageless-errors', 'bus-adapter/error-code-from-registry'],
    ['exit-1-at-eof', 'bus-adapter/exit-zero-at-end-of-input'],
    ['exit-when-timers-end', 'bus-adapter/exit-at-end-of-input-with-work-pending'],
    ['accepts-over-limit', 'coordinator-semantics/dispatch-check-order'],
    // Issue 13 item 7: the first dispatch's reply timer fires after the case failed; the run goes on.
    ['queues-over-limit', 'coordinator-semantics/dispatch-check-order'],
    ['unsubscribe-first-of-function', 'bus-semantics/unsubscribe-one-of-a-functions-two'],
    ['onion-middleware', 'bus-semantics/before-failure-ends-every-operation'],
    ['publish-never-fails', 'bus-semantics/before-failure-ends-every-operation'],
    ['load-kept-on-failure', 'coordinator-semantics/load-restored-whatever-the-outcome'],
    ['listing-without-load', 'coordinator-semantics/load-restored-whatever-the-outcome'],
    ['zero-retries-means-default', 'coordinator-semantics/retries-at-their-bounds'],
    ['absent-retries-means-none', 'coordinator-semantics/retries-at-their-bounds'],
    ['absent-priority-first', 'coordinator-semantics/absent-priority-is-normal'],
    ['handler-checked-before-health', 'coordinator-semantics/service-without-handler'],
    ['missing-handler-as-failure', 'coordinator-semantics/service-without-handler'],
    ['publish-routes-after-middleware', 'bus-semantics/routing-key-before-middleware-publish-and-send'],
    ['send-routes-after-middleware', 'bus-semantics/routing-key-before-middleware-publish-and-send'],
    ['after-error-only-replaces-an-error', 'bus-semantics/after-error-fails-a-successful-operation'],
    ['load-checked-before-health', 'coordinator-semantics/health-checked-before-load'],
    ['zero-timeout-clamped-to-one', 'coordinator-semantics/zero-timeout-means-default'],
    ['zero-timeout-expires-now', 'coordinator-semantics/zero-timeout-means-default'],
  ])('an adapter with defect %s is caught by %s', async (defect, caseId) => {
    const { code, results } = await run(tsx('conformance/test/broken-adapter.ts', defect), [caseId]);
    const r = results.find((x) => x.id === caseId)!;
    expect(['fail', 'timeout'], `${r.outcome}: ${r.message}`).toContain(r.outcome);
    expect(code).toBe(1);
  }, 60_000);
});
