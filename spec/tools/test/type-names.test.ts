import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSpec, ROOT_DIR } from '../load.js';
import { generateTypes, numberedNames, payloadTypeName } from '../gen-ts.js';

const committed = readFileSync(join(ROOT_DIR, 'spec/generated/types.ts'), 'utf8');
const exported = [...committed.matchAll(/^export (?:interface|type) (\w+)/gm)].map((m) => m[1]!);

describe('generated type names (what the API docs show)', () => {
  it('no exported name in spec/generated/types.ts ends in a digit', () => {
    expect(exported.length).toBeGreaterThan(50);
    expect(exported.filter((n) => /\d$/.test(n))).toEqual([]);
    expect(numberedNames(committed)).toEqual([]);
  });

  it('every message with a payload has its XxxPayload type; a payload that is a shared definition is an alias of it', () => {
    const spec = loadSpec();
    for (const m of spec.messages.filter((x) => x.payload !== null)) expect(exported, m.name).toContain(payloadTypeName(m.name));
    expect(committed).toMatch(/^export type ReasoningResponsePayload = ReasoningResult;$/m);
    expect(committed).toMatch(/^ {2}REASONING_RESPONSE: ReasoningResponsePayload;$/m);
  });

  it('numberedNames finds the names the compiler numbers', () => {
    expect(numberedNames('export interface ReasoningResult1 {\n}\nexport type Foo = 1;\nexport type Bar2 = Foo;\n')).toEqual(['ReasoningResult1', 'Bar2']);
  });

  it('the generator refuses a spec in which two schemas share a title, instead of numbering one', async () => {
    const spec = loadSpec();
    const m = spec.messages.find((x) => x.name === 'REASONING_REQUEST')!;
    // An inline copy of a shared definition, title included: the compiler would emit ReasoningResult1.
    m.payload = { type: 'object', additionalProperties: false, required: ['r'], properties: { r: { ...spec.defsFile.$defs['ReasoningResult'], description: 'A copy.' } } } as never;
    await expect(generateTypes(spec)).rejects.toThrow(/numbered names.*ReasoningResult1/);
  });
});
