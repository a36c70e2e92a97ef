/**
 * `conformance replay BUNDLE [--target T | --exec -- CMD | --listen PORT [-- CMD]]`: plays a bundle's
 * steps against the peer it was recorded against, or another one, in any language. Exit codes are the
 * harness's: 0 the case passes, 1 it fails, 2 inconclusive (the bundle cannot be replayed past a check
 * made in code, or the peer never answered), 64 usage, 66 a bundle missing, unreadable or not valid
 * against reports/bundle.schema.json, 69 the peer cannot start, 70 a fault of the harness.
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { resolveToken, TokenSourceError } from '../../reference/token-source.js';
import { parseArgsProblem } from '../../reference/cli-usage.js';
import { runCommand, type RunCommandOptions } from '../run-command.js';
import { TargetError } from '../target.js';
import { shellQuote, DEFAULT_REPLAY_CONTEXT, type ReplayContext } from '../report/replay-command.js';
import { readBundle, BundleError, type Bundle } from './bundle.js';
import { bundleCase } from './bundle-case.js';
import type { FaultSchedule } from '../faults/schedule.js';

export const REPLAY_EXIT = { ok: 0, failed: 1, inconclusive: 2, usage: 64, noInput: 66, config: 78 } as const;

const OPTIONS = {
  target: { type: 'string' }, exec: { type: 'boolean' }, listen: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' },
  timeout: { type: 'string' }, 'start-timeout': { type: 'string' }, 'report-dir': { type: 'string' }, json: { type: 'boolean' },
} as const;

export interface ReplayIo {
  err: (text: string) => void;
  out?: (text: string) => void;
  /** How the harness was started, for the replay commands of the replay's own report. */
  replay?: ReplayContext;
}

/** The peer of the replay: the one given on the command line, else the one the bundle was recorded against. */
function peerOptions(bundle: Bundle, given: { target?: string; exec?: string[]; listen?: number }): Pick<RunCommandOptions, 'target' | 'exec' | 'listen' | 'brokerCommand'> {
  if (given.exec !== undefined || given.listen !== undefined || given.target !== undefined) return given;
  const p = bundle.peer;
  if (p.kind === 'exec' && p.target === 'broker-process') return { brokerCommand: p.command ?? [] };
  if (p.kind === 'exec') return { exec: p.command ?? [], ...(p.target !== undefined ? { target: p.target } : {}) };
  if (p.kind === 'listen') return { listen: 0, ...(p.command ? { exec: p.command } : {}) };
  if (p.kind === 'target') return { target: p.target ?? '' };
  return {};
}

/** The arguments without --token and its value: a token is never printed (export CONCORD_TOKEN to replay). */
function withoutToken(argv: string[]): string[] {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  return argv.filter((a, i) => i >= end || !(a === '--token' || a.startsWith('--token=') || (i > 0 && argv[i - 1] === '--token')));
}

