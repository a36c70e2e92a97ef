/**
 * The harness against hostile peers (hostile-peer.mjs and unbounded-bus-adapter.mjs): run as a real
 * child process (`node dist/conformance/cli.js`, so `npm run build` first), it never crashes, never
 * hangs past its own timeouts (each run is bounded by this file's test timeout, never by timing
 * assertions), always exits with a documented code and always writes its report. Issue 13, items 7-14.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/conformance/cli.js');
const concord = join(root, 'dist/reference/cli.js');
const hostile = fileURLToPath(new URL('./hostile-peer.mjs', import.meta.url));
const unboundedBus = fileURLToPath(new URL('./unbounded-bus-adapter.mjs', import.meta.url));
/** The exit codes `conformance --help` documents. */
const DOCUMENTED = [0, 1, 2, 64, 66, 69, 70];
/**
 * The bound of each hostile run. The harness's own budget per run is a few seconds (--timeout 400,
 * --start-timeout 4000, one case); the margin is for the shared, loaded machines tests run on.
 */
const RUN_MS = 20_000;
/** What a terminal would act on: ESC, BEL, CSI (C1), carriage return. */
const RAW_CONTROL = /[\x07\x1b\x9b\r]/;

const scratch = mkdtempSync(join(tmpdir(), 'concord-hostile-'));
const pidFile = join(scratch, 'escaped.pids');
const started: ChildProcess[] = [];

afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Grandchildren that left the peer's process group on purpose: ended by the PIDs they wrote.
  if (existsSync(pidFile)) {
    for (const pid of readFileSync(pidFile, 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The report's summary.json, when one was written. */
  summary?: { exit_code: number; peer: Record<string, unknown> };
  results: { id: string; outcome: string; message?: string }[];
  /** Every file of the report, concatenated (for looking for leaks). */
  files: string;
}

function readTree(dir: string): string {
  let text = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) text += readTree(p);
    else if (st?.isFile()) text += readFileSync(p, 'utf8');
  }
  return text;
}

function findSummary(dir: string): string | undefined {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'summary.json') return p;
    if (name !== 'latest' && statSync(p).isDirectory()) {
      const found = findSummary(p);
      if (found) return found;
    }
  }
  return undefined;
}

/** Runs the harness: `options` before `--`, then the peer command (if any; `--exec` unless listening or a lines target). */
function harness(options: string[], command: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  const reportDir = mkdtempSync(join(scratch, 'report-'));
  const exec = command.length > 0 && !options.includes('--exec') && !options.includes('--listen') && !options.some((o) => o.startsWith('lines:'));
  const args = [cli, ...(exec ? ['--exec'] : []), ...options, '--report-dir', reportDir, ...(command.length > 0 ? ['--', ...command] : [])];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOSTILE_PIDS: pidFile, ...env } });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
  // 'exit', not 'close': the test itself must not wait on pipes a stray grandchild might hold.
  return new Promise((resolve) => child.on('exit', (code, signal) => setTimeout(() => {
    if (!existsSync(reportDir)) return; // a run that outlived its test (the test failed on its timeout)
    const summaryPath = findSummary(reportDir);
    const dir = summaryPath ? join(summaryPath, '..') : undefined;
    resolve({
      code, signal, stdout, stderr,
      ...(summaryPath ? { summary: JSON.parse(readFileSync(summaryPath, 'utf8')) as Run['summary'] } : {}),
      results: dir && existsSync(join(dir, 'results.jsonl')) ? readFileSync(join(dir, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Run['results'][number]) : [],
      files: dir ? readTree(dir) : '',
    });
  }, 100)));
}

/** What every hostile run must show, whatever the peer did. */
function expectSane(run: Run): void {
  expect(run.signal, run.stderr).toBeNull();
  expect(DOCUMENTED, `exit ${run.code}; stderr: ${run.stderr}`).toContain(run.code);
  expect(run.stderr).not.toMatch(/^Node\.js v\d+/m); // no crash trace
  expect(run.summary, `no report written; stderr: ${run.stderr}`).toBeDefined();
  expect(run.summary!.exit_code).toBe(run.code);
  expect(RAW_CONTROL.test(run.stdout + run.stderr), `raw control characters printed: ${JSON.stringify(run.stderr.slice(0, 400))}`).toBe(false);
}

