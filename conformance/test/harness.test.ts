import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, type RunCommandOptions } from '../run-command.js';
import { matches, exitCodeOf, type CaseResult } from '../runner.js';
import { parseTarget } from '../target.js';
import { Ajv } from 'ajv';
import { spawn } from 'node:child_process';
import { casesOf } from '../suites.js';
import { SLOW_AT_DEFAULT_LIMITS } from '../cases/runtime-liveness.cases.js';
import { brokerShutdownCases } from '../cases/runtime-broker-shutdown.cases.js';
import { STATEMENTS } from '../../spec/generated/catalog.js';
import { startBrokenServer, type BrokenKind } from './broken-servers.js';
import { tsProgram } from '../../reference/test/programs.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-reports-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

function options(over: Partial<RunCommandOptions>): RunCommandOptions & { lines: string[] } {
  const lines: string[] = [];
  return {
    suites: ['core'], run: [], skip: [], seed: 42, timeoutMs: 300, failFast: false, strict: false, knownFailing: [],
    json: true, reportDir, err: (t) => lines.push(t), out: (t) => lines.push(t), lines, ...over,
  };
}

function lastRun(peerDir: string): { summary: Record<string, any>; results: CaseResult[]; dir: string } {
  const dir = join(reportDir, peerDir, 'latest');
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  const results = readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CaseResult);
  return { summary, results, dir };
}

describe('the harness against the reference broker (no --target)', () => {
  let code: number;
  beforeAll(async () => {
    code = await runCommand(options({ timeoutMs: 2000 }));
  }, 120_000);

  it('passes every case and exits 0', () => {
    const { summary, results } = lastRun('reference-broker');
    // A broker shuts down once: the shutdown cases after the first are skipped in a run sharing one broker
    // (runtime-mutants.test.ts runs each against a broker of its own).
    const later = new Set(brokerShutdownCases.slice(1).map((c) => c.id));
    expect(results.filter((r) => later.has(r.id)).map((r) => r.outcome)).toEqual([...later].map(() => 'skipped'));
    expect(results.filter((r) => r.outcome !== 'pass' && !later.has(r.id)).map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    expect(code).toBe(0);
    expect(summary.counts.passed).toBe(results.length - later.size);
    expect(summary.seed).toBe(42);
  });

  it('writes summary, index, junit, html, the result stream and a latest link', () => {
    const { dir } = lastRun('reference-broker');
    for (const f of ['summary.json', 'index.json', 'junit.xml', 'index.html', 'results.jsonl']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(readlinkSync(join(reportDir, 'reference-broker', 'latest'))).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/<testsuite name="concord.reference-broker.framing" tests="\d+" failures="0"/);
  });

  it('writes a result stream that satisfies reports/report.schema.json', () => {
    const schema = JSON.parse(readFileSync(new URL('../../reports/report.schema.json', import.meta.url), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true }).compile(schema);
    const { dir } = lastRun('reference-broker');
    for (const line of readFileSync(join(dir, 'results.jsonl'), 'utf8').trim().split('\n')) {
      expect(validate(JSON.parse(line)), JSON.stringify(validate.errors)).toBe(true);
    }
  });
});

describe.each<[BrokenKind, number[]]>([
  ['accept-and-close', [1, 2]],
  ['garbage', [1]],
  ['silent', [2]],
])('the harness against a server that %s', (kind, codes) => {
  it('exits non-zero, and every failure names the requirement it checked', async () => {
    const server = await startBrokenServer(kind);
    try {
      const o = options({ target: `127.0.0.1:${server.port}`, run: ['framing', 'handshake/init-ack-fields', 'requests/route-and-correlate'] });
      const code = await runCommand(o);
      expect(codes).toContain(code);
      const { results } = lastRun(`127.0.0.1_${server.port}`);
      const bad = results.filter((r) => r.outcome === 'fail' || r.outcome === 'timeout');
      expect(bad.length).toBeGreaterThan(0);
      for (const r of bad) {
        expect(r.requirement).toMatch(/^\[[A-Z]+-\d+\] .*(MUST|SHOULD|MAY)/);
        expect(r.message).toBeTruthy();
        expect(r.wire.length).toBeGreaterThan(0);
      }
    } finally {
      await server.close();
    }
  }, 60_000);
});

it('passes against `concord broker` started as its own process (the README\'s two-shell flow)', async () => {
  const broker = spawn(process.execPath, tsProgram('reference/cli.ts', 'broker', '--port', '0', '--log-level', 'info').slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`the broker did not report its port: ${text}`)), 30_000);
      broker.stderr.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(text);
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      });
    });
    // The broker runs the spec's default timers: the cases that wait out heartbeats and drains would take minutes.
    const code = await runCommand(options({ target: `127.0.0.1:${port}`, timeoutMs: 2000, skip: SLOW_AT_DEFAULT_LIMITS }));
    const { results } = lastRun(`127.0.0.1_${port}`);
    expect(results.filter((r) => r.outcome !== 'pass' && r.outcome !== 'skipped').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
    expect(results.find((r) => r.id === 'security/wrong-token')?.outcome).toBe('skipped');
    expect(code).toBe(0);
  } finally {
    broker.kill('SIGKILL');
  }
}, 120_000);

