/**
 * Fault schedules: what the harness does to the bytes of one case's connections, drawn from the
 * `--faults` seed or replayed from a recorded schedule. A schedule is data (JSON in the report and in
 * replay bundles): writes and reads are counted per connection, so the same schedule applied to the
 * same case perturbs the same frames the same way.
 */
import { Xorshift32 } from '../../reference/engine/prng.js';
import { FAULT_PROFILES, type FaultKind, type FaultSpec } from './profile.js';

/**
 * One perturbation. `write` counts the frames (or raw byte strings) the harness sent on the
 * connection, from 0; `read` counts the chunks it read from the peer, from 0.
 */
export type FaultStep =
  /** Sends `write` .. `write + count - 1` go out as one write. */
  | { kind: 'coalesce'; write: number; count: number }
  /** The bytes of the write starting with send `write` are cut at these offsets, each chunk written alone. */
  | { kind: 'split'; write: number; cuts: number[] }
  /** Pauses (ms) before each chunk of that write (the first before its first byte). */
  | { kind: 'delay'; write: number; ms: number[] }
  /** After reading chunk `read`, the harness stops reading for `ms`. */
  | { kind: 'slow-reader'; read: number; ms: number }
  /**
   * Before this connection's INIT, another connection with the same client id sent the first
   * `bytes` bytes of a `of`-byte frame and ended its stream there (FRM-7); this one reconnects.
   */
  | { kind: 'cut'; bytes: number; of: number };

/** The faults applied to one connection of a case, by its position among the case's connections. */
export interface ConnectionSchedule {
  connection: number;
  label: string;
  steps: FaultStep[];
}

/** Everything a case's connections suffered: what a report and a replay bundle record. */
export interface FaultSchedule {
  seed: number;
  profile: string;
  connections: ConnectionSchedule[];
}

/** How one connection is perturbed; the writer and the reader ask it as they go. */
export interface ConnectionFaults {
  /** How many sends, starting with send `write`, to hold back and write at once (1: no coalescing). */
  coalesce(write: number): number;
  /** The cuts and pauses of the write starting with send `write` (`group` sends, `length` bytes). */
  chunks(write: number, group: number, length: number): { cuts: number[]; delays: number[] };
  /** How long to stop reading after chunk `read` (0: read on). */
  readPause(read: number): number;
  /** How many bytes of a `length`-byte frame a connection dropped before this one's INIT sends (0: no cut). */
  cut(length: number): number;
}

/** The faults of one case: one ConnectionFaults per connection, and the schedule they applied. */
export interface CaseFaults {
  forConnection(index: number, label: string): ConnectionFaults;
  schedule(): FaultSchedule;
}

/** Frames shorter than this may be cut at every byte boundary. */
export const EVERY_BOUNDARY_BELOW = 64;
/** The most the pauses of one write add up to, and the longest a reader stops (ms). */
export const MAX_WRITE_DELAY_MS = 40;
export const MAX_READ_PAUSE_MS = 60;
/** How long sends chosen to be coalesced wait for the ones after them (a case may await a reply first). */
export const COALESCE_HOLD_MS = 20;
/**
 * What the faults of one connection may add to its time in all, on the writing side (pauses and
 * coalescing holds) and on the reading side (slow-reader pauses): a case that sends a thousand
 * frames must still get its answer within --timeout (default 2000 ms).
 */
export const WRITE_BUDGET_MS = 400;
export const READ_BUDGET_MS = 300;
/**
 * Writes of one connection that may be cut or coalesced: a flood of a thousand frames cut into
 * chunks costs the peer (and an in-process broker) thousands of extra reads on a loaded machine.
 */
export const MAX_PERTURBED_WRITES = 64;
/** One broker session in this many is preceded by a mid-frame disconnect (each costs a connection and a close). */
export const CUT_ONE_IN = 4;

