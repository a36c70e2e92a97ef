/**
 * JUnit XML: totals on the root <testsuites>, one <testsuite> per spec section (CI systems show
 * conformance by section), and every failure's message carrying its replay command.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ReportedCase } from './write.js';

const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
  // XML 1.0 forbids most control characters even when escaped.
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

interface Totals { tests: number; failures: number; errors: number; skipped: number; time: number }

function totals(rs: readonly ReportedCase[]): Totals {
  return {
    tests: rs.length,
    // A known failure that passed is a failure of the run (exit 1), reported as such.
    failures: rs.filter((r) => ((r.outcome === 'fail' || r.outcome === 'timeout') && !r.knownFailing) || (r.knownFailing && r.outcome === 'pass')).length,
    errors: rs.filter((r) => r.outcome === 'errored' && !r.knownFailing).length,
    skipped: rs.filter((r) => r.outcome === 'skipped' || (r.knownFailing && r.outcome !== 'pass')).length,
    time: rs.reduce((t, r) => t + r.durationMs, 0) / 1000,
  };
}

const attrs = (t: Totals): string => `tests="${t.tests}" failures="${t.failures}" errors="${t.errors}" skipped="${t.skipped}" time="${t.time.toFixed(3)}"`;

/** The first line of what happened, then the command that replays the case. */
function message(r: ReportedCase): string {
  const first = (r.message ?? r.outcome).split('\n')[0]!;
  return r.replay ? `${first} (replay: ${r.replay})` : first;
}

function testcase(r: ReportedCase, classname: string): string {
  const open = `    <testcase classname="${esc(classname)}" name="${esc(r.id)}" time="${(r.durationMs / 1000).toFixed(3)}">`;
  const body = (): string => esc([r.requirement, r.message ?? '', ...(r.replay ? [`replay: ${r.replay}`] : [])].join('\n'));
  let inner = '';
  if (r.knownFailing && r.outcome !== 'pass') inner = `<skipped message="${esc(`known failure: ${r.message ?? ''}`)}"/>`;
  else if (r.outcome === 'fail' || r.outcome === 'timeout') inner = `<failure type="${r.outcome}" message="${esc(message(r))}">${body()}</failure>`;
  else if (r.outcome === 'errored') inner = `<error type="harness" message="${esc(message(r))}">${body()}</error>`;
  else if (r.outcome === 'skipped') inner = `<skipped message="${esc(r.message ?? '')}"/>`;
  else if (r.knownFailing) inner = `<failure type="unexpected-pass" message="listed as a known failure but passed"/>`;
  return `${open}${inner}</testcase>`;
}

export function renderJunit(results: readonly ReportedCase[], name: string): string {
  const sections = [...new Set(results.map((r) => r.section))];
  const suites = sections.map((section) => {
    const rs = results.filter((r) => r.section === section);
    const classname = `${name}.${section}`;
    return `  <testsuite name="${esc(classname)}" ${attrs(totals(rs))}>\n${rs.map((r) => testcase(r, classname)).join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${esc(name)}" ${attrs(totals(results))}>\n${suites.join('\n')}\n</testsuites>\n`;
}

/** Writes the JUnit file of a run exactly at `path` (for --junit: CI systems read it from a fixed place). */
export function writeJUnit(results: readonly ReportedCase[], path: string, name = 'concord'): void {
  writeJUnitText(renderJunit(results, name), path);
}

export function writeJUnitText(xml: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, xml);
}
