import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { brokerOptionsFor, EMBEDDED_LIMITS, resolveLimits } from '../limits.js';
import { livenessCases } from '../cases/runtime-liveness.cases.js';
import { shutdownCases } from '../cases/runtime-shutdown.cases.js';
import { runtimeRequestCases } from '../cases/runtime-requests.cases.js';
import { runtimeSystemCases } from '../cases/runtime-system.cases.js';
import { brokerShutdownCases } from '../cases/runtime-broker-shutdown.cases.js';
import { startRuntimeProxy } from './runtime-proxy.js';
import { RUNTIME_VARIANTS } from './runtime-mutants.js';

const RUNTIME_CASES = [...livenessCases, ...shutdownCases, ...runtimeRequestCases, ...runtimeSystemCases, ...brokerShutdownCases].map((c) => c.id);
/** Cases that need the broker shut down, so run against a broker of their own. */
const SHUTS_DOWN = brokerShutdownCases.map((c) => c.id);
/**
 * Cases that never meet a drain yet wait out a catalog timeout (10 s): left out of the 0 ms drain run,
 * whose point is the drain; the proxy run and their variants still run them.
 */
const DRAIN_FREE_WAITS = ['requests/timeout-at-the-catalog-timeout'];
/**
 * The embedded harness's low timers, with a drain long enough to tell a drain of the client's drain_ms
 * (300 ms) from one of the broker's own even with a frame timeout of a loaded machine.
 */
const LIMITS = { ...EMBEDDED_LIMITS, shutdown_drain_ms: 2500 };
const brokerOptions = { host: '127.0.0.1', port: 0, logLevel: 'error', ...brokerOptionsFor(resolveLimits(LIMITS)) } as const;
const reportDir = mkdtempSync(join(tmpdir(), 'concord-runtime-mutants-'));
let broker: Broker;
let brokerPort: number;

beforeAll(async () => {
  // The reference broker with the embedded harness's low timers; the harness is told the same limits.
  broker = new Broker(brokerOptions);
  brokerPort = (await broker.listen()).port!;
});
afterAll(async () => {
  await broker.close();
  rmSync(reportDir, { recursive: true, force: true });
});

async function run(target: string | undefined, cases: string[], shutdownPeer?: () => void, limits = LIMITS): Promise<{ code: number; results: CaseResult[] }> {
  const lines: string[] = [];
  const code = await runCommand({
    ...(target !== undefined ? { target } : {}), ...(shutdownPeer ? { shutdownPeer } : {}), limits, suites: ['core'], run: cases, skip: [], seed: 1, timeoutMs: 1000,
    failFast: false, strict: false, knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  });
  const json = lines.find((l) => l.startsWith('{'));
  return { code, results: json ? (JSON.parse(json) as { results: CaseResult[] }).results : [] };
}

const failing = (results: CaseResult[]): string => results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.outcome} ${r.message ?? ''}`).join('\n');

describe('broker-runtime cases against the reference broker', () => {
  // The pass check of the variants' conditions (these LIMITS): the cases that shut the broker down
  // against a broker of their own, here; every other runtime case through the proxy below. That the
  // embedded broker passes the whole core suite, runtime cases included, at the embedded limits is the
  // selftest's reference-broker core cell (npm test runs it).
  it('the embedded reference broker passes every runtime case that shuts it down', async () => {
    // One broker per case: a broker shuts down once, and a later case of the same run is skipped.
    for (const id of SHUTS_DOWN) {
      const { code, results } = await run(undefined, [id]);
      expect(results.map((r) => r.id)).toEqual([id]);
      expect(failing(results)).toBe('');
      expect(code).toBe(0);
    }
  }, 120_000);

  it('the embedded reference broker draining for 0 ms (the minimum of shutdown_drain_ms) fails no case', async () => {
    // The cases that act during a drain cannot be shown then: they skip rather than blame the broker.
    const cases = RUNTIME_CASES.filter((id) => !DRAIN_FREE_WAITS.includes(id));
    expect(cases.length).toBe(RUNTIME_CASES.length - DRAIN_FREE_WAITS.length);
    const { code, results } = await run(undefined, cases, undefined, { ...EMBEDDED_LIMITS, shutdown_drain_ms: 0 });
    expect(results.length).toBe(cases.length);
    expect(results.filter((r) => r.outcome !== 'pass' && r.outcome !== 'skipped').map((r) => `${r.id}: ${r.outcome} ${r.message ?? ''}`)).toEqual([]);
    expect(results.filter((r) => r.outcome === 'pass').length).toBeGreaterThan(cases.length / 2);
    expect(code).toBe(0);
  }, 120_000);

  it('every runtime case is named by a variant that must be caught by it', () => {
    const named = new Set(RUNTIME_VARIANTS.flatMap((v) => v().caughtBy));
    expect(RUNTIME_CASES.filter((id) => !named.has(id))).toEqual([]);
    for (const id of named) expect(RUNTIME_CASES, id).toContain(id);
  });

  it('the proxy injecting no defect passes every runtime case (the proxy itself is sound)', async () => {
    const proxy = await startRuntimeProxy({ name: 'none', caughtBy: [] }, brokerPort);
    try {
      const cases = RUNTIME_CASES.filter((id) => !SHUTS_DOWN.includes(id));
      const { code, results } = await run(`127.0.0.1:${proxy.port}`, cases);
      expect(results.length, `exit ${code}`).toBe(cases.length);
      expect(failing(results)).toBe('');
      expect(code).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

describe('broker variants with one runtime defect', () => {
  it.each(RUNTIME_VARIANTS.map((make) => [make().name, make] as const))('%s is caught by each case named for it', async (_name, make) => {
    const variant = make();
    const own = variant.shutsDown ? new Broker(brokerOptions) : undefined;
    const proxy = await startRuntimeProxy(variant, own ? (await own.listen()).port! : brokerPort);
    try {
      const { code, results } = await run(`127.0.0.1:${proxy.port}`, variant.caughtBy, own ? () => void own.shutdown() : undefined);
      for (const id of variant.caughtBy) {
        const r = results.find((x) => x.id === id);
        expect(r, `${id} did not run`).toBeDefined();
        expect(['fail', 'timeout'], `${id}: ${r!.outcome} ${r!.message ?? ''}`).toContain(r!.outcome);
      }
      // A failed recommended case fails the run only under --strict (exitCodeOf).
      if (results.some((r) => variant.caughtBy.includes(r.id) && r.level === 'required')) expect(code).not.toBe(0);
      else expect(code).toBe(0);
    } finally {
      await proxy.close();
      await own?.close();
    }
  }, 60_000);
});
