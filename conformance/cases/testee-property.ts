/**
 * A property over one testee process, pipelined: the generated inputs are written ahead of their
 * answers (up to PIPELINE_DEPTH unanswered) and the answers read in order, which TST-3 requires of
 * every testee ("exactly one frame, in the order received"). One process then handles many inputs
 * per second instead of paying a round trip (two process wake-ups) for each.
 *
 * Every answer gets the same check as one sent alone. When one fails, the property runs again the
 * slow way, one input at a time with fast-check's shrinking, so the failure names the smallest
 * counterexample; should the slow run pass (a testee that mishandles frames written back to back),
 * the pipelined failure stands. Either way the case fails: pipelining never turns a failure into a pass.
 */
import fc from 'fast-check';
import { CaseFailure } from './model.js';
import type { CaseContext, TesteeSession } from './context.js';

/** Inputs written ahead of their answers. Bounded so a testee that stops answering holds few frames. */
export const PIPELINE_DEPTH = 32;

export interface TesteeProperty<T> {
  /** The generated inputs. */
  arb: fc.Arbitrary<T>;
  numRuns: number;
  /** The prefix of the frame ids (`g` gives g1, g2, ...). */
  idPrefix: string;
  /** Writes `value` as frame `id`. */
  send(t: TesteeSession, value: T, id: string): void;
  /** Reads the answer to frame `id` (the next frame the testee writes) and checks it; throws a CaseFailure when it is wrong. */
  check(t: TesteeSession, value: T, id: string): Promise<unknown>;
  /** The smallest counterexample as the failure message shows it (after the seed). */
  describe?(value: T): string;
}

/** The first failing answer of the pipelined run. */
interface PipelinedFailure {
  index: number;
  error: unknown;
  /** Whether the process is clean for the slow run: every answer still owed read, nothing else pending. */
  reusable: boolean;
}

/** Runs property `p` against testee `t` (see the module comment); throws the case's failure. */
export async function checkTesteeProperty<T>(ctx: CaseContext, t: TesteeSession, p: TesteeProperty<T>): Promise<void> {
  let n = 0;
  const nextId = (): string => `${p.idPrefix}${++n}`;
  let session = t;
  let inputs: T[] | undefined = [];
  const once = async (value: T): Promise<void> => {
    const id = nextId();
    p.send(session, value, id);
    await p.check(session, value, id);
  };
  // One property for both runs: the first only collects what fast-check generates from the seed (values
  // do not depend on the predicate until one fails), so the slow run sees the same inputs in the same order.
  const property = fc.asyncProperty(p.arb, async (value) => (inputs ? void inputs.push(value) : once(value)));
  await fc.check(property, { seed: ctx.seed, numRuns: p.numRuns });
  const generated = inputs;
  inputs = undefined;

  const recorder = ctx.recorder;
  const start = recorder?.mark();
  const failure = await pipelined(ctx, t, generated, p, nextId);
  if (!failure) return;

  // A replay bundle keeps only the smallest counterexample's run, on a clean process.
  if (recorder && start !== undefined) recorder.cut(start, recorder.mark());
  if (!failure.reusable) session = await ctx.testee('testee (the slow run)');
  const firstRun = recorder?.mark();
  const result = await fc.check(property, { seed: ctx.seed, numRuns: p.numRuns });
  if (!result.failed) {
    const cause = failure.error;
    const detail = `seed ${ctx.seed}: input ${failure.index + 1} of ${generated.length}, written with up to ${PIPELINE_DEPTH} frames unanswered; sent one at a time every input was answered right, but frames written back to back must each be answered too, in order (TST-3)`;
    if (cause instanceof CaseFailure) throw new CaseFailure(`${cause.message} (${detail})`, cause.expected, cause.actual);
    throw cause instanceof Error ? cause : new Error(detail);
  }
  const [smallest] = result.counterexample ?? [];
  if (smallest !== undefined && recorder && firstRun !== undefined) {
    const again = recorder.mark();
    await once(smallest).catch(() => undefined);
    recorder.cut(firstRun, again);
  }
  const detail = `seed ${result.seed}, path ${result.counterexamplePath}, ${result.numShrinks} shrinks${smallest !== undefined && p.describe ? `; smallest: ${p.describe(smallest)}` : ''}`;
  const cause = result.errorInstance as Error | undefined;
  if (cause instanceof CaseFailure) throw new CaseFailure(`${cause.message} (${detail})`, cause.expected, cause.actual);
  throw cause ?? new Error(detail);
}

/** Writes the inputs ahead and checks their answers in order; the first failure, or undefined when all passed. */
async function pipelined<T>(ctx: CaseContext, t: TesteeSession, inputs: T[], p: TesteeProperty<T>, nextId: () => string): Promise<PipelinedFailure | undefined> {
  const ids: string[] = [];
  const sendUpTo = (count: number): void => {
    for (let k = ids.length; k < Math.min(count, inputs.length); k++) {
      ids.push(nextId());
      p.send(t, inputs[k]!, ids[k]!);
    }
  };
  const takenBefore = t.conn.taken;
  sendUpTo(PIPELINE_DEPTH);
  for (let i = 0; i < inputs.length; i++) {
    try {
      await p.check(t, inputs[i]!, ids[i]!);
    } catch (error) {
      const owed = ids.length - (t.conn.taken - takenBefore);
      return { index: i, error, reusable: await drain(ctx, t, owed) };
    }
    sendUpTo(i + 1 + PIPELINE_DEPTH);
  }
  return undefined;
}

/** Reads the `owed` answers still to come (one per frame written, TST-3); whether the process is then clean. */
async function drain(ctx: CaseContext, t: TesteeSession, owed: number): Promise<boolean> {
  for (let k = 0; k < owed; k++) {
    const r = await t.conn.next(ctx.timeoutMs);
    if (r.kind !== 'message') return false;
  }
  return !t.conn.closed && !t.conn.halfClosed && t.conn.violation === undefined && t.conn.pending === 0;
}
