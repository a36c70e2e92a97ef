/** What the mutation run tests the broker with: its suites, their seed, and what the reference broker skips. */
import { externalIPv4 } from '../../wire/external-address.js';
import type { LimitName } from '../../limits.js';
import type { Placement } from './case-pool.js';

/**
 * The suites a broker in process serves over TCP: `core` and the bus of the broker (`bus`). `fifo`
 * repeats `core` over FIFO pairs (the FIFO transport is outside `reference/broker`). `broker-process`,
 * whose cases start their own brokers, runs too, each broker started in process from the command line
 * (in-process-broker-launcher.ts), but for BROKER_PROCESS_LEFT_OUT.
 */
export const MUTATION_SUITES = ['core', 'bus'] as const;

/** The broker-process cases the mutation run leaves out, and why: a mutant must not be killed by the machine. */
export const BROKER_PROCESS_LEFT_OUT: ReadonlyMap<string, string> = new Map([
  ['transport-tcp/default-address', 'binds the fixed port 9999, which the Stryker workers running it at once (and any other program) would race for: a case skipped for a taken port would count as a kill'],
  ...(externalIPv4() !== undefined ? [] : [['security/loopback-only', 'this machine has no non-loopback IPv4 address to probe: the case skips'] as const]),
]);

/** One seed for the dry run and every mutant, so a generated case sends the same inputs each time. */
export const MUTATION_SEED = 16;

/** Cases the reference broker skips here (the id and the reason): a mutant cannot be killed by them. */
export const SKIPPED_ON_REFERENCE: ReadonlyMap<string, string> = new Map([
  ['coordinator-semantics/priority-order', 'a bus adapter that declares same-turn only'],
  ['coordinator-semantics/service-without-handler', 'a bus adapter that declares handler-check only'],
  ['coordinator-semantics/absent-priority-is-normal', 'a bus adapter that declares same-turn only'],
  ['bus-adapter/one-line-per-line', 'a bus adapter process (--exec) only'],
  ['bus-adapter/exit-zero-at-end-of-input', 'a bus adapter process (--exec) only'],
  ['bus-adapter/exit-at-end-of-input-with-work-pending', 'a bus adapter process (--exec) only'],
]);

/**
 * Limits a case runs with over the embedded broker's (a broker and harness both told them). Opening 65
 * connections within half of a 1,000 ms handshake_timeout_ms fails on a loaded machine, and the case then
 * skips, which would leave its mutants unkillable.
 */
export const CASE_LIMITS: ReadonlyMap<string, Partial<Record<LimitName, number>>> = new Map([
  ['handshake/handshake-memory-bounded', { handshake_timeout_ms: 10_000 }],
  // This case waits out slow_reader_timeout_ms (default 5 s, the slowest case of the run): a reader that
  // never reads is at fault after 3 s as after 5 s, and every mutant that reaches the case is cheaper.
  // Not lower: a broker that never pauses the sender must still hold the reader when the sender's PING,
  // behind its 40 MiB flood, is read (up to 2 s at load 16), or that mutant would pass.
  // (limits/own-requests-to-a-full-queue-refused keeps the default: it needs the full queue to last.)
  ['limits/slow-reader-closed-sender-resumes', { slow_reader_timeout_ms: 3000 }],
  // max_header away from its default (LIM-4 allows 1,024 to 65,535): a decode that falls back to the
  // default 4,096 instead of the broker's own max_header reads as the original at the default.
  ['limits/header-past-max-header-refused', { max_header: 1024 }],
  ['limits/first-frame-header-past-max-header-refused', { max_header: 1024 }],
  ['limits/header-at-max-header-accepted', { max_header: 8192 }],
  ['limits/first-frame-header-at-max-header-read', { max_header: 8192 }],
  // A close at the acks against one at the drain's end: the embedded 1,000 ms makes the case skip.
  ['handshake/broker-shutdown-ends-at-the-last-ack', { shutdown_drain_ms: 10_000 }],
  ['handshake/broker-shutdown-ends-at-the-last-ack-after-ended-requests', { shutdown_drain_ms: 10_000 }],
  ['handshake/broker-shutdown-second-ack-refused', { shutdown_drain_ms: 10_000 }],
  // A client's drain that ends at the last answer against one that ends at drain_ms: these cases expect
  // SHUTDOWN_ACK within the frame timeout of the answer, which the embedded 1,000 ms drain always meets.
  ['handshake/shutdown-drain-awaits-answers', { shutdown_drain_ms: 10_000 }],
  ['handshake/shutdown-drain-awaits-requests-forwarded-to-it', { shutdown_drain_ms: 10_000 }],
  ['handshake/shutdown-drain-awaits-a-dispatch', { shutdown_drain_ms: 10_000 }],
  ['handshake/shutdown-drain-awaits-a-bus-query', { shutdown_drain_ms: 10_000 }],
]);