it('exits 69 when nothing listens at the target', async () => {
  const server = await startBrokenServer('silent');
  const port = server.port;
  await server.close();
  expect(await runCommand(options({ target: `127.0.0.1:${port}` }))).toBe(69);
});

describe('case selection and verdicts', () => {
  it('matches ids by prefix, * (one part) and ** (several)', () => {
    expect(matches('framing', 'framing/split-at-every-byte')).toBe(true);
    expect(matches('fram', 'framing/split-at-every-byte')).toBe(false);
    expect(matches('handshake/*', 'handshake/pong-echoes-id/id:zero')).toBe(false);
    expect(matches('handshake/**', 'handshake/pong-echoes-id/id:zero')).toBe(true);
    expect(matches('*/pong-echoes-id/*', 'handshake/pong-echoes-id/id:zero')).toBe(true);
  });

  it('gives every case a stable unique id under its section and a real statement', () => {
    const cases = casesOf(['core']);
    const ids = cases.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    const known = new Set(STATEMENTS.map((s) => s.id));
    for (const c of cases) {
      expect(c.id.startsWith(`${c.section}/`), c.id).toBe(true);
      for (const s of c.statements) expect(known.has(s), `${c.id} -> ${s}`).toBe(true);
    }
  });

  it('computes exit codes: unexpected failure 1, unexpected pass 1, only timeouts 2, harness error 70', () => {
    const r = (outcome: CaseResult['outcome'], knownFailing = false, level: CaseResult['level'] = 'required'): CaseResult =>
      ({ id: 'x/y', section: 'x', level, statements: [], requirement: '', outcome, knownFailing, durationMs: 0, wire: [] });
    expect(exitCodeOf([r('pass'), r('fail', true)], false)).toBe(0);
    expect(exitCodeOf([r('pass'), r('fail')], false)).toBe(1);
    expect(exitCodeOf([r('pass', true)], false)).toBe(1);
    expect(exitCodeOf([r('pass'), r('timeout')], false)).toBe(2);
    expect(exitCodeOf([r('fail', false, 'recommended')], false)).toBe(0);
    expect(exitCodeOf([r('fail', false, 'recommended')], true)).toBe(1);
    expect(exitCodeOf([r('errored')], false)).toBe(70);
  });

  it('parses targets', () => {
    expect(parseTarget('127.0.0.1:9999')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9999 });
    expect(parseTarget('[::1]:9999')).toEqual({ kind: 'tcp', host: '::1', port: 9999 });
    expect(parseTarget('unix:/tmp/c.sock')).toEqual({ kind: 'unix', path: '/tmp/c.sock' });
    expect(parseTarget('[::1]:9999').describe()).toBe('::1:9999');
    expect(() => parseTarget('localhost')).toThrow(/host:port/);
  });
});
