/**
 * Runs the cases of one mutant side by side. Most of a case's time is spent waiting on the broker's
 * timers (heartbeats, handshake and request timeouts; `requests/timeout-at-the-catalog-timeout` alone
 * waits out INSTRUMENT_COMMAND's 10 s), so the 254 cases of the single broker take 55 s one after the
 * other with little CPU, and a mutant that survives pays all of it. Under a mutant several cases run at
 * once; the dry run stays one case at a time, because Stryker charges the code a test reaches to the
 * test running when the code ran (its per-test coverage).
 */

/** A case's result, or what it threw. */
export type Settled<T> = { value: T } | { error: unknown };

export interface PoolJob<T> {
  /** The vitest test that awaits the job. */
  name: string;
  /** A job that must not share the machine with others (their load could upset its timing). */
  alone: boolean;
  run(): Promise<T>;
}

export interface CasePool<T> {
  /** The job's outcome; undefined when it was never started because the pool stopped first. */
  outcome(name: string): Promise<Settled<T> | undefined>;
  /** Starts no more jobs; resolves when the running ones have ended. */
  stop(): Promise<void>;
}

/**
 * Starts `jobs` in order, at most `width` at once; a job marked `alone` waits for the running ones to
 * end and runs by itself. `failed` is asked of every outcome: after the first failure no further job
 * starts (vitest's bail stops the tests that would await them, and Stryker needs one failure only).
 */
export function startPool<T>(jobs: readonly PoolJob<T>[], width: number, failed: (name: string, s: Settled<T>) => boolean): CasePool<T> {
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`a pool of width ${width}: at least 1`);
  const outcomes = new Map<string, { promise: Promise<Settled<T> | undefined>; resolve: (s: Settled<T> | undefined) => void }>();
  for (const job of jobs) {
    let resolve!: (s: Settled<T> | undefined) => void;
    const promise = new Promise<Settled<T> | undefined>((r) => (resolve = r));
    outcomes.set(job.name, { promise, resolve });
  }
  let stopped = false;
  const running = new Set<Promise<void>>();
  const launch = (job: PoolJob<T>): Promise<void> => {
    const done = job.run().then((value): Settled<T> => ({ value }), (error: unknown): Settled<T> => ({ error })).then((s) => {
      if (failed(job.name, s)) stopped = true;
      outcomes.get(job.name)!.resolve(s);
    });
    running.add(done);
    void done.then(() => running.delete(done));
    return done;
  };
  const scheduled = (async () => {
    for (const job of jobs) {
      if (job.alone) await Promise.all(running);
      else while (running.size >= width) await Promise.race(running);
      if (stopped) break;
      const done = launch(job);
      if (job.alone) await done;
    }
    await Promise.all(running);
    for (const { resolve } of outcomes.values()) resolve(undefined);
  })();
  return {
    outcome: (name) => outcomes.get(name)?.promise ?? Promise.resolve(undefined),
    stop: async () => {
      stopped = true;
      await scheduled;
    },
  };
}
