/**
 * The instrument fault-injection cases (INS-8, INS-21), the mock's signal model (INS-18), its triggers
 * (INS-17), commands after shutdown (INS-13) and the checks of parameters (INS-14, ENC-14) pass the
 * reference mock and the Python worker and fail a worker broken each way they target (broken-instrument.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { tsProgram } from '../../reference/test/programs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'concord-instrument-faults-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const INS21 = 'instrument-worker/fault-injection-announced-only-when-asked';
const INS8 = 'instrument/hardware-error-during-command';
const UNROUTED = 'instrument-worker/unrouted-inputs';
const SUMMED = 'instrument-worker/generators-summed-on-their-output';
const CLIPPED = 'instrument-worker/inputs-clipped';
const IN_ORDER = 'instrument-worker/invalid-params-named-in-order';
const ZERO_FRACTION = 'instrument-worker/integer-params-with-a-fraction-of-zero';
const TRIGGERS = 'instrument-worker/every-trigger-source';
const AFTER_SHUTDOWN = 'instrument-worker/commands-after-shutdown-refused';
const PASSING = [INS21, INS8, UNROUTED, SUMMED, CLIPPED, IN_ORDER, ZERO_FRACTION, TRIGGERS, AFTER_SHUTDOWN].sort();

async function run(exec: string[], ids: string[]): Promise<CaseResult[]> {
  const lines: string[] = [];
  await runCommand({
    exec, suites: ['instrument'], run: ids, skip: [], seed: 1, timeoutMs: 5000, startTimeoutMs: 60_000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  });
  return (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results;
}

const outcomes = (results: CaseResult[]): string[] => results.map((r) => `${r.id}: ${r.outcome}${r.outcome === 'pass' ? '' : ` ${r.message}`}`);
const mock = tsProgram('reference/cli.ts', 'instrument');
const broken = (defect: string): string[] => tsProgram('conformance/test/broken-instrument.ts', defect);

describe('the instrument cases of injected faults, the signal model and parameter checks', () => {
  it.each([
    ['the TypeScript mock', mock],
    ['the Python worker', ['python3', join(root, 'peers/python/concord_instrument')]],
  ])('pass %s', async (_name, exec) => {
    expect(outcomes(await run(exec, PASSING)).sort()).toEqual(PASSING.map((id) => `${id}: pass`));
  }, 120_000);

  it.each([
    ['unasked-errors', INS21],
    ['silent-injection', INS21],
    ['fault-as-internal', INS8],
    ['fault-as-event', INS8],
    ['wrong-way-unsupported', 'requests/worker-wrong-direction/type:STATS_REQUEST'],
    ['exits-zero-on-fault', 'instrument-worker/closing-fault-ends-worker'],
    ['no-default-sine', UNROUTED],
    ['default-sine-on-in2', UNROUTED],
    ['last-generator-wins', SUMMED],
    ['sampler-reads-zero', SUMMED],
    ['clips-symmetric', CLIPPED],
    ['request-order', IN_ORDER],
    ['unknown-names-last', IN_ORDER],
    ['integers-only', ZERO_FRACTION],
    ['ignores-set-trigger', TRIGGERS],
    ['timeout-at-once', TRIGGERS],
    ['runs-after-shutdown', AFTER_SHUTDOWN],
    ['final-first', AFTER_SHUTDOWN],
  ])('fail a worker broken by %s in %s', async (defect, id) => {
    const results = await run(broken(defect), [id]);
    expect(results.map((r) => `${r.id}: ${r.outcome}`)).toEqual([`${id}: fail`]);
  }, 120_000);
});
