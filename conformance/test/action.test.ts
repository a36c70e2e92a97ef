/**
 * The GitHub Action's run step, `.github/concord-action.sh`, run here as action.yml runs it (inputs as
 * INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files): its exit code is the harness's for a
 * pass, a known failure and an unexpected failure, and the JUnit and HTML reports land in report-dir.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'concord-action-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A harness run through tsx, with its peer: generous for a shared, loaded machine. */
const RUN_MS = 180_000;

/** A case the reference testee passes and the testee that drops `re` fails (testee-suite.test.ts). */
const CASE = 'testee/echo/reasoning-request/encoding:json';

interface StepRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  reportDir: string;
}

/** Runs the action's script with these inputs, in the repository (where `--import tsx` resolves). */
function step(name: string, inputs: Record<string, string>): Promise<StepRun> {
  const dir = join(scratch, name);
  const reportDir = join(dir, 'reports');
  const outputFile = join(scratch, `${name}.output`);
  const summaryFile = join(scratch, `${name}.summary`);
  writeFileSync(outputFile, '');
  const env = {
    ...process.env,
    CONCORD_HARNESS: `${process.execPath} --import tsx ${join(root, 'conformance/cli.ts')}`,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    INPUT_REPORT_DIR: reportDir,
    INPUT_ARGS: `--run '${CASE}' --seed 1`,
    ...inputs,
  };
  return new Promise((done, fail) => {
    const child = spawn('bash', [join(root, '.github/concord-action.sh')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', fail);
    child.on('close', (code) => {
      const outputs = Object.fromEntries(readFileSync(outputFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
      done({ code, stdout, stderr, outputs, summary: existsSync(summaryFile) ? readFileSync(summaryFile, 'utf8') : '', reportDir });
    });
  });
}

/** The HTML reports under report-dir/PEER/TIMESTAMP/. */
function htmlReports(reportDir: string): string[] {
  return readdirSync(reportDir, { recursive: true, encoding: 'utf8' }).filter((p) => p.endsWith('index.html') && !p.includes('latest'));
}

describe('the GitHub Action script', () => {
  it('a passing peer: exit 0, JUnit at report-dir/junit.xml, the HTML report, outputs and job summary', async () => {
    const r = await step('pass', { INPUT_EXEC: `${process.execPath} --import tsx reference/cli.ts testee`, INPUT_SUITE: 'testee' });
    expect(r.code, r.stderr).toBe(0);
    const junit = readFileSync(join(r.reportDir, 'junit.xml'), 'utf8');
    expect(junit).toContain(`name="${CASE}"`);
    expect(junit).not.toMatch(/<failure|<skipped/);
    expect(htmlReports(r.reportDir)).toHaveLength(1);
    expect(r.outputs).toEqual({ 'exit-code': '0', junit: join(r.reportDir, 'junit.xml') });
    expect(r.summary).toContain('PASS (exit 0)');
  }, RUN_MS);

  it('a known failure listed in known-failing: exit 0, the case skipped in JUnit as a known failure', async () => {
    const known = join(scratch, 'known-failing.txt');
    writeFileSync(known, `# drops re (tracked elsewhere)\n${CASE}\n`);
    // Quotes in exec group words as in a shell.
    const r = await step('known', { INPUT_EXEC: `${process.execPath} --import tsx 'conformance/test/broken-testee.ts' lose-re`, INPUT_KNOWN_FAILING: known });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(r.reportDir, 'junit.xml'), 'utf8')).toMatch(new RegExp(`name="${CASE}"[^>]*><skipped message="known failure`));
    expect(r.outputs['exit-code']).toBe('0');
  }, RUN_MS);

  it('the same failure unlisted: exit 1, a JUnit failure and the HTML report all the same', async () => {
    const r = await step('fail', { INPUT_EXEC: `${process.execPath} --import tsx conformance/test/broken-testee.ts lose-re`, INPUT_SUITE: 'testee' });
    expect(r.code, r.stderr).toBe(1);
    expect(readFileSync(join(r.reportDir, 'junit.xml'), 'utf8')).toMatch(new RegExp(`name="${CASE}"[^>]*><failure`));
    expect(htmlReports(r.reportDir)).toHaveLength(1);
    expect(r.outputs['exit-code']).toBe('1');
    expect(r.summary).toContain('FAIL (exit 1)');
  }, RUN_MS);
});
