import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from '../load.js';
import { MESSAGES, STATEMENTS } from '../../generated/catalog.js';

const dir = join(ROOT_DIR, 'docs', 'protocol');
/** Payload schemas with their shared definitions inlined (a payload may be a bare $ref). */
const resolved = new Map((JSON.parse(readFileSync(join(ROOT_DIR, 'spec', 'generated', 'catalog.json'), 'utf8')) as { messages: { name: string; payload: Record<string, unknown> | null }[] })
  .messages.map((m) => [m.name, m.payload ?? {}]));
const html = readdirSync(dir).filter((f) => f.endsWith('.html'));
const pages = new Map(html.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

describe('generated HTML protocol reference', () => {
  it('has an index and one page per area', () => {
    expect(html).toContain('index.html');
    for (const area of new Set(MESSAGES.map((m) => m.area))) expect(html, area).toContain(`${area}.html`);
  });

  it('loads nothing from outside the folder (works offline)', () => {
    for (const [file, text] of pages) {
      expect(text, file).not.toMatch(/<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*"(https?:)?\/\//i);
      expect(text, file).not.toMatch(/\b(href|src)\s*=\s*"https?:/i);
      expect(text, file).not.toMatch(/@import|url\(\s*["']?https?:/i);
      for (const [, target] of text.matchAll(/href="([^"#]+)(#[^"]*)?"/g)) expect(html, `${file} links to ${target}`).toContain(target);
    }
  });

  it('links every statement of the statements page to its entry in the coverage matrix, which names its cases', () => {
    const statements = pages.get('statements.html')!;
    const coverage = pages.get('coverage.html')!;
    for (const s of STATEMENTS) {
      const row = statements.slice(statements.indexOf(`<tr id="${s.id}">`));
      const link = /<a href="coverage\.html#(cov-[a-z0-9-]+)">([^<]+)<\/a>/.exec(row.slice(0, row.indexOf('</tr>')));
      expect(link, `${s.id} links to the coverage page`).not.toBeNull();
      expect(coverage, `${s.id}: anchor ${link![1]}`).toContain(`id="${link![1]}"`);
      if (/^\d+ cases?$/.test(link![2]!)) expect(coverage.slice(coverage.indexOf(`id="${link![1]}"`)).slice(0, 400), s.id).toMatch(/cases: <code>[a-z]/);
    }
  });

  it('shows every message type with its anchor and an example frame taken from the fixtures', () => {
    for (const m of MESSAGES) {
      const page = pages.get(`${m.area}.html`)!;
      const id = m.name.toLowerCase();
      expect(page, m.name).toContain(`id="${id}"`);
      const section = page.slice(page.indexOf(`id="${id}"`));
      const example = section.indexOf(`id="${id}-example"`);
      expect(example, `${m.name} has an example frame`).toBeGreaterThan(0);
      const hexDump = section.slice(example, example + 4000);
      expect(hexDump, m.name).toMatch(/00000000 {2}00 00 [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2}/);
      const code = m.code.toString(16).padStart(2, '0');
      expect(hexDump.replace(/\s+/g, ' '), `${m.name}: type byte 0x${code} after the length prefix`).toMatch(new RegExp(`00000000 {1,2}(?:[0-9a-f]{2} ){4}${code} `));
    }
  });

  it('says in each message table whether the payload object refuses unknown fields', () => {
    for (const m of MESSAGES) {
      if (m.payload === null) continue;
      const page = pages.get(`${m.area}.html`)!;
      const id = m.name.toLowerCase();
      const section = page.slice(page.indexOf(`id="${id}-payload"`), page.indexOf(`id="${id}-example"`));
      const closed = resolved.get(m.name)!['additionalProperties'] === false;
      expect(section.includes('refuses unknown fields'), `${m.name}: additionalProperties ${String(closed)}`).toBe(closed);
      if (closed) expect(section, m.name).toContain('<code>additionalProperties</code>');
    }
  });
});
