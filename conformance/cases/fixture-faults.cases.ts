/**
 * Every invalid frame of fixtures/frames/invalid.json that a broker must judge (framing, prefix,
 * header, type and encoding faults, and payload faults of types addressed to the broker itself:
 * a broker forwards routed payloads without decoding them, REQ-9) becomes a case: sent after the
 * handshake, it must get exactly its ERROR, then the close or open connection the registry says.
 */
import { readFileSync } from 'node:fs';
import { messageByCode } from '../../reference/codec/catalog.js';
import { defineCase, type Case } from './model.js';
import { repoFile } from '../../reference/paths.js';
import { readableId, schemaRuleOf } from './testee-vectors.js';
import type { FixtureVector } from '../../spec/generated/fixture.js';
import { toRegistryName } from '../../reference/codec/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';

/** The codes of faults found before the payload is read (framing, header, type, encoding). */
const FRAMING_ERRORS: ReadonlySet<string> = new Set<ErrorName>(['MALFORMED_FRAME', 'FRAME_TOO_LARGE', 'INVALID_HEADER', 'UNKNOWN_TYPE', 'UNSUPPORTED_ENCODING']);

/** An invalid frame vector (fixtures/fixture.schema.json): its error and whether it closes are always given. */
type Vector = FixtureVector & { error: string; closes: boolean };

const STATEMENT_OF: Record<string, (v: Vector) => string> = {
  MALFORMED_FRAME: (v) => (v.id.startsWith('frame/invalid/framing/') ? 'FRM-2' : 'BODY-1'),
  FRAME_TOO_LARGE: () => 'FRM-3',
  INVALID_HEADER: () => 'BODY-2',
  UNKNOWN_TYPE: () => 'ERR-7',
  UNSUPPORTED_ENCODING: () => 'ENC-3',
  INVALID_PAYLOAD: (v) => (v.rule === 'max-depth' ? 'LIM-15' : Buffer.from(v.hex, 'hex')[5]! & 3 ? 'ENC-8' : 'ENC-6'),
  SCHEMA_VIOLATION: () => 'ERR-9',
};

/** Payload checks (steps 6-8 of the check table) are the final receiver's: types the broker receives itself. */
function appliesToBroker(v: Vector): boolean {
  if (!(v.error in STATEMENT_OF)) return false;
  // Vectors written for a receiver with a non-default max_frame say so; a broker's own limit decides.
  if (v.max_frame !== undefined) return false;
  if (FRAMING_ERRORS.has(v.error)) return true;
  // The session negotiates JSON: a CBOR payload would meet UNSUPPORTED_ENCODING before its own fault.
  if ((Buffer.from(v.hex, 'hex')[5]! & 3) !== 0) return false;
  const info = messageByCode(Buffer.from(v.hex, 'hex')[4]!);
  return !!info && info.directions.includes('client-to-broker') && info.receiver.includes('broker') && info.name !== 'INIT';
}

export function fixtureFaultCases(): Case[] {
  const path = repoFile('fixtures/frames/invalid.json');
  const vectors = (JSON.parse(readFileSync(path, 'utf8')) as { vectors: Vector[] }).vectors.filter(appliesToBroker);
  return vectors.map((v) => {
    const statement = STATEMENT_OF[v.error]!(v);
    const slug = v.id.replace('frame/invalid/', '').replace(/\//g, '-');
    return defineCase({
      id: `${sectionOf(statement)}/${slug}`,
      statements: [...new Set([statement, v.closes ? 'ERR-4' : 'ERR-5', ...v.spec.filter((ref) => /^[A-Z]{2,6}-[0-9]+$/.test(ref))])],
      async run(ctx) {
        const { conn } = await ctx.session();
        const bytes = Buffer.from(v.hex, 'hex');
        conn.sendRaw(bytes, `fixture ${v.id}: ${v.description}`);
        // Every field a statement names: code, definite (ERR-2), re (ERR-3), details.path and rule, the close.
        const rule = v.rule ?? schemaRuleOf(v.id);
        await ctx.expectError(conn, toRegistryName(v.error), {
          statement, closes: v.closes, re: readableId(bytes, v.error),
          ...(v.path !== undefined ? { path: v.path } : {}), ...(rule !== undefined ? { rule } : {}),
        });
      },
    });
  });
}

function sectionOf(statement: string): string {
  return { FRM: 'framing', BODY: 'body', ERR: 'errors', ENC: 'encodings', LIM: 'limits' }[statement.split('-')[0]!]!;
}
