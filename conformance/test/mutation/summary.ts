/**
 * The published mutation figure: `reports/mutation/summary.json`, boiled down from Stryker's JSON
 * report(s) (mutation-testing-report-schema 1.x). Several reports (runs over parts of the scope, which
 * may overlap: the cluster's run also mutates the cluster-only lines of the single broker's files) merge
 * mutant by mutant: a mutant is the same in two reports when its file, mutator, start, end and
 * replacement are (`a && b` and `a && b && c` both start at `a` and both become `true`; only their ends
 * tell them apart), and it takes its best status (killed in either run counts as killed). A summary published before
 * can be the base of a merge (`base`), when the sources are unchanged since.
 *
 * A report may have been measured on older sources than the current ones (each report file keeps the
 * `source` it mutated). Given the current sources (`currentSource`), such a report's mutants are placed
 * on them before merging, as Stryker's incremental mode would (rebase.ts): a mutant whose lines are
 * unchanged keeps its status at its new line, one on a changed line is dropped, left to a new run. The
 * summary lists what was carried and dropped (`rebased`), since its figure then rests partly on older
 * sources than its `commit`'s. Whether every current mutant is measured is current-mutants.ts's question.
 */
import { rebaseMutant, unchangedLines, type Position, type Span } from './rebase.js';

/** A mutant's status as Stryker reports it. */
export type MutantStatus = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';

const STATUSES: readonly MutantStatus[] = ['Killed', 'Survived', 'NoCoverage', 'Timeout', 'CompileError', 'RuntimeError', 'Ignored', 'Pending'];

/** The part of Stryker's JSON report the summary reads. */
export interface StrykerReport {
  schemaVersion: string;
  files: Record<string, StrykerFile>;
  /** The test files of the run, by name: which suites measured the mutants (the single broker's or the cluster's). */
  testFiles?: Record<string, unknown>;
}

/** A report to merge, named for messages. */
export interface ReportInput {
  label: string;
  report: unknown;
  /**
   * What of the report is not confirmed. `detections`: made before a kill had to be confirmed by the
   * failing case's run alone (case-pool.ts), so its kills and timeouts may be a loaded machine's; its
   * survivors count. `timeouts`: its kills are confirmed but its timeouts are not (a run whose timeout left
   * no room for the second run of a failing case). Either way, a run of the same tests after must measure
   * the doubted mutants again.
   */
  unconfirmed?: 'detections' | 'timeouts';
}

export interface StrykerFile {
  /** The file's text as Stryker mutated it. */
  source?: string;
  mutants: StrykerMutant[];
}

export interface StrykerMutant {
  id: string;
  mutatorName: string;
  status: MutantStatus;
  replacement?: string;
  /** Lines and columns 1-based. */
  location: Span;
}

/** The current text of a file (relative to the repository root), undefined when it no longer exists. */
export type SourceReader = (file: string) => string | undefined;

/** One report's mutants of one file measured on another source than the current one: how many were carried over, how many dropped. */
export interface Rebased {
  report: string;
  file: string;
  carried: number;
  dropped: number;
}

/** A mutant no case killed: where, what it changed, and whether a case reached it. */
export interface Survivor {
  line: number;
  column: number;
  /** Where the mutated code ends (line and column 1-based, as Stryker's report gives them). */
  end: Position;
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
  /** Reports' files measured on older sources and rebased onto the current ones (absent when none was). */
  rebased?: Rebased[];
  /**
   * Kills of reports made before kills were confirmed, not yet measured again: how many, and whether they
   * are counted as survivors (a lower bound) or as killed (an upper bound). Absent when there are none.
   */
  doubted?: DoubtedMutants;
}

/** How a figure counts the kills still owed a confirmed run: as survivors, or as killed. */
export type DoubtedCount = 'Survived' | 'Killed';

/** The kills still owed a confirmed run: how many, how the figure counts them, and which, by mutator class and file (as `survivors`). */
export interface DoubtedMutants {
  mutants: number;
  counted_as: DoubtedCount;
  sites: Record<string, Record<string, Array<Omit<Survivor, 'status' | 'rule'>>>>;
}

/** A report that is not Stryker's JSON report of a version this script reads. */
export class ReportFormatError extends Error {
  override name = 'ReportFormatError';
}

const isPosition = (p: unknown): boolean => typeof p === 'object' && p !== null && Number.isInteger((p as Position).line) && Number.isInteger((p as Position).column);

