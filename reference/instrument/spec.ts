/**
 * The instrument's command domains, read from spec/instrument/commands.json (the single source of
 * truth shared with the Python worker), and the typed error a command fails with.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorNames } from '../../spec/generated/catalog.js';

/** One parameter of a command: its type, domain and what an invalid value gets (refused or clamped). */
export interface ParamSpec {
  type: 'string' | 'number' | 'integer';
  /** Name of a list in `enums`. */
  enum?: string;
  /** Name of a list of numbers the value snaps to (only `iq_bandwidths`). */
  nearest?: string;
  minimum?: number;
  maximum?: number;
  exclusive_minimum?: number;
  step?: number;
  default?: string | number;
  required?: boolean;
  invalid: 'refuse' | 'clamp';
  unit?: string;
}

/** What a successful command answers with. */
export type DataKind = 'pong' | 'null' | 'trace' | 'number' | 'quadratures';

/** One command of spec/instrument/commands.json: its parameters and the kind of data it answers. */
export interface CommandSpec {
  data: DataKind;
  params: Record<string, ParamSpec>;
}

/** spec/instrument/commands.json: the scope's constants, the enums, every command and the registers' initial values. */
export interface InstrumentSpec {
  scope: {
    samples: number;
    sample_time_s: number;
    trigger_index: number;
    min_volts: number;
    max_volts: number;
    noise_sigma_volts: number;
    default_signal: { input: string; waveform: string; frequency: number; amplitude: number };
    triggers_that_never_arrive: string[];
  };
  enums: Record<string, (string | number)[]>;
  iq_bandwidths: number[];
  commands: Record<string, CommandSpec>;
  initial: {
    scope: { decimation: number; trigger_source: string };
    pid: Record<string, string | number>;
    asg: Record<string, string | number>;
    iq: Record<string, string | number>;
  };
}

/** Found the same way from the TypeScript sources and from dist/. */
export function specFile(relative: string): string {
  for (const up of ['../../', '../../../']) {
    const path = fileURLToPath(new URL(`${up}${relative}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`instrument: ${relative} is not in the repository`);
}

let cached: InstrumentSpec | undefined;

/** The parsed commands.json (read once). Throws when it cannot be read: the worker exits 70. */
export function instrumentSpec(): InstrumentSpec {
  cached ??= JSON.parse(readFileSync(specFile('spec/instrument/commands.json'), 'utf8')) as InstrumentSpec;
  return cached;
}

/** The error kinds a command can fail with (registry names, spec/errors.json). */
export type CommandErrorCode = ErrorNames<'UNKNOWN_COMMAND' | 'INVALID_PARAMS' | 'HARDWARE_ERROR' | 'TIMEOUT' | 'SHUTTING_DOWN'>;

/** A command failed; becomes one ERROR frame with this code, message and details. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(readonly code: CommandErrorCode, message: string, readonly details: { param?: string; timeout_ms?: number; statement?: string } = {}) {
    super(message);
  }
}
