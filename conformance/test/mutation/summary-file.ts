/** Reading a published mutation summary from a file, for the command-line scripts of this folder. */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { MutationSummary } from './summary.js';

const SCHEMA = new URL('../../../reports/mutation-summary.schema.json', import.meta.url);

/**
 * The summary at `path`, checked against reports/mutation-summary.schema.json. A file that cannot be
 * read or parsed exits 66, one that is not a valid summary 65, each with a message after `prefix`.
 */
export function readSummaryOrExit(path: string, prefix: string): MutationSummary {
  let summary: unknown;
  try {
    summary = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    process.stderr.write(`${prefix}: cannot read ${path}: ${(e as Error).message}\n`);
    process.exit(66);
  }
  const validate = new Ajv({ allErrors: true }).compile<MutationSummary>(JSON.parse(readFileSync(SCHEMA, 'utf8')) as object);
  if (!validate(summary)) {
    process.stderr.write(`${prefix}: ${path} is not a valid summary: ${JSON.stringify(validate.errors)}\n`);
    process.exit(65);
  }
  return summary;
}
