/**
 * Payload validators, compiled once per message type from the catalog with ajv (on first use). The codec's own
 * schema keywords are registered here: `ndarray` (an NDArray satisfying the field's rule), `int64`
 * (a bigint in range), `float32` (an annotation the comparison uses), `since` (an annotation for senders, VER-3)
 * and `maxBytes` (a length in bytes of UTF-8).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { MESSAGES, SCHEMA_DEFS, type MessageInfo } from '../../spec/generated/catalog.js';
import { ProtocolError, pointer } from './errors.js';
import { NDArray } from './ndarray.js';
import { checkNdarrayRule } from './transform.js';
import type { NdarrayRule } from './plan.js';

const utf8 = new TextEncoder();

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function createAjv(): Ajv {
  // validateSchema off: checking each schema against the meta-schema compiled the meta-schema first, 70 of
  // the 110 ms of CPU a short-lived peer (the testee, once per case) paid for its first message. The same
  // schemas are checked against it by spec/tools/test/catalog.test.ts; strict mode still runs here.
  const ajv = new Ajv({ allErrors: false, strict: true, strictTypes: false, strictRequired: false, validateSchema: false });
  ajv.addKeyword({
    keyword: 'ndarray',
    schemaType: 'object',
    errors: true,
    validate: function ndarray(rule: NdarrayRule, data: unknown, _parent?: unknown, ctx?: { instancePath: string }) {
      const path = ctx?.instancePath ?? '';
      if (!(data instanceof NDArray)) {
        (ndarray as { errors?: unknown[] }).errors = [{ keyword: 'ndarray', instancePath: path, params: { rule: 'wrapper' }, message: 'must be an ndarray' }];
        return false;
      }
      try {
        checkNdarrayRule(data, rule, path);
        return true;
      } catch (e) {
        const err = e as ProtocolError;
        (ndarray as { errors?: unknown[] }).errors = [{ keyword: 'ndarray', instancePath: path, params: { rule: err.details.rule }, message: err.message }];
        return false;
      }
    },
  });
  ajv.addKeyword({
    keyword: 'int64',
    schemaType: 'string',
    errors: true,
    validate: function int64(kind: string, data: unknown, _parent?: unknown, ctx?: { instancePath: string }) {
      const ok = typeof data === 'bigint' && (kind === 'int64' ? data >= I64_MIN && data <= I64_MAX : data >= 0n && data <= U64_MAX);
      if (!ok) {
        (int64 as { errors?: unknown[] }).errors = [{ keyword: 'int64', instancePath: ctx?.instancePath ?? '', params: {}, message: `must be a ${kind} (a decimal string in JSON, an integer in CBOR)` }];
      }
      return ok;
    },
  });
  ajv.addKeyword({ keyword: 'float32', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'since', schemaType: 'string' }); // VER-3: an annotation for senders (versions.ts)
  // LIM-6: names are bounded in bytes of UTF-8; ajv's maxLength counts code points.
  ajv.addKeyword({
    keyword: 'maxBytes',
    type: 'string',
    schemaType: 'number',
    errors: true,
    validate: function maxBytes(limit: number, data: string, _parent?: unknown, ctx?: { instancePath: string }) {
      const ok = utf8.encode(data).length <= limit;
      if (!ok) (maxBytes as { errors?: unknown[] }).errors = [{ keyword: 'maxBytes', instancePath: ctx?.instancePath ?? '', params: { limit }, message: `must NOT be longer than ${limit} bytes of UTF-8` }];
      return ok;
    },
  });
  return ajv;
}

const ajv = createAjv();
const validators = new Map<number, ValidateFunction>();

/** The type's validator, compiled on first use and kept: a short-lived peer pays only for what it sees. */
function validatorOf(m: MessageInfo): ValidateFunction {
  let v = validators.get(m.code);
  if (!v) {
    v = ajv.compile({ ...m.payload, $defs: SCHEMA_DEFS });
    validators.set(m.code, v);
  }
  return v;
}

/** Compiles every validator now (a long-running process may prefer to pay at startup). */
export function compileAllValidators(): void {
  for (const m of MESSAGES) if (m.payload) validatorOf(m);
}

function toProtocolError(m: MessageInfo, err: ErrorObject): ProtocolError {
  let path = err.instancePath;
  if (err.keyword === 'required') path = pointer(path, (err.params as { missingProperty: string }).missingProperty);
  if (err.keyword === 'additionalProperties') path = pointer(path, (err.params as { additionalProperty: string }).additionalProperty);
  if (err.keyword === 'ndarray') {
    const rule = (err.params as { rule?: string }).rule ?? 'wrapper';
    return new ProtocolError('INVALID_ARRAY', `${m.name}: ${err.message ?? 'invalid ndarray'}`, { path, rule });
  }
  const text = err.keyword === 'additionalProperties' ? 'is not a field of this type' : err.message ?? 'is invalid';
  return new ProtocolError('SCHEMA_VIOLATION', `${m.name}: ${path || '/'} ${text}`, { path, rule: err.keyword });
}

/** Checks an application-model payload against its type's schema; throws the first fault. */
export function validatePayload(m: MessageInfo, payload: unknown): void {
  if (!m.payload) {
    if (payload !== null && payload !== undefined) throw new ProtocolError('SCHEMA_VIOLATION', `${m.name} carries no payload`, { path: '', rule: 'empty' });
    return;
  }
  const validate = validatorOf(m);
  if (!validate(payload)) throw toProtocolError(m, validate.errors![0]!);
}
