/**
 * `conformance selftest`: runs the suites against every reference peer (the TypeScript broker,
 * and the TypeScript, C++, Python and Perl testees and clients), prints the comparison matrix
 * (peer x suite x passed / failed / skipped) and writes it as Markdown and HTML. The `core` column
 * is the core protocol suite in the form the peer's role takes: against a broker, the broker
 * suite; against a codec, the testee suite (spec section testee).
 */
import { existsSync, mkdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCommand, type RunCommandOptions } from './run-command.js';
import { repoFile } from '../reference/paths.js';
import type { CaseResult } from './runner.js';
import { casesOf } from './suites.js';
import { countStatements, requiredStatementsOf, type StatementCounts } from './report/summary.js';
import { formatFaultSpec, type FaultSpec } from './faults/profile.js';

export type Language = 'typescript' | 'cpp' | 'python' | 'perl';

export interface SuiteCounts {
  passed: number;
  failed: number;
  skipped: number;
  /** Required cases, and how many of them passed. */
  required: number;
  required_passed: number;
  exit_code: number;
  /** Required statements of the suite, and how many of them this peer's run checked. */
  statements?: StatementCounts;
  /** Why the suite could not run (the peer's program is missing). */
  unavailable?: string;
  /** The cases that failed, timed out or errored: `id: outcome: message` (the message cut to NOT_PASSING_TEXT). */
  not_passing?: string[];
}

/** Characters of a case's message kept in `not_passing`: enough to tell a timeout from a wrong answer. */
const NOT_PASSING_TEXT = 300;

export interface PeerRow {
  name: string;
  language: Language;
  suites: Record<string, SuiteCounts>;
}

interface PeerPlan {
  name: string;
  language: Language;
  /** suite name in the matrix -> how to run it */
  runs: Record<string, { suite: string; exec?: string[]; listen?: boolean; needs?: string; fifo?: boolean; minTimeoutMs?: number; faults?: boolean }>;
}

/**
 * The faults columns: the peer's `core`, `client` and (a broker's) `bus` columns again with --faults
 * at this fixed seed (the seed CI runs), so that every reference peer is shown to survive split,
 * coalesced, delayed and slowly read frames and mid-frame disconnects. `selftest --faults
 * SEED[:PROFILE]` runs every column under other faults.
 */
export const SELFTEST_FAULTS: FaultSpec = { seed: 7, profile: 'all' };

/**
 * The columns run again under SELFTEST_FAULTS: `faults` is `core`'s, `faults-client` and `faults-bus`
 * the client's and the broker's bus suite's, where the harness owns the byte stream and a run takes
 * seconds. Left out: a bus adapter's JSON command lines and the lines suite (one write per line is
 * their rule), FIFO columns (they time opens and delays) and engines (a process per case: the
 * slowest column, and the testee column already shows each codec under faults).
 */
function withFaultsColumns(plan: PeerPlan): PeerPlan {
  const runs = { ...plan.runs };
  const core = plan.runs['core'];
  if (core) runs['faults'] = { ...core, faults: true };
  const client = plan.runs['client'];
  if (client) runs['faults-client'] = { ...client, faults: true };
  const bus = plan.runs['bus'];
  if (bus && !bus.exec) runs['faults-bus'] = { ...bus, faults: true };
  return { ...plan, runs };
}

function repoPath(rel: string): string {
  return join(repoFile('package.json'), '..', rel);
}

/**
 * Reference peers; a command whose program file is missing makes that cell unavailable. Engine
 * peers start a process per case (Python imports numpy and draws 196,608 weights first), so their
 * runs wait at least ENGINE_TIMEOUT_MS per expected frame on a loaded machine.
 */
const ENGINE_TIMEOUT_MS = 10_000;

let pythonPath: string | undefined;

/**
 * The Python interpreter for the Python peers, resolved once to its executable: the first of `python3`
 * and Debian's `/usr/bin/python3` that has numpy and cbor2 (the peers' ndarrays and CBOR; a version
 * manager's python3 may lack Debian's packages), else `python3`'s. Resolving skips a version manager's
 * shim (pyenv), whose shell script cost more than the Python peers' own start in every case.
 */
