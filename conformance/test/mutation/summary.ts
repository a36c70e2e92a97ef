/**
 * The published mutation figure: `reports/mutation/summary.json`, boiled down from Stryker's JSON
 * report(s) (mutation-testing-report-schema 1.x). Several reports (runs over parts of the scope) merge
 * file by file, the later report winning for a file both hold.
 */

/** A mutant's status as Stryker reports it. */
export type MutantStatus = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';

const STATUSES: readonly MutantStatus[] = ['Killed', 'Survived', 'NoCoverage', 'Timeout', 'CompileError', 'RuntimeError', 'Ignored', 'Pending'];

/** The part of Stryker's JSON report the summary reads. */
export interface StrykerReport {
  schemaVersion: string;
  files: Record<string, { mutants: StrykerMutant[] }>;
}

export interface StrykerMutant {
  id: string;
  mutatorName: string;
  status: MutantStatus;
  replacement?: string;
  location: { start: { line: number; column: number } };
}

/** A mutant no case killed: where, what it changed, and whether a case reached it. */
export interface Survivor {
  line: number;
  column: number;
  replacement: string;
  status: 'Survived' | 'NoCoverage';
}

export interface MutationSummary {
  /** Killed or timed-out mutants per hundred valid ones (Stryker's mutation score), two decimals. */
  score: number;
  /** The same among the mutants some case reached (NoCoverage left out). */
  score_of_covered: number;
  date: string;
  commit: string;
  /** The files mutated, relative to the repository root. */
  files: string[];
  counts: Record<MutantStatus, number>;
  /** Survivors by mutator class, then by file. */
  survivors: Record<string, Record<string, Survivor[]>>;
}

/** A report that is not Stryker's JSON report of a version this script reads. */
export class ReportFormatError extends Error {
  override name = 'ReportFormatError';
}

function checkReport(r: unknown, label: string): asserts r is StrykerReport {
  const report = r as Partial<StrykerReport> | null;
  if (typeof report !== 'object' || report === null || typeof report.files !== 'object' || report.files === null) throw new ReportFormatError(`${label}: no "files" object (not a Stryker JSON report)`);
  if (typeof report.schemaVersion !== 'string' || !report.schemaVersion.startsWith('1.')) throw new ReportFormatError(`${label}: schemaVersion ${String(report.schemaVersion)} (this script reads 1.x)`);
  for (const [file, f] of Object.entries(report.files)) {
    if (!Array.isArray(f?.mutants)) throw new ReportFormatError(`${label}: ${file} has no mutants array`);
    for (const m of f.mutants) if (!STATUSES.includes(m.status)) throw new ReportFormatError(`${label}: ${file} mutant ${m.id} has unknown status ${String(m.status)}`);
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Merges the reports and summarises them; `date` and `commit` say when and of what. */
export function summarize(reports: { label: string; report: unknown }[], meta: { date: string; commit: string }): MutationSummary {
  const files = new Map<string, StrykerMutant[]>();
  for (const { label, report } of reports) {
    checkReport(report, label);
    for (const [file, f] of Object.entries(report.files)) files.set(file, f.mutants);
  }
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<MutantStatus, number>;
  const survivors: Record<string, Record<string, Survivor[]>> = {};
  for (const [file, mutants] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    for (const m of mutants) {
      counts[m.status]++;
      if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
      const byFile = (survivors[m.mutatorName] ??= {});
      (byFile[file] ??= []).push({ line: m.location.start.line, column: m.location.start.column, replacement: m.replacement ?? '', status: m.status });
    }
  }
  const detected = counts.Killed + counts.Timeout;
  const valid = detected + counts.Survived + counts.NoCoverage;
  const covered = detected + counts.Survived;
  return {
    score: valid === 0 ? 0 : round2((100 * detected) / valid),
    score_of_covered: covered === 0 ? 0 : round2((100 * detected) / covered),
    date: meta.date, commit: meta.commit, files: [...files.keys()].sort(), counts, survivors,
  };
}
