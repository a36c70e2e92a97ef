/** The reference broker as a child process for the benchmarks: started on an ephemeral port, stopped by its PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT_DIR } from '../spec/tools/load.js';

/** Starts `concord broker --port 0 ARGS`; resolves with the port from its "listening" log line. */
export function startBrokerProcess(args: string[], startTimeoutMs: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT_DIR, 'reference/cli.ts'), 'broker', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...args], { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT_DIR });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the broker did not start in time')), startTimeoutMs);
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"msg":"listening".*?"port":(\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stderr!.resume();
        resolve({ child, port: Number(m[1]) });
      }
      if (buf.length > 8192) buf = buf.slice(-2048);
    });
    child.once('exit', (code) => reject(new Error(`the broker exited with ${code}`)));
  });
}

/** SIGTERM (a graceful shutdown), SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, graceMs);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}
