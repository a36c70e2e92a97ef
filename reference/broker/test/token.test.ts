/**
 * The token from CONCORD_TOKEN and --token-file (issue 13, item 6), for `concord broker` and the harness.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTokenFile, resolveToken, TokenSourceError } from '../../token-source.js';
import { WireClient } from './wire-client.js';
import { tsProgram } from '../../test/programs.js';

const BROKER_CLI = 'reference/cli.ts';
const HARNESS_CLI = 'conformance/cli.ts';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tokenFile(content: string, mode: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-token-'));
  dirs.push(dir);
  const path = join(dir, 'token');
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

/** Runs a CLI to its exit (bounded by the test timeout); resolves with its code and stderr. */
function run(cli: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, tsProgram(cli, ...args).slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('token sources', () => {
  it('reads the first line of an owner-only file', () => {
    expect(readTokenFile(tokenFile('s3cret\nignored\n', 0o600))).toBe('s3cret');
  });

  it.each([0o640, 0o604, 0o644, 0o660])('refuses a token file with mode %o (readable or writable by group or others)', (mode) => {
    expect(() => readTokenFile(tokenFile('s3cret\n', mode))).toThrow(TokenSourceError);
  });

  it('takes CONCORD_TOKEN when neither flag is given; the flags win; both flags are refused', () => {
    expect(resolveToken({ env: { CONCORD_TOKEN: 'from-env' } })).toBe('from-env');
    expect(resolveToken({ env: {} })).toBeUndefined();
    expect(resolveToken({ token: 'flag', env: { CONCORD_TOKEN: 'from-env' } })).toBe('flag');
    const file = tokenFile('from-file\n', 0o600);
    expect(resolveToken({ tokenFile: file, env: { CONCORD_TOKEN: 'from-env' } })).toBe('from-file');
    expect(() => resolveToken({ token: 'a', tokenFile: file })).toThrow(TokenSourceError);
  });
});

describe('concord broker and conformance take the token from the environment or a private file', () => {
  it('concord broker --token-file on a group-readable file exits 78 with a clear message', async () => {
    const { code, stderr } = await run(BROKER_CLI, ['broker', '--port', '0', '--token-file', tokenFile('s3cret\n', 0o644)]);
    expect(code).toBe(78);
    expect(stderr).toMatch(/readable by group or others/);
  }, 60_000);

  it('conformance --token-file on a world-readable file exits 78 before touching the target', async () => {
    const { code, stderr } = await run(HARNESS_CLI, ['--target', '127.0.0.1:9', '--token-file', tokenFile('s3cret\n', 0o604)]);
    expect(code).toBe(78);
    expect(stderr).toMatch(/readable by group or others/);
  }, 60_000);

  it('concord broker takes CONCORD_TOKEN: a client without it is refused, one with it is accepted', async () => {
    const child = spawn(process.execPath, tsProgram(BROKER_CLI, 'broker', '--port', '0', '--log-level', 'info').slice(1), {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CONCORD_TOKEN: 'env-secret' },
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let text = '';
        child.stderr.on('data', (d: Buffer) => {
          text += d.toString();
          const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(text);
          if (m) resolve(Number(m[1]));
        });
        child.on('close', () => reject(new Error(`the broker exited: ${text}`)));
      });
      const without = await WireClient.connect({ port });
      expect(((await without.init('a')).payload as { code: string }).code).toBe('UNAUTHORIZED');
      await without.close();
      const { client, ack } = await WireClient.open({ port }, 'b', { token: 'env-secret' });
      expect(ack.name).toBe('INIT_ACK');
      await client.close();
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