/** FNV-1a of a text, for a per-case, per-connection stream of draws. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

class Draws {
  private readonly prng: Xorshift32;
  constructor(seed: number) {
    this.prng = new Xorshift32(seed >>> 0);
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return this.prng.next() % n;
  }
  chance(oneIn: number): boolean {
    return this.below(oneIn) === 0;
  }
}

/** Cut offsets inside a write of `length` bytes: none, every boundary (short frames), or a few. */
function drawCuts(d: Draws, length: number): number[] {
  if (length < 2 || d.chance(2)) return [];
  if (length < EVERY_BOUNDARY_BELOW && d.chance(2)) return Array.from({ length: length - 1 }, (_, i) => i + 1);
  const cuts = new Set<number>();
  for (let k = 1 + d.below(3); k > 0; k--) {
    // A third of the cuts fall inside the 4-byte length prefix, where a peer that reads the prefix in one go breaks.
    cuts.add(d.chance(3) ? 1 + d.below(Math.min(4, length - 1)) : 1 + d.below(length - 1));
  }
  return [...cuts].sort((a, b) => a - b);
}

function drawDelays(d: Draws, chunks: number, left: number): number[] {
  let budget = Math.min(MAX_WRITE_DELAY_MS, left);
  return Array.from({ length: chunks }, () => {
    const ms = d.chance(3) ? Math.min(budget, 1 + d.below(10)) : 0;
    budget -= ms;
    return ms;
  });
}

/** A connection's faults drawn from the seed, each one recorded in `record` as it is applied. */
function drawnConnection(spec: FaultSpec, kinds: ReadonlySet<FaultKind>, caseId: string, record: ConnectionSchedule): ConnectionFaults {
  const base = hash32(`${caseId}\u0000${record.connection}`) ^ spec.seed;
  // Writes and reads draw from streams of their own: reads arrive in an order the harness does not choose.
  const writes = new Draws(base);
  const reads = new Draws(Math.imul(base ^ 0x5bd1e995, 0x27d4eb2d) >>> 0);
  // Cuts draw from a stream of their own too, so adding them left the other faults of a seed as they were.
  const cuts = new Draws(Math.imul(base ^ 0x9e3779b9, 0x85ebca6b) >>> 0);
  let writeBudget = WRITE_BUDGET_MS;
  let readBudget = READ_BUDGET_MS;
  let perturbed = 0;
  return {
    coalesce: () => {
      const count = kinds.has('coalesce') && writes.chance(4) ? 2 + writes.below(2) : 1;
      if (count === 1 || writeBudget < COALESCE_HOLD_MS || perturbed >= MAX_PERTURBED_WRITES) return 1;
      writeBudget -= COALESCE_HOLD_MS; // at most: the hold ends when the sends arrive
      return count;
    },
    chunks: (write, group, length) => {
      if (perturbed >= MAX_PERTURBED_WRITES) return { cuts: [], delays: [] };
      if (group > 1) record.steps.push({ kind: 'coalesce', write, count: group });
      const cuts = kinds.has('split') ? drawCuts(writes, length) : [];
      if (cuts.length > 0) record.steps.push({ kind: 'split', write, cuts });
      const delays = kinds.has('delay') ? drawDelays(writes, cuts.length + 1, writeBudget) : [];
      writeBudget -= delays.reduce((a, b) => a + b, 0);
      if (delays.some((ms) => ms > 0)) record.steps.push({ kind: 'delay', write, ms: delays });
      if (group > 1 || cuts.length > 0 || delays.some((ms) => ms > 0)) perturbed++;
      return { cuts, delays };
    },
    readPause: (read) => {
      if (!kinds.has('slow-reader') || !reads.chance(6)) return 0;
      const ms = Math.min(readBudget, 5 + reads.below(MAX_READ_PAUSE_MS - 4));
      if (ms <= 0) return 0;
      readBudget -= ms;
      record.steps.push({ kind: 'slow-reader', read, ms });
      return ms;
    },
    cut: (length) => {
      if (!kinds.has('cut') || length < 2 || !cuts.chance(CUT_ONE_IN)) return 0;
      // A third of the cuts fall inside the 4-byte length prefix, like the split cuts.
      const bytes = cuts.chance(3) ? 1 + cuts.below(Math.min(4, length - 1)) : 1 + cuts.below(length - 1);
      record.steps.push({ kind: 'cut', bytes, of: length });
      return bytes;
    },
  };
}

