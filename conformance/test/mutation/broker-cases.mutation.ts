/**
 * The conformance suites as the tests that kill the broker's mutants (`npm run mutation`): one vitest
 * test per conformance case, so Stryker's per-test coverage runs only the cases that reach a mutant.
 * Each test starts the broker from the (mutated) sources in process, on a free loopback port with the
 * embedded broker's options, and runs its one case through the compiled harness (harness-build.ts).
 * A mutant is killed when a case that passes the reference broker does not pass it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Broker } from '../../../reference/broker/index.js';
import { loadBuiltHarness } from './harness-build.js';
import { CASE_LIMITS, frameTimeoutOf, MUTATION_SEED, MUTATION_SUITES, SKIPPED_ON_REFERENCE } from './scope.js';
import type { CaseResult } from '../../runner.js';
import type { Case } from '../../cases/model.js';

const harness = await loadBuiltHarness();
const reportDir = mkdtempSync(join(tmpdir(), 'concord-mutation-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));
// Replay one case with: npx tsx conformance/cli.ts --seed MUTATION_SEED --run ID
console.log(`mutation cases: suites ${MUTATION_SUITES.join(', ')}, seed ${MUTATION_SEED}`);

/**
 * An exception nothing caught, or a rejection nothing handled, while a case ran. The broker runs inside
 * this process, where vitest only logs it; run as its own process (`concord broker`), the same broker
 * would die of it and fail every later exchange, so here it fails the case.
 */
class BrokerCrashed extends Error {
  constructor(caseId: string, cause: unknown) {
    super(`the broker threw an uncaught exception while ${caseId} ran: ${String(cause)}`, { cause });
    this.name = 'BrokerCrashed';
  }
}

/** Runs `run`, then throws BrokerCrashed for the first uncaught exception or unhandled rejection during it. */
async function failingOnUncaught<T>(caseId: string, run: () => Promise<T>): Promise<T> {
  const uncaught: unknown[] = [];
  const record = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  try {
    const result = await run();
    // A close listener that throws runs after the sockets close: let those events fire first.
    await new Promise((resolve) => setImmediate(resolve));
    if (uncaught.length > 0) throw new BrokerCrashed(caseId, uncaught[0]);
    return result;
  } finally {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  }
}

/** Runs one case of `suite` against a fresh broker built from the sources; its result. */
async function runAgainstSourceBroker(suite: string, c: Case): Promise<CaseResult> {
  return failingOnUncaught(c.id, () => runCase(suite, c));
}

async function runCase(suite: string, c: Case): Promise<CaseResult> {
  const token = randomBytes(16).toString('hex');
  const given = { ...harness.EMBEDDED_LIMITS, ...CASE_LIMITS.get(c.id) };
  const limits = harness.resolveLimits(given);
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', token, ...harness.brokerOptionsFor(limits) });
  const bound = await broker.listen();
  let results: CaseResult[] = [];
  try {
    await harness.runCommand({
      target: `127.0.0.1:${bound.port!}`, token, limits: given, shutdownPeer: () => void broker.shutdown(),
      suites: [suite], cases: [c], run: [], skip: [], seed: MUTATION_SEED,
      timeoutMs: frameTimeoutOf(c.id), failFast: false, strict: true, knownFailing: [], json: true, reportDir,
      out: () => undefined, err: () => undefined, onFinish: (run) => (results = run.results),
    });
  } finally {
    await broker.close().catch(() => undefined);
  }
  const result = results.find((r) => r.id === c.id);
  if (!result) throw new Error(`the harness reported no result for ${c.id}`);
  return result;
}

for (const suite of MUTATION_SUITES) {
  describe(suite, () => {
    for (const c of harness.casesOf([suite])) {
      const expected = SKIPPED_ON_REFERENCE.has(c.id) ? 'skipped' : 'pass';
      it(`${c.id} -> ${expected}`, async () => {
        const r = await runAgainstSourceBroker(suite, c);
        expect(r.outcome, r.message).toBe(expected);
      });
    }
  });
}
