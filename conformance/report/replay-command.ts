/**
 * The command that replays one case: the whole command line of the run (peer included), narrowed
 * to that case with --run and pinned with --seed, quoted for a POSIX shell so it pastes as is.
 */
import { basename, isAbsolute, relative, sep } from 'node:path';
import type { LinesRole, LinesPeerOptions } from '../wire/lines.js';
import { DEFAULT_START_TIMEOUT_MS } from '../cases/context.js';

/** What of a run decides what a case does: the peer, the suites and every option that changes a verdict. */
export interface ReplaySource {
  target?: string;
  exec?: string[];
  listen?: number;
  role?: LinesRole;
  linesTimeoutS?: number;
  linesPeer?: LinesPeerOptions;
  brokerCommand?: string[];
  limits?: Partial<Record<string, number>>;
  suites: string[];
  seed: number;
  /** --faults SEED:PROFILE: a failure under faults replays with the same faults. */
  faults?: { seed: number; profile: string };
  timeoutMs: number;
  startTimeoutMs?: number;
  strict: boolean;
}

/** How the harness was started, and the options given on its command line that a replay repeats verbatim. */
export interface ReplayContext {
  /** The words that start the harness, e.g. `npx conformance` or `node --import tsx conformance/cli.ts`. */
  program: string[];
  /** --token-file as given (the token itself is never printed). */
  tokenFile?: string;
  /** --report-dir as given. */
  reportDir?: string;
}

export const DEFAULT_REPLAY_CONTEXT: ReplayContext = { program: ['npx', 'conformance'] };

/** The harness's defaults: options equal to them are left out of a replay. */
const DEFAULT_TIMEOUT_MS = 2000;
const DEFAULT_LINES_TIMEOUT_S = 2;

/** The argument vector of a replay (without a shell's quoting); `caseId` undefined gives the whole run. */
export function replayArgv(source: ReplaySource, context: ReplayContext, caseId?: string): string[] {
  const argv = [...context.program];
  let peer: string[] | undefined;
  if (source.target?.startsWith('lines:')) {
    argv.push('--target', source.target, '--role', source.role ?? 'requester');
    if (source.linesTimeoutS !== undefined && source.linesTimeoutS !== DEFAULT_LINES_TIMEOUT_S) argv.push('--lines-timeout', String(source.linesTimeoutS));
    if (source.linesPeer?.oneShot) argv.push('--one-shot');
    if (source.linesPeer?.replyPattern !== undefined) argv.push('--reply-pattern', source.linesPeer.replyPattern);
    if (source.linesPeer?.outputPattern !== undefined) argv.push('--output-pattern', source.linesPeer.outputPattern);
    peer = source.exec;
  } else if (source.brokerCommand !== undefined) {
    peer = source.brokerCommand;
  } else if (source.listen !== undefined) {
    argv.push('--listen', String(source.listen));
    peer = source.exec;
  } else if (source.exec !== undefined) {
    if (source.target !== undefined) argv.push('--target', source.target);
    argv.push('--exec');
    peer = source.exec;
  } else if (source.target !== undefined) {
    argv.push('--target', source.target);
  }
  for (const s of source.suites) argv.push('--suite', s);
  for (const [name, value] of Object.entries(source.limits ?? {})) if (value !== undefined) argv.push('--limit', `${name}=${value}`);
  if (source.timeoutMs !== DEFAULT_TIMEOUT_MS) argv.push('--timeout', String(source.timeoutMs));
  if (source.startTimeoutMs !== undefined && source.startTimeoutMs !== DEFAULT_START_TIMEOUT_MS) argv.push('--start-timeout', String(source.startTimeoutMs));
  if (source.strict) argv.push('--strict');
  if (context.tokenFile !== undefined) argv.push('--token-file', context.tokenFile);
  if (context.reportDir !== undefined) argv.push('--report-dir', context.reportDir);
  if (caseId !== undefined) argv.push('--run', caseId);
  argv.push('--seed', String(source.seed));
  if (source.faults !== undefined) argv.push('--faults', `${source.faults.seed}:${source.faults.profile}`);
  // After `--` every word is the peer's, whatever it looks like.
  if (peer !== undefined && peer.length > 0) argv.push('--', ...peer);
  return argv;
}

/** A word as a POSIX shell reads it back unchanged: plain when it is safe, otherwise in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=,@+%^-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The replay as one line to paste into a shell. */
export function replayCommand(source: ReplaySource, context: ReplayContext, caseId?: string): string {
  return replayArgv(source, context, caseId).map(shellQuote).join(' ');
}

/**
 * How this process was started, as words a user can type again: CONCORD_REPLAY_PROGRAM when set (a CI
 * wrapper that knows how its users run the harness, words split at spaces), `npx conformance` for an
 * installed package, otherwise node with the script (relative to the working directory when inside it)
 * and the tsx loader if it ran one.
 */
export function harnessProgram(argv: readonly string[] = process.argv, execArgv: readonly string[] = process.execArgv, cwd: string = process.cwd(),
  env: NodeJS.ProcessEnv = process.env): string[] {
  const given = env['CONCORD_REPLAY_PROGRAM']?.trim();
  if (given) return given.split(/\s+/);
  const script = argv[1];
  if (script === undefined || basename(script) === 'conformance' || script.split(sep).includes('node_modules')) return [...DEFAULT_REPLAY_CONTEXT.program];
  const rel = relative(cwd, script);
  const shown = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : script;
  const loader = execArgv.some((a) => /[/\\]tsx[/\\]|^tsx$/.test(a)) ? ['--import', 'tsx'] : [];
  return ['node', ...loader, shown];
}
