/**
 * Writes `reports/mutation/summary.json` from Stryker's JSON report(s) (the last step of
 * `npm run mutation`): `npx tsx conformance/test/mutation/write-summary.ts [--out FILE] [--base SUMMARY] [--plan | --partial] [REPORT.json ...]`,
 * by default `reports/mutation/mutation.json` into `reports/mutation/summary.json`. `--out` writes a
 * summary of part of the scope elsewhere, with `--partial` (the cluster's run alone, `summary-cluster.json`,
 * which mutates only some lines of the single broker's files), which skips the completeness check below. Survivors are classed by the rules of survivor-classes.ts
 * (`score_of_non_equivalent`, `classes`).
 *
 * A report measured on older sources than the working tree's is rebased onto them (summary.ts,
 * rebase.ts): its mutants on unchanged lines keep their status, those on changed lines are dropped.
 * The summary is then written only when complete: every mutant Stryker makes of the current source of
 * each file the reports hold (current-mutants.ts) must be in some report, directly or rebased; the
 * files of `--base` are its own, unchanged since its commit. Scope is per file, since the cluster's run
 * mutates only some lines of the single broker's files: a file is complete once the reports together
 * hold all its mutants. `--plan` prints, one per line, `stryker.config.mjs` and a `--mutate` range of the
 * mutants no report holds and writes nothing, for `npx stryker run stryker.config.mjs --mutate <ranges
 * joined by commas>` (a range among the cluster-only lines of stryker.cluster.config.mjs wants that
 * config's run too).
 *
 * Kills are trusted only from runs that confirm them (case-pool.ts: the failing case run again alone).
 * `--unconfirmed REPORT` (repeatable) gives a report made before: its survivors count, but each of its
 * kills and timeouts is owed a run of the same tests (the report's test files: the single broker's or the
 * cluster's config) unless a confirmed report detected that mutant. `--unconfirmed-timeouts REPORT` doubts
 * only the report's timeouts (a confirmed run whose timeout left no room for a second run of a case). `--plan` prints each owed mutant's
 * exact range after the config to run it in (`CONFIG RANGE` per line, for `CONCORD_MUTATION_REPORT=...
 * npx stryker run CONFIG --mutate RANGES`). `--count-doubted survived` writes the figure before those
 * runs, counting the owed mutants as survivors (a lower bound), `--count-doubted killed` as killed (an
 * upper bound); the summary's `doubted` says how many and which.
 *
 * Exit 0 when written (or planned); 65 when a report is not a Stryker report, the base's sources changed,
 * or a current mutant is in no report (the message gives their count and ranges); 66 when a report cannot
 * be read; 64 on a bad command line. What rebasing carried and dropped goes to stderr, and into the summary.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countDoubted, mergeReports, mutantKeys, siteOf, summarizeMerged, ReportFormatError, type Merged, type MutationSummary, type ReportInput, type SourceReader } from './summary.js';
import { withClasses } from './survivor-classes.js';
import { readSummaryOrExit } from './summary-file.js';
import { currentMutants, exactRange, mutateRanges } from './current-mutants.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let parsed;
try {
  parsed = parseArgs({ options: { out: { type: 'string' }, base: { type: 'string' }, plan: { type: 'boolean' }, partial: { type: 'boolean' }, unconfirmed: { type: 'string', multiple: true }, 'unconfirmed-timeouts': { type: 'string', multiple: true }, 'count-doubted': { type: 'string' } }, allowPositionals: true });
} catch (e) {
  process.stderr.write(`mutation summary: ${(e as Error).message}\n`);
  process.exit(64);
}
const out = parsed.values.out ?? join(root, 'reports/mutation/summary.json');
if (parsed.values['count-doubted'] !== undefined && !['survived', 'killed'].includes(parsed.values['count-doubted'])) {
  process.stderr.write(`mutation summary: --count-doubted ${parsed.values['count-doubted']}: expected survived or killed\n`);
  process.exit(64);
}
const args = parsed.positionals;
const unconfirmed = parsed.values.unconfirmed ?? [];
const timeoutsUnconfirmed = parsed.values['unconfirmed-timeouts'] ?? [];
const paths = args.length > 0 || unconfirmed.length + timeoutsUnconfirmed.length > 0 ? args : [join(root, 'reports/mutation/mutation.json')];

let reports: ReportInput[];
try {
  const read = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));
  reports = [
    ...unconfirmed.map((p): ReportInput => ({ label: p, report: read(p), unconfirmed: 'detections' })),
    ...timeoutsUnconfirmed.map((p): ReportInput => ({ label: p, report: read(p), unconfirmed: 'timeouts' })),
    ...paths.map((p): ReportInput => ({ label: p, report: read(p) })),
  ];
} catch (e) {
  process.stderr.write(`mutation summary: cannot read a report: ${(e as Error).message}\n`);
  process.exit(66);
}
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();

/** The summary named by --base, checked against the schema and against the sources it was measured on. */
function readBase(path: string): MutationSummary {
  const base = readSummaryOrExit(path, 'mutation summary');
  // Mutants are matched by line and column: the base's files must be the same bytes as now.
  try {
    execFileSync('git', ['diff', '--quiet', base.commit, 'HEAD', '--', ...base.files], { cwd: root, stdio: 'ignore' });
  } catch {
    process.stderr.write(`mutation summary: the sources of ${path} changed since its commit ${base.commit} (or git does not know it): run the whole scope again\n`);
    process.exit(65);
  }
  return base;
}

