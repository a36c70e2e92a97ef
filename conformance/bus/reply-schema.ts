/**
 * Checks an adapter's reply line against spec/bus/adapter.schema.json (BUSA-1, BUSA-3), so that a reply
 * of the wrong shape fails its case with the schema's words instead of breaking the harness later.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { repoFile } from '../../reference/paths.js';
import type { Reply } from '../../reference/bus/adapter/protocol.js';

const SCHEMA_ID = 'concord:bus/adapter.schema.json';
let validate: ((value: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null } | undefined;

function validator(): NonNullable<typeof validate> {
  if (!validate) {
    const ajv = new Ajv({ strict: false });
    ajv.addSchema(JSON.parse(readFileSync(repoFile('spec/bus/adapter.schema.json'), 'utf8')) as object);
    validate = ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/Reply` });
  }
  return validate;
}

/** The reasons `value` is not a Reply, or an empty list when it is one. */
export function replyProblems(value: unknown): string[] {
  const check = validator();
  if (check(value)) return [];
  return (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}

/** Narrows a parsed line to a Reply. */
export function isReply(value: unknown): value is Reply {
  return replyProblems(value).length === 0;
}
