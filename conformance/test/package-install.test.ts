/**
 * The package as a user gets it. `npm pack` runs in a copy of the source tree (its prepare script builds
 * dist/ there, never in this tree, whose dist/ other tests use), the tarball is installed into a fresh
 * project without the registry, and from that project `npx conformance --version`, a run against a broker
 * started from the same install (`npx concord broker --port 0`), a run of the repository's Python testee
 * (`--exec`) and of the shipped client (`--listen`) all exit 0: spec, fixtures and schemas come from the
 * package, fast-check and the other run-time dependencies from its `dependencies`.
 *
 * Offline install: the npm cache holds the tarballs `npm ci` fetched but no registry metadata, so
 * `npm install --offline ./concord.tgz` cannot resolve version ranges. The fresh project therefore gets a
 * lockfile made of this repository's lockfile entries for the run-time dependencies (the exact versions
 * the cache holds) plus the tarball, and the same `overrides`; `npm install --offline` then needs no
 * network at all. One pack and one install serve every run; expect about a minute on an idle machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTOCOL_VERSION } from '../../spec/generated/catalog.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string; version: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string>; overrides?: Record<string, string>;
};
const SETUP_MS = 600_000;
/** A run spawns npx, the harness and its peers: generous for a shared, loaded machine. */
const RUN_MS = 180_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** npm and npx as a fresh shell runs them: none of the npm_* variables of an enclosing `npm test`, never the registry. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
}

function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The source tree as a clean clone has it: tracked and new unignored files (no dist/, reports, builds). */
async function copySources(into: string): Promise<void> {
  const files = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root);
  if (files.code !== 0) throw new Error(`git ls-files failed: ${files.stderr}`);
  for (const file of files.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(root, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(into, file)), { recursive: true });
    cpSync(join(root, file), join(into, file));
  }
  // The build's compiler and types; npm pack never packs node_modules.
  symlinkSync(join(root, 'node_modules'), join(into, 'node_modules'));
}

/** A project that depends on the tarball only, locked to the versions this repository's lockfile (and the npm cache) holds. */
function writeConsumer(dir: string, tarball: string): void {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const resolved = `file:${tarball}`;
  const manifest = { name: 'concord-consumer', version: '1.0.0', private: true, dependencies: { [pkg.name]: resolved }, ...(pkg.overrides ? { overrides: pkg.overrides } : {}) };
  const packages: Record<string, unknown> = {
    '': manifest,
    [`node_modules/${pkg.name}`]: { version: pkg.version, resolved, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path !== '' && !entry.dev) packages[path] = entry;
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify({ name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}

/** Starts `npx concord broker --port 0` in its own process group; resolves with the port it logs. */
function startBroker(cwd: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((done, fail) => {
    const child = spawn('npx', ['concord', 'broker', '--port', '0', '--log-level', 'info'], { cwd, env: npmEnv(), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let log = '';
    child.stderr!.setEncoding('utf8').on('data', (t: string) => {
      log += t;
      const port = /"msg":"listening"[^\n]*"port":(\d+)/.exec(log)?.[1];
      if (port) done({ child, port: Number(port) });
    });
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`the broker exited (${code}) before listening: ${log}`)));
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'concord-package-'));
const project = join(scratch, 'project');
let packed: { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] };
let broker: ChildProcess | undefined;

beforeAll(async () => {
  const stage = join(scratch, 'source');
  await copySources(stage);
  const pack = await run('npm', ['pack', '--json', '--pack-destination', scratch], stage);
  if (pack.code !== 0) throw new Error(`npm pack failed (${pack.code}): ${pack.stderr}`);
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0]!;
  console.log(`packed ${packed.filename}: ${packed.entryCount} files, ${packed.size} bytes (${packed.unpackedSize} unpacked)`);
  mkdirSync(project);
  writeConsumer(project, join(scratch, packed.filename));
  const install = await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], project);
  if (install.code !== 0) throw new Error(`npm install --offline failed (${install.code}): ${install.stderr}`);
}, SETUP_MS);

afterAll(() => {
  if (broker?.pid !== undefined && broker.exitCode === null) process.kill(-broker.pid, 'SIGTERM');
  rmSync(scratch, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the built harness, the spec, fixtures and schemas, and no tests or C++ sources', () => {
    const paths = packed.files.map((f) => f.path);
    for (const needed of ['dist/conformance/cli.js', 'dist/reference/cli.js', 'dist/reference/testee/testee.js', 'spec/protocol.md', 'spec/limits.json',
      'spec/messages/system.json', 'fixtures/frames/valid.json', 'fixtures/fixture.schema.json', 'reports/report.schema.json', 'LICENSE', 'README.md', 'package.json']) {
      expect(paths, needed).toContain(needed);
    }
    expect(paths.filter((p) => /\.test\.|\/test\/|^cpp-client\/|^peers\/|\.map$|^node_modules\//.test(p) || (p.endsWith('.ts') && !p.endsWith('.d.ts')))).toEqual([]);
  });

  it('installed offline in a fresh project: conformance --version and concord --version print one line', async () => {
    for (const bin of ['conformance', 'concord']) {
      const r = await run('npx', [bin, '--version'], project);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${pkg.name} ${pkg.version} (protocol ${PROTOCOL_VERSION})\n`);
    }
  }, RUN_MS);

  it('--target: tests a broker started from the same install', async () => {
    const started = await startBroker(project);
    broker = started.child;
    // Framing and handshake cases, and a property case (fast-check at run time).
    const r = await run('npx', ['conformance', '--target', `127.0.0.1:${started.port}`, '--run', 'framing/**', '--run', 'handshake/pong-echoes-id/**',
      '--run', 'requests/prop-routed-payloads-arrive-equal/encoding:json', '--seed', '1', '--report-dir', join(scratch, 'reports'), '--junit', join(scratch, 'target.xml')], project);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('PASS (exit 0)');
    expect(readFileSync(join(scratch, 'target.xml'), 'utf8')).toContain('name="framing/');
  }, RUN_MS);

  it('--exec: tests the repository\'s Python testee by path', async () => {
    const r = await run('npx', ['conformance', '--exec', '--run', 'testee/echo/ping/**', '--run', 'testee/echo/reasoning-request/**', '--seed', '1',
      '--report-dir', join(scratch, 'reports'), '--', 'python3', join(root, 'peers/python/concord_testee.py')], project);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // passed, failed, timeout, skipped, errored: the CBOR cases are skipped where python3 lacks cbor2 (JSON only).
    const [passed, failed, timeout, , errored] = /total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(r.stdout)!.slice(1).map(Number);
    expect(passed).toBeGreaterThanOrEqual(3);
    expect([failed, timeout, errored]).toEqual([0, 0, 0]);
  }, RUN_MS);

  it('--listen: tests the shipped reference client, started per case', async () => {
    const r = await run('npx', ['conformance', '--listen', '0', '--run', 'handshake/client-first-frame-is-json-init', '--run', 'handshake/client-waits-for-init-ack',
      '--seed', '1', '--report-dir', join(scratch, 'reports'), '--', join(project, 'node_modules/.bin/concord'), 'client', '--port', '{port}'], project);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/total\s+2\s+0\s/);
  }, RUN_MS);
});
