/**
 * The language peers read the spec through spec/generated/catalog.json only: a source that opens
 * spec/defs.json or lists spec/messages/ would bring back the second description of a catalog record
 * (and the authoring form's $ref rules) that the catalog replaced.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT_DIR } from '../load.js';

const PEER_DIRS = ['peers', 'cpp-client/src', 'cpp-client/include', 'cpp-client/tools', 'cpp-client/engine', 'cpp-client/tests'];
const SOURCE = /\.(py|pm|pl|t|cpp|hpp|h)$/;
/** What reading the authoring files looks like in Python, Perl and C++ (a path join onto `messages`, or defs.json). */
const AUTHORING = [/defs\.json/, /\/\s*["']messages["']/, /catdir\(.*["']messages["']\s*\)/, /["']messages\/[^"']*["']/];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === '__pycache__' || e.name.startsWith('build')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (SOURCE.test(e.name)) out.push(p);
  }
  return out;
}

describe('peers load the generated catalog', () => {
  it('no peer source reads spec/messages/ or spec/defs.json', () => {
    const offenders: string[] = [];
    for (const dir of PEER_DIRS) {
      for (const file of sources(join(ROOT_DIR, dir))) {
        readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
          if (AUTHORING.some((re) => re.test(line))) offenders.push(`${relative(ROOT_DIR, file)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the patterns catch the forms the peers used before', () => {
    const before = [
      'defs = json.loads((SPEC_DIR / "defs.json").read_text(encoding="utf-8"))["$defs"]',
      'for f in sorted((SPEC_DIR / "messages").glob("*.json")):',
      "my $dir = File::Spec->catdir(spec_dir(), 'messages');",
      'for (const auto& e : fs::directory_iterator(root / "messages")) files.push_back(e.path());',
    ];
    for (const line of before) expect(AUTHORING.some((re) => re.test(line)), line).toBe(true);
    expect(AUTHORING.some((re) => re.test('for m in doc["messages"]:'))).toBe(false);
  });
});
