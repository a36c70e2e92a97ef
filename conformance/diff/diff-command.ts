/** `conformance diff`: checks the options, runs the diff, prints its report (text or --json) and returns the exit code. */
import { printable } from '../report/escape.js';
import { DIFF_KINDS, runDiff, type DiffKindName } from './run-diff.js';
import { formatDiff, resultJson } from './format.js';
import { formatBusDiff, runBusDiff } from './run-bus-diff.js';

export interface DiffCommandArgs {
  peer?: string[];
  kind?: string;
  seed?: string;
  runs?: string;
  timeout?: string;
  'start-timeout'?: string;
  json?: boolean;
}

export interface DiffIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const positive = (v: string | undefined): number | undefined => (v === undefined ? undefined : /^[1-9][0-9]*$/.test(v) ? Number(v) : NaN);

export async function diffCommand(args: DiffCommandArgs, defaults: { startTimeoutMs: number }, io: DiffIo): Promise<number> {
  const usage = (message: string): number => {
    io.err(`conformance: ${message} (see conformance help diff)\n`);
    return 64;
  };
  if ((args.peer ?? []).length < 2) return usage('diff needs at least two --peer, e.g. --peer \'python3 testee.py\' --peer \'npx concord testee\'');
  if (args.kind !== undefined && args.kind !== 'bus' && !(DIFF_KINDS as readonly string[]).includes(args.kind)) return usage(`--kind takes ${[...DIFF_KINDS, 'bus'].join(' or ')}`);
  const seed = args.seed !== undefined ? Number(args.seed) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
  if (!Number.isInteger(seed)) return usage('--seed takes an integer');
  const runs = positive(args.runs);
  // As long as the engine suite waits: a Python engine draws its 196,608 weights again at every reset.
  const timeoutMs = positive(args.timeout) ?? 10_000;
  const startTimeoutMs = positive(args['start-timeout']) ?? defaults.startTimeoutMs;
  if (Number.isNaN(runs) || Number.isNaN(timeoutMs) || Number.isNaN(startTimeoutMs)) return usage('--runs, --timeout and --start-timeout take positive integers');
  if (!args.json) io.err(`conformance diff: seed ${seed}\n`);
  if (args.kind === 'bus') {
    // Bus adapters speak JSON lines, not frames: they announce no kind, so --kind bus names it.
    const bus = await runBusDiff({ peers: args.peer!, seed, ...(runs !== undefined ? { runs } : {}), timeoutMs });
    if (bus.exit === 64) return usage(bus.problem!);
    if (args.json) io.out(`${JSON.stringify(bus, null, 2)}\n`);
    else (bus.exit === 0 || bus.exit === 1 ? io.out : io.err)(`${printable(formatBusDiff(bus), { keepNewlines: true })}\n`);
    return bus.exit;
  }
  const result = await runDiff({ peers: args.peer!, ...(args.kind !== undefined ? { kind: args.kind as DiffKindName } : {}), seed, ...(runs !== undefined ? { runs } : {}), timeoutMs, startTimeoutMs });
  if (result.exit === 64) return usage(result.problem!);
  if (args.json) io.out(`${resultJson(result)}\n`);
  else (result.exit === 0 || result.exit === 1 ? io.out : io.err)(`${printable(formatDiff(result), { keepNewlines: true })}\n`);
  return result.exit;
}
