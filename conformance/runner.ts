/**
 * Runs cases against a target and classifies each outcome: pass, fail (the peer broke the
 * requirement), timeout (the peer did not answer in time), skipped (the case does not apply), or
 * errored (the harness itself failed: reported apart from the peer's failures).
 *
 * Each case runs in an async context of its own: an exception or rejection nobody handles (a reply
 * timer firing after the case gave up, an error event) is charged to the case that caused it, even
 * when it surfaces after that case ended, and the run goes on.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Case } from './cases/model.js';
import { CaseFailure, CaseSkipped, CaseTimeout } from './cases/model.js';
import { CaseContext, type ContextOptions } from './cases/context.js';
import { ConnectError, PeerViolation, type WireEntry } from './wire/connection.js';
import { FifoError } from '../reference/transport/fifo-fs.js';
import { PeerStartError, spawnFailureSince, startedCount } from './wire/peer-process.js';
import { redactDeep } from './report/redact.js';
import { ScriptRecorder } from './replay/script.js';
import type { FaultSpec } from './faults/profile.js';
import { drawFaults, faultsFromSchedule, stepCount, type CaseFaults, type ConnectionSchedule, type FaultSchedule } from './faults/schedule.js';
import { shrinkSchedule } from './faults/shrink.js';

/** How a case ended: pass, fail (the peer broke the requirement), timeout, skipped (does not apply), errored (the harness's own fault). */
export type Outcome = 'pass' | 'fail' | 'skipped' | 'errored' | 'timeout';

/** The result of one case, with the wire log of its connections. */
export interface CaseResult {
  /** Stable case id, `<section>/<slug>[/key:value...]`. */
  id: string;
  /** The spec section it belongs to. */
  section: string;
  /** Level of its first statement: only `required` cases (and `recommended` ones under `strict`) decide the exit code. */
  level: Case['level'];
  /** The statement ids of spec/protocol.md it checks (a violation the harness saw on the way is added). */
  statements: string[];
  /** The requirement sentence of its first statement. */
  requirement: string;
  /** pass, fail (the peer broke the requirement), timeout, skipped, or errored (the harness's own fault). */
  outcome: Outcome;
  /** It matched a `knownFailing` pattern. */
  knownFailing: boolean;
  /** Why it did not pass. */
  message?: string;
  /** What the case expected, when it compared values. */
  expected?: string;
  /** What the peer sent instead. */
  actual?: string;
  /** How long it ran, in ms. */
  durationMs: number;
  /** The bytes each connection of the case sent and received, for the report. */
  wire: { connection: string; entries: WireEntry[] }[];
  /** Under --faults, a case that did not pass: the faults it ran with (shrunk to the smallest that still fails). */
  faults?: CaseFaultReport;
}

/** The faults of a failed case under --faults, as the report and a replay bundle keep them. */
export interface CaseFaultReport {
  seed: number;
  profile: string;
  /** Per connection, the steps applied: for a failure, the smallest schedule found that still fails. */
  schedule: ConnectionSchedule[];
  /** How shrinking went: steps drawn, steps left, re-runs spent, and whether the case fails with no fault at all. */
  shrink?: { drawn_steps: number; steps: number; runs: number; fails_without_faults: boolean };
}

export interface RunOptions extends Omit<ContextOptions, 'runId' | 'faults'> {
  /** Hard limit for one case, whatever it waits for. */
  caseTimeoutMs: number;
  failFast?: boolean;
  knownFailing?: string[];
  onProgress?: (index: number, total: number, c: Case, result?: CaseResult) => void;
  /** A peer could not be started at all: the run stops (exit 69). */
  onAbort?: (e: PeerStartError) => void;
  /** A stray error that belongs to no case (after the run, or outside any case). */
  onStray?: (e: unknown) => void;
  /** Told each finished case with the script it recorded (for its replay bundle); nothing records without it. */
  onRecorded?: (result: CaseResult, recorder: ScriptRecorder) => void;
  /** --faults: every connection of every case perturbed, drawn from this seed and profile. */
  faults?: FaultSpec;
  /** A replay's recorded fault schedule, applied as it was (instead of drawing from `faults`). */
  faultSchedule?: FaultSchedule;
}

/** A case in progress or finished, for charging stray errors to it. */
interface Slot {
  /** While the case runs: ends it with the stray error. */
  interrupt?: (e: unknown) => void;
  /** Once it finished: its result, which a late stray error amends. */
  result?: CaseResult;
}

const cases = new AsyncLocalStorage<Slot>();

/** System errors that only a peer going away or refusing causes (a closed pipe, a reset, no reader). */
const PEER_GONE_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ENXIO', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/** Whether `e` is a system error that only a peer going away or refusing causes. */
export function isPeerGone(e: unknown): boolean {
  return PEER_GONE_CODES.has(String((e as NodeJS.ErrnoException)?.code));
}