/** The faults `--faults SEED:PROFILE` applies to one case (its id picks the stream of draws). */
export function drawFaults(spec: FaultSpec, caseId: string): CaseFaults {
  const kinds = new Set(FAULT_PROFILES[spec.profile] ?? []);
  const connections: ConnectionSchedule[] = [];
  return {
    forConnection(index, label) {
      const record: ConnectionSchedule = { connection: index, label, steps: [] };
      connections.push(record);
      return drawnConnection(spec, kinds, caseId, record);
    },
    schedule: () => ({ seed: spec.seed, profile: spec.profile, connections: connections.map((c) => ({ ...c, steps: [...c.steps] })) }),
  };
}

/**
 * The same perturbation again from a recorded schedule (a report's or a replay bundle's `faults`):
 * the steps recorded for each connection, and nothing else. Used to shrink a failure to a smaller
 * schedule and by `conformance replay`.
 */
export function faultsFromSchedule(schedule: FaultSchedule): CaseFaults {
  const applied: ConnectionSchedule[] = [];
  return {
    forConnection(index, label) {
      const steps = schedule.connections.find((c) => c.connection === index)?.steps ?? [];
      applied.push({ connection: index, label, steps });
      const at = <K extends FaultStep['kind']>(kind: K, key: 'write' | 'read', n: number): Extract<FaultStep, { kind: K }> | undefined =>
        steps.find((s) => s.kind === kind && (s as Record<string, unknown>)[key] === n) as Extract<FaultStep, { kind: K }> | undefined;
      return {
        coalesce: (write) => at('coalesce', 'write', write)?.count ?? 1,
        chunks: (write, _group, length) => {
          const cuts = (at('split', 'write', write)?.cuts ?? []).filter((c) => c > 0 && c < length);
          return { cuts, delays: at('delay', 'write', write)?.ms ?? [] };
        },
        readPause: (read) => at('slow-reader', 'read', read)?.ms ?? 0,
        cut: (length) => {
          const step = steps.find((s): s is Extract<FaultStep, { kind: 'cut' }> => s.kind === 'cut');
          return step ? Math.min(step.bytes, length - 1) : 0;
        },
      };
    },
    schedule: () => ({ seed: schedule.seed, profile: schedule.profile, connections: applied }),
  };
}

/** How many steps a schedule holds. */
export function stepCount(schedule: FaultSchedule): number {
  return schedule.connections.reduce((n, c) => n + c.steps.length, 0);
}

/** One line of a step, for the wire log and the terminal. */
export function describeStep(step: FaultStep): string {
  switch (step.kind) {
    case 'coalesce': return `fault coalesce: sends #${step.write}-#${step.write + step.count - 1} written at once`;
    case 'split': return `fault split: the write starting with send #${step.write} cut into ${step.cuts.length + 1} chunks${step.cuts.length > 8 ? ' (at every byte)' : ` at byte ${step.cuts.join(', ')}`}`;
    case 'delay': return `fault delay: pauses of ${step.ms.join(', ')} ms before the chunks of the write starting with send #${step.write}`;
    case 'slow-reader': return `fault slow-reader: the harness stops reading for ${step.ms} ms after read #${step.read}`;
    case 'cut': return `fault cut: before this connection's INIT, a connection with the same client id sent ${step.bytes} of the ${step.of} bytes of a frame and ended its stream inside it (FRM-7); this one reconnects with that id (HS-19)`;
  }
}
