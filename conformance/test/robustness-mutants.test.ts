/**
 * The robustness cases (conformance/cases/robustness.cases.ts) against reference brokers with one
 * defect injected through a config switch (BrokerOptions.defects): each case must catch its defect,
 * and pass against the broker without it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, type BrokerOptions } from '../../reference/broker/index.js';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-robustness-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

/** Runs `cases` against a broker started with `options`; returns each case's outcome. */
async function outcomes(options: BrokerOptions, cases: string[]): Promise<Map<string, CaseResult>> {
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', ...options });
  const port = (await broker.listen()).port!;
  try {
    const lines: string[] = [];
    await runCommand({
      target: `127.0.0.1:${port}`, suites: ['core'], run: cases, skip: [], seed: 1, timeoutMs: 1000,
      failFast: false, strict: false, knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: (t) => lines.push(t),
    });
    const results = (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results;
    return new Map(results.map((r) => [r.id, r]));
  } finally {
    await broker.close();
  }
}

const VARIANTS: { defect: keyof NonNullable<BrokerOptions['defects']>; options: BrokerOptions; cases: string[] }[] = [
  {
    defect: 'inFlightRoutedOnly',
    options: { maxInFlight: 16 },
    cases: ['limits/in-flight-counts-every-request/type:bus-query', 'limits/in-flight-counts-every-request/type:service-dispatch'],
  },
  { defect: 'keepSlowReaders', options: {}, cases: ['limits/slow-reader-closed-sender-resumes'] },
  { defect: 'queueOwnRequests', options: {}, cases: ['limits/own-requests-to-a-full-queue-refused'] },
  // An answered dispatch that frees two slots: limits/dispatch-answered-frees-its-in-flight-slot passes it (its
  // count only drifts low); the caller must be refused at max_in_flight after answered dispatches.
  { defect: 'dispatchReleasedTwice', options: { maxInFlight: 16 }, cases: ['limits/in-flight-limit-after-listings-and-dispatches'] },
];

describe('robustness cases against brokers with one injected defect', () => {
  it.each(VARIANTS.map((v) => [v.defect, v] as const))('%s: the cases pass without the defect and catch it with it', async (_name, v) => {
    const good = await outcomes(v.options, v.cases);
    for (const id of v.cases) expect(good.get(id)?.outcome, `${id} without the defect: ${good.get(id)?.message ?? ''}`).toBe('pass');
    const broken = await outcomes({ ...v.options, defects: { [v.defect]: true } }, v.cases);
    for (const id of v.cases) expect(['fail', 'timeout'], `${id} with ${v.defect}: ${broken.get(id)?.outcome} ${broken.get(id)?.message ?? ''}`).toContain(broken.get(id)?.outcome);
  }, 120_000);
});