function outcomeOf(e: unknown): Outcome {
  if (e instanceof CaseFailure || e instanceof PeerViolation) return 'fail';
  if (e instanceof CaseTimeout) return 'timeout';
  if (e instanceof CaseSkipped) return 'skipped';
  // The target answered the probe: refusing or dropping a connection later is the peer's doing.
  if (e instanceof ConnectError || e instanceof FifoError || isPeerGone(e)) return 'fail';
  return 'errored';
}

/** Severity of outcomes: a late error never makes a result look better. */
const RANK: Record<Outcome, number> = { pass: 0, skipped: 1, timeout: 2, fail: 3, errored: 4 };

function describeError(e: unknown, outcome: Outcome): string {
  const err = e instanceof Error ? e : new Error(String(e));
  if (outcome === 'errored') return `harness error: ${err.stack ?? err.message}`;
  return e instanceof CaseFailure || e instanceof PeerViolation || e instanceof CaseTimeout || e instanceof CaseSkipped ? err.message : `the peer went away or refused: ${err.message}`;
}

/** Charges an error that surfaced after its case ended to that case's result. */
function amend(result: CaseResult, e: unknown): void {
  const outcome = outcomeOf(e);
  const text = `after the case ended: ${describeError(e, outcome)}`;
  if (RANK[outcome] > RANK[result.outcome] && outcome !== 'skipped') {
    result.message = result.message ? `${text}\n(before: ${result.outcome}: ${result.message})` : text;
    result.outcome = outcome;
  } else {
    result.message = result.message ? `${result.message}\n${text}` : text;
  }
  Object.assign(result, redactDeep({ message: result.message }));
}

/**
 * Routes unhandled rejections and uncaught exceptions to the case they came from while `body` runs;
 * returns the handlers' removal.
 */
function catchStrays(fallback: (e: unknown) => void): () => void {
  const onStray = (e: unknown): void => {
    const slot = cases.getStore();
    if (slot?.interrupt) slot.interrupt(e);
    else if (slot?.result) amend(slot.result, e);
    else fallback(e);
  };
  process.on('unhandledRejection', onStray);
  process.on('uncaughtException', onStray);
  return () => {
    process.off('unhandledRejection', onStray);
    process.off('uncaughtException', onStray);
  };
}

/** `*` matches one id component, `**` any number; a pattern without wildcards matches that prefix. */
export function matches(pattern: string, id: string): boolean {
  if (!pattern.includes('*')) return id === pattern || id.startsWith(pattern.endsWith('/') ? pattern : `${pattern}/`);
  const re = pattern.split('**').map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')).join('.*');
  return new RegExp(`^${re}$`).test(id);
}

export function selectCases(cases: Case[], run: string[] = [], skip: string[] = []): Case[] {
  return cases.filter((c) => (run.length === 0 || run.some((p) => matches(p, c.id))) && !skip.some((p) => matches(p, c.id)));
}

async function runOne(c: Case, options: RunOptions, runId: string, slot: Slot, faults: CaseFaults | undefined, recorder: ScriptRecorder | undefined): Promise<CaseResult> {
  const ctx = new CaseContext({ ...(recorder ? { recorder } : {}), target: options.target, timeoutMs: options.timeoutMs, startTimeoutMs: options.startTimeoutMs, seed: options.seed, token: options.token, runId, ...(options.limits ? { limits: options.limits } : {}), ...(options.shutdownPeer ? { shutdownPeer: options.shutdownPeer } : {}), ...(options.testees ? { testees: options.testees } : {}), ...(faults ? { faults } : {}) });
  const started = Date.now();
  const base = { id: c.id, section: c.section, level: c.level, statements: c.statements, requirement: c.requirement, knownFailing: (options.knownFailing ?? []).some((p) => matches(p, c.id)) };
  let timer: NodeJS.Timeout | undefined;
  // Only a case that passed or was skipped may hand its testee process on (testee-pool.ts).
  let handOn = false;
  try {
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CaseTimeout(`the case did not finish within ${options.caseTimeoutMs} ms`)), options.caseTimeoutMs);
      slot.interrupt = reject;
    });
    // A case that throws synchronously still becomes a result.
    await Promise.race([Promise.resolve().then(() => c.run(ctx)), limit, ctx.violation]);
    handOn = true;
    return { ...base, outcome: 'pass', durationMs: Date.now() - started, wire: [] };
  } catch (e) {
    const outcome = outcomeOf(e);
    handOn = outcome === 'skipped';
    const err = (e instanceof Error ? e : new Error(String(e))) as Error & { expected?: string; actual?: string };
    return {
      ...base, outcome, message: describeError(e, outcome),
      ...(e instanceof PeerViolation ? { statements: [...new Set([...c.statements, e.statement])] } : {}),
      ...(err.expected !== undefined ? { expected: err.expected } : {}), ...(err.actual !== undefined ? { actual: err.actual } : {}),
      durationMs: Date.now() - started, wire: outcome === 'skipped' ? [] : ctx.wireLog(),
    };
  } finally {
    slot.interrupt = undefined;
    clearTimeout(timer);
    try {
      ctx.close(handOn);
    } catch {
      // closing what a peer broke must not end the run
    }
  }
}

