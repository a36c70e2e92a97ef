import { afterAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';
import { HarnessUsageError, listCases, runSuite, SUITE_NAMES, totalsOf, type SuiteRun } from '../api.js';
import { tsProgram } from '../../reference/test/programs.js';

const tsx = tsProgram;
const reportDir = mkdtempSync(join(tmpdir(), 'concord-api-test-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

/** Runs with standard output and error watched: the API prints nothing of its own. */
async function quietly(run: () => Promise<SuiteRun>): Promise<{ result: SuiteRun; printed: string[] }> {
  const printed: string[] = [];
  const watch = (stream: NodeJS.WriteStream) => vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    printed.push(String(chunk));
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as never);
  const spies = [watch(process.stdout), watch(process.stderr)];
  try {
    return { result: await run(), printed: printed.filter((t) => t.includes('conformance')) };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

const CORE = ['handshake/init-ack-fields', 'handshake/pong-echoes-id/**', 'requests/route-and-correlate', 'framing/framing-zero-length'];

describe('the harness from code (conformance/api.ts)', () => {
  it('runs core cases against the reference broker it starts in process, and returns typed results without printing', async () => {
    const logged: string[] = [];
    const { result, printed } = await quietly(() => runSuite({ run: CORE, seed: 7, onLog: (l) => logged.push(l) }));
    expect(printed).toEqual([]);
    expect(logged.some((l) => l.includes('reference broker'))).toBe(true);
    expect(result.cases.filter((c) => c.outcome !== 'pass').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    expect(result.cases.map((c) => c.id)).toEqual(listCases(['core'], CORE).map((c) => c.id));
    expect(result.cases.length).toBe(7);
    const init = result.cases.find((c) => c.id === 'handshake/init-ack-fields')!;
    expect(init).toMatchObject({ section: 'handshake', level: 'required', statements: ['HS-6'], outcome: 'pass', knownFailing: false });
    expect(init.requirement).toMatch(/MUST/);
    expect(init.durationMs).toBeGreaterThanOrEqual(0);
    expect(init).not.toHaveProperty('wire');
    expect(result).toMatchObject({ exitCode: 0, passed: true, seed: 7, suites: ['core'], totals: { total: 7, pass: 7, fail: 0, timeout: 0, skipped: 0, errored: 0 } });
    expect(result.peer['target']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(result.reportDir).toBeUndefined();
    expect(result.stopped).toBeUndefined();
  }, 120_000);

  it('runs the testee suite against the TypeScript reference testee (exec) and writes the report where asked', async () => {
    const run = ['testee/echo/init/encoding:json', 'testee/refuse/header/id-missing'];
    const { result, printed } = await quietly(() => runSuite({ exec: tsx('reference/cli.ts', 'testee'), run, seed: 11, timeoutMs: 3000, reportDir }));
    expect(printed).toEqual([]);
    expect(result.suites).toEqual(['testee']);
    expect(result.cases.filter((c) => c.outcome !== 'pass').map((c) => `${c.id}: ${c.message}`)).toEqual([]);
    expect(result.cases.map((c) => c.id)).toEqual(listCases(['testee'], run).map((c) => c.id));
    expect(result.cases.length).toBe(2);
    expect(result.totals).toEqual(totalsOf(result.cases));
    expect(result.passed).toBe(true);
    expect(result.peer['language']).toBe('typescript');
    expect(existsSync(join(result.reportDir!, 'index.html'))).toBe(true);
    expect(existsSync(join(result.reportDir!, 'junit.xml'))).toBe(true);
  }, 120_000);

  it('gives a broken testee a fail outcome naming the statement it breaks', async () => {
    const id = 'testee/echo/reasoning-request/encoding:json';
    const { result } = await quietly(() => runSuite({ exec: tsx('conformance/test/broken-testee.ts', 'lose-re'), run: [id], seed: 3, timeoutMs: 3000 }));
    const c = result.cases.find((x) => x.id === id)!;
    expect(c.outcome, c.message).toBe('fail');
    expect(c.message).toBeTruthy();
    expect(c.statements.length).toBeGreaterThan(0);
    expect(result).toMatchObject({ exitCode: 1, passed: false, totals: { total: 1, fail: 1, pass: 0 } });
  }, 60_000);

  it('tests a broker given as a target, and the reference broker over FIFO pairs', async () => {
    const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
    const { port } = await broker.listen();
    try {
      const { result, printed } = await quietly(() => runSuite({ target: `127.0.0.1:${port}`, run: ['handshake/init-ack-fields', 'requests/route-and-correlate'], seed: 5 }));
      expect(printed).toEqual([]);
      expect(result.cases.map((c) => `${c.id}: ${c.outcome}`)).toEqual(['handshake/init-ack-fields: pass', 'requests/route-and-correlate: pass']);
      expect(result.peer).toMatchObject({ target: `127.0.0.1:${port}`, broker_id: broker.stats().brokerId });
    } finally {
      await broker.close();
    }
    const fifo = await runSuite({ fifo: true, run: ['handshake/init-ack-fields'], seed: 5 });
    expect(fifo.cases.map((c) => `${c.id}: ${c.outcome}`)).toEqual(['handshake/init-ack-fields: pass']);
    expect(String(fifo.peer['target'])).toMatch(/^fifo:/);
  }, 60_000);

  it('plays the broker for a client it starts (listen)', async () => {
    const { result } = await quietly(() => runSuite({ listen: 0, exec: tsx('reference/cli.ts', 'client', '--port', '{port}'), run: ['handshake/client-first-frame-is-json-init'], seed: 9 }));
    expect(result.suites).toEqual(['client']);
    expect(result.cases.map((c) => `${c.id}: ${c.outcome} ${c.message ?? ''}`)).toEqual(['handshake/client-first-frame-is-json-init: pass ']);
    expect(result.peer['language']).toBe('typescript');
  }, 60_000);

  it('reports a target nobody listens on as stopped (exit 69), with no case run', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    const { result, printed } = await quietly(() => runSuite({ target: `127.0.0.1:${port}`, run: CORE, seed: 1 }));
    expect(printed).toEqual([]);
    expect(result).toMatchObject({ exitCode: 69, passed: false, cases: [], totals: { total: 0 } });
    expect(result.stopped).toMatch(/unavailable/);
  }, 60_000);

  it('refuses options that cannot make a run before starting anything', async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('concord-api-')).length;
    await expect(runSuite({ run: ['no-such-case'] })).rejects.toThrow(HarnessUsageError);
    await expect(runSuite({ suites: ['nope'] })).rejects.toThrow(/unknown suite nope/);
    await expect(runSuite({ listen: 0, target: '127.0.0.1:1' })).rejects.toThrow(HarnessUsageError);
    await expect(runSuite({ target: 'not an address' })).rejects.toThrow(/not host:port/);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('concord-api-')).length).toBe(before);
    expect(SUITE_NAMES).toEqual(expect.arrayContaining(['core', 'testee', 'client', 'bus', 'instrument']));
  });
});
