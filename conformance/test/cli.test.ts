import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '../../spec/generated/catalog.js';
import { editDistance, didYouMean, parseArgsProblem } from '../../reference/cli-usage.js';
import { parseArgs } from 'node:util';
import { tsProgram } from '../../reference/test/programs.js';
import { FAULT_PROFILES } from '../faults/profile.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a CLI (tsProgram: built or through tsx) without blocking the test worker (a loaded machine makes spawnSync stall vitest's RPC). */
function run(cli: string, args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, tsProgram(cli, ...args).slice(1), { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', fail);
    child.on('close', (status) => done({ status, stdout, stderr }));
    child.stdin.end(input);
  });
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
  it('--json lists the 18 seed types with their codes, plus bus, registry and instrument types', async () => {
    const r = await run('conformance/cli.ts', ['spec', '--json']);
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

  it('prints a table by default', async () => {
    const r = await run('conformance/cli.ts', ['spec']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/0x10\s+REASONING_REQUEST\s+request/);
  });

  it('runs selected cases against the embedded broker from the command line and exits 0; --junit copies the JUnit file to its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-cli-'));
    try {
      const junit = join(dir, 'ci', 'out', 'conformance.xml');
      const r = await run('conformance/cli.ts', ['--run', 'framing/several-frames-in-one-write', '--run', 'handshake/pong-echoes-id/**', '--seed', '7', '--report-dir', join(dir, 'reports'), '--junit', junit]);
      expect(r.stderr).toContain('seed 7');
      expect(r.stdout).toMatch(/total\s+5\s+0\s+0\s+0\s+0/);
      expect(r.stdout).toContain('PASS (exit 0)');
      expect(r.status).toBe(0);
      const report = /report: (.*)index\.html/.exec(r.stdout)![1]!;
      const xml = readFileSync(junit, 'utf8');
      expect(xml).toBe(readFileSync(join(report, 'junit.xml'), 'utf8'));
      expect(xml).toContain('name="handshake/pong-echoes-id/');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a usage error is one line with the nearest option or command, exit 64', async () => {
    const option = await run('conformance/cli.ts', ['--tagret', '127.0.0.1:1']);
    expect(option.status).toBe(64);
    expect(option.stderr).toBe('conformance: unknown option --tagret: did you mean --target? (see conformance help)\n');
    const command = await run('conformance/cli.ts', ['lsit']);
    expect(command.status).toBe(64);
    expect(command.stderr).toMatch(/^conformance: unknown command lsit: did you mean list\?[^\n]*\n$/);
    const suite = await run('conformance/cli.ts', ['--suite', 'testes', '--exec', '--', 'true']);
    expect(suite.status).toBe(64);
    expect(suite.stderr).toMatch(/^conformance: unknown suite testes: did you mean testee\?[^\n]*\n$/);
    const unrelated = await run('conformance/cli.ts', ['frobnicate']);
    expect(unrelated.status).toBe(64);
    expect(unrelated.stderr.split('\n')).toHaveLength(2);
    expect(unrelated.stderr).not.toContain('did you mean');
  });

  it('--faults runs the embedded broker under faults, named in the run header and summary.json; a bad value is a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-cli-faults-'));
    try {
      const r = await run('conformance/cli.ts', ['--faults', '7', '--run', 'framing/several-frames-in-one-write', '--seed', '3', '--report-dir', dir]);
      expect(r.stderr).toContain('seed 3, faults 7:all (replay with --seed 3 --faults 7:all)');
      expect(r.stdout).toContain('PASS (exit 0)');
      expect(r.status).toBe(0);
      const report = /report: (.*)index\.html/.exec(r.stdout)![1]!;
      expect((JSON.parse(readFileSync(join(report, 'summary.json'), 'utf8')) as { faults: unknown }).faults).toEqual({ seed: 7, profile: 'all' });
      expect(readFileSync(join(report, 'index.html'), 'utf8')).toContain('<code>--faults 7:all</code>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const bad = await run('conformance/cli.ts', ['--faults', '7:chaos']);
    expect(bad.status).toBe(64);
    // One line naming every profile there is (a new profile changes the list, not the test).
    expect(bad.stderr).toMatch(/^conformance: --faults: unknown profile chaos \(profiles: [^)]*\)[^\n]*\n$/);
    expect(bad.stderr).toContain(`(profiles: ${Object.keys(FAULT_PROFILES).join(', ')})`);
   }, 120_000);

  it('help COMMAND prints that command\'s part of the help; the full help documents --junit beside --report-dir', async () => {
    const list = await run('conformance/cli.ts', ['help', 'list']);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^usage: conformance list /);
    expect(list.stdout).not.toContain('run options');
    const runHelp = await run('conformance/cli.ts', ['help', 'run']);
    expect(runHelp.stdout).toMatch(/^usage: conformance \[run options\]/);
    expect(runHelp.stdout).toMatch(/--report-dir DIR[^]*\n  --junit PATH/);
    expect(runHelp.stdout).toContain('exit codes:');
    expect(runHelp.stdout).not.toContain('conformance selftest');
  });

  it('list covers every suite and says which it searched; --suite narrows it', async () => {
    const all = await run('conformance/cli.ts', ['list', '--json']);
    const cases = JSON.parse(all.stdout) as { id: string; suites: string[] }[];
    for (const s of ['core', 'testee', 'client', 'bus', 'lines', 'engine', 'instrument', 'broker-process', 'cluster']) expect(cases.some((c) => c.suites.includes(s)), s).toBe(true);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    const core = await run('conformance/cli.ts', ['list', '--suite', 'core']);
    expect(core.stdout).toMatch(/\n\d+ cases \(suites searched: core\)\n$/);
    expect(core.stdout).not.toMatch(/^testee\//m);
  });

  it('--version prints the package name and version and the generated protocol version, for both commands', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
    for (const cli of ['conformance/cli.ts', 'reference/cli.ts']) {
      const r = await run(cli, ['--version']);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`${pkg.name} ${pkg.version} (protocol ${PROTOCOL_VERSION})\n`);
    }
  });
});