/** The mutated files are the working tree's: Stryker copied them into its sandboxes. */
const currentSource: SourceReader = (file) => {
  try {
    return readFileSync(join(root, file), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

/** The config whose run measures a test file's cases: the single broker's and the cluster's. */
const CONFIG_OF_TESTS: Readonly<Record<string, string>> = {
  'conformance/test/mutation/broker-cases.mutation.ts': 'stryker.config.mjs',
  'conformance/test/mutation/cluster-cases.mutation.ts': 'stryker.cluster.config.mjs',
};

/**
 * The runs still owed, as `--mutate` ranges by config: the current mutants of the reports' files (the
 * base's excepted) that no report holds, by line range in the single broker's config, and those only
 * unconfirmed reports detected, one exact range each, in the config of the tests that detected them.
 */
async function owedRuns(merged: Merged, base: MutationSummary | undefined): Promise<{ count: number; ranges: Map<string, string[]> }> {
  let count = 0;
  const ranges = new Map<string, string[]>();
  const add = (config: string, more: string[]): void => void ranges.set(config, [...(ranges.get(config) ?? []), ...more]);
  for (const [file, measured] of [...merged.files].sort(([a], [b]) => a.localeCompare(b))) {
    if (base?.files.includes(file)) continue;
    const current = await currentMutants(file, currentSource(file)!);
    const doubted = merged.doubted.get(file) ?? new Map<string, { tests: Set<string> }>();
    const keys = mutantKeys(current.map(siteOf));
    // Neither measured nor owed again: never run, or changed since its run.
    const missing = current.filter((_, i) => !measured.has(keys[i]!) && !doubted.has(keys[i]!));
    count += missing.length;
    add('stryker.config.mjs', mutateRanges(file, missing));
    current.forEach((m, i) => {
      const owed = doubted.get(keys[i]!);
      if (owed === undefined) return;
      count++;
      for (const tests of owed.tests) add(CONFIG_OF_TESTS[tests] ?? `a config running ${tests}`, [exactRange(file, m)]);
    });
  }
  for (const [config, list] of ranges) if (list.length === 0) ranges.delete(config);
  return { count, ranges };
}

const base = parsed.values.base === undefined ? undefined : readBase(parsed.values.base);
try {
  const mergedAsGiven = mergeReports(reports, currentSource);
  const counted = parsed.values['count-doubted'];
  const merged = counted === undefined ? mergedAsGiven : countDoubted(mergedAsGiven, counted === 'killed' ? 'Killed' : 'Survived');
  for (const r of merged.rebased) process.stderr.write(`mutation summary: ${r.report}: ${r.file} was measured on another source: ${r.carried} mutants carried, ${r.dropped} dropped\n`);
  const { count, ranges } = await owedRuns(merged, base);
  if (parsed.values.plan === true) {
    for (const [config, list] of ranges) process.stdout.write(list.map((r) => `${config} ${r}\n`).join(''));
    process.exit(0);
  }
  if (count > 0 && parsed.values.partial !== true) {
    const runs = [...ranges].map(([config, list]) => `  CONCORD_MUTATION_REPORT=reports/mutation/mutation-plan.json npx stryker run ${config} --mutate ${list.join(',')}\n`);
    process.stderr.write(`mutation summary: ${count} mutants of the current sources are unmeasured (in no report, changed since their report's run, or detected only by a run made before kills were confirmed); measure them (--plan lists the ranges) with\n${runs.join('')}`);
    process.exit(65);
  }
  const summary = withClasses(summarizeMerged(merged, { date: new Date().toISOString(), commit }, base), (file) => currentSource(file)!);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`mutation score ${summary.score}% (${summary.score_of_covered}% of covered mutants, ${summary.score_of_non_equivalent}% of those neither rule nor review classes out of reach) over ${summary.files.length} files: ${out}\n`);
} catch (e) {
  if (!(e instanceof ReportFormatError)) throw e;
  process.stderr.write(`mutation summary: ${e.message}\n`);
  process.exit(65);
}
