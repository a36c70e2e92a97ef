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

/**
 * How a job shares the machine: `pool` beside up to `width` - 1 other pool jobs; `alone` beside no job
 * but those that wait (its load could upset the timing of others); `waits` beside anything, from the
 * start (it spends seconds waiting on a timer, with a few ms of CPU and a margin of seconds).
 */
export type Placement = 'pool' | 'alone' | 'waits';

export interface PoolJob<T> {
  /** The vitest test that awaits the job. */
  name: string;
  placement: Placement;
  run(): Promise<T>;
}

export interface CasePool<T> {
  /** The job's outcome; undefined when it was never started because the pool stopped first. */
  outcome(name: string): Promise<Settled<T> | undefined>;
  /** Starts no more jobs; resolves when the running ones have ended. */
  stop(): Promise<void>;
}

/**
 * Starts the jobs that wait at once, then the others in order: at most `width` pool jobs at once; an
 * `alone` job waits for the running pool jobs to end and runs without them. `failed` is asked of every
 * outcome: after the first failure no further job starts (Stryker needs one failure only).
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
  const launch = (job: PoolJob<T>): Promise<void> =>
    job.run().then((value): Settled<T> => ({ value }), (error: unknown): Settled<T> => ({ error })).then((s) => {
      if (failed(job.name, s)) stopped = true;
      outcomes.get(job.name)!.resolve(s);
    });
  const waiting = jobs.filter((job) => job.placement === 'waits').map(launch);
  /** The pool and alone jobs running. */
  const running = new Set<Promise<void>>();
  const scheduled = (async () => {
    for (const job of jobs) {
      if (job.placement === 'waits') continue;
      if (job.placement === 'alone') await Promise.all(running);
      else while (running.size >= width) await Promise.race(running);
      if (stopped) break;
      const done = launch(job);
      running.add(done);
      void done.then(() => running.delete(done));
      if (job.placement === 'alone') await done;
    }
    await Promise.all([...running, ...waiting]);
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
