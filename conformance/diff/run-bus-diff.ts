/**
 * `conformance diff --kind bus`: the same generated bus scripts to every bus adapter (each started
 * once, a script starting from `reset`), their observations compared step by step; the first
 * script on which they differ is shrunk (fast-check, seeded) and judged against the bus model
 * where the spec decides. Exit codes as the other kinds: 0 agree, 1 disagree, 64 usage, 69 an
 * adapter cannot start, 70 harness fault.
 */
import fc from 'fast-check';
import type { Hello } from '../../reference/bus/adapter/protocol.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import { ProcessDriver, type BusDriver } from '../bus/driver.js';
import { CaseFailure, CaseTimeout } from '../cases/model.js';
import { splitCommand, CommandSplitError } from './split-command.js';
import { busSteps, expectedSteps, observationDifferences, observe, showStep, type BusStep, type Observation } from './bus-script.js';
import { peerLabel, type PeerVerdict } from './run-diff.js';

export const DEFAULT_BUS_RUNS = 50;

export interface BusDiffOptions {
  peers: string[];
  seed: number;
  runs?: number;
  /** How long to wait for each reply. */
  timeoutMs: number;
  /** Bound on the runs spent shrinking a disagreement, in count and in time. */
  shrinkRuns?: number;
  shrinkMs?: number;
}

export interface BusDisagreement {
  /** The shrunk script, one step a line (the steps after the differing one left out). */
  script: string[];
  /** The step at which the observations first differ. */
  step: number;
  observations: { peer: string; observation: Observation | null }[];
  /** The bus model's observation at that step; undefined where the spec does not decide. */
  expected: Observation | null | undefined;
  verdicts: PeerVerdict[];
  found: { run: number; shrinks: number; path: string };
}

export interface BusDiffResult {
  exit: 0 | 1 | 64 | 69 | 70;
  kind: 'bus';
  seed: number;
  runs: number;
  peers: { peer: string; command: string; name?: string; language?: string }[];
  disagreement?: BusDisagreement;
  problem?: string;
}

class Disagreed extends Error {
  override name = 'Disagreed';
  constructor(readonly steps: BusStep[], readonly step: number, readonly observations: (Observation | null)[]) {
    super(`the adapters disagree at step ${step}`);
  }
}

class AdapterUnavailable extends Error {
  override name = 'AdapterUnavailable';
}

/** Runs one script on one adapter, from a fresh bus: every step's observation. */
async function runScript(d: BusDriver, steps: BusStep[]): Promise<(Observation | null)[]> {
  const reset = await d.call({ op: 'reset' });
  if (!reset.ok) throw new AdapterUnavailable(`reset failed: ${reset.error.code} ${reset.error.message}`);
  const state = { handles: [], middleware: 0 };
  const out: (Observation | null)[] = [];
  for (const s of steps) out.push(await observe(d, s, state));
  return out;
}

function judge(labels: string[], observations: (Observation | null)[], steps: BusStep[], step: number): { expected: Observation | null | undefined; verdicts: PeerVerdict[] } {
  const expected = expectedSteps(steps)[step];
  if (expected === undefined) return { expected: undefined, verdicts: labels.map((peer) => ({ peer, verdict: 'undecided' })) };
  const want = expected === null ? null : expected.observation;
  const verdicts = labels.map((peer, i): PeerVerdict => {
    const fields = observationDifferences(observations[i]!, want).filter((f) => !(expected?.open ?? []).includes(f));
    return fields.length === 0 ? { peer, verdict: 'right' } : { peer, verdict: 'wrong', fields, statements: expected?.statements ?? [] };
  });
  // Differing only where the spec leaves the answer open: a spec gap.
  return { expected: want, verdicts: verdicts.some((v) => v.verdict === 'wrong') ? verdicts : labels.map((peer) => ({ peer, verdict: 'undecided' })) };
}

