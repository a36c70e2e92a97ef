/** What the mutation run tests the broker with: its suites, their seed, and what the reference broker skips. */

/**
 * The suites a broker in process serves over TCP. `broker-process` starts the broker as a child process,
 * where Stryker sees no coverage; `fifo` repeats `core` over FIFO pairs (the transport code is outside
 * `reference/broker`).
 */
export const MUTATION_SUITES = ['core'] as const;

/** One seed for the dry run and every mutant, so a generated case sends the same inputs each time. */
export const MUTATION_SEED = 16;

/** Cases the reference broker skips here (the id and the reason): a mutant cannot be killed by them. */
export const SKIPPED_ON_REFERENCE: ReadonlyMap<string, string> = new Map([]);
