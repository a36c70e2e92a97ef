/** Every run's summary.json and HTML report, and the selftest matrix, count the required statements checked. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseResult } from '../runner.js';
import { countStatements, requiredStatementsOf } from '../report/summary.js';
import { writeReport, type RunSummary } from '../report/write.js';
import { matrixHtml, matrixMarkdown, notPassing, selftestJson } from '../selftest.js';
import { casesOf } from '../suites.js';

const result = (id: string, statements: string[], outcome: CaseResult['outcome']): CaseResult =>
  ({ id, section: id.split('/')[0]!, level: 'required', statements, requirement: '', outcome, knownFailing: false, durationMs: 1, wire: [] });

describe('required statements of a run', () => {
  it('sorts each required statement into passed, failed, or not reached', () => {
    const results = [
      result('framing/a', ['FRM-2', 'ERR-4'], 'pass'),
      result('framing/b', ['FRM-3', 'ERR-4'], 'fail'),
      result('framing/c', ['FRM-5'], 'skipped'),
      result('framing/d', ['FRM-7'], 'timeout'),
      result('framing/e', ['CONV-3'], 'pass'),
    ];
    // FRM-1 is named by no result: not selected, so not reached; CONV-3 is recommended, not counted.
    const c = countStatements(results, ['FRM-1', 'FRM-2', 'FRM-3', 'FRM-5', 'FRM-7', 'ERR-4']);
    expect(c).toEqual({ required: 6, checked: 4, passed: 1, failed: 3, not_reached: 2 });
  });

  it('takes the required statements from the cases of the suites run', () => {
    const required = requiredStatementsOf(casesOf(['core']));
    expect(required).toContain('FRM-2');
    expect(required).not.toContain('CONV-3');
    expect(new Set(required).size).toBe(required.length);
  });

  it('writes the counts into summary.json and the HTML report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-statements-'));
    try {
      const summary: Omit<RunSummary, 'counts' | 'sections' | 'statements'> = { peer: { target: 'exec:x' }, harness_version: '0', protocol_version: '1.0', seed: 1, started: '2026-01-01T00:00:00.000Z', finished: '2026-01-01T00:00:01.000Z', suites: ['testee'], exit_code: 1 };
      const out = writeReport(dir, 'x', summary, [result('testee/echo/ping/encoding:json', ['TST-4', 'FRM-1'], 'pass'), result('testee/refuse/framing/zero-length', ['TST-5', 'FRM-2'], 'fail')]);
      const written = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunSummary;
      const required = requiredStatementsOf(casesOf(['testee'])).length;
      expect(written.statements).toEqual({ required, checked: 4, passed: 2, failed: 2, not_reached: required - 4 });
      expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain(`4 of ${required} checked: 2 passed, 2 failed; ${required - 4} not reached`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows checked/required statements per peer and suite in the selftest matrix', () => {
    const md = matrixMarkdown([{ name: 'p', language: 'python', suites: { core: { passed: 3, failed: 0, skipped: 1, required: 3, required_passed: 3, exit_code: 0, statements: { required: 40, checked: 31, passed: 31, failed: 0, not_reached: 9 } } } }], 7);
    expect(md).toContain('statements 31/40 checked');
  });

  it('names the cases of a cell that did not pass, in the cell and under the matrix', () => {
    const result = (id: string, outcome: CaseResult['outcome'], message?: string): CaseResult => ({
      id, section: 'requests', level: 'required', statements: ['REQ-1'], requirement: 'r', outcome, knownFailing: false, durationMs: 1, wire: [], ...(message ? { message } : {}),
    });
    const cell = notPassing([result('requests/a', 'pass'), result('requests/b', 'fail', 'expected PONG\n  got ERROR'), result('requests/c', 'timeout'), result('requests/d', 'skipped')]);
    expect(cell.not_passing).toEqual(['requests/b: fail: expected PONG got ERROR', 'requests/c: timeout']);
    expect(notPassing([result('requests/a', 'pass')])).toEqual({});
    const md = matrixMarkdown([{ name: 'p', language: 'python', suites: { faults: { passed: 1, failed: 2, skipped: 1, required: 3, required_passed: 1, exit_code: 1, ...cell } } }], 7);
    expect(md).toContain('## Not passing\n\n- p > faults: requests/b: fail: expected PONG got ERROR\n- p > faults: requests/c: timeout');
    const html = matrixHtml([{ name: 'p', language: 'python', suites: { faults: { passed: 0, failed: 1, skipped: 0, required: 1, required_passed: 0, exit_code: 1, not_passing: ['requests/b: fail: <ERROR> & more'] } } }], 7);
    expect(html).toContain('<h2>Not passing</h2><ul><li>p &gt; faults: requests/b: fail: &lt;ERROR&gt; &amp; more</li></ul>');
    expect(selftestJson([{ name: 'p', language: 'python', suites: { faults: { passed: 1, failed: 2, skipped: 1, required: 3, required_passed: 1, exit_code: 1, ...cell }, core: { passed: 3, failed: 0, skipped: 0, required: 3, required_passed: 3, exit_code: 0 } } }], 7))
      .toEqual({ seed: 7, peers: [{ name: 'p', language: 'python', suites: { faults: { passed: 1, failed: 2, skipped: 1, not_passing: cell.not_passing }, core: { passed: 3, failed: 0, skipped: 0 } } }] });
  });
});
