/**
 * The harness from code: run a suite against a peer and get typed results, without printing anything
 * or ending the process. The `conformance` command runs the same function (`runCommand`) and prints
 * what it returns.
 *
 * @example
 * ```ts
 * import { runSuite } from 'concord/harness';
 * const run = await runSuite({ target: '127.0.0.1:9999', run: ['handshake/**'] });
 * for (const c of run.cases.filter((x) => x.outcome === 'fail')) console.log(c.id, c.statements, c.message);
 * if (!run.passed) process.exitCode = run.exitCode;
 * ```
 * @packageDocumentation
 * @module harness
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Level } from '../spec/generated/catalog.js';
import { runCommand, HARNESS_VERSION, type FinishedRun, type RunCommandOptions } from './run-command.js';
import { selectCases, type CaseResult, type Outcome } from './runner.js';
import type { WireEntry } from './wire/connection.js';
import { casesOf, SUITES } from './suites.js';
import { parseTarget, TargetError } from './target.js';
import { DEFAULT_START_TIMEOUT_MS } from './cases/context.js';
import type { LimitName } from './limits.js';
import type { LinesPeerOptions, LinesRole } from './wire/lines.js';
import type { ClusterDriver } from './wire/cluster-driver.js';

export { PROTOCOL_VERSION } from '../spec/generated/catalog.js';
export type { CaseFaultReport } from './runner.js';
export type { ConnectionSchedule, FaultStep } from './faults/schedule.js';
export type { ClusterDriver } from './wire/cluster-driver.js';
export { HARNESS_VERSION, TargetError, type Outcome, type CaseResult, type WireEntry, type Level, type LimitName, type LinesRole, type LinesPeerOptions };

/**
 * Which peer to test and how. Give at most one of `target`, `exec` (alone), `listen` and
 * `brokerCommand`; with none of them the reference broker is started in process and tested.
 */
export interface RunSuiteOptions {
  /**
   * A broker to test: `host:port`, `[v6]:port`, `unix:PATH` or `fifo:DIR`; with `exec`, `fifo:DIR`
   * gives the started peer a FIFO pair as `{fifo}`; `lines:REQUEST_PIPE,REPLY_PIPE` (with `role` and
   * `exec`) plays the other side of a legacy line pipe peer.
   */
  target?: string;
  /** A peer to start, command and arguments: the testee (or engine, instrument) speaking frames on its stdio; with `listen`, the client to start for each case (`{port}` is replaced). */
  exec?: string[];
  /** Play the broker on 127.0.0.1 at this port (0: any free port) for a client under test. Without `exec`, a client of your own must connect (and reconnect after each case). */
  listen?: number;
  /** Without a target: the reference broker (or the `exec` peer) over FIFO pairs in a fresh private directory. */
  fifo?: boolean;
  /** Suite `broker-process`: the broker command the harness starts in each case (`{unix}`, `{port}`, `{host}` replaced). */
  brokerCommand?: string[];
  /**
   * Suite `cluster-process` without a command: what starts each case's NATS server and brokers and
   * kills them (for brokers in this process). With `brokerCommand` instead, the harness starts
   * `nats-server` and the command itself.
   */
  clusterDriver?: () => Promise<ClusterDriver>;
  /** With a `lines:` target: the role of the peer under test. */
  role?: LinesRole;
  /** With a `lines:` target: the per-phase timeout in whole seconds (default 2). */
  linesTimeoutS?: number;
  /** With a `lines:` target: how an existing line peer differs from the test pair. */
  linesPeer?: LinesPeerOptions;
  /** Suites to run (see {@link SUITE_NAMES}); default `core`, `testee` with `exec`, `client` with `listen`, `lines` with a `lines:` target. */
  suites?: string[];
  /** Run only cases matching one of these patterns (`*` one id part, `**` several, or an id prefix). */
  run?: string[];
  /** Skip cases matching one of these patterns. */
  skip?: string[];
  /** Seed of the generated cases (default: a random one, returned in {@link SuiteRun.seed}). */
  seed?: number;
  /** How long to wait for each expected frame, in ms (default 2000). */
  timeoutMs?: number;
  /** How long a started peer may take to send its first frame, in ms (default 15000). */
  startTimeoutMs?: number;
  /** The token the peer requires at INIT. */
  token?: string;
  /** Limits of spec/limits.json the peer runs with where it does not announce them. */
  limits?: Partial<Record<LimitName, number>>;
  /** Patterns of cases expected to fail: they do not fail the run, and passing fails it. */
  knownFailing?: string[];
  /** Stop at the first unexpected failure. */
  failFast?: boolean;
  /** Recommended (SHOULD) cases count like required ones for {@link SuiteRun.exitCode}. */
  strict?: boolean;
  /** Write the report (HTML, JSON, JUnit) under this directory; by default none is kept. */
  reportDir?: string;
  /** Progress and diagnostics, one line at a time (by default they are dropped). */
  onLog?: (line: string) => void;
  /** Makes a broker you control shut down gracefully, for the broker shutdown case (otherwise skipped). */
  shutdownPeer?: () => void;
}