export async function runBusDiff(o: BusDiffOptions): Promise<BusDiffResult> {
  const base: BusDiffResult = { exit: 0, kind: 'bus', seed: o.seed, runs: 0, peers: [] };
  let commands: string[][];
  try {
    commands = o.peers.map(splitCommand);
  } catch (e) {
    if (e instanceof CommandSplitError) return { ...base, exit: 64, problem: e.message };
    throw e;
  }
  if (commands.length < 2 || commands.some((c) => c.length === 0)) return { ...base, exit: 64, problem: 'diff needs at least two --peer, each a command' };
  const labels = commands.map((_, i) => peerLabel(i));
  base.peers = o.peers.map((command, i) => ({ peer: labels[i]!, command }));
  const drivers = commands.map((c) => new ProcessDriver(c, o.timeoutMs));
  try {
    for (const [i, d] of drivers.entries()) {
      const hello = await d.call({ op: 'hello' }).catch((e: unknown) => ({ ok: false as const, error: { code: 'TIMEOUT' satisfies ErrorName, message: (e as Error).message } }));
      if (!hello.ok) return { ...base, exit: 69, problem: `adapter ${labels[i]} (${o.peers[i]}) did not answer hello: ${hello.error.message}` };
      const h = hello.value as Hello;
      base.peers[i] = { ...base.peers[i]!, name: String(h.name ?? ''), language: String(h.language ?? '') };
    }
    let failedRuns = 0;
    let shrinkDeadline = Infinity;
    let unavailable: Error | undefined;
    const shrinkRuns = o.shrinkRuns ?? 200;
    const property = fc.asyncProperty(busSteps(), async (steps) => {
      if (unavailable || (failedRuns > 0 && (failedRuns > shrinkRuns || Date.now() > shrinkDeadline))) return;
      let seen: (Observation | null)[][];
      try {
        seen = await Promise.all(drivers.map((d) => runScript(d, steps)));
      } catch (e) {
        // An adapter that fell silent or broke its protocol: nothing more can be compared.
        if (!(e instanceof AdapterUnavailable || e instanceof CaseTimeout || e instanceof CaseFailure)) throw e;
        unavailable = e;
        return;
      }
      const exited = drivers.findIndex((d) => d.exitCode !== null);
      if (exited >= 0) {
        unavailable = new AdapterUnavailable(`adapter ${labels[exited]} exited (status ${drivers[exited]!.exitCode})`);
        return;
      }
      for (let i = 0; i < steps.length; i++) {
        const at = seen.map((s) => s[i]!);
        if (at.some((x) => observationDifferences(x, at[0]!).length > 0)) {
          if (failedRuns++ === 0) shrinkDeadline = Date.now() + (o.shrinkMs ?? 300_000);
          throw new Disagreed(steps, i, at);
        }
      }
    });
    const result = await fc.check(property, { seed: o.seed, numRuns: o.runs ?? DEFAULT_BUS_RUNS });
    const ran = { ...base, runs: result.numRuns };
    if (unavailable) return { ...ran, exit: 69, problem: `an adapter stopped answering: ${unavailable.message}` };
    if (!result.failed) return ran;
    const cause = result.errorInstance;
    if (!(cause instanceof Disagreed)) return { ...ran, exit: 70, problem: `harness fault while comparing (seed ${result.seed}, path ${result.counterexamplePath}): ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}` };
    const steps = cause.steps.slice(0, cause.step + 1);
    const { expected, verdicts } = judge(labels, cause.observations, steps, cause.step);
    return {
      ...ran, exit: 1,
      disagreement: {
        script: steps.map(showStep), step: cause.step,
        observations: cause.observations.map((observation, i) => ({ peer: labels[i]!, observation })),
        expected, verdicts,
        found: { run: result.numRuns, shrinks: result.numShrinks, path: result.counterexamplePath ?? '' },
      },
    };
  } finally {
    await Promise.all(drivers.map((d) => d.close()));
  }
}

function shownObservation(x: Observation | null | undefined): string {
  if (x === undefined) return '(the spec does not decide)';
  if (x === null) return '(the step does not apply)';
  return JSON.stringify(x);
}

export function formatBusDiff(r: BusDiffResult): string {
  const lines = [`conformance diff: kind bus, seed ${r.seed} (--seed ${r.seed} replays it)`];
  for (const p of r.peers) lines.push(`  ${p.peer}  ${p.command}${p.name ? `  (${p.name}, ${p.language})` : ''}`);
  if (r.problem !== undefined) return [...lines, r.problem].join('\n');
  const d = r.disagreement;
  if (!d) return [...lines, `the adapters agree on all ${r.runs} scripts`].join('\n');
  lines.push(`the adapters disagree: found at run ${d.found.run}, shrunk ${d.found.shrinks} times (fast-check path ${d.found.path})`, 'smallest script (from reset):');
  lines.push(...d.script.map((s, i) => `  ${i}. ${s}`));
  lines.push(`what step ${d.step} (${d.script[d.step]}) shows:`);
  for (const [i, x] of d.observations.entries()) {
    const v = d.verdicts[i]!;
    lines.push(`  ${x.peer}: ${shownObservation(x.observation)}  -- ${v.verdict === 'right' ? 'as the spec says' : v.verdict === 'undecided' ? 'spec silent' : `wrong: ${v.fields.join(', ')} (${v.statements.join(', ')})`}`);
  }
  lines.push(`  spec: ${shownObservation(d.expected)}`);
  const wrong = d.verdicts.filter((v): v is Extract<PeerVerdict, { verdict: 'wrong' }> => v.verdict === 'wrong');
  if (wrong.length === 0) lines.push('spec gap: the spec does not say which answer is right; the disagreement is reported for the spec to decide');
  else lines.push(...wrong.map((v) => `${v.peer} is wrong by ${v.statements.join(', ')}`));
  return lines.join('\n');
}
