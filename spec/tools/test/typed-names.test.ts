import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_DIR } from '../load.js';
import { scanFiles, scanNames } from '../typed-names.js';

describe('TypeScript sources name messages and errors only through the generated unions', () => {
  it('the lint tells names the compiler checks from names it does not', { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-typed-names-'));
    try {
      const file = join(dir, 'sample.ts');
      writeFileSync(file, [
        `import type { ErrorName, MessageName, MessageNames } from ${JSON.stringify(join(ROOT_DIR, 'spec', 'generated', 'catalog.js'))};`,
        'declare function send(type: MessageName): void;',
        'declare function log(text: string): void;',
        'declare function fail(what: string): void;',
        'declare const name: MessageName;',
        'declare const text: string;',
        "send('PING');",
        "log('PONG');",
        "const copy: string = 'ACK';",
        "if (name === 'ERROR') log(copy);",
        "if (text === 'INIT') log(copy);",
        "type Checked = MessageNames<'INIT_ACK'>;",
        "type Unchecked = Exclude<MessageName, 'SHUTDOWN'>;",
        "const code: ErrorName = 'TIMEOUT';",
        "fail('STATS_REQUEST');",
        'export type { Checked, Unchecked };',
        'export { code };',
      ].join('\n'));
      const { unchecked, checked, prose } = scanFiles([file], undefined, (f) => f.endsWith('sample.ts'));
      expect(unchecked.map((u) => u.replace(/^.*sample\.ts:/, ''))).toEqual(["8: 'PONG'", "9: 'ACK'", "11: 'INIT'", "13: 'SHUTDOWN'"]);
      expect(checked).toBe(4);
      expect(prose).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every message or registry name outside spec/ is checked by the compiler against MessageName or ErrorName', { timeout: 300_000 }, () => {
    const { unchecked, checked } = scanNames();
    expect(unchecked).toEqual([]);
    // The scan sees the names it lets through (the sources use hundreds), so an empty list is not a blind scan.
    expect(checked).toBeGreaterThan(300);
  });
});