function failed(r: CaseResult): boolean {
  return r.outcome === 'fail' || r.outcome === 'timeout';
}

/** Runs a case in a slot of its own (stray errors are charged to it), with the given faults. */
/** One run of a case in its slot; each run records its own script when bundles are wanted. */
async function runInSlot(c: Case, options: RunOptions, runId: string, faults?: CaseFaults): Promise<Recorded> {
  const slot: Slot = {};
  const recorder = options.onRecorded ? new ScriptRecorder(options.token) : undefined;
  const result = redactDeep(await cases.run(slot, () => runOne(c, options, runId, slot, faults, recorder)));
  slot.result = result;
  return { result, recorder };
}

/** A case's result and the script its run recorded (when bundles are wanted). */
interface Recorded {
  result: CaseResult;
  recorder: ScriptRecorder | undefined;
}

/**
 * A case that failed under faults, re-run with ever smaller schedules (shrink.ts): the result shown
 * is the failure under the smallest schedule that still fails, its wire log showing those faults.
 */
async function shrinkUnderFaults(c: Case, options: RunOptions, runId: string, first: Recorded, drawn: FaultSchedule): Promise<Recorded> {
  let smallest: { schedule: string; run: Recorded } | undefined;
  const shrunk = await shrinkSchedule(drawn, async (candidate) => {
    const run = await runInSlot(c, options, runId, faultsFromSchedule(candidate));
    if (!failed(run.result)) return false;
    smallest = { schedule: JSON.stringify(candidate), run };
    return true;
  });
  const shown = smallest?.schedule === JSON.stringify(shrunk.schedule) ? smallest.run : first;
  const schedule = shown === first ? drawn : shrunk.schedule;
  return { ...shown, result: { ...shown.result, faults: { seed: drawn.seed, profile: drawn.profile, schedule: schedule.connections,
    shrink: { drawn_steps: stepCount(drawn), steps: stepCount(schedule), runs: shrunk.runs, fails_without_faults: shrunk.failsWithoutFaults } } } };
}

export async function runCases(list: Case[], options: RunOptions): Promise<CaseResult[]> {
  const runId = `${options.seed.toString(36)}${Date.now().toString(36)}`.replace('-', 'n');
  const results: CaseResult[] = [];
  const mark = startedCount();
  const release = catchStrays((e) => options.onStray?.(e));
  try {
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      options.onProgress?.(i, list.length, c);
      const faults = options.faultSchedule ? faultsFromSchedule(options.faultSchedule) : options.faults ? drawFaults(options.faults, c.id) : undefined;
      let run = await runInSlot(c, options, runId, faults);
      if (faults && options.faults && failed(run.result) && !run.result.knownFailing) run = await shrinkUnderFaults(c, options, runId, run, faults.schedule());
      else if (faults && run.result.outcome === 'errored') run = { ...run, result: { ...run.result, faults: { seed: options.faults!.seed, profile: options.faults!.profile, schedule: faults.schedule().connections } } };
      const r = run.result;
      if (run.recorder) options.onRecorded?.(r, run.recorder);
      results.push(r);
      options.onProgress?.(i, list.length, c, r);
      const cannotStart = spawnFailureSince(mark);
      if (cannotStart) {
        options.onAbort?.(cannotStart);
        break;
      }
      if (options.failFast && (r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored') && !r.knownFailing) break;
    }
  } finally {
    // A moment for errors the last case left pending (a reply timer of an abandoned request) to reach it.
    await new Promise((r) => setTimeout(r, 20));
    release();
  }
  return results;
}

/** Exit code: 0 pass (known failures failed), 1 unexpected failure or pass, 2 inconclusive, 70 harness error. */
export function exitCodeOf(results: CaseResult[], strict: boolean): number {
  const counts = (r: CaseResult): boolean => r.level === 'required' || (strict && r.level === 'recommended');
  if (results.some((r) => r.outcome === 'errored')) return 70;
  const unexpectedFail = results.some((r) => counts(r) && r.outcome === 'fail' && !r.knownFailing);
  const unexpectedPass = results.some((r) => r.knownFailing && r.outcome === 'pass');
  if (unexpectedFail || unexpectedPass) return 1;
  if (results.some((r) => counts(r) && r.outcome === 'timeout' && !r.knownFailing)) return 2;
  return 0;
}
