/** Counts of a run, overall and per spec section. */
import type { CaseResult } from '../runner.js';
import { STATEMENTS } from '../../spec/generated/catalog.js';

export interface Counts {
  total: number;
  passed: number;
  failed: number;
  timeout: number;
  skipped: number;
  errored: number;
  /** Failed or timed out, and listed as known failures. */
  expected_failures: number;
  /** Listed as known failures, yet passed. */
  unexpected_passes: number;
}

export function countResults(results: CaseResult[]): Counts {
  const c: Counts = { total: results.length, passed: 0, failed: 0, timeout: 0, skipped: 0, errored: 0, expected_failures: 0, unexpected_passes: 0 };
  for (const r of results) {
    if (r.knownFailing && (r.outcome === 'fail' || r.outcome === 'timeout')) c.expected_failures++;
    else if (r.knownFailing && r.outcome === 'pass') c.unexpected_passes++;
    if (r.outcome === 'pass') c.passed++;
    else if (r.outcome === 'fail') c.failed++;
    else if (r.outcome === 'timeout') c.timeout++;
    else if (r.outcome === 'skipped') c.skipped++;
    else c.errored++;
  }
  return c;
}

export function countBySection(results: CaseResult[]): Record<string, Counts> {
  const sections = [...new Set(results.map((r) => r.section))];
  return Object.fromEntries(sections.map((s) => [s, countResults(results.filter((r) => r.section === s))]));
}

/** How many required statements a run checked, for the peer under test. */
export interface StatementCounts {
  /** Required statements named by the cases of the suites run. */
  required: number;
  /** Those with at least one case that ran (was not skipped). */
  checked: number;
  /** Checked, and every case of theirs that ran passed. */
  passed: number;
  /** A case of theirs failed or timed out. */
  failed: number;
  /** Required, but every case of theirs was skipped or not selected. */
  not_reached: number;
}

const REQUIRED = new Set(STATEMENTS.filter((s) => s.level === 'required').map((s) => s.id));

/** The required statements named by `cases` (the cases of the suites a run chose, before --run and --skip). */
export function requiredStatementsOf(cases: readonly { statements: readonly string[] }[]): string[] {
  return [...new Set(cases.flatMap((c) => c.statements))].filter((id) => REQUIRED.has(id));
}

export function countStatements(results: CaseResult[], required: readonly string[]): StatementCounts {
  const c: StatementCounts = { required: required.length, checked: 0, passed: 0, failed: 0, not_reached: 0 };
  for (const id of required) {
    const ran = results.filter((r) => r.outcome !== 'skipped' && r.statements.includes(id));
    if (ran.length === 0) c.not_reached++;
    else {
      c.checked++;
      if (ran.every((r) => r.outcome === 'pass')) c.passed++;
      else if (ran.some((r) => r.outcome === 'fail' || r.outcome === 'timeout')) c.failed++;
    }
  }
  return c;
}

/** A plain-text table of the per-section counts, for the terminal. */
export function summaryTable(results: CaseResult[]): string {
  const rows = Object.entries(countBySection(results)).map(([s, c]) => [s, c.passed, c.failed, c.timeout, c.skipped, c.errored, c.expected_failures]);
  const total = countResults(results);
  rows.push(['total', total.passed, total.failed, total.timeout, total.skipped, total.errored, total.expected_failures]);
  const head = ['section', 'passed', 'failed', 'timeout', 'skipped', 'errored', 'xfail'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]): string => cells.map((x, i) => (i === 0 ? String(x).padEnd(widths[i]!) : String(x).padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
