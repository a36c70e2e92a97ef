/**
 * `--faults SEED[:PROFILE]`: which transport faults the harness applies to its side of every
 * connection. A profile names a set of fault kinds; the seed draws where and how much.
 */

/** One kind of perturbation of the harness's side of a connection. */
export type FaultKind = 'split' | 'coalesce' | 'delay' | 'slow-reader' | 'cut';

/** The profiles `--faults SEED:PROFILE` accepts, and the kinds each applies. */
export const FAULT_PROFILES: Record<string, readonly FaultKind[]> = {
  /** Frames cut into chunks (every byte its own write for frames under 64 bytes) and several frames in one write. */
  split: ['split', 'coalesce'],
  /** Pauses between the chunks the harness writes, and a reader that stops reading for a while. */
  slow: ['delay', 'slow-reader'],
  /**
   * Mid-frame disconnects where the spec defines the outcome (FRM-7, HS-19): before a client
   * session's INIT, a connection with the same client id ends inside a frame, and the session
   * reconnects with that id. Applies to broker sessions over TCP or a Unix socket only.
   */
  cut: ['cut'],
  /** Everything above. */
  all: ['split', 'coalesce', 'delay', 'slow-reader', 'cut'],
};

export const DEFAULT_FAULT_PROFILE = 'all';

/** A parsed `--faults` value. */
export interface FaultSpec {
  /** A uint32: the same seed draws the same faults for the same case and connection. */
  seed: number;
  profile: string;
}

/** A `--faults` value that is not SEED[:PROFILE] (a usage error, exit 64). */
export class FaultSpecError extends Error {
  override name = 'FaultSpecError';
}

export function parseFaultSpec(text: string): FaultSpec {
  const m = /^(\d{1,10})(?::([a-z-]+))?$/.exec(text);
  if (!m) throw new FaultSpecError(`--faults ${JSON.stringify(text)} is not SEED[:PROFILE] (a seed 0 to 4294967295, profiles: ${Object.keys(FAULT_PROFILES).join(', ')})`);
  const seed = Number(m[1]);
  if (seed > 0xffffffff) throw new FaultSpecError(`--faults seed ${seed} is above 4294967295`);
  const profile = m[2] ?? DEFAULT_FAULT_PROFILE;
  if (!(profile in FAULT_PROFILES)) throw new FaultSpecError(`--faults: unknown profile ${profile} (profiles: ${Object.keys(FAULT_PROFILES).join(', ')})`);
  return { seed, profile };
}

export function formatFaultSpec(spec: FaultSpec): string {
  return `${spec.seed}:${spec.profile}`;
}
