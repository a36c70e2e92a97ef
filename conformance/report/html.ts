/**
 * A self-contained HTML report: summary, failures first (replay command, statements linked to the
 * protocol reference, wire log with the decoded frames beside the hex), skip reasons, then the
 * passing cases collapsed.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { STATEMENTS } from '../../spec/generated/catalog.js';
import { repoFile } from '../../reference/paths.js';
import { countResults, countBySection } from './summary.js';
import { decodeFrames } from './decode.js';
import type { ReportedCase, RunSummary } from './write.js';

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 2rem;color:#1d1d1f}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
.pass{color:#176f2c}.fail,.timeout,.errored{color:#b3261e;font-weight:600}.skipped{color:#777}
details.case{border:1px solid #e4c6c3;border-radius:4px;margin:.6rem 0;padding:.4rem .8rem;background:#fffafa}
details.group>summary{font-size:1.15rem;font-weight:600;margin-top:1.5rem;cursor:pointer}
pre,.text{white-space:pre-wrap;overflow-wrap:anywhere}pre{background:#f7f7f7;padding:.5rem;font-size:12px}
code{font-family:ui-monospace,monospace}
table.wire{table-layout:fixed;width:100%;font-size:12px}table.wire col.t{width:3.5rem}table.wire col.dir{width:3rem}table.wire col.note{width:20%}table.wire col.hex{width:38%}
table.wire td{overflow-wrap:anywhere}.hex{white-space:pre-wrap;word-break:break-all}.frames{white-space:pre-wrap;overflow-wrap:anywhere;color:#33415c}
.replay{display:block;background:#f2f5fb;padding:.4rem .6rem;white-space:pre-wrap;overflow-wrap:anywhere}`;

/** The text of each statement, for the links' titles. */
const STATEMENT_TEXT = new Map(STATEMENTS.map((s) => [s.id, s.text]));

/** Where statement anchors live: CONCORD_DOCS_URL (a published copy), else the protocol reference shipped beside the harness. */
function statementsPage(): string | undefined {
  const base = process.env['CONCORD_DOCS_URL'];
  if (base) return `${base.replace(/\/$/, '')}/statements.html`;
  try {
    const file = repoFile('docs/protocol/statements.html');
    return existsSync(file) ? pathToFileURL(file).href : undefined;
  } catch {
    return undefined;
  }
}

function statementLinks(ids: readonly string[], page: string | undefined): string {
  return ids.map((id) => {
    const title = STATEMENT_TEXT.get(id);
    const label = `<code>${esc(id)}</code>`;
    const attrs = `class="statement"${title ? ` title="${esc(title)}"` : ''}`;
    return page ? `<a ${attrs} href="${esc(`${page}#${id}`)}">${label}</a>` : `<span ${attrs}>${label}</span>`;
  }).join(', ');
}

/** Hex in groups of four bytes, so a long frame wraps at group boundaries. */
function groupedHex(hex: string): string {
  const cut = hex.indexOf('...');
  const digits = cut >= 0 ? hex.slice(0, cut) : hex;
  return (digits.match(/.{1,8}/g) ?? []).join(' ') + (cut >= 0 ? ` ${hex.slice(cut)}` : '');
}

function wireTable(r: ReportedCase): string {
  return r.wire.map((w) => `<h4>connection ${esc(w.connection)}</h4><table class="wire"><colgroup><col class="t"><col class="dir"><col class="note"><col class="hex"><col></colgroup>
<tr><th>ms</th><th>dir</th><th>note</th><th>bytes (hex)</th><th>decoded</th></tr>${
    w.entries.map((e) => `<tr><td>${e.t}</td><td>${e.dir}</td><td class="text note">${esc(e.note)}</td><td><code class="hex">${esc(groupedHex(e.hex ?? ''))}</code></td><td class="frames">${esc(decodeFrames(e.hex).join('\n'))}</td></tr>`).join('')}</table>`).join('');
}

function statementsLine(summary: RunSummary): string {
  const s = summary.statements;
  return s ? `${s.checked} of ${s.required} checked: ${s.passed} passed, ${s.failed} failed; ${s.not_reached} not reached` : '';
}

