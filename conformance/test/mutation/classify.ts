/**
 * Classes the survivors of a published mutation summary again with the rules of survivor-classes.ts,
 * reading each mutated file as it was at the summary's commit:
 * `npx tsx conformance/test/mutation/classify.ts [SUMMARY]` (default reports/mutation/summary.json),
 * rewritten in place. `npm run mutation` classes a new summary itself (write-summary.ts); this is for a
 * summary measured before a rule was added or changed. Exit 66 when the summary or a source at its
 * commit cannot be read, 65 when the summary is not valid against reports/mutation-summary.schema.json.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { withClasses } from './survivor-classes.js';
import type { MutationSummary } from './summary.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const path = process.argv[2] ?? join(root, 'reports/mutation/summary.json');

function fail(code: number, message: string): never {
  process.stderr.write(`mutation classify: ${message}\n`);
  process.exit(code);
}

let summary: unknown;
try {
  summary = JSON.parse(readFileSync(path, 'utf8')) as unknown;
} catch (e) {
  fail(66, `cannot read ${path}: ${(e as Error).message}`);
}
const schema = JSON.parse(readFileSync(join(root, 'reports/mutation-summary.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true }).compile<MutationSummary>(schema);
if (!validate(summary)) fail(65, `${path} is not a valid summary: ${JSON.stringify(validate.errors)}`);
const valid = summary;

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
process.stdout.write(`mutation score ${classified.score}%; ${classified.score_of_non_equivalent}% of the mutants no rule classes equivalent or out of reach: ${path}\n`);