function python3(): string {
  if (pythonPath === undefined) {
    const executable = (python: string, imports: string): string => {
      const r = spawnSync(python, ['-c', `import sys${imports}; print(sys.executable)`], { encoding: 'utf8' });
      const path = r.status === 0 ? r.stdout.trim() : '';
      return path !== '' && existsSync(path) ? path : '';
    };
    pythonPath = executable('python3', ', numpy, cbor2') || executable('/usr/bin/python3', ', numpy, cbor2') || executable('python3', '') || 'python3';
  }
  return pythonPath;
}

function plans(): PeerPlan[] {
  return basePlans().map(withFaultsColumns);
}

function basePlans(): PeerPlan[] {
  const node = process.execPath;
  const py = python3();
  const cli = existsSync(repoPath('dist/reference/cli.js')) ? [node, repoPath('dist/reference/cli.js')] : [node, '--import', 'tsx', repoPath('reference/cli.ts')];
  return [
    { name: 'reference-broker', language: 'typescript', runs: { core: { suite: 'core' }, bus: { suite: 'bus' }, fifo: { suite: 'fifo', fifo: true } } },
    { name: 'typescript', language: 'typescript', runs: {
      core: { suite: 'testee', exec: [...cli, 'testee'] },
      client: { suite: 'client', listen: true, exec: [...cli, 'client', '--port', '{port}'] },
      bus: { suite: 'bus', exec: [...cli, 'bus-adapter'] },
      fifo: { suite: 'testee', fifo: true, exec: [...cli, 'testee', '--fifo', '{fifo}'] },
      engine: { suite: 'engine', exec: [...cli, 'engine', 'serve', '--stdio'], minTimeoutMs: ENGINE_TIMEOUT_MS },
      instrument: { suite: 'instrument', exec: [...cli, 'instrument'] },
      'instrument-broker': { suite: 'instrument', exec: [...cli, 'instrument', '--broker', '{broker}'] },
    } },
    { name: 'cpp', language: 'cpp', runs: {
      core: { suite: 'testee', exec: [repoPath('cpp-client/build/concord-testee')], needs: 'cpp-client/build/concord-testee' },
      client: { suite: 'client', listen: true, exec: [repoPath('cpp-client/build/concord-client'), '--port', '{port}'], needs: 'cpp-client/build/concord-client' },
      engine: { suite: 'engine', exec: [repoPath('cpp-client/build/concord-engine'), '--stdio'], needs: 'cpp-client/build/concord-engine', minTimeoutMs: ENGINE_TIMEOUT_MS },
    } },
    { name: 'python', language: 'python', runs: {
      core: { suite: 'testee', exec: [py, repoPath('peers/python/concord_testee.py')], needs: 'peers/python/concord_testee.py' },
      client: { suite: 'client', listen: true, exec: [py, repoPath('peers/python/concord_client_cli.py'), '--port', '{port}'], needs: 'peers/python/concord_client_cli.py' },
      bus: { suite: 'bus', exec: [py, repoPath('peers/python/concord_bus_adapter.py')], needs: 'peers/python/concord_bus_adapter.py' },
      engine: { suite: 'engine', exec: [py, repoPath('peers/python/concord_engine'), '--stdio'], needs: 'peers/python/concord_engine/__main__.py', minTimeoutMs: ENGINE_TIMEOUT_MS },
      instrument: { suite: 'instrument', exec: [py, repoPath('peers/python/concord_instrument')], needs: 'peers/python/concord_instrument/__main__.py' },
      'instrument-broker': { suite: 'instrument', exec: [py, repoPath('peers/python/concord_instrument'), '--broker', '{broker}'], needs: 'peers/python/concord_instrument/__main__.py' },
    } },
    { name: 'perl', language: 'perl', runs: {
      core: { suite: 'testee', exec: ['perl', repoPath('peers/perl/concord_testee.pl')], needs: 'peers/perl/concord_testee.pl' },
      client: { suite: 'client', listen: true, exec: ['perl', repoPath('peers/perl/concord_client.pl'), '--port', '{port}'], needs: 'peers/perl/concord_client.pl' },
      fifo: { suite: 'testee', fifo: true, exec: ['perl', repoPath('peers/perl/concord_testee.pl'), '--fifo', '{fifo}'], needs: 'peers/perl/concord_testee.pl' },
    } },
  ];
}

