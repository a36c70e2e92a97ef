/**
 * The stdio transport cases (STDIO-1, STDIO-2, STDIO-3) pass the reference stdio children (testee,
 * engine, instrument worker; TypeScript and Python) and fail a child broken each way they target
 * (broken-stdio.ts wrapping the conforming peer).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { notFrames } from '../cases/stdio.cases.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { tsProgram } from '../../reference/test/programs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'concord-stdio-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

async function run(suite: string, exec: string[], ids: string[]): Promise<CaseResult[]> {
  const lines: string[] = [];
  await runCommand({
    exec, suites: [suite], run: ids, skip: [], seed: 1, timeoutMs: 5000, startTimeoutMs: 60_000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  });
  return (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results;
}

const tsx = tsProgram;
const outcomes = (results: CaseResult[]): string[] => results.map((r) => `${r.id}: ${r.outcome}${r.outcome === 'pass' ? '' : ` ${r.message}`}`);
const ids = (role: string, initCanFail: boolean): string[] => [
  `transport-stdio/${role}/first-frame-init`, `transport-stdio/${role}/stdout-frames-only`, `transport-stdio/${role}/exits-at-end-of-input`,
  ...(initCanFail ? [`transport-stdio/${role}/nonzero-exit-when-handshake-refused`] : []),
];

describe('notFrames', () => {
  const ping = Buffer.from(encodeMessageFrame({ type: 'PING', header: { id: 'p' } }));
  it('accepts frames only and names the first stray byte', () => {
    expect(notFrames(Buffer.concat([ping, ping]), 1 << 20)).toBeNull();
    expect(notFrames(Buffer.alloc(0), 1 << 20)).toBeNull();
    expect(notFrames(Buffer.concat([ping, Buffer.from('bye\n')]), 1 << 20)).toMatch(new RegExp(`offset ${ping.length}`));
    expect(notFrames(Buffer.concat([Buffer.from('starting\n'), ping]), 1 << 20)).toMatch(/offset 0/);
    expect(notFrames(ping.subarray(0, ping.length - 1), 1 << 20)).toMatch(/ends inside a frame/);
  });
});

describe('the stdio transport cases', () => {
  it.each([
    ['testee', 'the TypeScript testee', tsx('reference/cli.ts', 'testee'), false],
    ['testee', 'the Python testee', ['python3', join(root, 'peers/python/concord_testee.py')], false],
    ['engine', 'the TypeScript engine', tsx('reference/cli.ts', 'engine', 'serve', '--stdio'), false],
    ['engine', 'the Python engine', ['python3', join(root, 'peers/python/concord_engine'), '--stdio'], false],
    ['instrument', 'the TypeScript mock worker', tsx('reference/cli.ts', 'instrument'), true],
    ['instrument', 'the Python worker', ['python3', join(root, 'peers/python/concord_instrument')], true],
  ] as const)('pass (%s) %s', async (suite, _name, exec, initCanFail) => {
    const want = ids(suite, initCanFail);
    expect(outcomes(await run(suite, [...exec], want))).toEqual(want.map((id) => `${id}: pass`));
  }, 180_000);

  it.each([
    ['ping-before-init', 'testee', 'first-frame-init'],
    ['log-on-stdout', 'testee', 'stdout-frames-only'],
    ['ignore-eof', 'testee', 'exits-at-end-of-input'],
    ['exit-zero', 'instrument', 'nonzero-exit-when-handshake-refused'],
  ])('fail a child broken by %s (%s suite, %s)', async (defect, suite, name) => {
    const peer = suite === 'testee' ? tsx('reference/cli.ts', 'testee') : tsx('reference/cli.ts', 'instrument');
    const id = `transport-stdio/${suite}/${name}`;
    const results = await run(suite, tsx('conformance/test/broken-stdio.ts', defect, ...peer), [id]);
    expect(results.map((r) => `${r.id}: ${r.outcome}`)).toEqual([`${id}: fail`]);
  }, 120_000);
});
