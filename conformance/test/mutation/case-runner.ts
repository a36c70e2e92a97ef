/**
 * What the mutation test files share: one vitest test per conformance case, each run through the
 * compiled harness (harness-build.ts) against brokers its file starts from the (mutated) sources for
 * that case alone and stops when the case ends, failing the case on an exception nothing caught.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { BrokerOptions } from '../../../reference/broker/index.js';
import type { BuiltHarness } from './harness-build.js';
import { CASE_LIMITS, frameTimeoutOf, MUTATION_SEED, placementOf, SKIPPED_ON_REFERENCE } from './scope.js';
import { startPool, type CasePool, type PoolJob, type Settled } from './case-pool.js';
import type { CaseResult } from '../../runner.js';
import type { Case } from '../../cases/model.js';
import type { ClusterDriver } from '../../wire/cluster-driver.js';
import type { BrokerLauncher } from '../../wire/broker-launch.js';

/**
 * An exception nothing caught, or a rejection nothing handled, while a case ran. The broker runs inside
 * this process, where vitest only logs it; run as its own process (`concord broker`), the same broker
 * would die of it and fail every later exchange, so here it fails the case.
 */
export class BrokerCrashed extends Error {
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

/** The brokers one case runs against: the harness's target, and how to shut them down (HS-17) or stop them. */
export interface BrokersUnderTest {
  /** `host:port`, or several joined by commas (the k-th connection of a case goes to the k-th mod n). */
  target?: string;
  /** Instead of a target, for the cluster-process suite: what starts the case's own cluster (its brokers in this process). */
  clusterDriver?: () => Promise<ClusterDriver>;
  /** Starts the graceful shutdown the harness asks for (`handshake/broker-shutdown-drains-and-closes`). */
  shutdown(): void;
  /** Stops every broker at once; called when the case ends, also when it failed. */
  close(): Promise<void>;
}

/** Starts the brokers of one case with the token and the options of the case's limits. */
export type StartBrokers = (caseId: string, options: BrokerOptions & { token: string }) => Promise<BrokersUnderTest>;

/** Runs one case of `suite` through the built harness against brokers `start` makes for it; its result. */
export async function runCaseAgainst(harness: BuiltHarness, start: StartBrokers, reportDir: string, suite: string, c: Case): Promise<CaseResult> {
  return failingOnUncaught(c.id, async () => {
    const token = randomBytes(16).toString('hex');
    const given = { ...harness.EMBEDDED_LIMITS, ...CASE_LIMITS.get(c.id) };
    const brokers = await start(c.id, { token, ...harness.brokerOptionsFor(harness.resolveLimits(given)) });
    let results: CaseResult[] = [];
    try {
      await harness.runCommand({
        ...(brokers.clusterDriver ? { clusterDriver: brokers.clusterDriver } : { target: brokers.target }), token, limits: given, shutdownPeer: () => brokers.shutdown(),
        suites: [suite], cases: [c], run: [], skip: [], seed: MUTATION_SEED,
        timeoutMs: frameTimeoutOf(c.id), failFast: false, strict: true, knownFailing: [], json: true,
        // Apart from the reports of cases running beside it (case-pool.ts): their `latest` links would clash.
        reportDir: join(reportDir, c.id.replace(/[^A-Za-z0-9._-]/g, '_')),
        out: () => undefined, err: () => undefined, onFinish: (run) => (results = run.results),
      });
    } finally {
      await brokers.close();
    }
    const result = results.find((r) => r.id === c.id);
    if (!result) throw new Error(`the harness reported no result for ${c.id}`);
    return result;
  });
}

/**
 * Runs one case of suite broker-process through the built harness, which starts each of the case's
 * brokers from `command` (placeholders filled) with `launch`, in this process; its result.
 */
export async function runLaunchedCase(harness: BuiltHarness, launch: BrokerLauncher, command: string[], reportDir: string, suite: string, c: Case): Promise<CaseResult> {
  return failingOnUncaught(c.id, async () => {
    let results: CaseResult[] = [];
    await harness.runCommand({
      brokerCommand: command, brokerLauncher: launch, suites: [suite], cases: [c], run: [], skip: [], seed: MUTATION_SEED,
      timeoutMs: frameTimeoutOf(c.id), failFast: false, strict: true, knownFailing: [], json: true,
      reportDir: join(reportDir, c.id.replace(/[^A-Za-z0-9._-]/g, '_')),
      out: () => undefined, err: () => undefined, onFinish: (run) => (results = run.results),
    });
    const result = results.find((r) => r.id === c.id);
    if (!result) throw new Error(`the harness reported no result for ${c.id}`);
    return result;
  });
}

/** A directory for the harness's reports, removed when the test file ends. */
export function reportDirForThisFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-mutation-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

declare module 'vitest' {
  interface ProvidedContext {
    /** Given by Stryker's vitest runner: 'dry-run' (coverage per test) or 'mutant'; absent outside Stryker. */
    mode?: 'dry-run' | 'mutant';
  }
}

export interface CaseTests {
  suites: readonly string[];
  /** The test's name for a case and its expected outcome; distinct across the mutation files. */
  testName(c: Case, expected: string): string;
  /** Cases left out of this file, with the reason. */
  leftOut?: ReadonlyMap<string, string>;
  /**
   * How many cases run at once under a mutant (case-pool.ts); 1 where the cases share state beyond their
   * brokers. The dry run and any run outside Stryker take one case at a time.
   */
  together: number;
  run(suite: string, c: Case): Promise<CaseResult>;
}

/** A case's outcome in one line: its outcome and message, or what it threw. */
function settledText(s: Settled<CaseResult>): string {
  return 'value' in s ? `${s.value.outcome}${s.value.message ? `: ${s.value.message}` : ''}` : String(s.error);
}

/** What `run` returned or threw. */
async function settleRun(run: () => Promise<CaseResult>): Promise<Settled<CaseResult>> {
  return run().then((value) => ({ value }), (error: unknown) => ({ error }));
}

/**
 * One test per case: it must pass, or be skipped where the reference broker skips it. Under a mutant, a
 * case whose outcome is not the expected one runs again alone (case-pool.ts) and fails its test only
 * when it fails again: a failure the load made is no kill.
 */
export function defineCaseTests(harness: BuiltHarness, t: CaseTests): void {
  for (const suite of t.suites) {
    describe(suite, () => {
      const tests: Array<{ name: string; c: Case; expected: string }> = [];
      for (const c of harness.casesOf([suite])) {
        if (t.leftOut?.has(c.id)) continue;
        const expected = SKIPPED_ON_REFERENCE.has(c.id) ? 'skipped' : 'pass';
        // The fingerprint keeps Stryker's incremental mode honest: a changed case is a new test (case-fingerprint.ts).
        tests.push({ name: `${t.testName(c, expected)} #${harness.fingerprint(c)}`, c, expected });
      }
      const expectedOf = new Map(tests.map((x) => [x.name, x.expected]));
      const failed = (name: string, s: Settled<CaseResult>): boolean => !('value' in s) || s.value.outcome !== expectedOf.get(name);
      // Asked when a test runs: Stryker provides the mode anew for each run.
      const underMutant = (): boolean => inject('mode') === 'mutant';
      let pool: CasePool<CaseResult> | undefined;
      beforeAll((describeBlock) => {
        if (!underMutant() || t.together <= 1) return;
        // The tests Stryker selected for this mutant (its per-test coverage): vitest has marked the others skipped.
        const selected = new Set(describeBlock.tasks.filter((task) => task.mode === 'run').map((task) => task.name));
        const jobs: PoolJob<CaseResult>[] = tests.filter((x) => selected.has(x.name)).map((x) => ({ name: x.name, placement: placementOf(x.c.id, suite), run: () => t.run(suite, x.c) }));
        // The cases that run alone go last, so that none holds up the cases sharing the pool.
        jobs.sort((x, y) => Number(x.placement === 'alone') - Number(y.placement === 'alone'));
        pool = startPool(jobs, t.together, failed);
      });
      afterAll(async () => {
        await pool?.stop();
        // Stryker's vitest runner reports every test skipped in a describe where a test failed as failed too,
        // with the describe's first error as its message (findSuiteError in vitest-helpers.js), and a
        // mutant's statusReason is the first failed test's message: this error names the case that killed it.
        const failure = pool?.confirmedFailure;
        if (failure) throw new Error(`killed by ${failure.name}: ${settledText(failure.settled)}`);
      });
      for (const { name, c, expected } of tests) {
        it(name, async () => {
          // Outside a pool, a mutant's failure is confirmed the same way: a one-job pool runs it again.
          const settled = pool ? await pool.outcome(name) : underMutant() ? await startPool([{ name, placement: 'pool', run: () => t.run(suite, c) }], 1, failed).outcome(name) : await settleRun(() => t.run(suite, c));
          // Not run because another case of this mutant failed: that case's test reports the kill (Stryker's
          // killedBy). Passing rather than skipping keeps this test out of killedBy where it can.
          if (settled === undefined) return;
          if ('error' in settled) throw new Error(`${c.id}: ${settledText(settled)}`, { cause: settled.error });
          const r = settled.value;
          expect(r.outcome, `${c.id}: ${r.message}`).toBe(expected);
        });
      }
    });
  }
}
