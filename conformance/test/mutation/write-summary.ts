/**
 * Writes `reports/mutation/summary.json` from Stryker's JSON report(s) (the last step of
 * `npm run mutation`): `npx tsx conformance/test/mutation/write-summary.ts [--out FILE] [REPORT.json ...]`,
 * by default `reports/mutation/mutation.json` into `reports/mutation/summary.json`. `--out` writes a
 * summary of part of the scope elsewhere (the cluster's run alone: `summary-cluster.json`). Exit 66 when
 * a report cannot be read, 65 when it is not a Stryker report, 64 on a bad command line.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summarize, ReportFormatError } from './summary.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let parsed;
try {
  parsed = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true });
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
try {
  const summary = summarize(reports, { date: new Date().toISOString(), commit });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`mutation score ${summary.score}% (${summary.score_of_covered}% of covered mutants) over ${summary.files.length} files: ${out}\n`);
} catch (e) {
  if (!(e instanceof ReportFormatError)) throw e;
  process.stderr.write(`mutation summary: ${e.message}\n`);
  process.exit(65);
}
