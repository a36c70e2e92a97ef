/**
 * Writes `reports/mutation/summary.json` from Stryker's JSON report(s) (the last step of
 * `npm run mutation`): `npx tsx conformance/test/mutation/write-summary.ts [--out FILE] [REPORT.json ...]`,
 * by default `reports/mutation/mutation.json` into `reports/mutation/summary.json`. `--out` writes a
 * summary of part of the scope elsewhere (the cluster's run alone: `summary-cluster.json`). Exit 66 when
 * a report cannot be read, 65 when it is not a Stryker report, 64 on a bad command line. Survivors are
 * classed by the rules of survivor-classes.ts (`score_of_non_equivalent`, `classes`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summarize, ReportFormatError, type MutationSummary } from './summary.js';
import { withClasses } from './survivor-classes.js';
import { readSummaryOrExit } from './summary-file.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let parsed;
try {
  parsed = parseArgs({ options: { out: { type: 'string' }, base: { type: 'string' } }, allowPositionals: true });
} catch (e) {
  process.stderr.write(`mutation summary: ${(e as Error).message}\n`);
  process.exit(64);
}
const out = parsed.values.out ?? join(root, 'reports/mutation/summary.json');
const args = parsed.positionals;
const paths = args.length > 0 ? args : [join(root, 'reports/mutation/mutation.json')];

let reports: { label: string; report: unknown }[];
try {
  reports = paths.map((p) => ({ label: p, report: JSON.parse(readFileSync(p, 'utf8')) as unknown }));
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

const base = parsed.values.base === undefined ? undefined : readBase(parsed.values.base);
try {
  // The mutated files are the working tree's: Stryker copied them into its sandboxes.
  const summary = withClasses(summarize(reports, { date: new Date().toISOString(), commit }, base), (file) => readFileSync(join(root, file), 'utf8'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`mutation score ${summary.score}% (${summary.score_of_covered}% of covered mutants, ${summary.score_of_non_equivalent}% of those neither rule nor review classes out of reach) over ${summary.files.length} files: ${out}\n`);
} catch (e) {
  if (!(e instanceof ReportFormatError)) throw e;
  process.stderr.write(`mutation summary: ${e.message}\n`);
  process.exit(65);
}
