#!/usr/bin/env node
// Runs every test suite of the project and ends with one plain line `N passed, N failed`.
// Suites: TypeScript (vitest), C++ (CMake + ctest), Python (pytest), Perl (prove) and the
// conformance selftest across every reference peer. A suite whose folder exists but cannot run
// counts as a failure, never as silence.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = [];

/** Runs a command with its output shown live and returned. */
function capture(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.stderr) process.stderr.write(r.stderr);
  return { status: r.status ?? 1, text: `${r.stdout ?? ''}\n${r.stderr ?? ''}`, error: r.error };
}

function vitest() {
  const out = join(root, '.vitest-results.json');
  rmSync(out, { force: true });
  const r = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!existsSync(out)) return { name: 'typescript (vitest)', passed: 0, failed: 1, note: `vitest exited ${r.status} without results` };
  const j = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(out, { force: true });
  return { name: 'typescript (vitest)', passed: j.numPassedTests, failed: j.numFailedTests + (r.status !== 0 && j.numFailedTests === 0 ? 1 : 0), skipped: j.numPendingTests + j.numTodoTests };
}

/** Configures, builds and runs ctest in one build folder; `extra` are cmake -D options. */
function ctestIn(name, build, extra) {
  if (!existsSync(join(root, 'cpp-client', 'CMakeLists.txt'))) return null;
  const steps = [
    ['cmake', ['-S', 'cpp-client', '-B', build, ...extra]],
    ['cmake', ['--build', build, '-j2']],
  ];
  for (const [cmd, args] of steps) {
    const r = capture(cmd, args);
    if (r.status !== 0) return { name, passed: 0, failed: 1, note: `${cmd} ${args.join(' ')} failed` };
  }
  // Two at a time: each test is its own process (most replay one fixture vector), none shares a port or a file.
  const r = capture('ctest', ['--test-dir', build, '--output-on-failure', '-j2']);
  const m = /(\d+)% tests passed, (\d+) tests? failed out of (\d+)/.exec(r.text);
  if (!m) return { name, passed: 0, failed: 1, note: `ctest printed no summary (exit ${r.status})` };
  return { name, passed: Number(m[3]) - Number(m[2]), failed: Number(m[2]) };
}

const cpp = () => ctestIn('c++ (ctest)', join('cpp-client', 'build'), ['-DCMAKE_BUILD_TYPE=Release']);
cpp.title = 'c++ (ctest)';
// The same tests under AddressSanitizer and UBSan: any report aborts the test that caused it.
const cppSanitized = () => ctestIn('c++ asan+ubsan (ctest)', join('cpp-client', 'build-asan'), ['-DCMAKE_BUILD_TYPE=Debug', '-DCONCORD_SANITIZE=ON']);
cppSanitized.title = 'c++ asan+ubsan (ctest)';

function python() {
  const name = 'python (pytest)';
  if (!existsSync(join(root, 'peers', 'python', 'tests'))) return null;
  const r = capture('python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', join('peers', 'python', 'tests')]);
  const count = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(r.text.split('\n').filter((l) => /\d+ (passed|failed|error)/.test(l)).pop() ?? '')?.[1] ?? 0);
  const passed = count('passed');
  const failed = count('failed') + count('errors?');
  // pytest exits 5 when it collects nothing: a suite that ran no test is a failure here.
  if (r.status !== 0 && failed === 0) return { name, passed, failed: 1, note: `pytest exited ${r.status}` };
  return { name, passed, failed, skipped: count('skipped') };
}

function perl() {
  const name = 'perl (prove)';
  if (!existsSync(join(root, 'peers', 'perl', 't'))) return null;
  const r = capture('prove', ['-r', '-I', join('peers', 'perl', 'lib'), join('peers', 'perl', 't')]);
  const total = /Files=\d+, Tests=(\d+)/.exec(r.text);
  if (!total) return { name, passed: 0, failed: 1, note: `prove printed no summary (exit ${r.status})` };
  const failed = [...r.text.matchAll(/Failed (\d+)\/\d+ subtests/g)].reduce((n, m) => n + Number(m[1]), 0);
  if (r.status !== 0 && failed === 0) return { name, passed: Number(total[1]), failed: 1, note: `prove exited ${r.status}` };
  return { name, passed: Number(total[1]) - failed, failed };
}

function selftest() {
  const name = 'conformance selftest';
  // Every reference peer whose sources are in the tree; one that is there but cannot run fails.
  const peers = ['reference-broker', 'typescript'];
  if (existsSync(join(root, 'cpp-client', 'CMakeLists.txt'))) peers.push('cpp');
  if (existsSync(join(root, 'peers', 'python'))) peers.push('python');
  if (existsSync(join(root, 'peers', 'perl'))) peers.push('perl');
  const build = capture('npm', ['run', '-s', 'build']);
  if (build.status !== 0) return { name, passed: 0, failed: 1, note: 'npm run build failed' };
  const r = capture(process.execPath, [join('dist', 'conformance', 'cli.js'), 'selftest', '--json', '--seed', String(Date.now() % 1_000_000), ...peers.flatMap((p) => ['--peer', p])]);
  const json = r.text.slice(r.text.indexOf('{'));
  let rows;
  try {
    rows = JSON.parse(json.slice(0, json.lastIndexOf('}') + 1)).peers;
  } catch {
    return { name, passed: 0, failed: 1, note: `selftest printed no matrix (exit ${r.status})` };
  }
  let passed = 0;
  let failed = 0;
  for (const p of rows) for (const c of Object.values(p.suites)) { passed += c.passed; failed += c.failed; }
  if (r.status !== 0 && failed === 0) failed = 1; // an unavailable peer
  return { name, passed, failed, note: r.status !== 0 ? `exit ${r.status}; see reports/selftest/matrix.md` : undefined };
}

// C++ first: the vitest and pytest suites drive the C++ binaries too (CONCORD_REQUIRE_CPP makes their
// absence a failure rather than a skip).
if (existsSync(join(root, 'cpp-client', 'CMakeLists.txt'))) process.env.CONCORD_REQUIRE_CPP = '1';
for (const suite of [cpp, vitest, cppSanitized, python, perl, selftest]) {
  console.log(`\n== ${suite.title ?? suite.name}`);
  const r = suite();
  if (r) results.push(r);
}

console.log('\n== summary');
for (const r of results) {
  console.log(`${r.name}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ''}${r.note ? ` (${r.note})` : ''}`);
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
