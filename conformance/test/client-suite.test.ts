import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { tsProgram } from '../../reference/test/programs.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-client-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

async function run(command: string[], runPatterns: string[] = []): Promise<{ code: number; results: CaseResult[] }> {
  const lines: string[] = [];
  const code = await runCommand({
    listen: 0, exec: command, suites: ['client'], run: runPatterns, skip: [], seed: 9, timeoutMs: 2000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  });
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results };
}

const tsx = tsProgram;

describe('the client suite (conformance --listen)', () => {
  // That the reference TypeScript client passes the whole client suite is shown by `conformance selftest`,
  // which npm test runs (its typescript client cell: the same program, the same 2000 ms frame timeout).
  // Kept here: each defect is caught.
  it('catches a client that does not wait for INIT_ACK and never answers', async () => {
    const { code, results } = await run(tsx('conformance/test/broken-client.ts', '{port}'), ['handshake/client-waits-for-init-ack', 'handshake/client-answers-ping/id:zero']);
    const outcome = (id: string): string | undefined => results.find((r) => r.id === id)?.outcome;
    expect(outcome('handshake/client-waits-for-init-ack')).toBe('fail');
    expect(['fail', 'timeout']).toContain(outcome('handshake/client-answers-ping/id:zero'));
    expect(code).not.toBe(0);
  }, 60_000);

  it('catches a client whose INIT carries a field of a later version (VER-4)', async () => {
    const { code, results } = await run(tsx('conformance/test/broken-client.ts', '{port}', 'later-field'), ['versioning/client-init-of-version-1-0']);
    expect(results.map((r) => `${r.id}: ${r.outcome}`)).toEqual(['versioning/client-init-of-version-1-0: fail']);
    expect(code).toBe(1);
  }, 60_000);
});
