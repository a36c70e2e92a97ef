/**
 * Engine processes (TypeScript, Python, C++) started by PID and stopped by PID, attached to a broker
 * or on stdio. Used by `concord engine run`, the tests, the engine suite's selftest rows and the bench.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoFile } from '../paths.js';
import type { ConcordClient } from '../client/index.js';
import { NDArray } from '../codec/ndarray.js';
import type { EngineLanguage } from './unified/backend.js';

export const REPO = join(repoFile('package.json'), '..');

/** The command that runs an engine of `language` with `args` (the TS one from dist/ when built with the engine). */
export function engineCommand(language: EngineLanguage, args: string[]): string[] {
  switch (language) {
    case 'typescript': {
      const built = join(REPO, 'dist/reference/engine/command.js');
      const cli = existsSync(built) ? [join(REPO, 'dist/reference/cli.js')] : ['--import', 'tsx', join(REPO, 'reference/cli.ts')];
      return [process.execPath, ...cli, 'engine', 'serve', ...args];
    }
    case 'python':
      return ['python3', join(REPO, 'peers/python/concord_engine'), ...args];
    case 'cpp':
      return [join(REPO, 'cpp-client/build/concord-engine'), ...args];
  }
}

/** Whether the engine of `language` can run here (the C++ one needs the CMake build). */
export function engineAvailable(language: EngineLanguage): boolean {
  return language !== 'cpp' || existsSync(join(REPO, 'cpp-client/build/concord-engine'));
}

export class EngineProcess {
  private readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr = '';

  private constructor(readonly language: EngineLanguage, readonly id: string, command: string[]) {
    this.child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], cwd: REPO });
    this.child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 16_384) this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Starts an engine attached to the broker at host:port under client id `id`. */
  static attach(language: EngineLanguage, id: string, port: number, extra: string[] = []): EngineProcess {
    return new EngineProcess(language, id, engineCommand(language, ['--port', String(port), '--id', id, ...extra]));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` to this process only (by its PID) and waits for its exit, bounded. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', waitMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.running && this.child.kill('SIGKILL'), waitMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Waits until the broker routes to `id` (the engine answered a tiny request), asking every 50 ms up
 * to `timeoutMs`; throws with the engine's stderr when it never does.
 */
export async function waitAttached(client: ConcordClient, proc: EngineProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`engine ${proc.id} exited: ${proc.stderr.slice(-2000)}`);
    try {
      await client.request('REASONING_REQUEST', { encoding: NDArray.from('<f4', [1], [0]), context: 'attach', source: 'typescript' }, { dst: proc.id, timeoutMs: 5000 });
      return;
    } catch (e) {
      last = (e as Error).message;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`engine ${proc.id} did not attach within ${timeoutMs} ms (${last}); stderr: ${proc.stderr.slice(-2000)}`);
}