/** The result of one case: a report's record without its wire log. */
export type CaseOutcome = Omit<CaseResult, 'wire'>;

/** How many cases ended in each outcome. */
export interface Totals {
  total: number;
  pass: number;
  fail: number;
  timeout: number;
  skipped: number;
  errored: number;
}

/** What a run ended with. */
export interface SuiteRun {
  /** The exit code the `conformance` command would end with: 0 pass, 1 unexpected failure or pass, 2 inconclusive, 69 peer unavailable, 70 harness error. */
  exitCode: number;
  /** `exitCode` is 0. */
  passed: boolean;
  /** Why the run stopped early (the peer could not be reached or started, an internal error), if it did. */
  stopped?: string;
  /** The seed the generated cases used: pass it back to replay them. */
  seed: number;
  suites: string[];
  /** The peer tested: its target, and what its INIT or INIT_ACK said of it (name, language, version, features). */
  peer: Record<string, unknown>;
  cases: CaseOutcome[];
  totals: Totals;
  /** The report written, with `reportDir` only. */
  reportDir?: string;
}

/** A case as listed, before it runs. */
export interface CaseInfo {
  id: string;
  section: string;
  level: Level;
  statements: string[];
  requirement: string;
}

/** A run that cannot start as asked: an unknown suite, a selection that matches no case, options that exclude each other. */
export class HarnessUsageError extends Error {
  override name = 'HarnessUsageError';
}

/** The names of the suites, for {@link RunSuiteOptions.suites}. */
export const SUITE_NAMES: readonly string[] = Object.keys(SUITES);

/** The cases of the given suites that a selection picks, in the order they run. */
export function listCases(suites: string[] = ['core'], run: string[] = [], skip: string[] = []): CaseInfo[] {
  let all;
  try {
    all = casesOf(suites);
  } catch (e) {
    throw new HarnessUsageError((e as Error).message);
  }
  return selectCases(all, run, skip).map((c) => ({ id: c.id, section: c.section, level: c.level, statements: [...c.statements], requirement: c.requirement }));
}

function defaultSuite(o: RunSuiteOptions): string {
  if (o.target?.startsWith('lines:')) return 'lines';
  if (o.listen !== undefined) return 'client';
  if (o.exec !== undefined) return 'testee';
  return 'core';
}

function check(o: RunSuiteOptions, suites: string[]): void {
  if (o.listen !== undefined && (!Number.isInteger(o.listen) || o.listen < 0 || o.listen > 65535)) throw new HarnessUsageError('listen takes a port number (0 for any free port)');
  if (o.listen !== undefined && o.target !== undefined) throw new HarnessUsageError('listen and target exclude each other');
  if (o.exec !== undefined && o.exec.length === 0) throw new HarnessUsageError('exec needs a command');
  if (o.brokerCommand !== undefined && (o.target !== undefined || o.exec !== undefined || o.listen !== undefined)) throw new HarnessUsageError('brokerCommand excludes target, exec and listen');
  if (o.clusterDriver !== undefined && (o.brokerCommand !== undefined || o.target !== undefined || o.exec !== undefined || o.listen !== undefined)) throw new HarnessUsageError('clusterDriver excludes brokerCommand, target, exec and listen');
  if (o.target !== undefined && !o.target.startsWith('lines:')) {
    parseTarget(o.target);
    if (o.exec !== undefined && !o.target.startsWith('fifo:')) throw new HarnessUsageError('exec takes no target other than fifo:DIR');
  }
  if (listCases(suites, o.run, o.skip).length === 0) throw new HarnessUsageError('no case matches the selection');
}