function counts(results: CaseResult[], exitCode: number, suite: string): SuiteCounts {
  // A skipped case does not apply to this peer (it needs an optional feature the peer did not
  // declare, such as `cbor`), so it is outside the required count rather than a miss.
  const required = results.filter((r) => r.level === 'required' && r.outcome !== 'skipped');
  return {
    passed: results.filter((r) => r.outcome === 'pass').length,
    failed: results.filter((r) => r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored').length,
    skipped: results.filter((r) => r.outcome === 'skipped').length,
    required: required.length,
    required_passed: required.filter((r) => r.outcome === 'pass').length,
    exit_code: exitCode,
    statements: countStatements(results, requiredStatementsOf(casesOf([suite]))),
    ...notPassing(results),
  };
}

/** The cases of a cell that did not pass, named so that a red cell in CI says which case to replay. */
export function notPassing(results: CaseResult[]): Pick<SuiteCounts, 'not_passing'> {
  const bad = results.filter((r) => r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored');
  if (bad.length === 0) return {};
  return { not_passing: bad.map((r) => `${r.id}: ${r.outcome}${r.message ? `: ${r.message.replace(/\s+/g, ' ').slice(0, NOT_PASSING_TEXT)}` : ''}`) };
}

export interface SelftestOptions {
  seed: number;
  timeoutMs: number;
  reportDir: string;
  /** Only these peers (by name); all when empty. */
  peers?: string[];
  /** Only these columns (suite names of the matrix); all when empty. */
  columns?: string[];
  /** Not these columns (npm test runs the FIFO column apart from the others). */
  skipColumns?: string[];
  /** Cells run at a time, each in its own process (default CONCORD_SELFTEST_JOBS, else 1: in this process, one by one). */
  jobs?: number;
  /** --faults: every cell runs under these transport faults (the faults column under SELFTEST_FAULTS regardless). */
  faults?: FaultSpec;
  err?: (text: string) => void;
}

/** Every column of the matrix, over all peers (for --column and --skip-column). */
export function selftestColumns(): string[] {
  return [...new Set(plans().flatMap((p) => Object.keys(p.runs)))];
}

/** Columns whose cases time FIFO opens and delays: they run alone, after every other column. */
const TIMING_SENSITIVE = new Set(['fifo']);

/** One cell of the matrix: runs one suite against one peer. */
export async function runUnit(peerName: string, column: string, o: Pick<SelftestOptions, 'seed' | 'timeoutMs' | 'faults'>, scratch: string, err: (t: string) => void): Promise<SuiteCounts> {
  const plan = plans().find((p) => p.name === peerName);
  const run = plan?.runs[column];
  if (!plan || !run) throw new RangeError(`selftest: no column ${column} for peer ${peerName}`);
  if (run.needs && !existsSync(repoPath(run.needs))) {
    err(`selftest: ${plan.name} ${column}: unavailable (${run.needs} is missing)\n`);
    return { passed: 0, failed: 0, skipped: 0, required: 0, required_passed: 0, exit_code: 69, unavailable: `${run.needs} is missing` };
  }
  const faults = run.faults ? SELFTEST_FAULTS : o.faults;
  err(`selftest: ${plan.name} ${column} (suite ${run.suite}${faults ? `, faults ${formatFaultSpec(faults)}` : ''})\n`);
  const lines: string[] = [];
  const options: RunCommandOptions = {
    suites: [run.suite], run: [], skip: [], seed: o.seed, timeoutMs: Math.max(o.timeoutMs, run.minTimeoutMs ?? 0), failFast: false, strict: false, knownFailing: [],
    json: true, reportDir: scratch, out: (t) => lines.push(t), err: () => undefined,
    ...(run.exec ? { exec: run.exec } : {}), ...(run.listen ? { listen: 0 } : {}), ...(run.fifo ? { fifo: true } : {}), ...(faults ? { faults } : {}),
  };
  const code = await runCommand(options);
  const json = lines.find((l) => l.startsWith('{'));
  return json ? counts((JSON.parse(json) as { results: CaseResult[] }).results, code, run.suite) : { passed: 0, failed: 0, skipped: 0, required: 0, required_passed: 0, exit_code: code, unavailable: `exit ${code} without results` };
}

/** The worker that runs one cell in a process of its own (selftest-worker.ts), compiled or from source. */
function workerCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  return self.endsWith('.ts') ? [process.execPath, '--import', 'tsx', self.replace(/selftest\.ts$/, 'selftest-worker.ts')] : [process.execPath, self.replace(/selftest\.js$/, 'selftest-worker.js')];
}

/** Runs one cell in a child process; its progress lines pass through `err`. */
function runUnitInChild(peerName: string, column: string, o: Pick<SelftestOptions, 'seed' | 'timeoutMs' | 'faults'>, err: (t: string) => void): Promise<SuiteCounts> {
  const [cmd, ...args] = workerCommand();
  return new Promise((resolve) => {
    const child = spawn(cmd!, [...args, JSON.stringify({ peer: peerName, column, seed: o.seed, timeoutMs: o.timeoutMs, ...(o.faults ? { faults: o.faults } : {}) })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let tail = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      tail = (tail + text).slice(-2000);
      err(text);
    });
    const fail = (why: string): SuiteCounts => ({ passed: 0, failed: 1, skipped: 0, required: 0, required_passed: 0, exit_code: 70, unavailable: why });
    child.on('error', (e) => resolve(fail(`the selftest worker could not start: ${e.message}`)));
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out.slice(out.lastIndexOf('\n{') + 1)) as SuiteCounts);
      } catch {
        resolve(fail(`the selftest worker exited ${code} without a result: ${tail.slice(-500)}`));
      }
    });
  });
}

