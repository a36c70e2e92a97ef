/**
 * The implementer's guide (docs/guide/implementers.md) is generated from spec data: it quotes the
 * testee profile and the check order as the spec states them, and its template cannot name a code,
 * statement or placeholder the spec does not have.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR, loadSpec } from '../load.js';
import { generateGuide, GUIDE_FILE } from '../gen-guide.js';
import { checkOrder } from '../gen-catalog.js';

const spec = loadSpec();
const guide = readFileSync(join(ROOT_DIR, GUIDE_FILE), 'utf8');

describe('docs/guide/implementers.md', () => {
  it('quotes every statement of the testee profile and every step of the check order', () => {
    for (const s of spec.statements.filter((x) => x.section === 'testee')) expect(guide, s.id).toContain(`**${s.id}** ${s.text}`);
    for (const step of checkOrder(spec)) expect(guide, `step ${step.step}`).toContain(`| ${step.step} | ${step.check.replace(/\|/g, '\\|')} |`);
    expect(guide).toContain(`${spec.messages.length} message types`);
  });

  it('is linked from the README and shows how to run one case with its seed', () => {
    expect(readFileSync(join(ROOT_DIR, 'README.md'), 'utf8')).toContain('(docs/guide/implementers.md)');
    expect(guide).toMatch(/npx conformance --run \S+ --seed \d+ --exec -- /);
  });

  it('refuses a template placeholder, error code or statement id the spec does not have', () => {
    expect(() => generateGuide(spec, '{{no_such_value}}')).toThrow(/unknown placeholders/);
    expect(() => generateGuide(spec, 'answer `NO_SUCH_ERROR` here')).toThrow(/NO_SUCH_ERROR/);
    expect(() => generateGuide(spec, 'as **TST-999** says')).toThrow(/TST-999/);
    expect(() => generateGuide(spec, '{{limit:no_such_limit}}')).toThrow(/no limit no_such_limit/);
    const maxHeader = spec.limitFile.limits.find((l) => l.name === 'max_header')!.default;
    const error = spec.messages.find((m) => m.name === 'ERROR')!.code;
    expect(generateGuide(spec, '{{limit:max_header}} {{code:ERROR}}')).toBe(`${maxHeader.toLocaleString('en-US')} 0x${error.toString(16).padStart(2, '0')}`);
  });
});
