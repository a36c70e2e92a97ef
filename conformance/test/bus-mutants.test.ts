/**
 * The broker cases of the bus and the registry (core suite) against broken brokers: each proxy mutant
 * of bus-mutants.ts and each dispatch defect of broken-dispatch.ts is caught by the case named for it,
 * and the reference broker behind a proxy that injects nothing passes every one of those cases.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';
import { runCommand } from '../run-command.js';
import { casesOf } from '../suites.js';
import type { CaseResult } from '../runner.js';
import { startMutantProxy } from './mutant-proxy.js';
import { ANNOUNCES_MAX_SUBSCRIPTIONS, BUS_MUTANTS } from './bus-mutants.js';
import { breakDispatch, type DispatchDefect } from './broken-dispatch.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-bus-mutants-'));
let broker: Broker;
let brokerPort: number;

beforeAll(async () => {
  broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
  brokerPort = (await broker.listen()).port!;
});
afterAll(async () => {
  await broker.close();
  rmSync(reportDir, { recursive: true, force: true });
});

async function run(port: number, cases: string[]): Promise<{ code: number; results: CaseResult[]; text: string }> {
  const lines: string[] = [];
  const code = await runCommand({
    target: `127.0.0.1:${port}`, suites: ['core'], run: cases, skip: [], seed: 1, timeoutMs: 500,
    failFast: false, strict: false, knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: (t) => lines.push(t),
  });
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results, text: lines.join('') };
}

const DISPATCH_DEFECTS: [DispatchDefect, string][] = [
  ['no-backoff', 'registry/dispatch-retries-with-backoff'],
  ['no-retries', 'registry/dispatch-retries-with-backoff'],
  ['retries-timeouts', 'registry/dispatch-timeout-not-retried'],
  ['retries-peer-gone', 'registry/peer-gone-not-retried'],
  ['load-kept-on-failure', 'registry/load-raised-and-lowered'],
];

const NAMED = [...new Set([...BUS_MUTANTS.map((m) => m.caughtBy), ...DISPATCH_DEFECTS.map(([, c]) => c)])];

describe('bus and registry broker variants with one injected defect', () => {
  it('names only cases of the core suite', () => {
    const ids = new Set(casesOf(['core']).map((c) => c.id));
    for (const id of NAMED) expect(ids.has(id), id).toBe(true);
  });

  it('passes every named case through a proxy that only adds the max_subscriptions announcement', async () => {
    const proxy = await startMutantProxy(ANNOUNCES_MAX_SUBSCRIPTIONS, brokerPort);
    try {
      const { code, results, text } = await run(proxy.port, NAMED);
      expect(results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.message}`), text).toEqual([]);
      expect(results).toHaveLength(NAMED.length);
      expect(code).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 90_000);

  it.each(BUS_MUTANTS.map((m) => [m.name, m] as const))('%s is caught by its case', async (_name, mutant) => {
    const proxy = await startMutantProxy(mutant, brokerPort);
    try {
      const { code, results } = await run(proxy.port, [mutant.caughtBy]);
      const result = results.find((r) => r.id === mutant.caughtBy)!;
      expect(['fail', 'timeout'], `${mutant.caughtBy}: ${result.outcome} ${result.message ?? ''}`).toContain(result.outcome);
      expect(code).not.toBe(0);
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it.each(DISPATCH_DEFECTS)('a broker whose dispatch has defect %s is caught by %s', async (defect, caseId) => {
    const broken = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
    const port = (await broken.listen()).port!;
    breakDispatch(broken, defect);
    try {
      const { code, results } = await run(port, [caseId]);
      const result = results.find((r) => r.id === caseId)!;
      expect(['fail', 'timeout'], `${caseId}: ${result.outcome} ${result.message ?? ''}`).toContain(result.outcome);
      expect(code).not.toBe(0);
    } finally {
      await broken.close();
    }
  }, 30_000);
});
