/**
 * The mock's signals (INS-18): signal generators as PyRPL shapes them, the loopback cable from
 * out1 to in1 and out2 to in2, the default 1 kHz sine on in1, noise on the inputs, and the
 * ADC's clipping.
 */
import type { Rng } from './rng.js';
import { instrumentSpec } from './spec.js';

/** One signal generator's registers. */
export interface AsgState {
  waveform: string;
  frequency: number;
  amplitude: number;
  offset: number;
  output_direct: string;
  trigger_source: string;
}

/** The generators by name (asg0, asg1). */
export type Asgs = Record<string, AsgState>;

/** One generator's noise-free output at time t (s); `noise` draws its uniform samples. */
export function asgValue(a: AsgState, t: number, rng: Rng): number {
  if (a.trigger_source === 'off') return 0;
  const p = a.frequency * t - Math.floor(a.frequency * t); // phase in [0, 1)
  let w: number;
  switch (a.waveform) {
    case 'sin': w = Math.sin(2 * Math.PI * p); break;
    case 'cos': w = Math.cos(2 * Math.PI * p); break;
    case 'square': w = p < 0.5 ? 1 : -1; break;
    case 'ramp': w = 2 * p - 1; break;
    case 'halframp': w = p < 0.5 ? 2 * p : 0; break;
    case 'noise': w = 2 * rng.next() - 1; break;
    default: w = 0; // dc: the offset alone
  }
  return a.offset + a.amplitude * w;
}

function routedTo(asgs: Asgs, out: 'out1' | 'out2'): AsgState[] {
  return Object.values(asgs).filter((a) => a.output_direct === out || a.output_direct === 'both');
}

/** Whether `name` carries noise (the ADC inputs). */
export function isNoisy(name: string): boolean {
  return name === 'in1' || name === 'in2';
}

/** The noise-free value of signal `name` at time t. */
export function signalValue(name: string, asgs: Asgs, t: number, rng: Rng): number {
  const s = instrumentSpec().scope.default_signal;
  switch (name) {
    case 'in1': case 'out1': {
      const routed = routedTo(asgs, 'out1');
      if (routed.length === 0) return name === 'in1' ? s.amplitude * Math.sin(2 * Math.PI * s.frequency * t) : 0;
      return routed.reduce((sum, a) => sum + asgValue(a, t, rng), 0);
    }
    case 'in2': case 'out2':
      return routedTo(asgs, 'out2').reduce((sum, a) => sum + asgValue(a, t, rng), 0);
    case 'asg0': case 'asg1':
      return asgValue(asgs[name]!, t, rng);
    default:
      return 0;
  }
}

/** Clips to the ADC range [-1, 1 - 2^-13] V. */
export function clip(v: number): number {
  const { min_volts, max_volts } = instrumentSpec().scope;
  return Math.min(max_volts, Math.max(min_volts, v));
}

/** One measured value: signal plus noise on inputs, clipped. */
export function measure(name: string, asgs: Asgs, t: number, rng: Rng): number {
  const v = signalValue(name, asgs, t, rng);
  return clip(isNoisy(name) ? v + instrumentSpec().scope.noise_sigma_volts * rng.gaussian() : v);
}

/** The (frequency, amplitude) of the sine-like components feeding `name`, for the iq demodulator. */
export function components(name: string, asgs: Asgs): { frequency: number; amplitude: number }[] {
  const s = instrumentSpec().scope.default_signal;
  const sines = (list: AsgState[]): { frequency: number; amplitude: number }[] =>
    list.filter((a) => a.trigger_source !== 'off' && (a.waveform === 'sin' || a.waveform === 'cos')).map((a) => ({ frequency: a.frequency, amplitude: a.amplitude }));
  switch (name) {
    case 'in1': case 'out1': {
      const routed = routedTo(asgs, 'out1');
      if (routed.length === 0) return name === 'in1' ? [{ frequency: s.frequency, amplitude: s.amplitude }] : [];
      return sines(routed);
    }
    case 'in2': case 'out2': return sines(routedTo(asgs, 'out2'));
    case 'asg0': case 'asg1': return sines([asgs[name]!]);
    default: return [];
  }
}