/** Starts a hostile broker and returns its address. */
async function hostileBroker(mode: string, env: Record<string, string> = {}): Promise<string> {
  const child = spawn(process.execPath, [hostile, mode], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  started.push(child);
  const port = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  return `127.0.0.1:${port}`;
}

const FAST = ['--timeout', '400', '--start-timeout', '4000'];
const node = (mode: string, ...rest: string[]): string[] => [process.execPath, hostile, mode, ...rest];
const outcome = (run: Run, id: string): { outcome: string; message?: string } | undefined => run.results.find((r) => r.id === id);

describe('item 7: no peer behaviour crashes the harness', () => {
  it('a bus that accepts the second dispatch: the abandoned dispatch\'s reply timer is charged to its case, the report is written', async () => {
    const run = await harness(['--suite', 'bus', '--run', 'coordinator-semantics/dispatch-check-order', ...FAST], [process.execPath, unboundedBus]);
    expectSane(run);
    expect(['fail', 'timeout']).toContain(outcome(run, 'coordinator-semantics/dispatch-check-order')?.outcome);
    expect([1, 2]).toContain(run.code);
  }, RUN_MS);
});

describe('item 8: a peer that cannot start stops the run at once with exit 69', () => {
  const D = (): string => mkdtempSync(join(scratch, 'lines-'));
  const cases: [string, () => string[], string[]][] = [
    ['--exec (testee)', () => ['--exec'], ['/nonexistent']],
    ['--suite bus --exec', () => ['--suite', 'bus', '--exec'], ['/nonexistent']],
    ['--listen 0', () => ['--listen', '0'], ['/nonexistent']],
    ['--suite instrument --exec', () => ['--suite', 'instrument', '--exec'], ['/nonexistent']],
    ['--suite engine --exec', () => ['--suite', 'engine', '--exec'], ['/nonexistent']],
    ['--target fifo:DIR --exec', () => ['--target', `fifo:${D()}`, '--exec'], ['/nonexistent', '{fifo}']],
    ['--target lines:', () => { const d = D(); return ['--target', `lines:${d}/req,${d}/rep`, '--role', 'responder']; }, ['/nonexistent']],
  ];
  for (const [name, options, command] of cases) {
    it(`${name} -- /nonexistent`, async () => {
      const run = await harness([...options(), ...FAST], command);
      expectSane(run);
      expect(run.code).toBe(69);
      expect(run.stderr).toContain('/nonexistent');
      expect(run.results).toHaveLength(0);
    }, RUN_MS);
  }

  it('a testee that exits at once: its command, exit status and the end of its stderr', async () => {
    const run = await harness(['--exec', ...FAST], node('cannot-start'));
    expectSane(run);
    expect(run.code).toBe(69);
    expect(run.stderr).toContain('status 3');
    expect(run.stderr).toContain('missing configuration');
    expect(run.stderr).toContain('cannot-start');
  }, RUN_MS);

  it('a client under test that exits before connecting', async () => {
    const run = await harness(['--listen', '0', ...FAST], node('client-exit'));
    expectSane(run);
    expect(run.code).toBe(69);
    expect(run.stderr).toContain('status 5');
  }, RUN_MS);
});

describe('item 9: process groups, descendants and pipes', () => {
  it('a testee whose grandchild leaves its process group holding the pipes: the harness still exits', async () => {
    const run = await harness(['--run', 'testee/echo/ping/encoding:json', ...FAST], node('escaping-grandchild'));
    expectSane(run);
  }, RUN_MS);

  it('a worker that leaves a child running when its input closes fails STDIO-3', async () => {
    const run = await harness(['--suite', 'instrument', '--run', 'instrument/input-closed-exits', ...FAST], node('worker-leaves-children'));
    expectSane(run);
    const r = outcome(run, 'instrument/input-closed-exits');
    expect(r?.outcome).toBe('fail');
    expect(r?.message).toContain('STDIO-3');
  }, RUN_MS);

  it('killing a worker\'s parent keeps its input open: a worker that only exits at end of input fails INS-16', async () => {
    const run = await harness(['--suite', 'instrument', '--run', 'instrument-worker/parent-killed-exits', '--timeout', '1000', '--start-timeout', '4000'], node('worker-eof-only'));
    expectSane(run);
    expect(outcome(run, 'instrument-worker/parent-killed-exits')?.outcome).toBe('fail');
  }, RUN_MS + 5_000); // the case itself waits 5 s for the worker to exit
});

describe('item 10: max_frame holds for everything a peer sends', () => {
  it('a testee announcing a 4 GiB frame fails with FRM-3', async () => {
    const run = await harness(['--run', 'testee/echo/ping/encoding:json', ...FAST], node('init-then-huge'));
    expectSane(run);
    const r = outcome(run, 'testee/echo/ping/encoding:json');
    expect(r?.outcome).toBe('fail');
    expect(r?.message).toContain('FRM-3');
  }, RUN_MS);

  it('a broker announcing a 4 GiB frame fails with FRM-3', async () => {
    const run = await harness(['--target', await hostileBroker('broker-huge'), '--run', 'handshake/init-ack-fields', ...FAST]);
    expectSane(run);
    expect(run.results.length).toBeGreaterThan(0);
    for (const r of run.results) expect(r.message ?? '').toContain('FRM-3');
  }, RUN_MS);

  it('a client under test announcing a 4 GiB frame fails with FRM-3', async () => {
    const run = await harness(['--listen', '0', '--run', 'handshake/client-first-frame-is-json-init', ...FAST], node('client-huge', '{port}'));
    expectSane(run);
    expect(run.results.length).toBeGreaterThan(0);
    for (const r of run.results) expect(r.message ?? '').toContain('FRM-3');
  }, RUN_MS);
});

describe('item 11: nothing a peer sends drives the terminal', () => {
  it('escapes in a broker\'s ERROR messages and ids are printed escaped', async () => {
    const run = await harness(['--target', await hostileBroker('broker-escapes'), '--run', 'handshake/init-ack-fields', ...FAST]);
    expectSane(run); // no raw ESC, BEL or CSI on stdout or stderr
    expect(run.stderr).toContain('\\u001b');
  }, RUN_MS);

  it('escapes in a failed peer\'s stderr are printed escaped', async () => {
    const run = await harness(['--exec', ...FAST], node('cannot-start'));
    expectSane(run);
    expect(run.stderr).toContain('\\u001b]0;pwned');
  }, RUN_MS);
});

describe('item 12: the token is never written', () => {
  const token = 'Sup3rS3cretT0ken';
  it('not in results.jsonl, cases/*.json or index.html (text or hex), and the wrong token shares no character with it', async () => {
    const tokens = join(scratch, 'tokens.log');
    writeFileSync(tokens, '');
    const target = await hostileBroker('broker-token-log', { HOSTILE_TOKENS: tokens });
    const run = await harness(['--target', target, '--token', token, '--run', 'security/wrong-token', '--run', 'handshake/init-ack-fields', ...FAST]);
    expectSane(run);
    expect(run.results.some((r) => r.outcome === 'fail')).toBe(true); // wire logs were written
    expect(run.files).not.toContain(token);
    expect(run.files).not.toContain(Buffer.from(token).toString('hex'));
    expect(run.stdout + run.stderr).not.toContain(token);
    const sent = readFileSync(tokens, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string | null);
    const wrong = sent.filter((t) => t !== token);
    expect(wrong.length).toBeGreaterThan(0);
    for (const w of wrong) for (const c of w ?? '') expect(token).not.toContain(c);
  }, RUN_MS);
});

describe('item 13: a peer\'s exit or refusal is the peer\'s outcome, not the harness\'s', () => {
  it('a lines responder that exits without reading: a failure (exit 1), not a harness error (70)', async () => {
    const d = mkdtempSync(join(scratch, 'lines-'));
    const run = await harness(['--target', `lines:${d}/req,${d}/rep`, '--role', 'responder', '--lines-timeout', '1', '--run', 'transport-lines/start-order/responder', ...FAST], ['/bin/true']);
    expectSane(run);
    expect(outcome(run, 'transport-lines/start-order/responder')?.outcome).toBe('fail');
    expect(run.code).toBe(1);
  }, RUN_MS);

  it('a testee echoing a payload nested 200,000 deep: failures, never a harness error', async () => {
    const run = await harness(['--run', 'testee/echo/bus-query/encoding:json', '--run', 'testee/echo/ping/encoding:json', ...FAST], node('deep-echo'));
    expectSane(run);
    expect(run.results.length).toBeGreaterThan(0);
    for (const r of run.results) expect(r.outcome, r.message).not.toBe('errored');
    expect(run.code).toBe(1);
  }, RUN_MS);
});

describe('item 14: concord decode streams its input and stops at max_frame', () => {
  it('a 4 GiB length prefix followed by endless bytes: exit 65 without reading them all', async () => {
    const child = spawn(process.execPath, [concord, 'decode'], { stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(0xffffffff);
    child.stdin.write(prefix);
    // Endless input: only a decoder that stops at the prefix ever exits.
    const chunk = Buffer.alloc(1 << 16, 0x7b);
    const feed = (): void => {
      while (child.exitCode === null && child.stdin.writable && child.stdin.write(chunk));
    };
    child.stdin.on('drain', feed);
    feed();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(65);
    expect(stderr).toContain('FRAME_TOO_LARGE');
  }, RUN_MS);

  it('still decodes one whole frame from standard input', async () => {
    const hex = '000000300300002c7b226964223a227265712d70696e67222c227473223a2231373030303030303030313233343536373839227d';
    const child = spawn(process.execPath, [concord, 'decode'], { stdio: ['pipe', 'pipe', 'pipe'] });
    started.push(child);
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stdin.end(Buffer.from(hex, 'hex'));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ name: 'PING', header: { id: 'req-ping' } });
  }, RUN_MS);
});

describe('the hostile-peer corpus: never a crash, a hang, an undocumented exit or a missing report', () => {
  const testees = ['silent', 'garbage', 'huge-prefix', 'escapes', 'exit-mid-frame', 'close-mid-frame', 'exit-mid-case', 'flood-valid', 'grandchild'];
  for (const mode of testees) {
    it(`testee: ${mode}`, async () => {
      const run = await harness(['--run', 'testee/echo/ping/encoding:json', ...FAST], node(mode));
      expectSane(run);
      expect(run.code).not.toBe(0);
    }, RUN_MS);
  }
  for (const mode of ['broker-silent', 'broker-garbage', 'broker-close-mid-frame']) {
    it(`broker: ${mode}`, async () => {
      const run = await harness(['--target', await hostileBroker(mode), '--run', 'handshake/init-ack-fields', ...FAST]);
      expectSane(run);
      expect(run.code).not.toBe(0);
    }, RUN_MS);
  }
  // An adapter silent from the start waits out the bus driver's fixed 15 s start allowance (conformance/bus/driver.ts) per case: too slow here.
  for (const mode of ['bus-first-then-silent', 'bus-first-then-garbage', 'bus-exit-after-hello']) {
    it(`bus adapter: ${mode}`, async () => {
      const run = await harness(['--suite', 'bus', '--run', 'bus-semantics/send-without-handler', '--timeout', '400', '--start-timeout', '1500'], node(mode));
      expectSane(run);
      expect(run.code).not.toBe(0);
    }, RUN_MS);
  }
  it('client: garbage', async () => {
    const run = await harness(['--listen', '0', '--run', 'handshake/client-first-frame-is-json-init', ...FAST], node('client-garbage', '{port}'));
    expectSane(run);
    expect(run.code).not.toBe(0);
  }, RUN_MS);
});
