/**
 * The lines suite against the Perl test pair (conformance/test/lines/): the correct requester and
 * responder pass it, and each broken variant is flagged by its named case. Real FIFOs, real processes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand, type RunCommandOptions } from '../run-command.js';
import type { CaseResult } from '../runner.js';

const here = fileURLToPath(new URL('./lines/', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'concord-lines-reports-'));
const dirs: string[] = [reportDir];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(role: 'requester' | 'responder', flags: string[], selection: string[] = [], existing?: { script: string; peer: RunCommandOptions['linesPeer'] }): Promise<{ code: number; results: CaseResult[] }> {
  // 0755, like /tmp: the probe as uid 65534 reaches the pipes, so their own modes decide.
  const dir = mkdtempSync(join(tmpdir(), 'concord-lines-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  const lines: string[] = [];
  const code = await runCommand({
    target: `lines:${join(dir, 'model1_to_model2')},${join(dir, 'model2_to_model1')}`, role, linesTimeoutS: 1,
    exec: ['perl', join(here, existing?.script ?? `lines-${role}.pl`), '--request', '{request}', '--reply', '{reply}', '--timeout', '{timeout}', '--log', '{log}', ...flags],
    ...(existing ? { linesPeer: existing.peer } : {}),
    suites: ['lines'], run: selection, skip: [], seed: 1, timeoutMs: 2000, failFast: false, strict: true, knownFailing: [], json: true, reportDir,
    out: (t) => lines.push(t), err: () => undefined,
  });
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results };
}

const failed = (results: CaseResult[]): string[] => results.filter((r) => r.outcome === 'fail').map((r) => r.id);

describe('the lines suite', () => {
  it.each(['requester', 'responder'] as const)('passes the test %s (strict: SHOULDs count too)', async (role) => {
    const { code, results } = await run(role, []);
    expect(results.filter((r) => r.outcome !== 'pass' && r.outcome !== 'skipped').map((r) => `${r.id}: ${r.outcome} ${r.message}`)).toEqual([]);
    expect(results.filter((r) => r.outcome === 'pass').length).toBeGreaterThanOrEqual(role === 'requester' ? 12 : 10);
    expect(code).toBe(0);
  }, 180_000);

  it('flags world-writable pipes (mode, and a write probe as uid 65534 when root)', async () => {
    const { results } = await run('requester', ['--world-writable'], ['transport-lines/pipes-not-world-writable', 'transport-lines/other-user-cannot-write']);
    expect(failed(results)).toContain('transport-lines/pipes-not-world-writable');
    const probe = results.find((r) => r.id === 'transport-lines/other-user-cannot-write')!;
    expect(process.getuid?.() === 0 ? probe.outcome : 'fail').toBe('fail');
  }, 120_000);

  it.each(['requester', 'responder'] as const)('flags a %s that creates a regular file where the pipe it writes is missing; its old id selects the case of each role', async (role) => {
    // The id of the case before it was split by role (issue 19) selects both role cases; the other role's is skipped.
    const { results } = await run(role, ['--create-regular'], ['transport-lines/missing-pipe-never-created']);
    expect(failed(results)).toEqual([`transport-lines/missing-pipe-never-created/${role}`]);
    expect(results.find((r) => r.outcome === 'fail')!.message).toMatch(/regular file/);
    expect(results.filter((r) => r.outcome === 'skipped').map((r) => r.id)).toEqual([`transport-lines/missing-pipe-never-created/${role === 'requester' ? 'responder' : 'requester'}`]);
  }, 120_000);

  it.each(['requester', 'responder'] as const)('flags a %s that takes a regular file for the pipe it reads', async (role) => {
    const { results } = await run(role, ['--create-regular'], [`transport-lines/substituted-pipe-refused/${role}`]);
    expect(failed(results)).toEqual([`transport-lines/substituted-pipe-refused/${role}`]);
  }, 120_000);

  it('flags requesters whose large concurrent messages are written (and interleave)', async () => {
    const { results } = await run('requester', ['--no-size-limit'], ['transport-lines/concurrent-writers-above-pipe-buf']);
    expect(failed(results)).toEqual(['transport-lines/concurrent-writers-above-pipe-buf']);
    console.log(`[lines] ${results[0]!.message}`);
  }, 120_000);

  it('flags a requester that counts a message without its LF against PIPE_BUF', async () => {
    const { results } = await run('requester', ['--limit-without-lf'], ['transport-lines/message-at-pipe-buf', 'transport-lines/concurrent-writers-above-pipe-buf']);
    // The concurrent case sends 100 kB messages, which even this requester refuses: only the new case sees the defect.
    expect(results.map((r) => `${r.id}: ${r.outcome}`).sort()).toEqual(['transport-lines/concurrent-writers-above-pipe-buf: pass', 'transport-lines/message-at-pipe-buf: fail']);
    expect(results.find((r) => r.outcome === 'fail')!.message).toMatch(/4097 bytes, above PIPE_BUF/);
  }, 120_000);

  describe('meets existing peers as they are', () => {
    const fixed = { script: 'lines-fixed-responder.pl', peer: { oneShot: true, replyPattern: 'status: OK, model2 ready' } };
    const prefixed = { script: 'lines-prefix-requester.pl', peer: { outputPattern: '^model1 got: (.*)$' } };
    const failures = (results: CaseResult[]): string[] => results.filter((r) => r.outcome !== 'pass' && r.outcome !== 'skipped').map((r) => `${r.id}: ${r.outcome} ${r.message}`);

    it.each([[[]], [['--no-final-lf']]])('passes a one-shot responder with a fixed reply (flags %j) given --one-shot --reply-pattern', async (flags) => {
      const { code, results } = await run('responder', flags, [], fixed);
      expect(failures(results)).toEqual([]);
      expect(results.filter((r) => r.outcome === 'pass').length).toBeGreaterThanOrEqual(10);
      expect(code).toBe(0);
    }, 240_000);

    it.each([[[]], [['--bare-output']]])('passes a requester printing the reply behind a prefix (flags %j) given --output-pattern', async (flags) => {
      const { code, results } = await run('requester', flags, [], prefixed);
      expect(failures(results)).toEqual([]);
      expect(results.filter((r) => r.outcome === 'pass').length).toBeGreaterThanOrEqual(12);
      expect(code).toBe(0);
    }, 240_000);

    it('without the options, the same peers fail: the fixed reply is no echo, the prefix is not the reply', async () => {
      const responder = await run('responder', [], ['transport-lines/byte-transparency/responder'], { script: fixed.script, peer: { oneShot: true } });
      expect(failed(responder.results)).toEqual(['transport-lines/byte-transparency/responder']);
      const requester = await run('requester', [], ['transport-lines/byte-transparency/requester'], { script: prefixed.script, peer: {} });
      expect(failed(requester.results)).toEqual(['transport-lines/byte-transparency/requester']);
      const wrong = await run('responder', [], ['transport-lines/byte-transparency/responder'], { script: fixed.script, peer: { oneShot: true, replyPattern: 'status: FAILED.*' } });
      expect(failed(wrong.results)).toEqual(['transport-lines/byte-transparency/responder']);
    }, 120_000);

    it('still flags a broken existing peer: world-writable pipes, a regular file created where a pipe is missing', async () => {
      const responder = await run('responder', ['--world-writable'], ['transport-lines/pipes-not-world-writable'], fixed);
      expect(failed(responder.results)).toEqual(['transport-lines/pipes-not-world-writable']);
      const requester = await run('requester', ['--create-regular'], ['transport-lines/missing-pipe-never-created/requester'], prefixed);
      expect(failed(requester.results)).toEqual(['transport-lines/missing-pipe-never-created/requester']);
    }, 120_000);
  });
});