function failure(r: ReportedCase, page: string | undefined): string {
  return `<details class="case" open id="${esc(r.id)}"><summary><span class="${r.outcome}">${r.outcome.toUpperCase()}</span> <code>${esc(r.id)}</code> (${r.level}${r.knownFailing ? ', known failure' : ''})</summary>
${r.replay ? `<p><b>Replay:</b> <code class="replay">${esc(r.replay)}</code></p>` : ''}
<p><b>Statements:</b> ${statementLinks(r.statements, page)}</p>
<p><b>Requirement:</b> ${esc(r.requirement)}</p><p><b>What happened:</b></p><pre class="message">${esc(r.message ?? '')}</pre>
${r.expected !== undefined ? `<p><b>Expected:</b> <code class="text">${esc(r.expected)}</code><br><b>Actual:</b> <code class="text">${esc(r.actual ?? '')}</code></p>` : ''}
<section class="wire-log"><h3>Wire log</h3>${wireTable(r)}</section></details>`;
}

export function renderHtml(summary: RunSummary, results: ReportedCase[]): string {
  const page = statementsPage();
  const c = countResults(results);
  const bad = results.filter((r) => r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored');
  const skipped = results.filter((r) => r.outcome === 'skipped');
  const passed = results.filter((r) => r.outcome === 'pass');
  const sections = Object.entries(countBySection(results)).map(([s, x]) => `<tr><td>${esc(s)}</td><td>${x.passed}</td><td>${x.failed}</td><td>${x.timeout}</td><td>${x.skipped}</td><td>${x.errored}</td><td>${x.expected_failures}</td></tr>`).join('');
  const stopped = typeof summary.peer['stopped'] === 'string' ? summary.peer['stopped'] : undefined;
  const row = (r: ReportedCase, reason: boolean): string => `<tr><td><code>${esc(r.id)}</code></td><td>${r.level}</td>${reason ? `<td class="text reason">${esc(r.message ?? '')}</td>` : `<td>${r.durationMs}</td>`}<td>${statementLinks(r.statements, page)}</td></tr>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Concord conformance: ${esc(summary.peer.target)}</title><style>${CSS}</style></head><body>
<h1>Concord conformance report</h1>
<section id="summary"><table><tr><th>peer</th><td>${esc(summary.peer.target)}${summary.peer.broker_id ? ` (${esc(String(summary.peer.broker_id))})` : ''}</td></tr>
<tr><th>verdict</th><td class="${summary.exit_code === 0 ? 'pass' : 'fail'}">${summary.exit_code === 0 ? 'conforming' : `not conforming (exit ${summary.exit_code})`}</td></tr>
${stopped !== undefined ? `<tr><th>stopped</th><td><pre class="stopped">${esc(stopped)}</pre></td></tr>` : ''}
<tr><th>cases</th><td>${c.total}: ${c.passed} passed, ${c.failed} failed, ${c.timeout} timed out, ${c.skipped} skipped, ${c.errored} harness errors, ${c.expected_failures} expected failures</td></tr>
<tr><th>required statements</th><td>${statementsLine(summary)}</td></tr>
<tr><th>seed</th><td><code>${summary.seed}</code></td></tr>${summary.faults ? `
<tr><th>faults</th><td><code>--faults ${summary.faults.seed}:${esc(summary.faults.profile)}</code></td></tr>` : ''}
${summary.replay ? `<tr><th>run again</th><td><code class="replay">${esc(summary.replay)}</code></td></tr>` : ''}
<tr><th>harness</th><td>${esc(summary.harness_version)}, protocol ${esc(summary.protocol_version)}</td></tr>
<tr><th>started</th><td>${esc(summary.started)}</td></tr></table>
<table><tr><th>section</th><th>passed</th><th>failed</th><th>timeout</th><th>skipped</th><th>errored</th><th>known failures</th></tr>${sections}</table></section>
<h2>Failures (${bad.length})</h2>${bad.map((r) => failure(r, page)).join('\n') || '<p>None.</p>'}
<details class="group" id="skipped" open><summary>Skipped (${skipped.length})</summary><table><tr><th>case</th><th>level</th><th>reason</th><th>statements</th></tr>${skipped.map((r) => row(r, true)).join('')}</table></details>
<details class="group" id="passed"><summary>Passed (${passed.length})</summary><table><tr><th>case</th><th>level</th><th>ms</th><th>statements</th></tr>${passed.map((r) => row(r, false)).join('')}</table></details>
</body></html>
`;
}
