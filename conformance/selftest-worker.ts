/**
 * Runs one cell of the selftest matrix (one suite against one reference peer) in a process of its
 * own, so that `conformance selftest` can run cells side by side (CONCORD_SELFTEST_JOBS). Argument:
 * JSON {peer, column, seed, timeoutMs, faults?}; prints the cell's counts as one JSON line on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runUnit } from './selftest.js';
import { stopPeersOnExit } from './wire/peer-process.js';
import type { FaultSpec } from './faults/profile.js';

const { peer, column, seed, timeoutMs, faults } = JSON.parse(process.argv[2] ?? '{}') as { peer: string; column: string; seed: number; timeoutMs: number; faults?: FaultSpec };
stopPeersOnExit();
const scratch = mkdtempSync(join(tmpdir(), 'concord-selftest-'));
try {
  const counts = await runUnit(peer, column, { seed, timeoutMs, ...(faults ? { faults } : {}) }, scratch, (t) => void process.stderr.write(t));
  process.stdout.write(`\n${JSON.stringify(counts)}\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(0);
