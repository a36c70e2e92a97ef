/**
 * `conformance diff` end to end: the TypeScript and Python testees agree; a testee with one injected
 * defect is caught with the shrunk input, the side-by-side answers and the statement it breaks; the
 * three engines of this repository agree bit for bit and a broken one is named; a peer that cannot
 * start is exit 69, a bad --peer exit 64.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runDiff, type DiffOptions } from '../run-diff.js';
import { formatDiff } from '../format.js';
import { engineAvailable, engineCommand } from '../../../reference/engine/processes.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
/** Words back into one --peer value, each single-quoted (the splitter's inverse). */
const line = (words: string[]): string => words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
const tsx = (file: string, ...args: string[]): string => line([process.execPath, '--import', 'tsx', join(root, file), ...args]);
const TS_TESTEE = tsx('reference/cli.ts', 'testee');
const PY_TESTEE = line(['python3', join(root, 'peers/python/concord_testee.py')]);
const engine = (language: 'typescript' | 'python' | 'cpp'): string => line(engineCommand(language, ['--stdio']));

/** A fixed seed unless DIFF_SEED is given; printed so that any failure replays. */
const SEED = Number(process.env['DIFF_SEED'] ?? 20261202);
console.log(`diff tests: seed ${SEED} (DIFF_SEED=${SEED} replays them)`);

const options = (peers: string[], extra: Partial<DiffOptions> = {}): DiffOptions => ({ peers, seed: SEED, timeoutMs: 20_000, startTimeoutMs: 60_000, ...extra });

describe('conformance diff: codec testees', () => {
  it('finds nothing between the TypeScript and Python testees', async () => {
    const r = await runDiff(options([TS_TESTEE, PY_TESTEE], { runs: 60 }));
    expect(r.problem).toBeUndefined();
    expect(r.disagreement ? formatDiff(r) : '').toBe('');
    expect(r).toMatchObject({ exit: 0, kind: 'codec', runs: 60 });
    expect(r.peers.map((p) => [p.language, p.starts])).toEqual([['typescript', 1], ['python', 1]]);
  }, 300_000);

  it('reports the shrunk input, both answers and the statement when one testee names the wrong details.path (exit 1)', () => {
    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'conformance/cli.ts'), 'diff', '--peer', TS_TESTEE, '--peer', tsx('conformance/test/broken-testee.ts', 'wrong-path'), '--seed', String(SEED), '--runs', '60', '--start-timeout', '60000'], { cwd: root, encoding: 'utf8', timeout: 280_000 });
    expect(cli.stderr).toContain(`seed ${SEED}`);
    expect(cli.status).toBe(1);
    const out = cli.stdout;
    // The smallest input: one frame lacking one required member, answered by both with SCHEMA_VIOLATION.
    expect(out).toMatch(/smallest input:\n {2}\S+ in json without its required member "([^"]+)": /);
    const member = /required member "([^"]+)"/.exec(out)![1]!;
    expect(out).toMatch(/frames sent:\n {2}0\. \S+ \(json\) without \S+: [0-9a-f]+\nanswers to frame 0/);
    expect(out).toMatch(new RegExp(`\\n {2}A +ERROR SCHEMA_VIOLATION definite=true re="d\\d+" path="/${member}" rule="required" +as the spec says\\n`));
    expect(out).toMatch(new RegExp(`\\n {2}B +ERROR SCHEMA_VIOLATION definite=true re="d\\d+" path="/${member}/x" rule="required" +wrong: details.path \\(ERR-11\\)\\n`));
    expect(out).toMatch(new RegExp(`\\n {2}spec +ERROR SCHEMA_VIOLATION definite=true re="d\\d+" path="/${member}" rule="required"\\n`));
    expect(out.trimEnd().split('\n').at(-1)).toBe('B is wrong by ERR-11');
  }, 300_000);

  it('exits 69 when a peer cannot start, and 64 for a --peer that needs a shell', async () => {
    const missing = await runDiff(options([TS_TESTEE, line([join(root, 'no-such-testee')])], { runs: 1, startTimeoutMs: 5000 }));
    expect(missing).toMatchObject({ exit: 69 });
    expect(missing.problem).toMatch(/no-such-testee: no such executable file/);
    const exits = await runDiff(options([line(['sh', '-c', 'echo broken >&2; exit 3']), TS_TESTEE], { runs: 1, startTimeoutMs: 5000 }));
    expect(exits).toMatchObject({ exit: 69 });
    expect(exits.problem).toMatch(/exit status: status 3[\s\S]*broken/);
    expect(await runDiff(options([TS_TESTEE, 'python3 x.py | tee log'], { runs: 1 }))).toMatchObject({ exit: 64, problem: expect.stringMatching(/"\|" at offset 13 .* needs a shell/) });
    expect(await runDiff(options([TS_TESTEE], { runs: 1 }))).toMatchObject({ exit: 64 });
  }, 120_000);
});

describe('conformance diff: engines', () => {
  // The C++ engine needs the CMake build: without it (and without CONCORD_REQUIRE_CPP=1) two engines are compared.
  const withCpp = engineAvailable('cpp') || process.env['CONCORD_REQUIRE_CPP'] === '1';
  const languages: ('typescript' | 'python' | 'cpp')[] = ['typescript', 'python', ...(withCpp ? ['cpp' as const] : [])];
  it(`finds the ${languages.join(', ')} engines in agreement, bit for bit`, async () => {
    const r = await runDiff(options(languages.map(engine), { runs: 15 }));
    expect(r.disagreement ? formatDiff(r) : r.problem ?? '').toBe('');
    expect(r).toMatchObject({ exit: 0, kind: 'engine', runs: 15 });
    expect(r.peers.map((p) => p.language)).toEqual(languages);
  }, 400_000);

  it('names the engine whose TEACHER_SYNC gives the sample standard deviation, by ENG-8, on the reset and one MTL_COORDINATE', async () => {
    const r = await runDiff(options([engine('typescript'), tsx('conformance/test/broken-engine.ts', 'mtl-sample-stddev')], { runs: 30 }));
    expect(r).toMatchObject({ exit: 1, kind: 'engine' });
    const d = r.disagreement!;
    expect(d.frames.map((f) => f.note)).toEqual(['PARAMETER_SYNC (the reset to a fresh engine)', expect.stringMatching(/^MTL_COORDINATE \((json|cbor)\)$/)]);
    expect(d.step).toBe(1);
    expect(d.verdicts[0]).toEqual({ peer: 'A', verdict: 'right' });
    expect(d.verdicts[1]).toMatchObject({ peer: 'B', verdict: 'wrong', statements: expect.arrayContaining(['ENG-8']) });
    expect((d.verdicts[1] as { fields: string[] }).fields).toContain('/disagreement');
    expect(formatDiff(r)).toMatch(/\nB is wrong by ENG-8(, ENG-4)?$/);
  }, 400_000);
});