/**
 * Runs every cell. With `jobs` above 1 (CONCORD_SELFTEST_JOBS), that many cells run at a time, each
 * in a process of its own; the timing-sensitive columns (FIFO) then run one by one, with nothing
 * else running. The matrix is the same whichever way it ran.
 */
export async function runSelftest(o: SelftestOptions): Promise<PeerRow[]> {
  const err = o.err ?? ((t: string) => void process.stderr.write(t));
  const jobs = Math.max(1, Math.trunc(o.jobs ?? Number(process.env['CONCORD_SELFTEST_JOBS'] ?? 1)) || 1);
  const selected = plans().filter((p) => !o.peers?.length || o.peers.includes(p.name));
  const cells = new Map<string, SuiteCounts>();
  const key = (peer: string, column: string): string => `${peer}\u0000${column}`;
  const scratch = mkdtempSync(join(tmpdir(), 'concord-selftest-'));
  try {
    const all = selected.flatMap((p) => Object.keys(p.runs).filter((c) => (!o.columns?.length || o.columns.includes(c)) && !o.skipColumns?.includes(c)).map((column) => ({ peer: p.name, column })));
    const parallel = jobs > 1 ? all.filter((u) => !TIMING_SENSITIVE.has(u.column)) : [];
    const queue = [...parallel];
    // Each cell's wall time, on stderr: where the selftest's time goes (npm test lists the longest).
    const timed = async (u: { peer: string; column: string }, body: () => Promise<SuiteCounts>): Promise<void> => {
      const t0 = Date.now();
      cells.set(key(u.peer, u.column), await body());
      err(`selftest: ${u.peer} ${u.column} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    };
    await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      for (let u = queue.shift(); u !== undefined; u = queue.shift()) await timed(u, () => runUnitInChild(u.peer, u.column, o, err));
    }));
    for (const u of all) if (!cells.has(key(u.peer, u.column))) await timed(u, () => runUnit(u.peer, u.column, o, scratch, err));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const rows: PeerRow[] = selected.map((p) => ({ name: p.name, language: p.language, suites: Object.fromEntries(Object.keys(p.runs).filter((c) => cells.has(key(p.name, c))).map((c) => [c, cells.get(key(p.name, c))!])) }));
  writeMatrix(o.reportDir, rows, o.seed);
  return rows;
}

function cell(c: SuiteCounts | undefined): string {
  if (!c) return '-';
  if (c.unavailable) return `unavailable (${c.unavailable})`;
  const statements = c.statements ? `; statements ${c.statements.checked}/${c.statements.required} checked` : '';
  return `${c.passed} passed / ${c.failed} failed / ${c.skipped} skipped (required ${c.required_passed}/${c.required}${statements})`;
}

/** What `selftest --json` prints: each cell's counts and the cases that did not pass (.ci's summary names them). */
export function selftestJson(rows: PeerRow[], seed: number): { seed: number; peers: { name: string; language: Language; suites: Record<string, Pick<SuiteCounts, 'passed' | 'failed' | 'skipped' | 'not_passing'>> }[] } {
  return {
    seed,
    peers: rows.map((r) => ({
      name: r.name, language: r.language,
      suites: Object.fromEntries(Object.entries(r.suites).map(([k, c]) => [k, { passed: c.passed, failed: c.failed, skipped: c.skipped, ...(c.not_passing ? { not_passing: c.not_passing } : {}) }])),
    })),
  };
}

export function matrixMarkdown(rows: PeerRow[], seed: number): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r.suites)))];
  return [`# Concord selftest`, '', `Seed ${seed}; columns \`faults\`, \`faults-client\` and \`faults-bus\` are columns \`core\`, \`client\` and \`bus\` (a broker's) under \`--faults ${formatFaultSpec(SELFTEST_FAULTS)}\`. \`statements N/M checked\`: of the M required statements the suite's cases name, N had a case that ran against the peer (not skipped). \`core\` is the broker suite for a broker and the testee suite for a codec; \`bus\` the bus suite, over the wire for the broker and through a bus adapter for a language.`, '',
    `| peer | language | ${columns.join(' | ')} |`, `|---|---|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.name} | ${r.language} | ${columns.map((c) => cell(r.suites[c])).join(' | ')} |`), '',
    ...notPassingSection(rows)].join('\n');
}

/** Under the table (markdown and HTML): each cell's cases that did not pass, with the seed above to replay them. */
function notPassingSection(rows: PeerRow[]): string[] {
  const lines = notPassingLines(rows);
  return lines.length === 0 ? [] : ['## Not passing', '', ...lines.map((l) => `- ${l}`), ''];
}

/** `peer > column: id: outcome: message`, for every case of the matrix that did not pass. */
function notPassingLines(rows: PeerRow[]): string[] {
  return rows.flatMap((r) => Object.entries(r.suites).flatMap(([column, c]) => (c.not_passing ?? []).map((line) => `${r.name} > ${column}: ${line}`)));
}

export function matrixHtml(rows: PeerRow[], seed: number): string {
  const esc = (s: string): string => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r.suites)))];
  const td = (c: SuiteCounts | undefined): string => {
    const ok = c && !c.unavailable && c.required_passed === c.required && c.failed === 0;
    return `<td class="${ok ? 'ok' : 'bad'}">${esc(cell(c))}</td>`;
  };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Concord selftest</title><style>
