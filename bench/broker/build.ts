/**
 * What the benchmark needs built, so that `npm run bench` runs on a fresh clone: the reference broker in
 * dist/ (rebuilt when a source is newer) and the C++ relay and load generator (CMake, Release).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT_DIR } from '../../spec/tools/load.js';

const CPP_SOURCE = join(ROOT_DIR, 'cpp-client', 'bench');
const CPP_BUILD = join(ROOT_DIR, 'cpp-client', 'build', 'bench');
export const RELAY_BIN = join(CPP_BUILD, 'concord-relay');
export const LOADGEN_BIN = join(CPP_BUILD, 'concord-loadgen');
export const BROKER_CLI = join(ROOT_DIR, 'dist', 'reference', 'cli.js');
export const NODE_ROUTER = join(ROOT_DIR, 'bench', 'node-router.ts');

function run(cmd: string, args: string[]): void {
  process.stderr.write(`bench: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: ROOT_DIR, stdio: ['ignore', 2, 2] });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** The relay and the load generator (cpp-client/bench/CMakeLists.txt). */
export function buildCpp(): void {
  run('cmake', ['-S', relative(ROOT_DIR, CPP_SOURCE), '-B', relative(ROOT_DIR, CPP_BUILD), '-DCMAKE_BUILD_TYPE=Release']);
  run('cmake', ['--build', relative(ROOT_DIR, CPP_BUILD)]);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'test' || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** The broker runs from dist/: build it when it is missing or older than its sources. */
export function ensureBrokerBuilt(): void {
  const sources = Math.max(newestMtime(join(ROOT_DIR, 'reference')), newestMtime(join(ROOT_DIR, 'spec', 'generated')));
  const router = join(ROOT_DIR, 'dist', 'reference', 'broker', 'router.js');
  if (existsSync(BROKER_CLI) && existsSync(router) && statSync(BROKER_CLI).mtimeMs >= sources && statSync(router).mtimeMs >= sources) return;
  run('npm', ['run', 'build']);
}