function checkReport(r: unknown, label: string): asserts r is StrykerReport {
  const report = r as Partial<StrykerReport> | null;
  if (typeof report !== 'object' || report === null || typeof report.files !== 'object' || report.files === null) throw new ReportFormatError(`${label}: no "files" object (not a Stryker JSON report)`);
  if (typeof report.schemaVersion !== 'string' || !report.schemaVersion.startsWith('1.')) throw new ReportFormatError(`${label}: schemaVersion ${String(report.schemaVersion)} (this script reads 1.x)`);
  for (const [file, f] of Object.entries(report.files)) {
    if (!Array.isArray(f?.mutants)) throw new ReportFormatError(`${label}: ${file} has no mutants array`);
    if (f.source !== undefined && typeof f.source !== 'string') throw new ReportFormatError(`${label}: ${file} has a source that is not a string`);
    for (const m of f.mutants) {
      if (!STATUSES.includes(m.status)) throw new ReportFormatError(`${label}: ${file} mutant ${m.id} has unknown status ${String(m.status)}`);
      if (!isPosition(m.location?.start) || !isPosition(m.location?.end)) throw new ReportFormatError(`${label}: ${file} mutant ${m.id} has no start and end location`);
    }
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Which status a mutant keeps when runs disagree: a detection beats a survivor, a reached mutant one no case reached. */
const RANK: Record<MutantStatus, number> = { Killed: 7, Timeout: 6, Survived: 5, NoCoverage: 4, RuntimeError: 3, CompileError: 2, Ignored: 1, Pending: 0 };
const better = (a: MutantStatus, b: MutantStatus): MutantStatus => (RANK[b] > RANK[a] ? b : a);

/** What makes two reports' mutants the same mutant (the sources being the same). */
const keyOf = (m: MutantSite): string => `${m.mutatorName}\u0000${m.line}:${m.column}-${m.end.line}:${m.end.column}\u0000${m.replacement}`;

/** Where a mutant starts and ends (lines and columns as Stryker's JSON report gives them) and what it does. */
export interface MutantSite {
  mutatorName: string;
  line: number;
  column: number;
  end: Position;
  replacement: string;
}

/** The site of a mutant of a Stryker report (or of the instrumenter, placed as a report would). */
export const siteOf = (m: { mutatorName: string; replacement?: string; location: Span }): MutantSite =>
  ({ mutatorName: m.mutatorName, line: m.location.start.line, column: m.location.start.column, end: { line: m.location.end.line, column: m.location.end.column }, replacement: m.replacement ?? '' });

/**
 * The keys of one file's mutants in their order, the keys of `mergeReports`'s maps: the n-th mutant with
 * one key (n > 1) gets `key#n`, so two mutants of one span with one replacement would stay two (a key
 * holds the whole span, so no report of this project's sources has any).
 */
export function mutantKeys(sites: Iterable<MutantSite>): string[] {
  const seen = new Map<string, number>();
  return [...sites].map((m) => {
    const key = keyOf(m);
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return n === 1 ? key : `${key}#${n}`;
  });
}

/** A mutant of the merged reports, on the current source: where, what, and its best status. */
export interface MergedMutant extends MutantSite {
  status: MutantStatus;
}

/**
 * The merged reports: every mutant by file, then by key (`mutantKeys`), and what rebasing carried and
 * dropped. `doubted` holds, by file and key, the mutants that only unconfirmed reports detected, with the
 * tests (a report's test files, joined by commas) whose confirmed run must measure them again; they are
 * left out of `files` until then, or until `countDoubted` puts them there.
 */
export interface Merged {
  files: Map<string, Map<string, MergedMutant>>;
  rebased: Rebased[];
  doubted: Map<string, Map<string, { site: MutantSite; tests: Set<string> }>>;
  /** The doubted mutants `countDoubted` put into `files`, and as what. */
  doubtedCounted?: DoubtedMutants;
}

/**
 * The merge with its doubted mutants counted `as` survivors, a figure that takes no unconfirmed kill on
 * trust (a lower bound), or as killed, one that takes them all (an upper bound), until the confirmed
 * runs owed are made.
 */
export function countDoubted(merged: Merged, as: DoubtedCount): Merged {
  const files = new Map([...merged.files].map(([file, byKey]) => [file, new Map(byKey)]));
  const counted: DoubtedMutants = { mutants: 0, counted_as: as, sites: {} };
  for (const [file, byKey] of [...merged.doubted].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [key, { site }] of [...byKey].sort(([, x], [, y]) => bySpan(x.site, y.site))) {
      files.get(file)!.set(key, { ...site, status: as });
      counted.mutants++;
      ((counted.sites[site.mutatorName] ??= {})[file] ??= []).push({ line: site.line, column: site.column, end: site.end, replacement: site.replacement });
    }
  }
  return { files, rebased: merged.rebased, doubted: new Map(), doubtedCounted: counted };
}

/** Which tests measured a report's mutants: its test files, joined by commas, in order. */
export function testsOf(report: StrykerReport): string {
  return Object.keys(report.testFiles ?? {}).sort().join(',');
}

/** Sites in the order of their start, then of their end. */
const bySpan = (a: MutantSite, b: MutantSite): number => a.line - b.line || a.column - b.column || a.end.line - b.end.line || a.end.column - b.end.column;

const isDetection = (status: MutantStatus): boolean => status === 'Killed' || status === 'Timeout';

/** The entry at `file`, `key` of a two-level map, made by `make` when absent. */
function entryAt<V>(map: Map<string, Map<string, V>>, file: string, key: string, make: () => V): V {
  const byKey = map.get(file) ?? new Map<string, V>();
  map.set(file, byKey);
  const entry = byKey.get(key) ?? make();
  byKey.set(key, entry);
  return entry;
}

/**
 * Where a report file's mutants stand on the file's current source: `measured` there when the report
 * mutated that very source, or when that cannot be told (no reader, or no `source` in the report);
 * `rebased` when it mutated another (those rebase.ts carries over); `gone` with the file.
 */
type Placement = { on: 'measured' } | { on: 'rebased'; mutants: StrykerMutant[] } | { on: 'gone' };

function place(file: string, f: StrykerFile, currentSource: SourceReader | undefined): Placement {
  if (currentSource === undefined || f.source === undefined) return { on: 'measured' };
  const now = currentSource(file);
  if (now === f.source) return { on: 'measured' };
  if (now === undefined) return { on: 'gone' };
  const unchanged = unchangedLines(f.source, now);
  return { on: 'rebased', mutants: f.mutants.flatMap((m) => rebaseMutant(m, unchanged) ?? []) };
}

/**
 * Every report's mutants by file, then by key, each with its best status. With `currentSource`, a
 * report's mutants of a file measured on another source are rebased onto the current one first; a file
 * that is gone keeps none, and is left out.
 */
export function mergeReports(reports: ReportInput[], currentSource?: SourceReader): Merged {
  const files = new Map<string, Map<string, MergedMutant>>();
  const rebased: Rebased[] = [];
  /** The tests of the unconfirmed reports that detected a mutant, and of the confirmed reports that measured it. */
  const detectedUnconfirmed = new Map<string, Map<string, { site: MutantSite; tests: Set<string> }>>();
  const measuredConfirmed = new Map<string, Map<string, Set<string>>>();
  for (const { label, report, unconfirmed } of reports) {
    checkReport(report, label);
    const tests = testsOf(report);
    for (const [file, f] of Object.entries(report.files)) {
      const placed = place(file, f, currentSource);
      if (placed.on !== 'measured') {
        const carried = placed.on === 'rebased' ? placed.mutants.length : 0;
        rebased.push({ report: label, file, carried, dropped: f.mutants.length - carried });
      }
      if (placed.on === 'gone') continue;
      const mutants = placed.on === 'rebased' ? placed.mutants : f.mutants;
      const sites = mutants.map((m): MergedMutant => ({ ...siteOf(m), status: m.status }));
      const byKey = files.get(file) ?? new Map<string, MergedMutant>();
      files.set(file, byKey);
      const keys = mutantKeys(sites);
      sites.forEach((m, i) => {
        const key = keys[i]!;
        const doubtedHere = unconfirmed === 'detections' ? isDetection(m.status) : unconfirmed === 'timeouts' && m.status === 'Timeout';
        if (doubtedHere) {
          const site = { mutatorName: m.mutatorName, line: m.line, column: m.column, end: m.end, replacement: m.replacement };
          entryAt(detectedUnconfirmed, file, key, () => ({ site, tests: new Set<string>() })).tests.add(tests);
          return;
        }
        if (unconfirmed !== 'detections') entryAt(measuredConfirmed, file, key, () => new Set<string>()).add(tests);
        const known = byKey.get(key);
        if (known !== undefined) known.status = better(known.status, m.status);
        else byKey.set(key, { ...m });
      });
    }
  }
  // A detection that no confirmed run of the same tests has measured again leaves its mutant unmeasured,
  // unless a confirmed run detected it.
  const doubted: Merged['doubted'] = new Map();
  for (const [file, byKey] of detectedUnconfirmed) {
    for (const [key, { site, tests: testsThatDetected }] of byKey) {
      const merged = files.get(file)!.get(key);
      if (merged !== undefined && isDetection(merged.status)) continue;
      const again = measuredConfirmed.get(file)?.get(key) ?? new Set<string>();
      const owed = [...testsThatDetected].filter((t) => !again.has(t));
      if (owed.length === 0) continue;
      entryAt(doubted, file, key, () => ({ site, tests: new Set(owed) }));
      files.get(file)!.delete(key);
    }
  }
  return { files, rebased, doubted };
}

/** Survivors, every status counted, of a summary published before: its mutants not killed are known one by one, the rest by count. */
function unpack(base: MutationSummary): { counts: Record<MutantStatus, number>; files: Map<string, Map<string, MergedMutant>> } {
  const files = new Map<string, Map<string, MergedMutant>>(base.files.map((f) => [f, new Map<string, MergedMutant>()]));
  for (const [mutatorName, byFile] of Object.entries(base.survivors)) {
    for (const [file, list] of Object.entries(byFile)) {
      const byKey = files.get(file) ?? new Map<string, MergedMutant>();
      files.set(file, byKey);
      const sites = list.map((s): MergedMutant => ({ mutatorName, line: s.line, column: s.column, end: s.end, replacement: s.replacement, status: s.status }));
      const keys = mutantKeys(sites); // keys differ by mutator, so one numbering per mutator and file suffices
      sites.forEach((m, i) => byKey.set(keys[i]!, m));
    }
  }
  return { counts: { ...base.counts }, files };
}

/**
 * Merges the reports and summarises them; `date` and `commit` say when and of what. With `base` (a
 * summary of the same sources), the reports' mutants of a file it holds can only improve the status
 * of its survivors: a mutant it does not list as a survivor it counted as killed (or ignored) already.
 * With `currentSource`, reports measured on older sources are rebased onto the current ones
 * (`mergeReports`), and `rebased` says what that carried and dropped, after the base's own.
 */
export function summarize(reports: ReportInput[], meta: { date: string; commit: string }, base?: MutationSummary, currentSource?: SourceReader): MutationSummary {
  return summarizeMerged(mergeReports(reports, currentSource), meta, base);
}

/** `summarize` of reports already merged (`mergeReports`), for a caller that checked the merge first. */
export function summarizeMerged({ files: merged, rebased, doubtedCounted }: Merged, meta: { date: string; commit: string }, base?: MutationSummary): MutationSummary {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<MutantStatus, number>;
  let known = new Map<string, Map<string, MergedMutant>>();
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
    for (const e of [...byKey.values()].sort(bySpan)) {
      if (e.status !== 'Survived' && e.status !== 'NoCoverage') continue;
      const byFile = (survivors[e.mutatorName] ??= {});
      (byFile[file] ??= []).push({ line: e.line, column: e.column, end: e.end, replacement: e.replacement, status: e.status });
    }
  }
  const detected = counts.Killed + counts.Timeout;
  const valid = detected + counts.Survived + counts.NoCoverage;
  const covered = detected + counts.Survived;
  // A fold of the same report twice lists its rebasing once.
  const allRebased = [...new Map([...(base?.rebased ?? []), ...rebased].map((r) => [JSON.stringify(r), r])).values()];
  return {
    score: valid === 0 ? 0 : round2((100 * detected) / valid),
    score_of_covered: covered === 0 ? 0 : round2((100 * detected) / covered),
    date: meta.date, commit: meta.commit, files: [...known.keys()].sort(), counts, survivors,
    ...(allRebased.length > 0 ? { rebased: allRebased } : {}),
    ...(doubtedCounted !== undefined && doubtedCounted.mutants > 0 ? { doubted: doubtedCounted } : {}),
  };
}
