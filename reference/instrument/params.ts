/**
 * Parameter checking per spec/instrument/commands.json (INS-5, INS-6, INS-14): unknown names and
 * refused values give INVALID_PARAMS naming the parameter; clamped numbers are clamped, then rounded
 * to their register step, so that what is read back is what is in effect.
 */
import { CommandError, instrumentSpec, type ParamSpec } from './spec.js';

/** Checked command parameters, by name. */
export type Params = Record<string, string | number>;

function invalid(param: string, why: string): CommandError {
  return new CommandError('INVALID_PARAMS', `parameter ${param}: ${why}`, { param, statement: 'INS-5' });
}

/** Rounds to the nearest multiple of `step`, halfway values upward (the same rule in every worker). */
export function roundToStep(value: number, step: number): number {
  return Math.floor(value / step + 0.5) * step;
}

function nearestOf(list: number[], value: number): number {
  let best = list[0]!;
  for (const v of list) if (Math.abs(v - value) < Math.abs(best - value)) best = v;
  return best;
}

function checkOne(name: string, spec: ParamSpec, value: unknown): string | number {
  const s = instrumentSpec();
  if (spec.type === 'string') {
    if (typeof value !== 'string') throw invalid(name, `expected a string, got ${JSON.stringify(value)}`);
    const allowed = spec.enum ? s.enums[spec.enum]! : undefined;
    if (allowed && !allowed.includes(value)) throw invalid(name, `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`);
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(name, `expected a finite number, got ${JSON.stringify(value)}`);
  if (spec.type === 'integer' && !Number.isInteger(value)) throw invalid(name, `expected an integer, got ${value}`);
  if (spec.enum) {
    const allowed = s.enums[spec.enum]!;
    if (!allowed.includes(value)) throw invalid(name, `${value} is not one of ${allowed.join(', ')}`);
    return value;
  }
  if (spec.exclusive_minimum !== undefined && !(value > spec.exclusive_minimum)) throw invalid(name, `${value} is not above ${spec.exclusive_minimum}`);
  let v = value;
  if (spec.invalid === 'refuse') {
    if ((spec.minimum !== undefined && v < spec.minimum) || (spec.maximum !== undefined && v > spec.maximum)) {
      throw invalid(name, `${v} is outside ${spec.minimum ?? '-inf'} .. ${spec.maximum ?? 'inf'}`);
    }
    return v;
  }
  if (spec.nearest) return nearestOf(s[spec.nearest as 'iq_bandwidths'], v);
  const clamp = (x: number): number => Math.min(spec.maximum ?? x, Math.max(spec.minimum ?? x, x));
  v = clamp(v);
  if (spec.step !== undefined) v = clamp(roundToStep(v, spec.step));
  return v;
}

/**
 * The command's parameters checked and normalised: given ones (clamped where the spec says so) plus
 * defaults; absent ones without a default are left out (the current setting applies).
 */
export function checkParams(command: string, params: unknown): Params {
  const spec = instrumentSpec().commands[command];
  if (!spec) throw new CommandError('UNKNOWN_COMMAND', `the worker has no command ${JSON.stringify(command)}`, { statement: 'INS-4' });
  const given = (params ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(spec.params, name)) throw invalid(name, `${command} has no parameter ${name}`);
  }
  const out: Params = {};
  for (const [name, p] of Object.entries(spec.params)) {
    if (Object.hasOwn(given, name)) out[name] = checkOne(name, p, given[name]);
    else if (p.required) throw invalid(name, `${command} needs ${name}`);
    else if (p.default !== undefined) out[name] = p.default;
  }
  return out;
}
