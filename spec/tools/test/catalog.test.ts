/**
 * spec/generated/catalog.json, the file the peers load: it satisfies spec/catalog.schema.json, its
 * payload schemas work in a plain validator with nothing else loaded, and resolving the shared
 * definitions changed no verdict.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { ROOT_DIR, loadSpec } from '../load.js';
import { catalogData, checkOrder, resolveSchema } from '../gen-catalog.js';

const catalog = JSON.parse(readFileSync(join(ROOT_DIR, 'spec/generated/catalog.json'), 'utf8')) as {
  messages: { name: string; code: number; payload: Record<string, unknown> | null; examples: unknown[]; timeout_ms: number | null; effective_timeout_ms: number | null; kind: string }[];
  check_order: { step: number; errors: string[] }[];
};
const schema = JSON.parse(readFileSync(join(ROOT_DIR, 'spec/catalog.schema.json'), 'utf8')) as Record<string, unknown>;

describe('spec/generated/catalog.json', () => {
  it('validates against spec/catalog.schema.json', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    const ok = validate(catalog);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 5))).toEqual([]);
    expect(ok).toBe(true);
  });

  it('the schema refuses a record with a field it does not describe, or a payload that still holds a $ref', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    const withExtra = structuredClone(catalog) as typeof catalog;
    (withExtra.messages[0] as Record<string, unknown>)['extra'] = 1;
    expect(validate(withExtra)).toBe(false);
    const withRef = structuredClone(catalog) as typeof catalog;
    withRef.messages.find((m) => m.payload !== null)!.payload = { $ref: '#/$defs/Name' };
    expect(validate(withRef)).toBe(false);
  });

  it('holds every message type, sorted by code, with the request timeout filled in', () => {
    const spec = loadSpec();
    expect(catalog.messages.map((m) => m.name)).toEqual(spec.messages.map((m) => m.name));
    const codes = catalog.messages.map((m) => m.code);
    expect(codes).toEqual([...codes].sort((a, b) => a - b));
    const requestTimeout = spec.limitFile.limits.find((l) => l.name === 'request_timeout_ms')!.default;
    for (const m of catalog.messages) {
      expect(m.effective_timeout_ms, m.name).toBe(m.kind === 'request' ? m.timeout_ms ?? requestTimeout : null);
    }
  });

  it('payload schemas compile alone in a plain validator and accept every example the authoring schemas accept', () => {
    const spec = loadSpec();
    const plain = new Ajv({ strict: false });
    const authoring = new Ajv({ strict: false });
    for (const m of catalog.messages) {
      if (m.payload === null) continue;
      expect(JSON.stringify(m.payload), m.name).not.toContain('"$ref"');
      const standalone = plain.compile(m.payload);
      const original = authoring.compile({ ...spec.messages.find((x) => x.name === m.name)!.payload!, $defs: spec.defsFile.$defs });
      for (const example of m.examples) {
        expect(standalone(example), `${m.name} ${JSON.stringify(standalone.errors)}`).toBe(original(example));
        expect(standalone(example), m.name).toBe(true);
      }
    }
  });

  it('keeps verdicts, paths and rules when a payload is broken (resolution changes no answer)', () => {
    const spec = loadSpec();
    const plain = new Ajv({ strict: false });
    const authoring = new Ajv({ strict: false });
    const init = catalog.messages.find((m) => m.name === 'INIT')!;
    const original = authoring.compile({ ...spec.messages.find((x) => x.name === 'INIT')!.payload!, $defs: spec.defsFile.$defs });
    const standalone = plain.compile(init.payload!);
    const base = init.examples[0] as Record<string, unknown>;
    for (const broken of [{ ...base, client_id: '' }, { ...base, client_id: 'a\u0001' }, { ...base, unknown_field: 1 }, { ...base, encodings: ['xml'] }]) {
      expect(standalone(broken)).toBe(false);
      expect(original(broken)).toBe(false);
      expect(standalone.errors!.map((e) => [e.instancePath, e.keyword])).toEqual(original.errors!.map((e) => [e.instancePath, e.keyword]));
    }
  });

  it('takes the check order from the table of spec section 8', () => {
    const steps = checkOrder(loadSpec());
    expect(catalog.check_order).toEqual(steps);
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i + 1));
    expect(steps[0]!.errors).toEqual(['MALFORMED_FRAME', 'FRAME_TOO_LARGE']);
    expect(steps.find((s) => s.errors.includes('INVALID_ARRAY'))!.step).toBeLessThan(steps.find((s) => s.errors.includes('PROTOCOL_VIOLATION'))!.step);
  });

  it('refuses an unknown or cyclic $ref instead of writing a schema a validator cannot use', () => {
    expect(() => resolveSchema({ $ref: '#/$defs/Nope' }, {})).toThrow(/unresolvable/);
    expect(() => resolveSchema({ $ref: '#/$defs/A' }, { A: { $ref: '#/$defs/B' }, B: { $ref: '#/$defs/A' } })).toThrow(/cyclic/);
    expect(resolveSchema({ $ref: '#/$defs/A', description: 'mine' }, { A: { type: 'string', description: 'theirs', enum: ['$ref'] } }))
      .toEqual({ type: 'string', description: 'mine', enum: ['$ref'] });
  });

  it('is what the generator writes', () => {
    expect(catalog).toEqual(JSON.parse(JSON.stringify(catalogData(loadSpec()))));
  });
});

describe('MessageInfo (spec/generated/catalog.ts)', () => {
  it('is generated from the schema\'s message record: its fields are the record\'s, and MESSAGES matches catalog.json but for the payload\'s $refs', async () => {
    const { generateMessageInfo } = await import('../gen-ts.js');
    const { MESSAGES } = await import('../../generated/catalog.js');
    const record = (schema['definitions'] as { message: { properties: Record<string, unknown>; required: string[] } }).message;
    const text = await generateMessageInfo(JSON.stringify(schema));
    const fields = [...text.matchAll(/^ {2}readonly ([a-z_]+)\??: /gm)].map((m) => m[1]);
    expect(fields).toEqual(Object.keys(record.properties));
    for (const [i, m] of MESSAGES.entries()) {
      expect(Object.keys(m).sort()).toEqual([...record.required].sort());
      const { payload: _p, ...rest } = catalog.messages[i]!;
      expect({ ...m, payload: undefined }).toEqual({ ...rest, payload: undefined });
    }
  });
});
