import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { useReferenceBroker } from './reference-broker-fixture.js';
import { runCommand } from '../run-command.js';
import { casesOf } from '../suites.js';
import type { CaseResult } from '../runner.js';
import { startMutantProxy } from './mutant-proxy.js';
import { MUTANTS } from './mutants.js';

const fixture = useReferenceBroker('concord-mutants-');
const reportDir = fixture.reportDir;

describe('broker variants with one injected defect', () => {
  it('has at least 8 variants, each naming a case that exists', () => {
    expect(MUTANTS.length).toBeGreaterThanOrEqual(8);
    const ids = new Set(casesOf(['core']).map((c) => c.id));
    for (const m of MUTANTS) expect(ids.has(m.caughtBy), `${m.name} -> ${m.caughtBy}`).toBe(true);
  });

  it('passes the named cases through a proxy that injects no defect (the proxy itself is sound)', async () => {
    const proxy = await startMutantProxy({ name: 'none', caughtBy: '', toBroker: (f) => f, toClient: (f) => f }, fixture.port);
    try {
      const lines: string[] = [];
      const code = await runCommand({
        target: `127.0.0.1:${proxy.port}`, suites: ['core'], run: [...new Set(MUTANTS.map((m) => m.caughtBy))], skip: [], seed: 1, timeoutMs: 500,
        failFast: false, strict: false, knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: (t) => lines.push(t),
      });
      expect(code, lines.join('')).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it.each(MUTANTS.map((m) => [m.name, m] as const))('%s is caught by its case', async (_name, mutant) => {
    const proxy = await startMutantProxy(mutant, fixture.port);
    try {
      const lines: string[] = [];
      const code = await runCommand({
        target: `127.0.0.1:${proxy.port}`, suites: ['core'], run: [mutant.caughtBy], skip: [], seed: 1, timeoutMs: 400,
        failFast: false, strict: false, knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: (t) => lines.push(t),
      });
      const result = (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results.find((r) => r.id === mutant.caughtBy)!;
      expect(['fail', 'timeout'], `${mutant.caughtBy}: ${result.outcome} ${result.message ?? ''}`).toContain(result.outcome);
      // A failed recommended case fails the run only under --strict (exitCodeOf).
      expect(code === 0).toBe(result.level !== 'required');
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('replays: the same --seed reproduces the same shrunk counterexample', async () => {
    const mutant = MUTANTS.find((m) => m.name === 'payload-value-changed-in-transit')!;
    const proxy = await startMutantProxy(mutant, fixture.port);
    try {
      const once = async (seed: number): Promise<string> => {
        const lines: string[] = [];
        await runCommand({
          target: `127.0.0.1:${proxy.port}`, suites: ['core'], run: [mutant.caughtBy], skip: [], seed, timeoutMs: 400,
          failFast: false, strict: false, knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
        });
        const r = (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results[0]!;
        return r.message!.replace(/"dst":"[^"]+"/g, '').replace(/wire bytes: [0-9a-f]+/, '');
      };
      const first = await once(20261123);
      expect(first).toMatch(/seed 20261123, path [0-9:]+, \d+ shrinks; smallest counterexample: REASONING_REQUEST/);
      expect(await once(20261123)).toBe(first);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
