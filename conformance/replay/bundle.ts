/**
 * Replay bundles (reports/bundle.schema.json): a failing case's script, self-contained, written to
 * reports/<peer>/<run>/bundles/<case>.bundle.json, and read back (validated) by `conformance replay`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { repoFile } from '../../reference/paths.js';
import { redactDeep } from '../report/redact.js';
import type { CaseResult } from '../runner.js';
import type { ReceivedItem, ScriptRecorder, Step } from './script.js';

/** The bundle format this harness writes and reads; a bundle of a later version is refused. */
export const BUNDLE_VERSION = 1;

/** How the recorded run reached its peer: a replay without a peer option uses the same. */
export interface BundlePeer {
  kind: 'embedded' | 'target' | 'exec' | 'listen';
  /** --target as given (a broker, or fifo:DIR with exec). */
  target?: string;
  /** The peer's command: the testee (exec) or the client started per case (listen). */
  command?: string[];
  /** The peer as the report describes it. */
  description: string;
  suites: string[];
}

/** A transport-fault schedule (`--faults SEED[:PROFILE]`): recorded so a replay applies the same. */
export interface BundleFaults {
  seed: number;
  profile: string;
  schedule: unknown[];
}

export interface Bundle {
  bundle_version: number;
  harness_version: string;
  protocol_version: string;
  seed: number;
  case: { id: string; section: string; level: string; statements: string[]; requirement: string };
  verdict: { outcome: CaseResult['outcome']; message?: string; expected?: string; actual?: string; failed_step?: number };
  peer: BundlePeer;
  options: { timeout_ms: number; start_timeout_ms?: number; limits?: Record<string, number> };
  replayable: boolean;
  not_replayable?: string;
  steps: Step[];
  received: ReceivedItem[];
  faults?: BundleFaults;
}

/** What a run tells about itself for its bundles. */
export interface BundleRun {
  harnessVersion: string;
  protocolVersion: string;
  seed: number;
  peer: BundlePeer;
  timeoutMs: number;
  startTimeoutMs?: number;
  limits?: Partial<Record<string, number>>;
}

/** What a case left for its bundle: its recorder, read once the case ended. */
export interface RecordedCase {
  result: CaseResult;
  recorder: ScriptRecorder;
}

export function buildBundle(run: BundleRun, recorded: RecordedCase): Bundle {
  const { result, recorder } = recorded;
  const failed = result.outcome === 'fail' || result.outcome === 'timeout' || result.outcome === 'errored';
  const why = recorder.notReplayable(failed);
  const limits = Object.fromEntries(Object.entries(run.limits ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'));
  return redactDeep({
    bundle_version: BUNDLE_VERSION, harness_version: run.harnessVersion, protocol_version: run.protocolVersion, seed: run.seed,
    case: { id: result.id, section: result.section, level: result.level, statements: result.statements, requirement: result.requirement },
    verdict: {
      outcome: result.outcome, ...(result.message !== undefined ? { message: result.message } : {}),
      ...(result.expected !== undefined ? { expected: result.expected } : {}), ...(result.actual !== undefined ? { actual: result.actual } : {}),
      ...(recorder.failedAt !== undefined ? { failed_step: recorder.failedAt } : {}),
    },
    peer: run.peer,
    options: { timeout_ms: run.timeoutMs, ...(run.startTimeoutMs !== undefined ? { start_timeout_ms: run.startTimeoutMs } : {}), ...(Object.keys(limits).length > 0 ? { limits } : {}) },
    replayable: why === undefined, ...(why !== undefined ? { not_replayable: why } : {}),
    steps: recorder.steps, received: recorder.received,
    ...(result.faults ? { faults: { seed: result.faults.seed, profile: result.faults.profile, schedule: result.faults.schedule } } : {}),
  });
}

/** A case id as a bundle's file name: `/` becomes `~` (ids never contain `~`). */
export function bundleFileName(id: string): string {
  return `${id.replace(/\//g, '~')}.bundle.json`;
}

/** Writes the bundle of every case that failed, timed out or errored into `dir`/bundles/; returns their paths. */
export function writeBundles(dir: string, run: BundleRun, recorded: RecordedCase[]): string[] {
  const failing = recorded.filter((r) => r.result.outcome === 'fail' || r.result.outcome === 'timeout' || r.result.outcome === 'errored');
  if (failing.length === 0) return [];
  mkdirSync(join(dir, 'bundles'), { recursive: true });
  return failing.map((r) => {
    const path = join(dir, 'bundles', bundleFileName(r.result.id));
    writeFileSync(path, `${JSON.stringify(buildBundle(run, r), null, 1)}\n`);
    return path;
  });
}

/** A bundle that cannot be used: missing, unreadable, not JSON, or not valid against the schema (exit 66). */
export class BundleError extends Error {
  override name = 'BundleError';
}

let validator: ReturnType<Ajv['compile']> | undefined;

/** Reads and validates a bundle; every problem is one line naming the file and the first JSON Pointer that is wrong. */
export function readBundle(path: string): Bundle {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BundleError(`cannot read bundle ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`bundle ${path} is not JSON: ${(e as Error).message}`);
  }
  const version = (data as { bundle_version?: unknown } | null)?.bundle_version;
  if (typeof version === 'number' && version > BUNDLE_VERSION) throw new BundleError(`bundle ${path} has bundle_version ${version}; this harness reads version ${BUNDLE_VERSION} (a newer harness wrote it)`);
  validator ??= new Ajv({ allErrors: false, strict: false }).compile(JSON.parse(readFileSync(repoFile('reports/bundle.schema.json'), 'utf8')) as object);
  if (!validator(data)) {
    const e = validator.errors?.[0];
    throw new BundleError(`bundle ${path} does not match reports/bundle.schema.json: ${e?.instancePath || '/'} ${e?.message ?? 'is invalid'}${e?.params && 'allowedValues' in e.params ? ` (${(e.params['allowedValues'] as unknown[]).join(', ')})` : ''}`);
  }
  const bundle = data as Bundle;
  const connsOpened = new Set<number>();
  for (const [i, s] of bundle.steps.entries()) {
    if (s.conn === undefined) continue;
    if (s.op === 'open' || s.op === 'testee' || s.op === 'session' || s.op === 'client') connsOpened.add(s.conn);
    else if (!connsOpened.has(s.conn) && s.op !== 'opaque') throw new BundleError(`bundle ${path} does not match its format: /steps/${i} uses connection ${s.conn} before a step opens it`);
    if (s.op === 'send' && s.re_from !== undefined && s.re_from >= i) throw new BundleError(`bundle ${path} does not match its format: /steps/${i}/re_from names step ${s.re_from}, not an earlier one`);
  }
  return bundle;
}
