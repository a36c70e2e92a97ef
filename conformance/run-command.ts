/**
 * `conformance [--target ...]`: runs the selected suites against a peer (or, with no target, against
 * the reference broker started in process), prints progress on stderr and a summary table, writes
 * reports/<peer>/<timestamp>/ and returns the exit code.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PROTOCOL_VERSION } from '../spec/generated/catalog.js';
import { casesOf } from './suites.js';
import { runCases, selectCases, exitCodeOf, isPeerGone, type CaseResult } from './runner.js';
import { writeReport, type ReportedCase } from './report/write.js';
import { summaryTable } from './report/summary.js';
import { repoFile } from '../reference/paths.js';
import { ConnectError } from './wire/connection.js';
import { commandName, commandOf, ExecPeer, type PeerTarget } from './wire/peer-target.js';
import type { ClusterDriver } from './wire/cluster-driver.js';
import type { BrokerLauncher } from './wire/broker-launch.js';
import { ListenError, runPeerOf, type RunPeer } from './run-peer.js';
import { PeerStartError, startFailureSince, startedCount, stopStartedSince, unstartable } from './wire/peer-process.js';
import { TesteePool } from './wire/testee-pool.js';
import { registerSecret, redactText } from './report/redact.js';
import { printable } from './report/escape.js';
import { replayCommand, DEFAULT_REPLAY_CONTEXT, type ReplayContext } from './report/replay-command.js';
import { failureLine, failureList } from './report/terminal.js';
import { CaseContext, DEFAULT_START_TIMEOUT_MS } from './cases/context.js';
import { probeBusAdapter } from './bus/probe.js';
import type { LinesRole, LinesPeerOptions } from './wire/lines.js';
import type { LimitName } from './limits.js';
import type { Case } from './cases/model.js';
import type { ScriptRecorder } from './replay/script.js';
import { writeBundles, type BundlePeer, type RecordedCase } from './replay/bundle.js';
import { formatFaultSpec, type FaultSpec } from './faults/profile.js';
import type { FaultSchedule } from './faults/schedule.js';

export interface RunCommandOptions {
  target?: string;
  /** A peer to start, speaking frames on stdio: command and arguments (testee profile); with `listen`, the client to start per case. */
  exec?: string[];
  /** Listen mode: the port clients under test connect to (0 = any free port). */
  listen?: number;
  /** Without a target: FIFO pairs in a fresh private directory (the embedded broker's --fifo-dir, or the exec peer's {fifo}). */
  fifo?: boolean;
  /** With a `lines:` target: the role of the peer under test and its per-phase timeout in seconds. */
  role?: LinesRole;
  linesTimeoutS?: number;
  /** With a `lines:` target: how an existing peer differs from the test pair (--one-shot, --reply-pattern, --output-pattern). */
  linesPeer?: LinesPeerOptions;
  /** Suite broker-process: the broker command the harness starts in each case ({unix}, {port}, {host} replaced). */
  brokerCommand?: string[];
  /** With brokerCommand: what starts each case's broker from the filled command line, instead of a process (a broker in this process, for the mutation tests). */
  brokerLauncher?: BrokerLauncher;
  /** Suite cluster-process without a command: what starts each case's NATS server and brokers (brokers in this process, for the mutation tests). */
  clusterDriver?: () => Promise<ClusterDriver>;
  token?: string;
  /** Makes the target shut down gracefully (HS-17), for a harness that controls it (tests); the embedded broker has its own. */
  shutdownPeer?: () => void;
  /** --limit values: what the peer runs with where it does not announce it (the embedded broker runs them). */
  limits?: Partial<Record<LimitName, number>>;
  suites: string[];
  run: string[];
  skip: string[];
  seed: number;
  /** --faults SEED[:PROFILE]: the harness's side of every connection perturbed (conformance/faults/). */
  faults?: FaultSpec;
  /** A replay's recorded fault schedule (conformance replay). */
  faultSchedule?: FaultSchedule;
  timeoutMs: number;
  /** How long a started peer process may take to send its first frame (--start-timeout). */
  startTimeoutMs?: number;
  failFast: boolean;
  strict: boolean;
  knownFailing: string[];
  json: boolean;
  reportDir: string;
  /** How the harness was started, for the replay commands of failures (default: `npx conformance`). */
  replay?: ReplayContext;
  /** --junit PATH: the report's junit.xml is copied there too (CI systems expect a fixed path). */
  junit?: string;
  /** Where progress and diagnostics go (default: standard error). */
  err?: (text: string) => void;
  /** Where the summary goes (default: standard output). */
  out?: (text: string) => void;
  /** The cases to run instead of the suites' (`conformance replay`: the bundle's case); --run and --skip still apply. */
  cases?: Case[];
  /** The command that runs these cases again, when it is not the run's own command line (`conformance replay BUNDLE ...`). */
  replayLine?: string;
  /** Told the run's outcome once its report is written (the programmatic API, conformance/api.ts, builds on it). */
  onFinish?: (run: FinishedRun) => void;
}

