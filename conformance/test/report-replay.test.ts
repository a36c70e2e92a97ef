/**
 * A failure's replay command, end to end: a run of a broken testee (--exec) prints it in the terminal,
 * the JSON, the HTML and the JUnit file; executed as printed, it runs that one case against that testee
 * and fails it again. The JUnit file's totals are read back with an XML parser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJUnit } from '../report/junit.js';
import type { ReportedCase } from '../report/write.js';
import { runProcess, type ProcessOutput } from './run-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FAILING = 'testee/echo/reasoning-request/encoding:json';
const PASSING = 'testee/echo/init/encoding:json';
const SKIPPED = 'transport-unix/socket-mode-0600';
const TESTEE = [process.execPath, '--import', 'tsx', 'conformance/test/broken-testee.ts', 'lose-re'];

/** Runs a command; the replay names the harness as this test starts it, whatever CI sets. */
function run(command: string, args: string[]): Promise<ProcessOutput> {
  return runProcess(command, args, { cwd: root, env: { ...process.env, CONCORD_REPLAY_PROGRAM: '' } });
}

interface JsonResult { id: string; outcome: string; replay?: string }
let reportDir: string;
let first: { status: number | null; stdout: string; stderr: string };
let json: { exit_code: number; report: string; results: JsonResult[] };

beforeAll(async () => {
  reportDir = mkdtempSync(join(realpathSync(tmpdir()), 'concord-replay-'));
  first = await run(process.execPath, ['--import', 'tsx', 'conformance/cli.ts', '--exec', '--suite', 'testee', '--suite', 'broker-process',
    '--run', FAILING, '--run', PASSING, '--run', SKIPPED, '--seed', '5', '--json', '--report-dir', reportDir, '--', ...TESTEE]);
  json = JSON.parse(first.stdout) as typeof json;
}, 130_000);
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const unescapeHtml = (s: string): string => s.replace(/&(lt|gt|quot|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', amp: '&' })[e]!);

/** The root and suites of a JUnit file as Python's XML parser reads them. */
function parseJunit(file: string): { root: Record<string, string>; suites: Record<string, string>[]; failures: { name: string; message: string }[] } {
  const script = `import json,sys,xml.etree.ElementTree as ET
r=ET.parse(sys.argv[1]).getroot()
print(json.dumps({"tag":r.tag,"root":r.attrib,"suites":[s.attrib for s in r.findall("testsuite")],
 "failures":[{"name":c.get("name"),"message":f.get("message")} for c in r.iter("testcase") for f in c.findall("failure")]}))`;
  const r = spawnSync('python3', ['-c', script, file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const parsed = JSON.parse(r.stdout) as { tag: string; root: Record<string, string>; suites: Record<string, string>[]; failures: { name: string; message: string }[] };
  expect(parsed.tag).toBe('testsuites');
  return parsed;
}

describe('the replay command of a failure', () => {
  it('is the same in the terminal, the JSON, the HTML and the JUnit file', () => {
    expect(first.status, first.stderr).toBe(1);
    const failed = json.results.find((r) => r.id === FAILING)!;
    expect(failed.outcome).toBe('fail');
    const replay = failed.replay!;
    expect(replay).toContain(`--run ${FAILING} --seed 5 -- `);
    expect(replay).toContain('--exec');
    expect(json.results.find((r) => r.id === PASSING)?.replay).toBeUndefined();
    expect(first.stderr).toContain(`FAIL ${FAILING}: `);
    expect(first.stderr).toContain(`\n  replay: ${replay}\n`);
    const html = readFileSync(join(json.report, 'index.html'), 'utf8');
    const details = html.slice(html.indexOf(`id="${FAILING}"`));
    expect(unescapeHtml(/<code class="replay">([^<]*)<\/code>/.exec(details)![1]!)).toBe(replay);
    const junit = parseJunit(join(json.report, 'junit.xml'));
    expect(junit.failures).toEqual([{ name: FAILING, message: expect.stringMatching(/\(replay: .*\)$/) as unknown as string }]);
    expect(junit.failures[0]!.message.endsWith(`(replay: ${replay})`)).toBe(true);
  });

  it('reruns exactly that case against the same testee, which fails it again', async () => {
    const replay = json.results.find((r) => r.id === FAILING)!.replay!;
    const again = await run('sh', ['-c', replay]);
    expect(again.status, again.stderr).toBe(1);
    expect(again.stdout).toMatch(new RegExp(`failures \\(1\\):\\n  FAIL ${FAILING.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    const latest = join(json.report, '..', 'latest');
    const summary = JSON.parse(readFileSync(join(latest, 'summary.json'), 'utf8')) as { seed: number; peer: { target: string }; counts: { total: number; failed: number } };
    expect(summary.seed).toBe(5);
    expect(summary.peer.target).toContain('broken-testee.ts lose-re');
    expect(summary.counts).toMatchObject({ total: 1, failed: 1 });
    const ids = readFileSync(join(latest, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as JsonResult).id);
    expect(ids).toEqual([FAILING]);
  }, 130_000);
});

describe('the JUnit file', () => {
  it('carries the run totals on <testsuites> and one <testsuite> per section', () => {
    const { root: totals, suites } = parseJunit(join(json.report, 'junit.xml'));
    const count = (outcome: string): number => json.results.filter((r) => r.outcome === outcome).length;
    expect(count('pass')).toBe(1);
    expect(count('skipped')).toBe(1);
    expect(totals).toMatchObject({ tests: String(json.results.length), failures: String(count('fail') + count('timeout')), errors: String(count('errored')), skipped: String(count('skipped')) });
    expect(Number(totals['time'])).toBeGreaterThan(0);
    expect(suites.map((s) => s['name']).sort()).toEqual(['testee', 'transport-unix'].map((s) => `concord.exec-node-tsx-broken-testee.ts-lose-re.${s}`));
    for (const key of ['tests', 'failures', 'errors', 'skipped']) expect(suites.reduce((n, s) => n + Number(s[key]), 0), key).toBe(Number(totals[key]));
  });
  it('is written the same at a path of its own (for --junit), parent directories created', () => {
    const results = readFileSync(join(json.report, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ReportedCase & { type?: string })
      .map(({ type: _t, ...r }) => r);
    const path = join(reportDir, 'ci', 'out', 'conformance.xml');
    writeJUnit(results, path, 'concord.exec-node-tsx-broken-testee.ts-lose-re');
    expect(readFileSync(path, 'utf8')).toBe(readFileSync(join(json.report, 'junit.xml'), 'utf8'));
  });
});
