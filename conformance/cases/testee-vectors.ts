/**
 * What the harness derives from an invalid vector's bytes to judge the ERROR that answers it: the
 * `re` ERR-3 requires, and the schema rule ERR-9 requires where the vector names only the path.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import type { FixtureVector } from '../../spec/generated/fixture.js';
import type { Encoding } from '../../reference/codec/body.js';
import { toRegistryName } from '../../reference/codec/catalog.js';
import { repoFile } from '../../reference/paths.js';
import type { ErrorExpectation } from './context.js';

/** A frame vector (fixtures/fixture.schema.json) whose `decoded` is a frame record. */
export type Vector = Omit<FixtureVector, 'decoded'> & { decoded?: { encoding: Encoding; header: { id: string }; payload: unknown } };

/** A vector's `spec` names statements and, in hand-written files, sometimes sections. */
export const isStatementId = (ref: string): boolean => /^[A-Z]{2,6}-[0-9]+$/.test(ref);

/** The vectors of one file of fixtures/frames/. */
export function vectors(file: string): Vector[] {
  return (JSON.parse(readFileSync(repoFile(`fixtures/frames/${file}`), 'utf8')) as { vectors: Vector[] }).vectors;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8 = new TextEncoder();

/** Errors found before the header is read (steps 1 and 2): no id is readable then. */
const BEFORE_HEADER: ReadonlySet<string> = new Set<ErrorName>(['MALFORMED_FRAME', 'FRAME_TOO_LARGE']);

/**
 * The id the ERROR answering this frame must carry as `re` (ERR-3): the header's `id` when the
 * header parsed as a JSON object with a valid id; undefined when no id was readable, in which
 * case ERR-3 asks nothing.
 */
export function readableId(frame: Uint8Array, error: string): string | undefined {
  if (BEFORE_HEADER.has(error) || frame.length < 8) return undefined;
  const body = frame.subarray(4, 4 + new DataView(frame.buffer, frame.byteOffset).getUint32(0));
  if (body.length < 4) return undefined;
  const hlen = (body[2]! << 8) | body[3]!;
  if (hlen === 0 || hlen > DEFAULT_LIMITS.max_header || hlen > body.length - 4) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(body.subarray(4, 4 + hlen)));
  } catch {
    return undefined;
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return undefined;
  const id = (header as Record<string, unknown>)['id'];
  if (typeof id !== 'string') return undefined;
  const n = utf8.encode(id).length;
  return n >= 1 && n <= DEFAULT_LIMITS.max_id_bytes ? id : undefined;
}

/**
 * The `details.rule` of the schema vectors (ERR-9: the schema keyword broken; ENC-4 `empty`,
 * ENC-13 `int64`, ERR-11 `required`), for vectors that give only the path.
 */
const SCHEMA_RULES: Record<string, string> = {
  'frame/invalid/schema/payload-on-ping': 'empty',
  'frame/invalid/schema/init-missing-client-id': 'required',
  'frame/invalid/schema/init-unknown-field': 'additionalProperties',
  'frame/invalid/schema/init-bad-enum': 'enum',
  'frame/invalid/schema/init-encodings-empty': 'minItems',
  'frame/invalid/schema/uint64-as-json-number': 'int64',
  'frame/invalid/schema/uint64-leading-zero': 'int64',
  'frame/invalid/schema/uint64-above-max': 'int64',
  'frame/invalid/schema/uint64-negative': 'int64',
  'frame/invalid/schema/uint64-as-cbor-string': 'int64',
  'frame/invalid/schema/confidence-above-one': 'maximum',
  'frame/invalid/schema/reasoning-context-number': 'type',
};

export function schemaRuleOf(vectorId: string): string | undefined {
  return SCHEMA_RULES[vectorId];
}

/** How an invalid vector must be refused, whoever receives it (a testee, a client, an engine, a worker). */
export interface Refusal {
  bytes: Buffer;
  code: ErrorName;
  /** Every field a statement names: the close (ERR-4, ERR-5), `re` (ERR-3), `details.path` and `details.rule`. */
  expectation: ErrorExpectation;
  /** The frame carries CBOR that the receiver reads only with CBOR negotiated (a fault found before the header needs none). */
  cbor: boolean;
}

export function refusalOf(v: Vector): Refusal {
  const bytes = Buffer.from(v.hex, 'hex');
  const rule = v.rule ?? schemaRuleOf(v.id);
  return {
    bytes,
    code: toRegistryName(v.error!),
    expectation: { closes: v.closes, re: readableId(bytes, v.error!), ...(v.path !== undefined ? { path: v.path } : {}), ...(rule !== undefined ? { rule } : {}) },
    cbor: bytes.length > 5 && (bytes[5]! & 3) === 1 && !BEFORE_HEADER.has(v.error!),
  };
}
