/** `conformance selftest` runs cells side by side in worker processes and gives the same matrix as one by one. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSelftest, selftestPassed } from '../selftest.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-selftest-test-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

describe('conformance selftest', () => {
  it('runs two cells at a time in worker processes, with the counts of a run in one process', async () => {
    const base = { seed: 7, timeoutMs: 3000, reportDir, peers: ['typescript', 'perl'], columns: ['client'], err: () => undefined };
    const side = await runSelftest({ ...base, jobs: 2 });
    expect(selftestPassed(side)).toBe(true);
    expect(side.map((r) => [r.name, Object.keys(r.suites)])).toEqual([['typescript', ['client']], ['perl', ['client']]]);
    expect(side[0]!.suites['client']!.passed).toBeGreaterThan(5);
    expect(side.flatMap((r) => Object.values(r.suites).map((c) => c.not_passing))).toEqual([undefined, undefined]);
    const matrix = JSON.parse(readFileSync(join(reportDir, 'selftest', 'matrix.json'), 'utf8')) as { peers: unknown[] };
    expect(matrix.peers).toEqual(JSON.parse(JSON.stringify(side)));
    const progress: string[] = [];
    const alone = await runSelftest({ ...base, jobs: 1, err: (t) => progress.push(t) });
    // Every cell's wall time is on stderr, for npm test's list of the longest.
    expect(progress.join('').match(/^selftest: (typescript|perl) client took \d+\.\d s$/gm)).toEqual([expect.stringMatching(/typescript/), expect.stringMatching(/perl/)]);
    const counts = (rows: typeof side): unknown => rows.map((r) => Object.entries(r.suites).map(([k, c]) => [r.name, k, c.passed, c.failed, c.skipped, c.required]));
    expect(counts(side)).toEqual(counts(alone));
    // The client column has 165 cases, each starting a client process: about 70 s one by one on an
    // idle machine, twice that and more under npm test's load.
  }, 600_000);
});
