import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(cli: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: root, encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The 18 types the seeds list, with the seeds' codes (decision D7). */
const SEED_TYPES: [number, string][] = [
  [0x01, 'INIT'], [0x02, 'SHUTDOWN'], [0x03, 'PING'], [0x04, 'PONG'],
  [0x10, 'REASONING_REQUEST'], [0x11, 'REASONING_RESPONSE'], [0x12, 'BATCH_REASONING_REQ'], [0x13, 'BATCH_REASONING_RSP'],
  [0x20, 'FEEDBACK'], [0x21, 'STATE_UPDATE'], [0x22, 'PARAMETER_SYNC'],
  [0x30, 'MTL_COORDINATE'], [0x31, 'TEACHER_SYNC'], [0x32, 'DISAGREEMENT_SIGNAL'],
  [0x40, 'MEMORY_UPDATE'], [0x41, 'ENCODING_REQ'], [0x42, 'ENCODING_RSP'], [0xff, 'ERROR'],
];

describe('conformance spec', () => {
  it('--json lists the 18 seed types with their codes, plus bus, registry and instrument types', () => {
    const r = run('conformance/cli.ts', ['spec', '--json']);
    expect(r.status).toBe(0);
    const types = JSON.parse(r.stdout) as { code: number; name: string; area: string; directions: string[]; response: string | null; section: string }[];
    for (const [code, name] of SEED_TYPES) expect(types.find((t) => t.code === code)?.name, name).toBe(name);
    for (const area of ['bus', 'registry', 'instrument']) expect(types.filter((t) => t.area === area).length, area).toBeGreaterThan(2);
    for (const t of types) {
      expect(t.directions.length).toBeGreaterThan(0);
      expect(typeof t.section).toBe('string');
      if (t.response) expect(types.some((x) => x.name === t.response)).toBe(true);
    }
  });

  it('prints a table by default', () => {
    const r = run('conformance/cli.ts', ['spec']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/0x10\s+REASONING_REQUEST\s+request/);
  });

  it('runs selected cases against the embedded broker from the command line and exits 0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-cli-'));
    try {
      const r = run('conformance/cli.ts', ['--run', 'framing/several-frames-in-one-write', '--run', 'handshake/pong-echoes-id/**', '--seed', '7', '--report-dir', dir]);
      expect(r.stderr).toContain('seed 7');
      expect(r.stdout).toMatch(/total\s+5\s+0\s+0\s+0\s+0/);
      expect(r.stdout).toContain('PASS (exit 0)');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 64 with usage on an unknown command', () => {
    const r = run('conformance/cli.ts', ['frobnicate']);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('usage: conformance');
  });
});

describe('concord encode and decode', () => {
  it('round-trips a message through hex', () => {
    const enc = run('reference/cli.ts', ['encode', 'PING', '--id', 'abc']);
    expect(enc.status).toBe(0);
    expect(enc.stdout.trim()).toBe('000000100300000c7b226964223a22616263227d');
    const dec = run('reference/cli.ts', ['decode', enc.stdout.trim()]);
    expect(dec.status).toBe(0);
    expect(JSON.parse(dec.stdout)).toEqual({ type: 3, name: 'PING', encoding: 'json', header: { id: 'abc' }, payload: null });
  });

  it('exits 65 and names the error code for a bad frame', () => {
    const r = run('reference/cli.ts', ['decode', 'ffffffff']);
    expect(r.status).toBe(65);
    expect(r.stderr).toContain('FRAME_TOO_LARGE');
  });

  it('refuses to encode a payload that breaks the schema, naming the field', () => {
    const r = run('reference/cli.ts', ['encode', 'INIT', '{"client_id":"c"}']);
    expect(r.status).toBe(65);
    expect(r.stderr).toMatch(/SCHEMA_VIOLATION: INIT: \/language/);
  });
});
