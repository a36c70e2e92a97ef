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
  /** The first job whose failure its run alone confirmed, and that run's outcome; undefined while none. */
  readonly confirmedFailure: { name: string; settled: Settled<T> } | undefined;
  /** Starts no more jobs; resolves when the running ones have ended. */
  stop(): Promise<void>;
}

/**
 * Starts the jobs that wait at once, then the others in order: at most `width` pool jobs at once; an
 * `alone` job waits for the running pool and alone jobs to end and runs without them. `failed` is asked
 * of every outcome. A failure is run again alone before it counts, since a case that misses a frame
 * timeout on a machine loaded by other cases (and other Stryker workers) fails for the load, not the
 * mutant: no job starts until the running ones have ended, then the failed job runs again with none
 * beside it but those that wait. Its second outcome is the job's outcome. When that fails too, no
 * further job starts (Stryker needs one failure only); when it passes, the pool goes on.
 */
export function startPool<T>(jobs: readonly PoolJob<T>[], width: number, failed: (name: string, s: Settled<T>) => boolean): CasePool<T> {
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`a pool of width ${width}: at least 1`);
  const outcomes = new Map<string, { promise: Promise<Settled<T> | undefined>; resolve: (s: Settled<T> | undefined) => void }>();
  for (const job of jobs) {
    let resolve!: (s: Settled<T> | undefined) => void;
    const promise = new Promise<Settled<T> | undefined>((r) => (resolve = r));
    outcomes.set(job.name, { promise, resolve });
  }
  // A condition variable: `until` waits for a predicate, re-asked at every change of the counts below.
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((r) => (wake = r));
  const signal = (): void => {
    wake();
    changed = new Promise<void>((r) => (wake = r));
  };
  const until = async (ready: () => boolean): Promise<void> => {
    while (!ready()) await changed;
  };
  let stopped = false;
  let confirmedFailure: CasePool<T>['confirmedFailure'];
  /** Pool and alone jobs started and not yet settled, their reruns included. */
  let inFlight = 0;
  /** Runs of pool and alone jobs in progress (a job awaiting its rerun is in flight, not running). */
  let running = 0;
  /** Failures awaiting their rerun: no job starts meanwhile. */
  let holds = 0;
  /** Reruns go one at a time. */
  let reruns: Promise<unknown> = Promise.resolve();
  const runOnce = async (job: PoolJob<T>): Promise<Settled<T>> => {
    const counted = job.placement !== 'waits';
    if (counted) running++;
    try {
      return await job.run().then((value): Settled<T> => ({ value }), (error: unknown): Settled<T> => ({ error }));
    } finally {
      if (counted) running--;
      signal();
    }
  };
  const settle = async (job: PoolJob<T>): Promise<void> => {
    let s = await runOnce(job);
    if (failed(job.name, s)) {
      holds++;
      const rerun = reruns.then(async () => {
        await until(() => running === 0);
        return runOnce(job);
      });
      reruns = rerun;
      s = await rerun;
      if (failed(job.name, s)) {
        stopped = true;
        confirmedFailure ??= { name: job.name, settled: s };
      }
      holds--;
    }
    outcomes.get(job.name)!.resolve(s);
  };
  let aloneInFlight = false;
  const waiting = jobs.filter((job) => job.placement === 'waits').map(settle);
  const scheduled = (async () => {
    for (const job of jobs) {
      if (job.placement === 'waits') continue;
      // Checked before any await: the jobs the pool has room for start at once, before a stop() can come.
      const ready = job.placement === 'alone' ? () => stopped || (inFlight === 0 && holds === 0) : () => stopped || (inFlight < width && holds === 0 && !aloneInFlight);
      while (!ready()) await changed;
      if (stopped) break;
      inFlight++;
      aloneInFlight = job.placement === 'alone';
      void settle(job).finally(() => {
        inFlight--;
        if (job.placement === 'alone') aloneInFlight = false;
        signal();
      });
    }
    await until(() => inFlight === 0);
    await Promise.all(waiting);
    for (const { resolve } of outcomes.values()) resolve(undefined);
  })();
  return {
    outcome: (name) => outcomes.get(name)?.promise ?? Promise.resolve(undefined),
    get confirmedFailure() {
      return confirmedFailure;
    },
    stop: async () => {
      stopped = true;
      signal();
      await scheduled;
    },
  };
}
