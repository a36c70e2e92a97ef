/** A self-contained HTML report: summary, failures first with their wire logs, then every case. */
import type { CaseResult } from '../runner.js';
import { countResults, countBySection } from './summary.js';
import type { RunSummary } from './write.js';

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;color:#1d1d1f}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}th{background:#f3f3f3}
.pass{color:#176f2c}.fail,.timeout,.errored{color:#b3261e;font-weight:600}.skipped{color:#777}
details{border:1px solid #e4c6c3;border-radius:4px;margin:.6rem 0;padding:.4rem .8rem;background:#fffafa}
pre{background:#f7f7f7;padding:.5rem;overflow-x:auto;font-size:12px}code{font-family:ui-monospace,monospace}`;

function wireTable(r: CaseResult): string {
  return r.wire.map((w) => `<h4>connection ${esc(w.connection)}</h4><table class="wire"><tr><th>ms</th><th>dir</th><th>frame</th><th>bytes (hex)</th></tr>${
    w.entries.map((e) => `<tr><td>${e.t}</td><td>${e.dir}</td><td>${esc(e.note)}</td><td><code>${esc(e.hex ?? '')}</code></td></tr>`).join('')}</table>`).join('');
}

function statementsLine(summary: RunSummary): string {
  const s = summary.statements;
  return s ? `${s.checked} of ${s.required} checked: ${s.passed} passed, ${s.failed} failed; ${s.not_reached} not reached` : '';
}

export function renderHtml(summary: RunSummary, results: CaseResult[]): string {
  const c = countResults(results);
  const bad = results.filter((r) => r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored');
  const sections = Object.entries(countBySection(results)).map(([s, x]) => `<tr><td>${esc(s)}</td><td>${x.passed}</td><td>${x.failed}</td><td>${x.timeout}</td><td>${x.skipped}</td><td>${x.errored}</td><td>${x.expected_failures}</td></tr>`).join('');
  const failures = bad.map((r) => `<details open id="${esc(r.id)}"><summary><span class="${r.outcome}">${r.outcome.toUpperCase()}</span> <code>${esc(r.id)}</code> (${r.level}${r.knownFailing ? ', known failure' : ''})</summary>
<p><b>Requirement:</b> ${esc(r.requirement)}</p><p><b>What happened:</b> ${esc(r.message ?? '')}</p>
${r.expected !== undefined ? `<p><b>Expected:</b> <code>${esc(r.expected)}</code><br><b>Actual:</b> <code>${esc(r.actual ?? '')}</code></p>` : ''}
<section class="wire-log"><h3>Wire log</h3>${wireTable(r)}</section></details>`).join('\n');
  const all = results.map((r) => `<tr><td><code>${esc(r.id)}</code></td><td>${r.level}</td><td class="${r.outcome}">${r.outcome}${r.knownFailing ? ' (known)' : ''}</td><td>${r.durationMs}</td><td>${esc(r.statements.join(', '))}</td></tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Concord conformance: ${esc(summary.peer.target)}</title><style>${CSS}</style></head><body>
<h1>Concord conformance report</h1>
<section id="summary"><table><tr><th>peer</th><td>${esc(summary.peer.target)}${summary.peer.broker_id ? ` (${esc(String(summary.peer.broker_id))})` : ''}</td></tr>
<tr><th>verdict</th><td class="${summary.exit_code === 0 ? 'pass' : 'fail'}">${summary.exit_code === 0 ? 'conforming' : `not conforming (exit ${summary.exit_code})`}</td></tr>
<tr><th>cases</th><td>${c.total}: ${c.passed} passed, ${c.failed} failed, ${c.timeout} timed out, ${c.skipped} skipped, ${c.errored} harness errors, ${c.expected_failures} expected failures</td></tr>
<tr><th>required statements</th><td>${statementsLine(summary)}</td></tr>
<tr><th>seed</th><td><code>${summary.seed}</code> (replay: <code>conformance --seed ${summary.seed}</code>)</td></tr>
<tr><th>harness</th><td>${esc(summary.harness_version)}, protocol ${esc(summary.protocol_version)}</td></tr>
<tr><th>started</th><td>${esc(summary.started)}</td></tr></table>
<table><tr><th>section</th><th>passed</th><th>failed</th><th>timeout</th><th>skipped</th><th>errored</th><th>known failures</th></tr>${sections}</table></section>
<h2>Failures (${bad.length})</h2>${failures || '<p>None.</p>'}
<h2>All cases</h2><table><tr><th>case</th><th>level</th><th>outcome</th><th>ms</th><th>statements</th></tr>${all}</table>
</body></html>
`;
}
