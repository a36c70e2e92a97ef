/**
 * `concord instrument` as a process: a TCP port (settings persist across connections), fault
 * injection on stdio, exit codes, and the instrument suite catching injected faults. Every process
 * is started here and killed by its PID in afterEach.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import type { WireConnection } from '../wire/connection.js';
import { ExecPeer, TcpPeer } from '../wire/peer-target.js';
import type { Message } from '../../reference/codec/index.js';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsProgram } from '../../reference/test/programs.js';

const WORKER = tsProgram('reference/cli.ts', 'instrument');
const WAIT_MS = 20_000;

const started: ChildProcess[] = [];
const conns: WireConnection[] = [];
afterEach(() => {
  for (const c of conns.splice(0)) c.destroy();
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

async function next(conn: WireConnection): Promise<Message> {
  const r = await conn.next(WAIT_MS);
  if (r.kind !== 'message') throw new Error(`expected a frame, got ${r.kind}${r.kind === 'closed' ? ` (${r.reason})` : ''}`);
  return r.message;
}

function exitOf(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((resolve) => p.once('exit', (code) => resolve(code)));
}

async function listening(args: string[]): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(WORKER[0]!, [...WORKER.slice(1), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(proc);
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    proc.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /listening on [^:]+:(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`exited ${code}: ${text}`)));
  });
  return { proc, port };
}

async function connectAsClient(port: number, id: string): Promise<{ conn: WireConnection; ready: Message }> {
  const conn = await new TcpPeer('127.0.0.1', port).open(id, WAIT_MS);
  conns.push(conn);
  conn.send({ type: 'INIT', header: { id: 'init' }, payload: { client_id: id, language: 'typescript', role: 'client', protocol_version: '1.0', encodings: ['json'], max_frame: 65536 } });
  const ack = await next(conn);
  expect(ack).toMatchObject({ name: 'INIT_ACK', header: { re: 'init' } });
  const ready = await next(conn);
  expect(ready).toMatchObject({ name: 'INSTRUMENT_EVENT', payload: { event: 'ready', mock: true } });
  return { conn, ready };
}

function command(conn: WireConnection, id: string, name: string, params?: Record<string, unknown>): void {
  conn.send({ type: 'INSTRUMENT_COMMAND', header: { id }, payload: params ? { command: name, params } : { command: name } });
}

async function stdioWorker(args: string[]): Promise<{ conn: WireConnection; ready: Message }> {
  const conn = await new ExecPeer([...WORKER, ...args]).open('worker', WAIT_MS);
  conns.push(conn);
  const init = await next(conn);
  expect(init).toMatchObject({ name: 'INIT', payload: { role: 'worker' } });
  conn.send({ type: 'INIT_ACK', header: { id: 'ack', re: init.header.id }, payload: { broker_id: 'test', client_id: 'w', protocol_version: '1.0', encoding: 'json', max_frame: 16777216, max_in_flight: 1024, heartbeat_ms: 10000 } });
  return { conn, ready: await next(conn) };
}

describe('concord instrument --port', () => {
  it('serves one connection at a time, keeps its settings across connections, exits 0 after shutdown', async () => {
    const { proc, port } = await listening(['--port', '0', '--seed', '4']);
    const a = await connectAsClient(port, 'a');
    command(a.conn, 'set', 'pid_set_setpoint', { channel: 'pid1', value: 0.5 });
    expect(await next(a.conn)).toMatchObject({ name: 'INSTRUMENT_RESPONSE', header: { re: 'set' }, payload: { command: 'pid_set_setpoint', data: null } });
    a.conn.destroy();
    const b = await connectAsClient(port, 'b');
    command(b.conn, 'get', 'pid_get_setpoint', { channel: 'pid1' });
    expect(await next(b.conn)).toMatchObject({ name: 'INSTRUMENT_RESPONSE', header: { re: 'get' }, payload: { data: 0.5 } });
    command(b.conn, 'bye', 'shutdown');
    expect(await next(b.conn)).toMatchObject({ name: 'INSTRUMENT_RESPONSE', header: { re: 'bye' } });
    expect(await next(b.conn)).toMatchObject({ name: 'INSTRUMENT_EVENT', payload: { event: 'final', exit_code: 0 } });
    expect(await exitOf(proc)).toBe(0);
  });

  it('lets a connection that arrives while another is served wait its turn, unread, instead of resetting it', async () => {
    const { proc, port } = await listening(['--port', '0']);
    const a = await connectAsClient(port, 'a');
    const b = await new TcpPeer('127.0.0.1', port).open('b', WAIT_MS);
    conns.push(b);
    b.send({ type: 'INIT', header: { id: 'init-b' }, payload: { client_id: 'b', language: 'typescript', role: 'client', protocol_version: '1.0', encodings: ['json'], max_frame: 65536 } });
    // a is still served while b waits.
    command(a.conn, 'p', 'ping');
    expect(await next(a.conn)).toMatchObject({ name: 'INSTRUMENT_RESPONSE', header: { re: 'p' } });
    a.conn.destroy();
    expect(await next(b)).toMatchObject({ name: 'INIT_ACK', header: { re: 'init-b' } });
    expect(await next(b)).toMatchObject({ name: 'INSTRUMENT_EVENT', payload: { event: 'ready' } });
    command(b, 'bye', 'shutdown');
    expect(await next(b)).toMatchObject({ name: 'INSTRUMENT_RESPONSE', header: { re: 'bye' } });
    expect(await exitOf(proc)).toBe(0);
  });

  it('refuses a first frame other than INIT and closes', async () => {
    const { port } = await listening(['--port', '0']);
    const conn = await new TcpPeer('127.0.0.1', port).open('x', WAIT_MS);
    conns.push(conn);
    command(conn, 'early', 'ping');
    expect(await next(conn)).toMatchObject({ name: 'ERROR', header: { re: 'early' }, payload: { code: 'PROTOCOL_VIOLATION' } });
    expect((await conn.next(WAIT_MS)).kind).toBe('closed');
  });

  it('--drop-after closes the connection instead of answering, and takes the next one', async () => {
    const { port } = await listening(['--port', '0', '--drop-after', '2']);
    const a = await connectAsClient(port, 'a');
    expect(a.ready.payload).toMatchObject({ detail: expect.stringContaining('seed') });
    command(a.conn, 'one', 'ping');
    command(a.conn, 'two', 'ping');
    expect(await next(a.conn)).toMatchObject({ header: { re: 'one' } });
    expect((await a.conn.next(WAIT_MS)).kind).toBe('closed');
    const b = await connectAsClient(port, 'b');
    command(b.conn, 'three', 'ping');
    expect(await next(b.conn)).toMatchObject({ header: { re: 'three' }, payload: { data: 'pong' } });
  });
});

describe('concord instrument fault injection (stdio)', () => {
  it('--error-rate 1 answers HARDWARE_ERROR to every command but ping, and says so in ready', async () => {
    const { conn, ready } = await stdioWorker(['--error-rate', '1']);
    expect(ready.payload).toMatchObject({ event: 'ready', detail: expect.stringContaining('error rate 1') });
    command(conn, 'a', 'sampler_read');
    expect(await next(conn)).toMatchObject({ name: 'ERROR', header: { re: 'a' }, payload: { code: 'HARDWARE_ERROR', definite: false } });
    command(conn, 'b', 'ping');
    expect(await next(conn)).toMatchObject({ name: 'INSTRUMENT_RESPONSE', header: { re: 'b' } });
  });

  it('--delay-ms keeps the order of answers', async () => {
    const { conn } = await stdioWorker(['--delay-ms', '20']);
    for (const id of ['1', '2', '3', '4']) command(conn, id, id === '2' ? 'nope' : 'ping');
    const res = [await next(conn), await next(conn), await next(conn), await next(conn)];
    expect(res.map((m) => m.header.re)).toEqual(['1', '2', '3', '4']);
    expect(res[1]).toMatchObject({ name: 'ERROR', payload: { code: 'UNKNOWN_COMMAND' } });
  });

  it('--drop-after on stdio closes without answering and exits 75', async () => {
    const { conn } = await stdioWorker(['--drop-after', '2']);
    command(conn, 'one', 'ping');
    command(conn, 'two', 'ping');
    expect(await next(conn)).toMatchObject({ header: { re: 'one' } });
    expect((await conn.next(WAIT_MS)).kind).toBe('closed');
    expect(await conn.exitCode()).toBe(75);
  });

  it('exits 64 on a usage error and 69 when the broker cannot be reached', async () => {
    const usage = spawn(WORKER[0]!, [...WORKER.slice(1), '--error-rate', '2'], { stdio: 'ignore' });
    started.push(usage);
    expect(await exitOf(usage)).toBe(64);
    const server = await import('node:net').then((net) => net.createServer());
    const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
    await new Promise<void>((r) => server.close(() => r())); // a port nothing listens on
    const unreachable = spawn(WORKER[0]!, [...WORKER.slice(1), '--broker', `127.0.0.1:${port}`], { stdio: 'ignore' });
    started.push(unreachable);
    expect(await exitOf(unreachable)).toBe(69);
  });
});

describe('the instrument suite catches a faulty worker', () => {
  async function suite(args: string[], run: string[]): Promise<CaseResult[]> {
    const reportDir = mkdtempSync(join(tmpdir(), 'concord-instrument-'));
    const lines: string[] = [];
    try {
      await runCommand({ exec: [...WORKER, ...args], suites: ['instrument'], run, skip: [], seed: 1, timeoutMs: 5000, failFast: false, strict: false,
        knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined });
    } finally {
      rmSync(reportDir, { recursive: true, force: true });
    }
    return (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results;
  }

  it('passes the sound mock and fails the one that injects hardware errors or drops commands', async () => {
    const run = ['instrument/response-schema/command:sampler_read', 'instrument/pipelined-in-order'];
    expect((await suite([], run)).map((r) => r.outcome)).toEqual(['pass', 'pass']);
    expect((await suite(['--error-rate', '1'], run)).map((r) => r.outcome)).toEqual(['fail', 'fail']);
    expect((await suite(['--drop-after', '5000'], run)).map((r) => r.outcome)).toEqual(['pass', 'fail']);
  });
});