/** Only one run at a time: the runner charges stray errors of the process to the case in progress. */
let running = false;

/**
 * Runs suites against a peer and returns each case's outcome. Nothing is printed and the process is
 * not ended; the peer processes the run started are stopped before it returns. One run at a time per
 * process: while it runs, an uncaught exception or unhandled rejection anywhere in the process is
 * charged to the case in progress (that is how a peer's late fault reaches its case).
 *
 * @throws {@link HarnessUsageError} when the options cannot make a run (nothing has started then).
 * @throws {@link TargetError} when `target` is not an address (or a `lines:` target lacks `role` or `exec`).
 */
export async function runSuite(options: RunSuiteOptions = {}): Promise<SuiteRun> {
  const suites = options.suites ?? [defaultSuite(options)];
  check(options, suites);
  if (running) throw new HarnessUsageError('a run is in progress in this process: wait for it');
  running = true;
  const scratch = options.reportDir === undefined ? mkdtempSync(join(tmpdir(), 'concord-api-')) : undefined;
  const seed = options.seed ?? ((Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0);
  let finished: FinishedRun | undefined;
  const log: string[] = [];
  const onLog = (text: string): void => {
    for (const line of text.split('\n')) {
      const clean = line.replace(/\r?\x1b\[K/g, '').replace(/\r/g, '');
      if (!clean) continue;
      log.push(clean);
      options.onLog?.(clean);
    }
  };
  try {
    const o: RunCommandOptions = {
      target: options.target, exec: options.brokerCommand ? undefined : options.exec, listen: options.listen, fifo: options.fifo,
      ...(options.brokerCommand ? { brokerCommand: options.brokerCommand } : {}),
      ...(options.clusterDriver ? { clusterDriver: options.clusterDriver } : {}),
      ...(options.role ? { role: options.role, linesTimeoutS: options.linesTimeoutS ?? 2, linesPeer: options.linesPeer } : {}),
      token: options.token, limits: options.limits, suites, run: options.run ?? [], skip: options.skip ?? [], seed,
      timeoutMs: options.timeoutMs ?? 2000, startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      failFast: options.failFast ?? false, strict: options.strict ?? false, knownFailing: options.knownFailing ?? [],
      ...(options.shutdownPeer ? { shutdownPeer: options.shutdownPeer } : {}),
      json: true, reportDir: options.reportDir ?? scratch!, err: onLog, out: () => undefined,
      onFinish: (run) => (finished = run),
    };
    const code = await runCommand(o);
    if (!finished) throw new HarnessUsageError(log.at(-1)?.replace(/^conformance: /, '') ?? `the run ended with exit code ${code} before its cases`);
    const cases = finished.results.map(({ wire: _wire, ...r }): CaseOutcome => r);
    return {
      exitCode: finished.exitCode, passed: finished.exitCode === 0, ...(finished.stopped !== undefined ? { stopped: finished.stopped } : {}),
      seed, suites, peer: finished.peer, cases, totals: totalsOf(cases), ...(scratch === undefined ? { reportDir: finished.report } : {}),
    };
  } finally {
    running = false;
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  }
}

/** Counts the outcomes of a run's cases. */
export function totalsOf(cases: readonly Pick<CaseOutcome, 'outcome'>[]): Totals {
  const t: Totals = { total: cases.length, pass: 0, fail: 0, timeout: 0, skipped: 0, errored: 0 };
  for (const c of cases) t[c.outcome]++;
  return t;
}
