/**
 * Replay bundles end to end: a TypeScript testee broken one way fails cases and leaves a bundle for
 * each; `conformance replay` of a bundle fails that testee again with the same case id, passes the
 * reference testees in TypeScript, C++, Python and Perl, stops inconclusive (never a pass) where the
 * bundle holds a check made in code, and refuses a missing or invalid bundle in one line (exit 66).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessOutput } from './run-process.js';
import { runCommand } from '../run-command.js';
import { replayMain } from '../replay/replay-command.js';
import { readBundle, bundleFileName, type Bundle } from '../replay/bundle.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'concord-bundle-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const tsx = (file: string, ...args: string[]): string[] => [process.execPath, '--import', 'tsx', join(root, file), ...args];
const BROKEN = tsx('conformance/test/broken-testee.ts', 'lose-re');
const ECHO = 'testee/echo/reasoning-request/encoding:json';
const REFUSE = 'testee/refuse/header/id-missing';
const PROPERTY = 'testee/prop-generated-messages-echo-equal/encoding:json';
const IN_CODE = 'testee/prop-missing-required-field-refused';
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const CPP = join(root, 'cpp-client/build/concord-testee');

let bundleDir: string;
const bundlePath = (id: string): string => join(bundleDir, bundleFileName(id));

beforeAll(async () => {
  let report = '';
  const code = await runCommand({
    exec: BROKEN, suites: ['testee'], run: [ECHO, REFUSE, PROPERTY, IN_CODE], skip: [], seed: 99, timeoutMs: 3000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: () => undefined, err: () => undefined, onFinish: (r) => (report = r.report),
  });
  expect(code).toBe(1);
  bundleDir = join(report, 'bundles');
}, 240_000);

/** Replays a bundle; the exit code and the outcome of each case the replay ran. */
async function replay(path: string, ...args: string[]): Promise<{ code: number; outcomes: Record<string, string>; messages: string[]; err: string }> {
  let out = '';
  let err = '';
  const code = await replayMain([path, '--json', '--report-dir', reportDir, ...args], { err: (t) => (err += t), out: (t) => (out += t) });
  const json = out.trim() === '' ? { results: [] } : (JSON.parse(out) as { results: { id: string; outcome: string; message?: string }[] });
  return { code, outcomes: Object.fromEntries(json.results.map((r) => [r.id, r.outcome])), messages: json.results.map((r) => r.message ?? ''), err };
}

/** Runs the conformance command. */
function cli(...args: string[]): Promise<ProcessOutput> {
  return runProcess(process.execPath, ['--import', 'tsx', 'conformance/cli.ts', ...args], { cwd: root });
}

