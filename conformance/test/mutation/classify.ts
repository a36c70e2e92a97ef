/**
 * Classes the survivors of a published mutation summary again with the rules of survivor-classes.ts,
 * reading each mutated file as it was at the summary's commit:
 * `npx tsx conformance/test/mutation/classify.ts [SUMMARY]` (default reports/mutation/summary.json),
 * rewritten in place. `npm run mutation` classes a new summary itself (write-summary.ts); this is for a
 * summary measured before a rule was added or changed. Exit 66 when the summary or a source at its
 * commit cannot be read, 65 when the summary is not valid against reports/mutation-summary.schema.json.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withClasses } from './survivor-classes.js';
import { readSummaryOrExit } from './summary-file.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const path = process.argv[2] ?? join(root, 'reports/mutation/summary.json');

function fail(code: number, message: string): never {
  process.stderr.write(`mutation classify: ${message}\n`);
  process.exit(code);
}

const valid = readSummaryOrExit(path, 'mutation classify');

const sourceAtCommit = (file: string): string => {
  try {
    return execFileSync('git', ['show', `${valid.commit}:${file}`], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return fail(66, `git cannot show ${file} at ${valid.commit} (a shallow clone?)`);
  }
};
const classified = withClasses(valid, sourceAtCommit);
writeFileSync(path, `${JSON.stringify(classified, null, 2)}\n`);
for (const [id, c] of Object.entries(classified.classes ?? {})) process.stdout.write(`${id} (${c.class}): ${c.survivors} survivors\n`);
process.stdout.write(`mutation score ${classified.score}%; ${classified.score_of_non_equivalent}% of the mutants neither rule nor review classes equivalent or out of reach: ${path}\n`);