describe('did you mean', () => {
  it('edit distance counts insertions, deletions and substitutions', async () => {
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('target', 'tagret')).toBe(2);
    expect(editDistance('list', 'list')).toBe(0);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests a unique prefix or the nearest word within a third of its length, else nothing', async () => {
    expect(didYouMean('--know', ['--known-failing', '--json'])).toBe('--known-failing');
    expect(didYouMean('--known-failures', ['--known-failing', '--json'])).toBe('--known-failing');
    expect(didYouMean('brokr', ['broker', 'client'])).toBe('broker');
    expect(didYouMean('frobnicate', ['list', 'show', 'spec'])).toBeUndefined();
    expect(didYouMean('s', ['spec', 'show'])).toBeUndefined();
  });

  it('turns parseArgs errors into one line', async () => {
    const problem = (args: string[]): string => {
      try {
        parseArgs({ args, options: { target: { type: 'string' }, json: { type: 'boolean' } } });
      } catch (e) {
        return parseArgsProblem(e as Error, ['target', 'json']);
      }
      return 'parsed';
    };
    expect(problem(['--jsno'])).toBe('unknown option --jsno: did you mean --json?');
    expect(problem(['-x'])).toBe('unknown option -x');
    expect(problem(['--target'])).toBe('option --target needs a value');
  });
});

describe('concord encode and decode', () => {
  it('round-trips a message through hex', async () => {
    const enc = await run('reference/cli.ts', ['encode', 'PING', '--id', 'abc']);
    expect(enc.status).toBe(0);
    expect(enc.stdout.trim()).toBe('000000100300000c7b226964223a22616263227d');
    const dec = await run('reference/cli.ts', ['decode', enc.stdout.trim()]);
    expect(dec.status).toBe(0);
    expect(JSON.parse(dec.stdout)).toEqual({ type: 3, name: 'PING', encoding: 'json', header: { id: 'abc' }, payload: null });
  });

  it('a usage error is one line with the nearest command; help COMMAND prints that command\'s lines', async () => {
    const typo = await run('reference/cli.ts', ['brokr']);
    expect(typo.status).toBe(64);
    expect(typo.stderr).toBe('concord: unknown command brokr: did you mean broker? (see concord help)\n');
    const help = await run('reference/cli.ts', ['help', 'broker']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^ {2}broker /);
    expect(help.stdout).toContain('--max-frame N');
    expect(help.stdout).not.toContain('decode');
  });

  it('exits 65 and names the error code for a bad frame', async () => {
    const r = await run('reference/cli.ts', ['decode', 'ffffffff']);
    expect(r.status).toBe(65);
    expect(r.stderr).toContain('FRAME_TOO_LARGE');
  });

  it('refuses to encode a payload that breaks the schema, naming the field', async () => {
    const r = await run('reference/cli.ts', ['encode', 'INIT', '{"client_id":"c"}']);
    expect(r.status).toBe(65);
    expect(r.stderr).toMatch(/SCHEMA_VIOLATION: INIT: \/language/);
  });
});