describe('replay bundles', () => {
  it('writes one bundle per failing case, valid against reports/bundle.schema.json, with the shrunk counterexample only', () => {
    expect(readdirSync(bundleDir).sort()).toEqual([ECHO, IN_CODE, PROPERTY, REFUSE].map(bundleFileName).sort());
    const echo = readBundle(bundlePath(ECHO));
    expect(echo.case.id).toBe(ECHO);
    expect(echo.replayable).toBe(true);
    expect(echo.peer).toMatchObject({ kind: 'exec', command: BROKEN, suites: ['testee'] });
    expect(echo.steps.map((s) => s.op)).toEqual(['testee', 'send', 'echo']);
    expect(echo.verdict).toMatchObject({ outcome: 'fail', failed_step: 2 });
    // What the peer sent: its INIT, then the echo without `re`.
    expect(echo.received.filter((r) => r.conn === 0 && r.kind === 'message').length).toBeGreaterThanOrEqual(1);
    // The property's generation and shrinking leave no trace: one run, the smallest counterexample.
    const prop = readBundle(bundlePath(PROPERTY));
    expect(prop.steps.map((s) => s.op)).toEqual(['testee', 'send', 'echo']);
    expect(readFileSync(bundlePath(PROPERTY)).length).toBeLessThan(20_000);
    const refuse = readBundle(bundlePath(REFUSE));
    expect(refuse.steps.map((s) => s.op)).toEqual(['testee', 'send', 'error']);
  });

  it('records a check made in code as not replayable', () => {
    const b = readBundle(bundlePath(IN_CODE));
    expect(b.replayable).toBe(false);
    expect(b.not_replayable).toMatch(/check in code/);
  });

  it.each([ECHO, REFUSE, PROPERTY])('replay of %s fails the broken testee with the same case id', async (id) => {
    const r = await replay(bundlePath(id));
    expect(r.outcomes).toEqual({ [id]: 'fail' });
    expect(r.code).toBe(1);
  }, 120_000);

  it.each([ECHO, REFUSE, PROPERTY])('replay of %s passes the reference TypeScript testee', async (id) => {
    const r = await replay(bundlePath(id), '--exec', '--', ...tsx('reference/cli.ts', 'testee'));
    expect(r.outcomes, r.messages.join('\n')).toEqual({ [id]: 'pass' });
    expect(r.code).toBe(0);
  }, 120_000);

  // The JSON cases only: the Python and Perl testees declare JSON alone.
  const peers: [string, string[], boolean][] = [
    ['C++', [CPP], existsSync(CPP)],
    ['Python', [PYTHON, join(root, 'peers/python/concord_testee.py')], true],
    ['Perl', ['perl', join(root, 'peers/perl/concord_testee.pl')], true],
  ];
  for (const [name, command, available] of peers) {
    it.skipIf(!available).each([ECHO, REFUSE])(`a bundle made against the TypeScript testee (%s) passes the ${name} testee`, async (id) => {
      const r = await replay(bundlePath(id), '--exec', '--', ...command);
      expect(r.outcomes, r.messages.join('\n')).toEqual({ [id]: 'pass' });
      expect(r.code).toBe(0);
    }, 120_000);
  }

  it('stops a bundle with a check made in code inconclusive (exit 2), never a pass, even against a correct testee', async () => {
    const r = await replay(bundlePath(IN_CODE), '--exec', '--', ...tsx('reference/cli.ts', 'testee'));
    expect(r.outcomes).toEqual({ [IN_CODE]: 'timeout' });
    expect(r.messages[0]).toMatch(/cannot be replayed past step \d+/);
    expect(r.code).toBe(2);
  }, 120_000);

  it('stops inconclusive (exit 2), never a pass, when a bundle marked not replayable runs out of steps (a case that drove its peer another way)', async () => {
    const b = JSON.parse(readFileSync(bundlePath(ECHO), 'utf8')) as Bundle;
    const unrecorded = join(reportDir, 'unrecorded.bundle.json');
    writeFileSync(unrecorded, JSON.stringify({ ...b, replayable: false, not_replayable: 'the case owned a cluster of brokers' }));
    const r = await replay(unrecorded, '--exec', '--', ...tsx('reference/cli.ts', 'testee'));
    expect(r.outcomes).toEqual({ [ECHO]: 'timeout' });
    expect(r.messages[0]).toMatch(/recorded steps passed, but the case did more .*owned a cluster/);
    expect(r.code).toBe(2);
  }, 120_000);

  it('replays through the command line: conformance replay BUNDLE --exec -- CMD exits with the verdict', async () => {
    const r = await cli('replay', bundlePath(REFUSE), '--report-dir', reportDir, '--exec', '--', 'perl', 'peers/perl/concord_testee.pl');
    expect(r.stderr).toContain(`conformance replay: ${REFUSE}, recorded fail against exec: `);
    expect(r.stdout).toContain('PASS (exit 0)');
    expect(r.status).toBe(0);
    const help = await cli('help', 'replay');
    expect(help.stdout).toMatch(/^usage: conformance replay BUNDLE /);
  }, 150_000);

  it('refuses a missing bundle and one that fails its schema, in one line, with exit 66', async () => {
    const missing = await replay(join(reportDir, 'nothing.bundle.json'));
    expect(missing.code).toBe(66);
    expect(missing.err).toMatch(/^conformance replay: cannot read bundle .*ENOENT\n$/);
    const b = JSON.parse(readFileSync(bundlePath(ECHO), 'utf8')) as Bundle;
    const broken = join(reportDir, 'broken.bundle.json');
    writeFileSync(broken, JSON.stringify({ ...b, steps: [{ op: 'teleport', t: 0 }] }));
    const invalid = await replay(broken);
    expect(invalid.code).toBe(66);
    expect(invalid.err).toMatch(/^conformance replay: bundle .* does not match reports\/bundle.schema.json: \/steps\/0\/op must be equal to one of the allowed values/);
    expect(invalid.err.trim().split('\n')).toHaveLength(1);
    writeFileSync(broken, '{ not json');
    expect((await replay(broken)).code).toBe(66);
  });
});
