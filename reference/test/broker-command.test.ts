/**
 * `concord broker` as a process: the broker runs in a worker thread with a capped young generation
 * (command.ts), and the command's own PID still takes the signals: SIGTERM and SIGINT drain and exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BROKER_YOUNG_GENERATION_MB } from '../broker/command.js';
import { tsProgram } from './programs.js';

/** A hang guard, not a measurement: start-up through tsx takes a few seconds on a loaded machine. */
const WITHIN_MS = 30_000;

interface Started {
  child: ChildProcess;
  records: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/** Starts `concord broker --port 0` and resolves once its `listening` record is out. */
function startBroker(env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const [node, ...args] = tsProgram('reference/cli.ts', 'broker', '--port', '0', '--log-level', 'info');
  const child = spawn(node!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const records: Record<string, unknown>[] = [];
  // 'close', not 'exit': the last log records are read by then.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no listening record within ${WITHIN_MS} ms`));
    }, WITHIN_MS);
    let rest = '';
    child.stderr!.on('data', (d: Buffer) => {
      rest += d.toString('utf8');
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        // Log records are JSON lines; anything else on stderr (a warning of Node's) is not one of them.
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        records.push(record);
        if (record['msg'] === 'listening') {
          clearTimeout(timer);
          resolve({ child, records, exited });
        }
      }
    });
  });
}

async function stopWith(started: Started, signal: NodeJS.Signals): Promise<number | null> {
  started.child.kill(signal);
  const guard = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), WITHIN_MS).unref());
  const code = await Promise.race([started.exited, guard]);
  if (code === 'hung') started.child.kill('SIGKILL');
  return code === 'hung' ? -1 : code;
}

describe('concord broker', () => {
  it('serves from a worker thread with the capped young generation, and drains on SIGTERM to its PID', async () => {
    const started = await startBroker();
    expect(started.records.find((r) => r['msg'] === 'broker thread')?.['young_generation_mb']).toBe(BROKER_YOUNG_GENERATION_MB);
    expect(await stopWith(started, 'SIGTERM')).toBe(0);
    expect(started.records.some((r) => r['msg'] === 'signal' && r['signal'] === 'SIGTERM')).toBe(true);
    expect(started.records.some((r) => r['msg'] === 'shutting down')).toBe(true);
  }, 2 * WITHIN_MS);

  it('serves on the main thread with CONCORD_BROKER_MAIN_THREAD=1, and drains on SIGINT', async () => {
    const started = await startBroker({ CONCORD_BROKER_MAIN_THREAD: '1' });
    expect(started.records.some((r) => r['msg'] === 'broker thread')).toBe(false);
    expect(await stopWith(started, 'SIGINT')).toBe(0);
    expect(started.records.some((r) => r['msg'] === 'signal' && r['signal'] === 'SIGINT')).toBe(true);
  }, 2 * WITHIN_MS);
});
