/** The diff's report on a terminal: the peers, then either their agreement or the shrunk disagreement side by side with the spec's answer and the verdicts. */
import { formatTable } from '../../reference/table.js';
import { showAnswer } from './answer.js';
import type { DiffResult, PeerVerdict } from './run-diff.js';

function verdictText(v: PeerVerdict): string {
  if (v.verdict === 'right') return 'as the spec says';
  if (v.verdict === 'undecided') return 'spec silent';
  return `wrong: ${v.fields.join(', ')} (${v.statements.join(', ')})`;
}

/** A JSON copy of a result (bigints as decimal strings, byte arrays as hex). */
export function resultJson(r: DiffResult): string {
  return JSON.stringify(r, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : v), 2);
}

export function formatDiff(r: DiffResult): string {
  const lines = [`conformance diff: kind ${r.kind ?? '?'}, seed ${r.seed} (--seed ${r.seed} replays it)`];
  for (const p of r.peers) lines.push(`  ${p.peer}  ${p.command}${p.name ? `  (${p.name}, ${p.language}; ${(p.encodings ?? []).join(' and ')})` : ''}`);
  if (r.problem !== undefined) return [...lines, r.problem].join('\n');
  const d = r.disagreement;
  if (!d) return [...lines, `the peers agree on all ${r.runs} inputs`].join('\n');
  lines.push(`the peers disagree: found at run ${d.found.run}, shrunk ${d.found.shrinks} times (fast-check path ${d.found.path})`, 'smallest input:', d.input.replace(/^(?! {2})/gm, '  '));
  lines.push('frames sent:', ...d.frames.map((f, i) => `  ${i}. ${f.note}: ${f.hex.length > 400 ? `${f.hex.slice(0, 400)}... (${f.hex.length / 2} bytes)` : f.hex}`));
  lines.push(`answers to frame ${d.step} (${d.frames[d.step]!.note}):`);
  const rows = d.answers.map((a, i) => [a.peer, showAnswer(a.answer, 160), verdictText(d.verdicts[i]!)]);
  rows.push(['spec', d.expected ? showAnswer(d.expected, 160) : '(the spec does not decide)', '']);
  lines.push(formatTable(['peer', 'answer', 'verdict'], rows).replace(/^/gm, '  '));
  const wrong = d.verdicts.filter((v): v is Extract<PeerVerdict, { verdict: 'wrong' }> => v.verdict === 'wrong');
  if (wrong.length === 0) lines.push('spec gap: the spec does not say which answer is right; the disagreement is reported for the spec to decide');
  else if (wrong.length === d.verdicts.length) lines.push(`every peer is wrong: ${wrong.map((v) => `${v.peer} by ${v.statements.join(', ')}`).join('; ')}`);
  else lines.push(...wrong.map((v) => `${v.peer} is wrong by ${v.statements.join(', ')}`));
  return lines.join('\n');
}
