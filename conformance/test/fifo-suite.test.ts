/**
 * The fifo suite through the harness against the reference broker's --fifo-dir: the FIFO cases and a
 * slice of the core suite over FIFO pairs pass; a parent directory opened to others is flagged.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';
import { startBrokenFifoBroker, type FifoDefect } from './broken-fifo-broker.js';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';

const scratch = mkdtempSync(join(tmpdir(), 'concord-fifo-suite-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function run(dir: string, selection: string[]): Promise<{ code: number; results: CaseResult[] }> {
  const lines: string[] = [];
  const code = await runCommand({
    target: `fifo:${dir}`, suites: ['fifo'], run: selection, skip: [], seed: 7, timeoutMs: 3000, failFast: false, strict: true,
    knownFailing: [], json: true, reportDir: join(scratch, 'reports'), out: (t) => lines.push(t), err: () => undefined,
  });
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results };
}

describe('the fifo suite', () => {
  it('passes the reference broker over FIFO pairs, and leaves no pair behind', async () => {
    const dir = join(scratch, 'pairs');
    const broker = new Broker({ tcp: false, fifoDir: dir, logLevel: 'error' });
    await broker.listen();
    try {
      const { code, results } = await run(dir, ['transport-fifo/**', 'framing/**', 'requests/route-and-correlate', 'handshake/peer-gone-on-disconnect']);
      expect(results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.outcome} ${r.message}`)).toEqual([]);
      expect(results.filter((r) => r.id.startsWith('transport-fifo/')).length).toBe(12);
      expect(code).toBe(0);
    } finally {
      await broker.close();
    }
    for (let i = 0; i < 100 && readdirSync(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(dir)).toEqual([]);
  }, 120_000);

  it('flags a parent directory that grants access to others (FIFO-7)', async () => {
    const dir = join(scratch, 'opened');
    const broker = new Broker({ tcp: false, fifoDir: dir, logLevel: 'error' });
    await broker.listen();
    chmodSync(dir, 0o755); // opened after the broker checked it
    try {
      const { results } = await run(dir, ['transport-fifo/broker-dir-private']);
      expect(results.map((r) => [r.id, r.outcome])).toEqual([['transport-fifo/broker-dir-private', 'fail']]);
      expect(results[0]!.message).toMatch(/group or others/);
    } finally {
      await broker.close();
    }
  }, 60_000);

  it.each([
    ['write-first', 'transport-fifo/open-order-non-blocking', /reading FIFO/],
    ['no-retry', 'transport-fifo/open-order-non-blocking', /ENXIO/],
    ['eof-disconnect', 'transport-fifo/eof-before-writer-not-disconnect', /end of file/],
    ['rm-recursive', 'transport-fifo/pair-removal-removes-nothing-else', /foreign in the ended pair was removed/],
    ['all-pairs', 'transport-fifo/pair-removal-removes-nothing-else', /other client's pair .*, still served was removed/],
    ['stray-files', 'transport-fifo/pair-removal-removes-nothing-else', /the file .* beside the pairs was removed/],
    ['remove-refused', 'transport-fifo/refused-pair-left-untouched', /broker-to-client missing.*mode 0750.*absent/],
    ['lax-modes', 'transport-fifo/insecure-pair-refused', /mode 0750.*mode 0701.*mode 0640.*mode 0604/],
    ['unchecked-write-end', 'transport-fifo/regular-write-end-never-used', /regular file broker-to-client/],
  ] as [FifoDefect, string, RegExp][])('flags a broker that opens, refuses or removes its pairs wrongly (%s) in %s', async (defect, id, message) => {
    const dir = join(scratch, `broken-${defect}`);
    const broker = await startBrokenFifoBroker(dir, defect);
    try {
      const { results } = await run(dir, [id]);
      expect(results.map((r) => [r.id, r.outcome])).toEqual([[id, 'fail']]);
      expect(results[0]!.message).toMatch(message);
    } finally {
      await broker.close();
    }
  }, 60_000);
});
