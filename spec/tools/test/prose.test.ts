import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from '../load.js';

const prose = readFileSync(join(ROOT_DIR, 'spec', 'protocol.md'), 'utf8');
const limits = (JSON.parse(readFileSync(join(ROOT_DIR, 'spec', 'limits.json'), 'utf8')) as {
  limits: { name: string; default: number; min: number; max: number }[];
}).limits;

/** "16,777,216 B" -> 16777216; "5,000 ms" -> 5000. */
const num = (text: string): number => Number(text.trim().split(/\s+/)[0]!.replace(/,/g, ''));

describe('the limits table of spec/protocol.md section 12', () => {
  const section = prose.slice(prose.indexOf('## 12. Limits'), prose.indexOf('## 13.'));
  const rows = new Map(section.split('\n').filter((l) => /^\| [a-z_]+ +\|/.test(l) && !l.startsWith('| limit ')).map((l) => {
    const cells = l.split('|').slice(1, -1).map((c) => c.trim());
    return [cells[0]!, cells] as const;
  }));

  it('lists every limit of limits.json, and no other', () => {
    expect([...rows.keys()].sort()).toEqual(limits.map((l) => l.name).sort());
  });

  it.each(limits.map((l) => [l.name, l] as const))('gives %s the default and range of limits.json', (name, l) => {
    const cells = rows.get(name)!;
    expect(num(cells[1]!), 'default').toBe(l.default);
    const range = cells[2]!.split('..').map(num);
    expect(range.length === 1 ? [range[0], range[0]] : range, 'range').toEqual([l.min, l.max]);
  });
});
