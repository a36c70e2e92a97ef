/**
 * Runs cases against a target and classifies each outcome: pass, fail (the peer broke the
 * requirement), timeout (the peer did not answer in time), skipped (the case does not apply), or
 * errored (the harness itself failed: reported apart from the peer's failures).
 */
import type { Case } from './cases/model.js';
import { CaseFailure, CaseSkipped, CaseTimeout } from './cases/model.js';
import { CaseContext, type ContextOptions } from './cases/context.js';
import type { WireEntry } from './wire/connection.js';

export type Outcome = 'pass' | 'fail' | 'skipped' | 'errored' | 'timeout';

export interface CaseResult {
  id: string;
  section: string;
  level: Case['level'];
  statements: string[];
  requirement: string;
  outcome: Outcome;
  /** Listed in the known-failures file. */
  knownFailing: boolean;
  message?: string;
  expected?: string;
  actual?: string;
  durationMs: number;
  wire: { connection: string; entries: WireEntry[] }[];
}

export interface RunOptions extends Omit<ContextOptions, 'runId'> {
  /** Hard limit for one case, whatever it waits for. */
  caseTimeoutMs: number;
  failFast?: boolean;
  knownFailing?: string[];
  onProgress?: (index: number, total: number, c: Case, result?: CaseResult) => void;
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

async function runOne(c: Case, options: RunOptions, runId: string): Promise<CaseResult> {
  const ctx = new CaseContext({ address: options.address, listener: options.listener, timeoutMs: options.timeoutMs, startTimeoutMs: options.startTimeoutMs, seed: options.seed, token: options.token, runId, ...(options.limits ? { limits: options.limits } : {}), ...(options.shutdownPeer ? { shutdownPeer: options.shutdownPeer } : {}) });
  const started = Date.now();
  const base = { id: c.id, section: c.section, level: c.level, statements: c.statements, requirement: c.requirement, knownFailing: (options.knownFailing ?? []).some((p) => matches(p, c.id)) };
  let timer: NodeJS.Timeout | undefined;
  try {
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CaseTimeout(`the case did not finish within ${options.caseTimeoutMs} ms`)), options.caseTimeoutMs);
    });
    await Promise.race([c.run(ctx), limit]);
    return { ...base, outcome: 'pass', durationMs: Date.now() - started, wire: [] };
  } catch (e) {
    const outcome: Outcome = e instanceof CaseFailure ? 'fail' : e instanceof CaseTimeout ? 'timeout' : e instanceof CaseSkipped ? 'skipped' : 'errored';
    const err = e as Error & { expected?: string; actual?: string };
    return {
      ...base, outcome, message: outcome === 'errored' ? `harness error: ${err.stack ?? err.message}` : err.message,
      ...(err.expected !== undefined ? { expected: err.expected } : {}), ...(err.actual !== undefined ? { actual: err.actual } : {}),
      durationMs: Date.now() - started, wire: outcome === 'skipped' ? [] : ctx.wireLog(),
    };
  } finally {
    clearTimeout(timer);
    ctx.close();
  }
}

export async function runCases(cases: Case[], options: RunOptions): Promise<CaseResult[]> {
  const runId = `${options.seed.toString(36)}${Date.now().toString(36)}`.replace('-', 'n');
  const results: CaseResult[] = [];
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    options.onProgress?.(i, cases.length, c);
    const r = await runOne(c, options, runId);
    results.push(r);
    options.onProgress?.(i, cases.length, c, r);
    if (options.failFast && (r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored') && !r.knownFailing) break;
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
