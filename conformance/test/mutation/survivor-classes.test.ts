/**
 * The rules that class surviving mutants out of reach (survivor-classes.ts): each claims what it names
 * and nothing beside it (an error's code, a listener's event name, a log call whose fields change state,
 * a guard that also does work), and the published summary's classes are those the rules give today.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IN_PROCESS_API, MutatedSource, withClasses } from './survivor-classes.js';
import type { MutationSummary } from './summary.js';

const LINES = [
  'function f(conn: any, socket: any, queue: any[], id: string): void {',
  "  conn.log.info('client connected', { id });",
  "  if (conn.clientId !== undefined) conn.log.info('gone');",
  "  socket.on('error', (e: Error) => conn.log.debug('socket error', { error: e.message }));",
  "  if (id) throw new ProtocolError('OVERLOADED', `too many ${id}`, { statement: 'HS-21', limit: 3 });",
  "  if (id) throw protocolError('OVERLOADED', 'down', { statement: 'CLU-8' });",
  "  if (conn.ready) { conn.log.warn('ready'); conn.close(); }",
  "  conn.log.info('next', { id: conn.nextId() });",
  "  if (queue.shift()) conn.log.info('shifted');",
  "  if (id) throw protocolError('UNSUPPORTED', 'no', { statement: 'ERR-8' });",
  "  try { conn.close(); } catch { conn.log.error('close failed'); }",
  "  if (!Number.isInteger(id) || id < 0) throw new BrokerConfigError('port', 'bad');",
  "  if (id.length > 3) { throw new BrokerConfigError('token', 'long'); }",
  "  if (queue.shift() === id) throw new BrokerConfigError('queue', 'changed');",
  "  if (id === '') throw new ProtocolError('OVERLOADED', 'empty');",
  "  if (id === 'x') { conn.close(); throw new BrokerConfigError('x', 'closed'); }",
  '}',
];
const source = new MutatedSource('sample.ts', LINES.join('\n'));

/** The rule claiming a mutant that starts at the `nth` occurrence of `text` on line `line` (1-based). */
function ruleAt(line: number, text: string, nth = 1): string | undefined {
  let column = -1;
  for (let i = 0; i < nth; i++) column = LINES[line - 1]!.indexOf(text, column + 1);
  if (column < 0) throw new Error(`${text} is not on line ${line}`);
  return source.classify({ line, column: column + 1 })?.id;
}