body{font:14px system-ui,sans-serif;max-width:1100px;margin:1rem auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}
.ok{background:#e8f5e9}.bad{background:#fdecea;font-weight:600}</style></head><body><h1>Concord selftest</h1>
<p>Seed ${seed}; columns <code>faults</code>, <code>faults-client</code> and <code>faults-bus</code> are columns <code>core</code>, <code>client</code> and <code>bus</code> (a broker's) under <code>--faults ${formatFaultSpec(SELFTEST_FAULTS)}</code>. <code>core</code> is the broker suite for a broker and the testee suite for a codec; <code>bus</code> the bus suite, over the wire for the broker and through a bus adapter for a language.</p>
<table id="matrix"><tr><th>peer</th><th>language</th>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>
${rows.map((r) => `<tr><td>${esc(r.name)}</td><td>${r.language}</td>${columns.map((c) => td(r.suites[c])).join('')}</tr>`).join('\n')}</table>
${notPassingLines(rows).length === 0 ? '' : `<h2>Not passing</h2><ul>${notPassingLines(rows).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`}</body></html>
`;
}

function writeMatrix(root: string, rows: PeerRow[], seed: number): void {
  const dir = join(root, 'selftest');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'matrix.md'), matrixMarkdown(rows, seed));
  writeFileSync(join(dir, 'matrix.html'), matrixHtml(rows, seed));
  writeFileSync(join(dir, 'matrix.json'), `${JSON.stringify({ seed, peers: rows }, null, 2)}\n`);
}

/** Every cell available with every required case passed and no failure. */
export function selftestPassed(rows: PeerRow[]): boolean {
  return rows.every((r) => Object.values(r.suites).every((c) => !c.unavailable && c.failed === 0 && c.required_passed === c.required));
}
