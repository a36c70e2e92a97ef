/** JUnit XML: one testsuite per spec section, so CI systems show conformance by section. */
import type { CaseResult } from '../runner.js';

const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
  // XML 1.0 forbids most control characters even when escaped.
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function renderJunit(results: CaseResult[], name: string): string {
  const sections = [...new Set(results.map((r) => r.section))];
  const suites = sections.map((section) => {
    const rs = results.filter((r) => r.section === section);
    const failures = rs.filter((r) => (r.outcome === 'fail' || r.outcome === 'timeout') && !r.knownFailing).length;
    const errors = rs.filter((r) => r.outcome === 'errored').length;
    const skipped = rs.filter((r) => r.outcome === 'skipped' || (r.knownFailing && r.outcome !== 'pass')).length;
    const time = rs.reduce((t, r) => t + r.durationMs, 0) / 1000;
    const cases = rs.map((r) => {
      const open = `    <testcase classname="${esc(`${name}.${section}`)}" name="${esc(r.id)}" time="${(r.durationMs / 1000).toFixed(3)}">`;
      let inner = '';
      if (r.knownFailing && r.outcome !== 'pass') inner = `<skipped message="${esc(`known failure: ${r.message ?? ''}`)}"/>`;
      else if (r.outcome === 'fail' || r.outcome === 'timeout') inner = `<failure type="${r.outcome}" message="${esc(r.message ?? '')}">${esc(`${r.requirement}\n${r.message ?? ''}`)}</failure>`;
      else if (r.outcome === 'errored') inner = `<error message="${esc(r.message ?? '')}"/>`;
      else if (r.outcome === 'skipped') inner = `<skipped message="${esc(r.message ?? '')}"/>`;
      else if (r.knownFailing) inner = `<failure type="unexpected-pass" message="listed as a known failure but passed"/>`;
      return `${open}${inner}</testcase>`;
    });
    return `  <testsuite name="${esc(`${name}.${section}`)}" tests="${rs.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${esc(name)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
