/**
 * A bus case: its id, statements and a run against a bus driver. The conformance wrapper
 * (cases/bus.cases.ts) opens the driver; the broken-variant tests run the same definitions against
 * deliberately broken buses.
 */
import type { BusDriver } from './driver.js';

export interface BusEnv {
  seed: number;
  /** The adapter's optional features (hello). */
  features: string[];
  /** Runs of the stateful model (default MODEL_RUNS); the variant tests ask for more. */
  modelRuns?: number;
}

export interface BusCaseDef {
  id: string;
  statements: string[];
  /** Optional adapter features the case needs; skipped without them. */
  needs?: string[];
  /** The case judges the adapter process itself (its output lines, its exit): skipped for a broker's bus. */
  process?: boolean;
  run(d: BusDriver, env: BusEnv): Promise<void>;
}
