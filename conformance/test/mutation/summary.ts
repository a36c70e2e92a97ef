/**
 * The published mutation figure: `reports/mutation/summary.json`, boiled down from Stryker's JSON
 * report(s) (mutation-testing-report-schema 1.x). Several reports (runs over parts of the scope, which
 * may overlap: the cluster's run also mutates the cluster-only lines of the single broker's files) merge
 * mutant by mutant: a mutant is the same in two reports when its file, mutator, start and replacement
 * are, and it takes its best status (killed in either run counts as killed). A summary published before
 * can be the base of a merge (`base`), when the sources are unchanged since.
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
  /** The rule of survivor-classes.ts that classes it equivalent or out of the spec's reach, if any. */
  rule?: string;
}

export interface MutationSummary {
  /** Killed or timed-out mutants per hundred valid ones (Stryker's mutation score), two decimals. */
  score: number;
  /** The same among the mutants some case reached (NoCoverage left out). */
  score_of_covered: number;
  /** The same among the mutants no rule of survivor-classes.ts, nor the review (reviewed-survivors.json), classes equivalent or out of reach. */
  score_of_non_equivalent?: number;
  /** Per rule of survivor-classes.ts: its class, its reason, and how many survivors it claims. */
  classes?: Record<string, { class: 'out-of-reach' | 'equivalent'; reason: string; survivors: number }>;
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

/** Which status a mutant keeps when runs disagree: a detection beats a survivor, a reached mutant one no case reached. */
const RANK: Record<MutantStatus, number> = { Killed: 7, Timeout: 6, Survived: 5, NoCoverage: 4, RuntimeError: 3, CompileError: 2, Ignored: 1, Pending: 0 };
const better = (a: MutantStatus, b: MutantStatus): MutantStatus => (RANK[b] > RANK[a] ? b : a);

/** What makes two reports' mutants the same mutant (the sources being the same). */
const keyOf = (mutatorName: string, line: number, column: number, replacement: string): string => `${mutatorName}\u0000${line}:${column}\u0000${replacement}`;

/** Keys in order of occurrence: the n-th mutant with one key (n > 1) gets `key#n`, so two mutants at one place with one replacement stay two. */
function occurrenceKeys(): (key: string) => string {
  const seen = new Map<string, number>();
  return (key) => {
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return n === 1 ? key : `${key}#${n}`;
  };
}

interface Entry {
  mutatorName: string;
  line: number;
  column: number;
  replacement: string;
  status: MutantStatus;
}

/** Every report's mutants by file, then by key, each with its best status. */
function mergeReports(reports: { label: string; report: unknown }[]): Map<string, Map<string, Entry>> {
  const files = new Map<string, Map<string, Entry>>();
  for (const { label, report } of reports) {
    checkReport(report, label);
    for (const [file, f] of Object.entries(report.files)) {
      const byKey = files.get(file) ?? new Map<string, Entry>();
      files.set(file, byKey);
      const occurrence = occurrenceKeys();
      for (const m of f.mutants) {
        const key = occurrence(keyOf(m.mutatorName, m.location.start.line, m.location.start.column, m.replacement ?? ''));
        const known = byKey.get(key);
        if (known !== undefined) known.status = better(known.status, m.status);
        else byKey.set(key, { mutatorName: m.mutatorName, line: m.location.start.line, column: m.location.start.column, replacement: m.replacement ?? '', status: m.status });
      }
    }
  }
  return files;
}

/** Survivors, every status counted, of a summary published before: its mutants not killed are known one by one, the rest by count. */
function unpack(base: MutationSummary): { counts: Record<MutantStatus, number>; files: Map<string, Map<string, Entry>> } {
  const files = new Map<string, Map<string, Entry>>(base.files.map((f) => [f, new Map<string, Entry>()]));
  for (const [mutatorName, byFile] of Object.entries(base.survivors)) {
    for (const [file, list] of Object.entries(byFile)) {
      const byKey = files.get(file) ?? new Map<string, Entry>();
      files.set(file, byKey);
      const occurrence = occurrenceKeys(); // keys differ by mutator, so one numbering per mutator and file suffices
      for (const s of list) {
        byKey.set(occurrence(keyOf(mutatorName, s.line, s.column, s.replacement)), { mutatorName, line: s.line, column: s.column, replacement: s.replacement, status: s.status });
      }
    }
  }
  return { counts: { ...base.counts }, files };
}

/**
 * Merges the reports and summarises them; `date` and `commit` say when and of what. With `base` (a
 * summary of the same sources), the reports' mutants of a file it holds can only improve the status
 * of its survivors: a mutant it does not list as a survivor it counted as killed (or ignored) already.
 */
export function summarize(reports: { label: string; report: unknown }[], meta: { date: string; commit: string }, base?: MutationSummary): MutationSummary {
  const merged = mergeReports(reports);
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<MutantStatus, number>;
  let known = new Map<string, Map<string, Entry>>();
  if (base !== undefined) {
    const unpacked = unpack(base);
    Object.assign(counts, unpacked.counts);
    known = unpacked.files;
  }
  for (const [file, byKey] of merged) {
    const survivorsHere = known.get(file);
    if (survivorsHere === undefined) {
      for (const e of byKey.values()) counts[e.status]++;
      known.set(file, byKey);
      continue;
    }
    for (const [key, e] of byKey) {
      const was = survivorsHere.get(key);
      if (was === undefined || RANK[e.status] <= RANK[was.status]) continue;
      counts[was.status]--;
      counts[e.status]++;
      was.status = e.status;
    }
  }
  const survivors: Record<string, Record<string, Survivor[]>> = {};
  for (const [file, byKey] of [...known].sort(([a], [b]) => a.localeCompare(b))) {
    for (const e of [...byKey.values()].sort((a, b) => a.line - b.line || a.column - b.column)) {
      if (e.status !== 'Survived' && e.status !== 'NoCoverage') continue;
      const byFile = (survivors[e.mutatorName] ??= {});
      (byFile[file] ??= []).push({ line: e.line, column: e.column, replacement: e.replacement, status: e.status });
    }
  }
  const detected = counts.Killed + counts.Timeout;
  const valid = detected + counts.Survived + counts.NoCoverage;
  const covered = detected + counts.Survived;
  return {
    score: valid === 0 ? 0 : round2((100 * detected) / valid),
    score_of_covered: covered === 0 ? 0 : round2((100 * detected) / covered),
    date: meta.date, commit: meta.commit, files: [...known.keys()].sort(), counts, survivors,
  };
}
