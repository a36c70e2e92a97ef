/**
 * Writes a run to reports/<peer>/<UTC timestamp>/: summary.json, index.json, cases/<id>.json for
 * every case that did not pass (with its wire log), junit.xml (also at `junitPath` when given),
 * index.html, results.jsonl (the stream every view is rendered from), and points reports/<peer>/latest at it.
 */
import { mkdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseResult } from '../runner.js';
import { countResults, countBySection, countStatements, requiredStatementsOf, type Counts, type StatementCounts } from './summary.js';
import { casesOf } from '../suites.js';
import { renderJunit, writeJUnitText } from './junit.js';
import { renderHtml } from './html.js';

/** A case's result as the reports show it: a case that did not pass carries the command that replays it. */
export type ReportedCase = CaseResult & { replay?: string };

export interface RunSummary {
  peer: { target: string; broker_id?: string; [key: string]: unknown };
  harness_version: string;
  protocol_version: string;
  seed: number;
  /** --faults: the seed and profile of the transport faults every connection ran with. */
  faults?: { seed: number; profile: string };
  started: string;
  finished: string;
  suites: string[];
  exit_code: number;
  counts: Counts;
  sections: Record<string, Counts>;
  /** Required statements of the suites run: checked, passed, failed, not reached. */
  statements: StatementCounts;
  /** The command that runs the whole selection again, with the same seed. */
  replay?: string;
}

/** A case id as a file name: `/` becomes `~` (ids never contain `~`). */
export function caseFileName(id: string): string {
  return `${id.replace(/\//g, '~')}.json`;
}

export function writeReport(root: string, peerName: string, summaryIn: Omit<RunSummary, 'counts' | 'sections' | 'statements'>, results: ReportedCase[], options: { junitPath?: string } = {}): string {
  const stamp = summaryIn.started.replace(/[:.]/g, '-');
  const peerDir = join(root, peerName.replace(/[^A-Za-z0-9._-]/g, '_'));
  const dir = join(peerDir, stamp);
  mkdirSync(join(dir, 'cases'), { recursive: true });
  const summary: RunSummary = { ...summaryIn, counts: countResults(results), sections: countBySection(results), statements: countStatements(results, requiredStatementsOf(casesOf(summaryIn.suites))) };
  const index = results.map((r) => ({
    id: r.id, section: r.section, level: r.level, outcome: r.outcome, known_failing: r.knownFailing, duration_ms: r.durationMs,
    ...(r.outcome === 'pass' ? {} : { file: `cases/${caseFileName(r.id)}` }), ...(r.replay ? { replay: r.replay } : {}),
  }));
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  writeFileSync(join(dir, 'results.jsonl'), results.map((r) => JSON.stringify({ type: 'case', ...r })).join('\n') + '\n');
  for (const r of results) if (r.outcome !== 'pass') writeFileSync(join(dir, 'cases', caseFileName(r.id)), `${JSON.stringify(r, null, 2)}\n`);
  const junit = renderJunit(results, `concord.${peerName}`);
  writeFileSync(join(dir, 'junit.xml'), junit);
  // --junit PATH: the same file where CI expects it.
  if (options.junitPath !== undefined) writeJUnitText(junit, options.junitPath);
  writeFileSync(join(dir, 'index.html'), renderHtml(summary, results));
  const latest = join(peerDir, 'latest');
  rmSync(latest, { force: true });
  symlinkSync(stamp, latest);
  return dir;
}
