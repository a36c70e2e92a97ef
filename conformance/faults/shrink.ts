/**
 * Shrinking a failure under faults: the smallest schedule (fewest steps, then fewest cuts) with
 * which the case still fails, found by re-running the case with candidate schedules (delta
 * debugging over the recorded steps). Bounded in runs: the result is the smallest found within them.
 */
import type { FaultSchedule, FaultStep } from './schedule.js';
import { stepCount } from './schedule.js';

/** Re-runs of one case the shrinker may spend. */
export const MAX_SHRINK_RUNS = 20;

export interface ShrinkResult {
  schedule: FaultSchedule;
  /** Re-runs spent. */
  runs: number;
  /** The case failed with no fault at all: the faults are not what breaks it. */
  failsWithoutFaults: boolean;
}

type Located = { connection: number; label: string; step: FaultStep };

function flatten(s: FaultSchedule): Located[] {
  return s.connections.flatMap((c) => c.steps.map((step) => ({ connection: c.connection, label: c.label, step })));
}

/** A delay whose pauses all fall after the last chunk of its write (its split was dropped) changes nothing. */
function inert(s: Located, steps: Located[]): boolean {
  if (s.step.kind !== 'delay') return false;
  const write = s.step.write;
  const split = steps.find((x) => x.connection === s.connection && x.step.kind === 'split' && x.step.write === write)?.step;
  const chunks = split?.kind === 'split' ? split.cuts.length + 1 : 1;
  return s.step.ms.slice(0, chunks).every((ms) => ms === 0);
}

function rebuild(base: FaultSchedule, all: Located[]): FaultSchedule {
  const steps = all.filter((s) => !inert(s, all));
  const connections = base.connections.map((c) => ({ connection: c.connection, label: c.label, steps: steps.filter((s) => s.connection === c.connection).map((s) => s.step) }));
  return { seed: base.seed, profile: base.profile, connections };
}

/** A simpler form of a step, or undefined when it has none: one cut instead of many, one pause, a shorter one. */
function simpler(step: FaultStep): FaultStep | undefined {
  if (step.kind === 'split' && step.cuts.length > 1) return { ...step, cuts: [step.cuts[0]!] };
  if (step.kind === 'coalesce' && step.count > 2) return { ...step, count: 2 };
  if (step.kind === 'delay' && step.ms.filter((m) => m > 0).length > 1) return { ...step, ms: step.ms.map((m, i) => (i === step.ms.findIndex((x) => x > 0) ? m : 0)) };
  if (step.kind === 'slow-reader' && step.ms > 5) return { ...step, ms: 5 };
  if (step.kind === 'cut' && step.bytes > 1) return { ...step, bytes: 1 };
  return undefined;
}

/** `fails(candidate)` re-runs the case with the candidate schedule and says whether it still fails. */
export async function shrinkSchedule(failing: FaultSchedule, fails: (candidate: FaultSchedule) => Promise<boolean>, maxRuns = MAX_SHRINK_RUNS): Promise<ShrinkResult> {
  let runs = 0;
  const attempt = async (candidate: FaultSchedule): Promise<boolean> => {
    runs++;
    return fails(candidate);
  };
  const empty = rebuild(failing, []);
  if (await attempt(empty)) return { schedule: empty, runs, failsWithoutFaults: true };
  let steps = flatten(failing);
  // Delta debugging: drop ever smaller slices of the steps while the case still fails.
  let parts = 2;
  while (steps.length > 1 && runs < maxRuns) {
    const size = Math.ceil(steps.length / parts);
    let dropped = false;
    for (let start = 0; start < steps.length && runs < maxRuns; start += size) {
      const rest = [...steps.slice(0, start), ...steps.slice(start + size)];
      if (rest.length > 0 && await attempt(rebuild(failing, rest))) {
        steps = rest;
        parts = Math.max(parts - 1, 2);
        dropped = true;
        break;
      }
    }
    if (!dropped) {
      if (size === 1) break;
      parts = Math.min(parts * 2, steps.length);
    }
  }
  // Then each remaining step in its simplest form that still fails.
  for (let i = 0; i < steps.length && runs < maxRuns; i++) {
    for (let s = simpler(steps[i]!.step); s && runs < maxRuns; s = simpler(s)) {
      const candidate = steps.map((x, j) => (j === i ? { ...x, step: s! } : x));
      if (!(await attempt(rebuild(failing, candidate)))) break;
      steps = candidate;
    }
  }
  const schedule = rebuild(failing, steps);
  return { schedule: stepCount(schedule) <= stepCount(failing) ? schedule : failing, runs, failsWithoutFaults: false };
}