describe('the classes of surviving mutants', () => {
  it("claims a log line's text and fields, not a call whose fields change state", () => {
    expect(ruleAt(2, "'client connected'")).toBe('log-line');
    expect(ruleAt(2, '{ id }')).toBe('log-line');
    expect(ruleAt(4, "'socket error'")).toBe('log-line');
    expect(ruleAt(8, "'next'")).toBeUndefined(); // conn.nextId() would not run
  });

  it('claims code whose only effect is a log line, not a guard that does more or whose condition does', () => {
    expect(ruleAt(3, 'conn.clientId !== undefined')).toBe('log-only-code');
    expect(ruleAt(4, '(e: Error) =>')).toBe('log-only-code');
    expect(ruleAt(11, "{ conn.log.error('close failed'); }")).toBe('log-only-code');
    expect(ruleAt(11, '{ conn.close(); }')).toBeUndefined();
    expect(ruleAt(7, 'conn.ready')).toBeUndefined();
    expect(ruleAt(9, 'queue.shift()')).toBeUndefined();
    expect(ruleAt(4, "'error'")).toBeUndefined(); // without its listener a socket error crashes the process
  });

  it("claims an error's text and optional statement id, not its code, other details, or a required statement", () => {
    expect(ruleAt(5, '`too many ${id}`')).toBe('error-text');
    expect(ruleAt(6, "'down'")).toBe('error-text');
    expect(ruleAt(5, "'OVERLOADED'")).toBeUndefined();
    expect(ruleAt(5, "'HS-21'")).toBe('error-statement');
    expect(ruleAt(5, "{ statement: 'HS-21', limit: 3 }")).toBeUndefined(); // `limit` is checked (LIM-2)
    expect(ruleAt(10, "{ statement: 'ERR-8' }")).toBe('error-statement');
    expect(ruleAt(6, "'CLU-8'")).toBeUndefined(); // CLU-8 requires it
    expect(ruleAt(6, "{ statement: 'CLU-8' }")).toBeUndefined();
  });

  it("claims the condition and branch of a check of the broker's own options, not one that does more or refuses a peer", () => {
    expect(ruleAt(12, '!Number.isInteger(id)')).toBe('option-check');
    expect(ruleAt(12, 'id < 0')).toBe('option-check');
    expect(ruleAt(13, "{ throw new BrokerConfigError('token', 'long'); }")).toBe('option-check');
    expect(ruleAt(13, "'long'")).toBe('error-text');
    expect(ruleAt(12, "'port'")).toBeUndefined(); // an argument of the refusal, not the check
    expect(ruleAt(14, 'queue.shift() === id')).toBeUndefined(); // the condition changes state
    expect(ruleAt(15, "id === ''")).toBeUndefined(); // a peer's frame refused: the suites see it
    expect(ruleAt(16, "id === 'x'")).toBeUndefined(); // the branch does more than refuse
  });

  it("claims the body of a method of the broker's in-process API, not another method or another file", () => {
    const text = ['class Broker {', '  stats() { return { n: this.n + 1 }; }', '  listen() { return this.n > 0; }', '}'].join('\n');
    const at = (file: string, line: number, snippet: string) =>
      new MutatedSource(file, text).classify({ line, column: text.split('\n')[line - 1]!.indexOf(snippet) + 1 })?.id;
    expect(at('reference/broker/broker.ts', 2, 'this.n + 1')).toBe('in-process-api');
    expect(at('reference/broker/broker.ts', 3, 'this.n > 0')).toBeUndefined();
    expect(at('reference/broker/router.ts', 2, 'this.n + 1')).toBeUndefined();
  });

  it('names in-process methods that nothing outside the tests calls', () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const methods = Object.values(IN_PROCESS_API).flatMap((classes) => Object.values(classes).flat());
    const calls = new RegExp(`\\.(${methods.join('|')})\\(`);
    const files = execFileSync('git', ['ls-files', '*.ts'], { cwd: root, encoding: 'utf8' }).split('\n')
      .filter((f) => f !== '' && !/(^|\/)test\/|\.test\.ts$|\.mutation\.ts$/.test(f) && !(f in IN_PROCESS_API));
    // `.stats(` and `.broadcast(` are common names: only a file that imports the broker could call the broker's.
    const callers = files.filter((f) => {
      const text = readFileSync(join(root, f), 'utf8');
      return calls.test(text) && /from '[^']*\/broker(\/index|\/broker)?\.js'/.test(text);
    });
    expect(callers).toEqual([]);
  });

  it('scores the mutants no rule claims, and says per rule how many it claimed and why', () => {
    /** The survivor that mutates `code` on line `line` into `replacement`. */
    const survivor = (line: number, code: string, replacement: string, status: 'Survived' | 'NoCoverage' = 'Survived') => {
      const column = LINES[line - 1]!.indexOf(code) + 1;
      return { line, column, end: { line, column: column + code.length }, replacement, status };
    };
    const summary: MutationSummary = {
      score: 50, score_of_covered: 50, date: '2026-12-05T00:00:00.000Z', commit: '0'.repeat(40), files: ['sample.ts'],
      counts: { Killed: 4, Timeout: 0, Survived: 3, NoCoverage: 1, CompileError: 0, RuntimeError: 0, Ignored: 0, Pending: 0 },
      survivors: {
        StringLiteral: { 'sample.ts': [
          survivor(2, "'client", '""'),
          survivor(5, "'OVERLOADED'", '""'),
          survivor(5, "'HS-21'", '""', 'NoCoverage'),
        ] },
        ConditionalExpression: { 'sample.ts': [survivor(7, 'conn.ready', 'true')] },
      },
    };
    const classed = withClasses(summary, () => LINES.join('\n'));
    expect(classed.score_of_non_equivalent).toBe(66.67); // 4 of 6: two of the 8 valid mutants claimed
    expect(classed.classes).toEqual({
      'log-line': { class: 'out-of-reach', reason: expect.any(String), survivors: 1 },
      'error-statement': { class: 'out-of-reach', reason: expect.any(String), survivors: 1 },
    });
    expect(classed.survivors['StringLiteral']!['sample.ts']!.map((s) => s.rule)).toEqual(['log-line', undefined, 'error-statement']);
    expect(Object.keys(classed).slice(0, 3)).toEqual(['score', 'score_of_covered', 'score_of_non_equivalent']);
  });
});

describe('the published summary', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const published = join(root, 'reports/mutation/summary.json');
  const commit = (JSON.parse(readFileSync(published, 'utf8')) as MutationSummary).commit;
  const known = spawnSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: root }).status === 0;
  if (!known) process.stdout.write(`survivor-classes.test: the summary's commit ${commit} is not in this clone (shallow?); its classes are not rechecked\n`);

  it.runIf(known)('carries the classes the rules give its survivors today (npx tsx conformance/test/mutation/classify.ts)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-classes-'));
    try {
      const copy = join(dir, 'summary.json');
      writeFileSync(copy, readFileSync(published));
      execFileSync('npx', ['tsx', 'conformance/test/mutation/classify.ts', copy], { cwd: root, stdio: 'pipe' });
      expect(readFileSync(copy, 'utf8')).toBe(readFileSync(published, 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