/** What a run that got as far as its report ended with. */
export interface FinishedRun {
  exitCode: number;
  /** The report directory written. */
  report: string;
  /** The peer as the report describes it (target; name, language, version from its INIT or INIT_ACK). */
  peer: Record<string, unknown>;
  /** Why the run stopped before or during its cases, if it did. */
  stopped?: string;
  results: CaseResult[];
}

/** The harness version, from package.json. */
export const HARNESS_VERSION = (JSON.parse(readFileSync(repoFile('package.json'), 'utf8')) as { version: string }).version;

/** Copies the report's JUnit file to the path --junit names (its directory created when missing). */
function copyJunit(reportDir: string, path: string | undefined): void {
  if (path === undefined) return;
  mkdirSync(dirname(resolve(path)), { recursive: true });
  copyFileSync(join(reportDir, 'junit.xml'), path);
}

/** Reads a known-failures file: one pattern per line, `#` starts a comment. */
export function readKnownFailing(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

/**
 * The peer's hello before the cases: a client's INIT, a testee's INIT, a bus adapter's hello, or a broker's INIT_ACK.
 * With a testee pool, the probed process serves the first case: started with the run's seed, as a case's would be.
 */
async function probe(target: PeerTarget, timeoutMs: number, token: string | undefined, suites: string[], startTimeoutMs?: number, testees?: { pool: TesteePool; seed: number }): Promise<Record<string, unknown>> {
  const command = commandOf(target);
  if (command && suites.length > 0 && suites.every((s) => s === 'bus')) return probeBusAdapter([...command], Math.max(startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, timeoutMs));
  const ctx = new CaseContext({ target, timeoutMs, startTimeoutMs, seed: testees?.seed ?? 0, token, runId: `probe${Date.now().toString(36)}`, ...(testees ? { testees: testees.pool } : {}) });
  let handOn = false;
  try {
    if (target.kind === 'listen') return (await ctx.client({ label: 'probe' })).init.payload as Record<string, unknown>;
    if (command) {
      const { init } = await ctx.testee('probe');
      handOn = true;
      return init;
    }
    return (await ctx.session('probe')).ack;
  } finally {
    ctx.close(handOn);
  }
}

/**
 * For suites that start their own peer in every case (instrument over stdio): starts the command once
 * and waits for its first frame, so that a command that cannot start is told at once.
 */
async function probeStart(command: readonly string[], startTimeoutMs: number): Promise<void> {
  if (command.some((a) => a.includes('{'))) return; // needs placeholders only a case fills in
  const conn = await new ExecPeer(command).open('start probe', startTimeoutMs);
  try {
    await conn.next(startTimeoutMs);
  } finally {
    conn.destroy();
  }
}

/** The peer of a run as a bundle records it: a replay without a peer option reaches the same one. */
function bundlePeer(o: RunCommandOptions, description: string): BundlePeer {
  const base = { description, suites: o.suites };
  if (o.brokerCommand !== undefined) return { ...base, kind: 'exec', target: 'broker-process', command: o.brokerCommand };
  // A cluster a driver of the caller's owns has no command line a replay could start again.
  if (o.clusterDriver !== undefined) return { ...base, kind: 'embedded' };
  if (o.listen !== undefined) return { ...base, kind: 'listen', ...(o.exec ? { command: o.exec } : {}) };
  if (o.exec !== undefined) return { ...base, kind: 'exec', command: o.exec, ...(o.target !== undefined ? { target: o.target } : {}) };
  if (o.target !== undefined) return { ...base, kind: 'target', target: o.target };
  return { ...base, kind: 'embedded' };
}

/** Everything the harness prints passes through here: peer-controlled text cannot drive the terminal, the token never shows. */
function safe(text: string): string {
  return printable(redactText(text));
}

export async function runCommand(o: RunCommandOptions): Promise<number> {
  const rawErr = o.err ?? ((t: string) => void process.stderr.write(t));
  const rawOut = o.out ?? ((t: string) => void process.stdout.write(t));
  const err = (t: string): void => rawErr(safe(t));
  const out = (t: string): void => rawOut(safe(t));
  registerSecret(o.token);
  // From the options as given: the embedded broker's own token and FIFO directory are not the user's.
  const given = o;
  const replayOf = (id?: string): string => given.replayLine ?? replayCommand(given, given.replay ?? DEFAULT_REPLAY_CONTEXT, id);
  const withReplay = (ran: CaseResult[]): ReportedCase[] => ran.map((r) => (r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored' ? { ...r, replay: replayOf(r.id) } : r));
  const started = new Date().toISOString();
  const mark = startedCount();
  const recorded: RecordedCase[] = [];
  /** Each failing case's replay bundle, next to the report in `dir` (a run that cannot write them still has its report). */
  const bundles = (dir: string, description: string): void => {
    try {
      writeBundles(dir, { harnessVersion: HARNESS_VERSION, protocolVersion: PROTOCOL_VERSION, seed: o.seed, peer: bundlePeer(given, description), timeoutMs: o.timeoutMs,
        ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}), ...(given.limits ? { limits: given.limits } : {}) }, recorded);
    } catch (e) {
      err(`conformance: cannot write the replay bundles: ${(e as Error).message}\n`);
    }
  };
  /** The report of a run stopped before its cases (or during them): always written. */
  const stopped = (peerName: string, target: string, reason: string, code: number, ran: CaseResult[] = []): number => {
    err(`conformance: ${reason}\n`);
    const results = withReplay(ran);
    const dir = writeReport(o.reportDir, peerName, {
      peer: { target, stopped: redactText(reason) }, harness_version: HARNESS_VERSION, protocol_version: PROTOCOL_VERSION, seed: o.seed, ...(o.faults ? { faults: o.faults } : {}), started,
      finished: new Date().toISOString(), suites: o.suites, exit_code: code, replay: replayOf(),
    }, results);
    bundles(dir, target);
    try {
      copyJunit(dir, o.junit);
    } catch (e) {
      err(`conformance: cannot write --junit ${o.junit}: ${(e as Error).message}\n`);
    }
    o.onFinish?.({ exitCode: code, report: dir, peer: { target }, stopped: redactText(reason), results });
    if (o.json) out(`${JSON.stringify({ exit_code: code, report: dir, stopped: reason, results: results.map(({ wire: _w, ...r }) => r) }, null, 2)}\n`);
    else out(`report: ${join(dir, 'index.html')}\nFAIL (exit ${code})\n`);
    return code;
  };
  const cannot = o.exec ? unstartable(o.exec) : undefined;
  if (o.exec && cannot !== undefined) {
    const name = o.listen !== undefined ? `client-${commandName(o.exec)}` : `exec-${commandName(o.exec)}`;
    return stopped(name, `exec: ${o.exec.join(' ')}`, new PeerStartError(o.exec, `not started: ${cannot}`, '').message, 69);
  }
  // `--suite fifo` without a target tests the embedded broker over FIFO pairs.
  if (o.fifo === undefined && o.target === undefined && o.exec === undefined && o.listen === undefined && o.suites.includes('fifo')) o = { ...o, fifo: true };
  let peer: RunPeer;
  try {
    peer = await runPeerOf(o, err);
  } catch (e) {
    if (e instanceof ListenError) return stopped(e.peerName, e.target, e.message, 69);
    throw e;
  }
  const { target, limits } = peer;
  const stop = peer.stop;
  const peerName = target.name();
  const shutdownPeer = target.kind === 'embedded' ? target.shutdown : o.shutdownPeer;
  const token = peer.token;
  const describeTarget = (): string => target.describe();
  let results: CaseResult[] = [];
  // The testee suite hands a testee process from case to case where it may (testee-pool.ts).
  const command = commandOf(target);
  const testees = command && o.suites.includes('testee') ? new TesteePool(o.timeoutMs) : undefined;
  try {
    let ack: Record<string, unknown> = {};
    try {
      // A lines peer has no handshake; the instrument suite starts (and handshakes) its own worker in every case.
      const ownStart = target.kind === 'lines' || target.kind === 'broker-process' || target.kind === 'owned-cluster' || (command && o.suites.every((s) => s === 'instrument'));
      if (!ownStart) ack = await probe(target, o.timeoutMs, token, o.suites, o.startTimeoutMs, testees && { pool: testees, seed: o.seed });
      else if (command) await probeStart(command, Math.max(o.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS, o.timeoutMs));
    } catch (e) {
      if (e instanceof PeerStartError) return stopped(peerName, describeTarget(), e.message, 69);
      const startFailure = await startFailureSince(mark, 500);
      if (startFailure) return stopped(peerName, describeTarget(), startFailure.message, 69);
      if (e instanceof ConnectError) return stopped(peerName, describeTarget(), `the peer at ${describeTarget()} is unavailable: ${e.message}`, 69);
      // It accepts connections but does not complete a handshake: every case will say what it breaks.
      err(`conformance: the peer at ${describeTarget()} did not complete a handshake (${(e as Error).message}); running the cases anyway\n`);
    }
    // A peer process that ended (or never started) during the probe cannot be tested: say why, at once.
    const startFailure = await startFailureSince(mark, 500);
    if (startFailure) return stopped(peerName, describeTarget(), startFailure.message, 69);
    const cases = selectCases(o.cases ?? casesOf(o.suites), o.run, o.skip);
    if (cases.length === 0) {
      err('conformance: no case matches the selection\n');
      return 64;
    }
    const faults = o.faults ? `, faults ${formatFaultSpec(o.faults)}` : '';
    err(`conformance: ${cases.length} cases, seed ${o.seed}${faults} (replay with --seed ${o.seed}${o.faults ? ` --faults ${formatFaultSpec(o.faults)}` : ''})\n`);
    const tty = o.err === undefined && process.stderr.isTTY;
    // A heartbeat case waits for four heartbeats, a drain case for the drain: the case limit grows with them.
    const heartbeatMs = typeof ack['heartbeat_ms'] === 'number' ? ack['heartbeat_ms'] : limits.heartbeat_ms;
    const caseTimeoutMs = Math.max(o.timeoutMs * 20, 30_000, 6 * heartbeatMs + 4 * o.timeoutMs, 2 * limits.shutdown_drain_ms + 4 * o.timeoutMs, 2 * limits.handshake_timeout_ms + 4 * o.timeoutMs);
    let aborted: PeerStartError | undefined;
    // An error outside any case, thrown in this process (the harness, or a broker it runs in process), is
    // the harness's fault: the run goes on, but its verdict cannot be trusted (exit 70). A peer going away
    // while no case reads from it is only logged: the case that next uses the peer sees it.
    const strays: unknown[] = [];
    const onStray = (e: unknown): void => {
      const text = (e as Error)?.stack ?? String(e);
      if (isPeerGone(e)) return err(`conformance: the peer went away outside any case (the next case that uses it sees it): ${text}\n`);
      strays.push(e);
      err(`conformance: harness fault, an error outside any case: ${text}\n`);
    };
    results = await runCases(cases, {
      target, timeoutMs: o.timeoutMs, startTimeoutMs: o.startTimeoutMs, caseTimeoutMs, seed: o.seed, token, limits, ...(shutdownPeer ? { shutdownPeer } : {}), ...(testees ? { testees } : {}),
      failFast: o.failFast, knownFailing: o.knownFailing, ...(o.faults ? { faults: o.faults } : {}), ...(o.faultSchedule ? { faultSchedule: o.faultSchedule } : {}),
      onAbort: (e) => (aborted = e),
      onRecorded: (result: CaseResult, recorder: ScriptRecorder) => { if (result.outcome !== 'pass' && result.outcome !== 'skipped') recorded.push({ result, recorder }); },
      onStray,
      onProgress: (i, n, c, r) => {
        if (!r) {
          if (tty) rawErr(`\r\x1b[K${safe(`[${i + 1}/${n}] ${c.id}`)}`);
          return;
        }
        if (r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored') {
          rawErr(`${tty ? '\r\x1b[K' : ''}${safe(failureLine({ ...r, replay: replayOf(r.id) }))}`);
        } else if (!tty && (i + 1) % 25 === 0) {
          err(`[${i + 1}/${n}]\n`);
        }
      },
    });
    if (tty) rawErr('\r\x1b[K');
    if (aborted) return stopped(peerName, describeTarget(), aborted.message, 69, results);
    if (strays.length > 0) {
      const first = strays[0] as Error;
      return stopped(peerName, describeTarget(), `harness fault: ${strays.length} error(s) outside any case, the first: ${first?.stack ?? String(first)}`, 70, results);
    }
    const exitCode = exitCodeOf(results, o.strict);
    const stale = o.knownFailing.filter((p) => !results.some((r) => r.knownFailing && r.id.startsWith(p.replace(/\*.*$/, ''))));
    const peer = {
      target: describeTarget(), ...(typeof ack['broker_id'] === 'string' ? { broker_id: ack['broker_id'] } : {}), protocol_version: ack['protocol_version'],
      ...(command || target.kind === 'listen' ? { name: ack['name'], language: ack['language'], version: ack['version'], features: ack['features'] } : {}),
    };
    const reported = withReplay(results);
    const dir = writeReport(o.reportDir, peerName, {
      peer,
      harness_version: HARNESS_VERSION, protocol_version: PROTOCOL_VERSION, seed: o.seed, ...(o.faults ? { faults: o.faults } : {}), started, finished: new Date().toISOString(),
      suites: o.suites, exit_code: exitCode, replay: replayOf(),
    }, reported);
    bundles(dir, describeTarget());
    copyJunit(dir, o.junit);
    o.onFinish?.({ exitCode, report: dir, peer, results: reported });
    if (o.json) {
      out(`${JSON.stringify({ exit_code: exitCode, report: dir, ...(o.faults ? { faults: o.faults } : {}), results: reported.map(({ wire: _w, ...r }) => r) }, null, 2)}\n`);
    } else {
      out(`${summaryTable(results)}\n${failureList(reported)}\nreport: ${join(dir, 'index.html')}\n`);
      for (const p of stale) out(`stale known-failure entry (matches no failing case): ${p}\n`);
      out(`${exitCode === 0 ? 'PASS' : 'FAIL'} (exit ${exitCode})\n`);
    }
    return exitCode;
  } catch (e) {
    // Whatever broke, the report is written: the harness's own fault, exit 70.
    return stopped(peerName, describeTarget(), `internal error: ${(e as Error)?.stack ?? String(e)}`, 70, results);
  } finally {
    testees?.close();
    stopStartedSince(mark);
    await stop?.().catch(() => undefined);
  }
}
