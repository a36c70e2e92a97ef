/**
 * By hand (npx tsx conformance/test/fifo-defect-matrix.ts [DEFECT...]): every transport-fifo case against
 * each broken FIFO broker, to see that a defect fails only the cases that target it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBrokenFifoBroker, type FifoDefect } from './broken-fifo-broker.js';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';

const all: FifoDefect[] = ['write-first', 'no-retry', 'eof-disconnect', 'rm-recursive', 'all-pairs', 'stray-files', 'remove-refused', 'lax-modes', 'unchecked-write-end'];
const defects = process.argv.length > 2 ? (process.argv.slice(2) as FifoDefect[]) : all;
const scratch = mkdtempSync(join(tmpdir(), 'concord-fifo-matrix-'));
try {
  for (const defect of defects) {
    const dir = join(scratch, defect);
    const broker = await startBrokenFifoBroker(dir, defect);
    const lines: string[] = [];
    try {
      await runCommand({
        target: `fifo:${dir}`, suites: ['fifo'], run: ['transport-fifo/**'], skip: [], seed: 7, timeoutMs: 3000, failFast: false, strict: true,
        knownFailing: [], json: true, reportDir: join(scratch, 'reports'), out: (t) => lines.push(t), err: () => undefined,
      });
    } finally {
      await broker.close();
    }
    const results = (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results;
    const bad = results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id} ${r.outcome}`);
    process.stdout.write(`${defect}: ${bad.length ? bad.join(', ') : 'passes every case'}\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