/** The frame timeout of the harness (`--timeout`) for every case, and for the property cases. */
export const FRAME_TIMEOUT_MS = 2000;
/**
 * A property case runs its generated inputs within 20 frame timeouts; on a machine loaded many times
 * over it needs more (a hang guard, not a measurement), or the dry run fails and no mutant is tested.
 */
export const PROPERTY_FRAME_TIMEOUT_MS = 6000;

/** The frame timeout a case runs with. */
export function frameTimeoutOf(id: string): number {
  return id.includes('/prop-') ? PROPERTY_FRAME_TIMEOUT_MS : FRAME_TIMEOUT_MS;
}

/**
 * Core cases of a broker's own limits, which a cluster does not share (the id and the reason): with the
 * connections spread over three brokers no one broker reaches them. `cluster-core-suite.test.ts` lists
 * them as known failing; the cluster's mutation tests leave them out (the single broker's run has them).
 */
export const PER_BROKER_CASES: ReadonlyMap<string, string> = new Map([
  ['handshake/handshake-memory-bounded', 'max_handshake_bytes bounds the memory one broker spends on handshakes (LIM-2)'],
]);

/**
 * Core cases that skip themselves when the connections are spread over brokers (the id and the reason):
 * the cluster's mutation tests leave them out, as nothing a mutant does can change a skip.
 */
export const NEEDS_ONE_BROKER: ReadonlyMap<string, string> = new Map([
  ['limits/sender-held-until-every-full-reader-drains', 'pausing a sender (LIM-14) does not cross brokers'],
]);

/**
 * How many cases of the single broker run at once under a mutant (case-pool.ts). Measured idle
 * (2026-12-03, one case after another): the 254 cases took 55 s of wall time and 10.8 s of CPU, 12.5 s of
 * it `requests/timeout-at-the-catalog-timeout` waiting out a 10 s timeout. CONCORD_MUTATION_TOGETHER=1 runs
 * them one after another.
 */
export const CASES_TOGETHER = casesTogether('CONCORD_MUTATION_TOGETHER', 6);

/**
 * The same for the cluster's cases, each on three brokers and a nats-server of its own (a case's
 * brokers use 3 times the CPU of one broker). CONCORD_MUTATION_CLUSTER_TOGETHER=1 runs them one by one.
 */
export const CLUSTER_CASES_TOGETHER = casesTogether('CONCORD_MUTATION_CLUSTER_TOGETHER', 3);

/** A width from the environment variable `name`, `fallback` when unset; a value that is no positive integer stops the run. */
function casesTogether(name: string, fallback: number): number {
  const given = process.env[name];
  if (given === undefined || given === '') return fallback;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name}=${given}: the number of cases run at once must be a positive integer`);
  return n;
}

/**
 * Where a case runs under a mutant (case-pool.ts). `alone`: the cases that load the machine (floods and
 * filled limits, generated inputs, a frame split at every byte; 100 ms to 1.8 s of CPU each, measured as
 * above), whose load could make a case beside them miss a frame timeout and kill a mutant no case kills
 * on its own; the handshake timeouts of `limits/handshake-timeout/` only wait (25 ms of CPU). `waits`:
 * `requests/timeout-at-the-catalog-timeout`, 12.5 s of waiting and 64 ms of CPU, whose every timed
 * check has a margin of 5 s; it runs from the start, beside the others. The cluster-process suite's
 * cases run alone too: each owns a cluster, and its timed checks (heartbeat gaps, a death seen within
 * 2.5 s) must not lose their margins to cases beside them.
 */
export function placementOf(id: string, suite?: string): Placement {
  if (id === 'requests/timeout-at-the-catalog-timeout') return 'waits';
  // Each starts a NATS server and brokers of its own and judges heartbeat gaps and a death's 2.5 s bound.
  if (suite === 'cluster-process') return 'alone';
  const heavy = (id.startsWith('limits/') && !id.startsWith('limits/handshake-timeout/')) || id.includes('/prop')
    || ['framing/split-at-every-byte', 'handshake/handshake-budget-ends-at-init-ack', 'requests/many-in-flight-no-cross-talk'].includes(id);
  return heavy ? 'alone' : 'pool';
}