/** Parses the replay's arguments (the peer's command after `--`) and replays; returns the exit code. */
export async function replayMain(argv: string[], io: ReplayIo): Promise<number> {
  const split = argv.indexOf('--');
  const own = split >= 0 ? argv.slice(0, split) : argv;
  const command = split >= 0 ? argv.slice(split + 1) : [];
  const usage = (message: string): number => {
    io.err(`conformance replay: ${message} (see conformance help replay)\n`);
    return REPLAY_EXIT.usage;
  };
  let parsed;
  try {
    parsed = parseArgs({ args: own, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    return usage(parseArgsProblem(e as Error, Object.keys(OPTIONS)));
  }
  const v = parsed.values;
  if (parsed.positionals.length !== 1) return usage(parsed.positionals.length === 0 ? 'needs the bundle file, e.g. conformance replay reports/PEER/latest/bundles/CASE.bundle.json' : `takes one bundle file; got ${parsed.positionals.join(' ')}`);
  if (v.exec && command.length === 0) return usage('--exec needs the peer command after --');
  if (!v.exec && v.listen === undefined && command.length > 0) return usage('a command after -- needs --exec or --listen');
  if ([v.exec === true, v.listen !== undefined, v.target !== undefined && !v.target.startsWith('fifo:')].filter(Boolean).length > 1) return usage('--target, --exec and --listen exclude each other (--exec takes --target fifo:DIR)');
  const listen = v.listen !== undefined ? Number(v.listen) : undefined;
  if (listen !== undefined && (!Number.isInteger(listen) || listen < 0 || listen > 65535)) return usage('--listen takes a port number (0 for any free port)');
  const timeoutMs = v.timeout !== undefined ? Number(v.timeout) : undefined;
  const startTimeoutMs = v['start-timeout'] !== undefined ? Number(v['start-timeout']) : undefined;
  for (const [name, value] of [['--timeout', timeoutMs], ['--start-timeout', startTimeoutMs]] as const) if (value !== undefined && (!Number.isInteger(value) || value < 1)) return usage(`${name} takes a positive number of milliseconds`);
  let token: string | undefined;
  try {
    token = resolveToken({ token: v.token, tokenFile: v['token-file'] });
  } catch (e) {
    io.err(`conformance replay: ${(e as Error).message}\n`);
    return e instanceof TokenSourceError ? REPLAY_EXIT.config : REPLAY_EXIT.usage;
  }
  let bundle: Bundle;
  try {
    bundle = readBundle(parsed.positionals[0]!);
  } catch (e) {
    if (!(e instanceof BundleError)) throw e;
    io.err(`conformance replay: ${e.message}\n`);
    return REPLAY_EXIT.noInput;
  }
  const peer = peerOptions(bundle, { ...(v.target !== undefined ? { target: v.target } : {}), ...(v.exec ? { exec: command } : {}), ...(listen !== undefined ? { listen, ...(command.length > 0 ? { exec: command } : {}) } : {}) });
  io.err(`conformance replay: ${bundle.case.id}, recorded ${bundle.verdict.outcome} against ${bundle.peer.description} (harness ${bundle.harness_version}, protocol ${bundle.protocol_version}, seed ${bundle.seed})\n`);
  if (!bundle.replayable) io.err(`conformance replay: this bundle is not replayable to its end (${bundle.not_replayable ?? 'no reason recorded'}): the replay stops there, inconclusive\n`);
  if (bundle.faults) io.err(`conformance replay: applying the bundle's transport faults (seed ${bundle.faults.seed}, profile ${bundle.faults.profile}); they are placed by write and read count, which a peer handed on from an earlier case counted differently, so a pass is inconclusive\n`);
  const startWait = startTimeoutMs ?? bundle.options.start_timeout_ms;
  try {
    const code = await runCommand({
      ...peer, token, suites: bundle.peer.suites, cases: [bundleCase(bundle)], run: [], skip: [], seed: bundle.seed,
      timeoutMs: timeoutMs ?? bundle.options.timeout_ms, ...(startWait !== undefined ? { startTimeoutMs: startWait } : {}),
      ...(bundle.options.limits ? { limits: bundle.options.limits } : {}),
      ...(bundle.faults ? { faultSchedule: { seed: bundle.faults.seed, profile: bundle.faults.profile, connections: bundle.faults.schedule as FaultSchedule['connections'] } } : {}),
      // A replay judges its one case whatever the case's level.
      failFast: false, strict: true, knownFailing: [], json: v.json ?? false,
      reportDir: v['report-dir'] ?? join(process.cwd(), 'reports'), err: io.err,
      replayLine: [...(io.replay ?? DEFAULT_REPLAY_CONTEXT).program, 'replay', ...withoutToken(argv)].map(shellQuote).join(' '), ...(io.out ? { out: io.out } : {}), ...(io.replay ? { replay: io.replay } : {}),
    });
    // A fail under the recorded faults is a verdict; a pass may only mean the faults fell elsewhere.
    if (code === 0 && bundle.faults) return REPLAY_EXIT.inconclusive;
    return code;
  } catch (e) {
    if (e instanceof TargetError) return usage(e.message);
    throw e;
  }
}
