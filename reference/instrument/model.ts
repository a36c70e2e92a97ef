/**
 * The stateful hardware mock: scope, three PIDs, two signal generators, three iq demodulators and
 * the sampler, with the domains of spec/instrument/commands.json. `execute` is synchronous; a
 * command that takes time (a trigger that never arrives) says how long before its answer.
 */
import { NDArray } from '../codec/index.js';
import { checkParams, type Params } from './params.js';
import { Rng } from './rng.js';
import { components, measure, type Asgs, type AsgState } from './signal.js';
import { CommandError, instrumentSpec } from './spec.js';

/** A scope trace: the samples, the time of the first one and the time between samples. */
export interface Trace {
  samples: NDArray;
  t0: number;
  dt: number;
  decimation: number;
}

/** What a command produced: `data` or `trace` for INSTRUMENT_RESPONSE, or an error after `afterMs`. */
export type Outcome =
  | { kind: 'data'; data: unknown }
  | { kind: 'trace'; trace: Trace }
  | { kind: 'error'; error: CommandError; afterMs?: number }
  | { kind: 'shutdown' };

/** One PID controller's registers. */
export interface PidState { p: number; i: number; d: number; setpoint: number; input: string; output_direct: string }
/** One iq demodulator's registers. */
export interface IqState { frequency: number; bandwidth: number; input: string; output_direct: string }

function copies<T>(names: (string | number)[], initial: Record<string, string | number>): Record<string, T> {
  return Object.fromEntries(names.map((n) => [String(n), { ...initial } as T]));
}

/** A module's new settings: the checked params without the `channel` that selects the module. */
function settings(p: Params): Params {
  const { channel: _channel, ...rest } = p;
  return rest;
}

/** The stateful hardware mock: registers with the domains of spec/instrument/commands.json and signals from a seeded random source, so a seed replays a session exactly (INS-20). */
export class InstrumentModel {
  private readonly rng: Rng;
  readonly scope: { decimation: number; trigger_source: string };
  readonly pids: Record<string, PidState>;
  readonly asgs: Asgs;
  readonly iqs: Record<string, IqState>;

  constructor(readonly seed = 0) {
    const s = instrumentSpec();
    this.rng = new Rng(seed);
    this.scope = { ...s.initial.scope };
    this.pids = copies<PidState>(s.enums['pid_channel']!, s.initial.pid);
    this.asgs = copies<AsgState>(s.enums['asg_channel']!, s.initial.asg);
    this.iqs = copies<IqState>(s.enums['iq_channel']!, s.initial.iq);
  }

  /** Runs one command; a CommandError thrown by the checks becomes an `error` outcome. */
  execute(command: string, params: unknown): Outcome {
    try {
      return this.run(command, checkParams(command, params));
    } catch (e) {
      if (e instanceof CommandError) return { kind: 'error', error: e };
      throw e;
    }
  }

  private run(command: string, p: Params): Outcome {
    const ok = (data: unknown): Outcome => ({ kind: 'data', data });
    const channel = String(p['channel'] ?? '');
    switch (command) {
      case 'ping': return ok('pong');
      case 'shutdown': return { kind: 'shutdown' };
      case 'scope_set_decimation': this.scope.decimation = Number(p['value']); return ok(null);
      case 'scope_set_trigger': this.scope.trigger_source = String(p['source']); return ok(null);
      case 'scope_acquire': return this.acquire(p);
      case 'pid_configure': Object.assign(this.pids[channel]!, settings(p)); return ok(null);
      case 'pid_set_setpoint': this.pids[channel]!.setpoint = Number(p['value']); return ok(null);
      case 'pid_get_setpoint': return ok(this.pids[channel]!.setpoint);
      case 'asg_setup': Object.assign(this.asgs[channel]!, settings(p)); return ok(null);
      case 'iq_setup': Object.assign(this.iqs[channel]!, settings(p)); return ok(null);
      case 'iq_get_quadratures': return ok(this.quadratures(this.iqs[channel]!));
      case 'sampler_read': return ok(measure(channel, this.asgs, this.rng.next(), this.rng));
      default: throw new CommandError('UNKNOWN_COMMAND', `the worker has no command ${JSON.stringify(command)}`);
    }
  }

  private acquire(p: Params): Outcome {
    const s = instrumentSpec().scope;
    if (p['decimation'] !== undefined) this.scope.decimation = Number(p['decimation']);
    if (p['trigger_source'] !== undefined) this.scope.trigger_source = String(p['trigger_source']);
    const timeoutS = Number(p['timeout']);
    if (s.triggers_that_never_arrive.includes(this.scope.trigger_source)) {
      const timeoutMs = Math.round(timeoutS * 1000);
      return { kind: 'error', afterMs: timeoutMs, error: new CommandError('TIMEOUT', `no ${this.scope.trigger_source} trigger within ${timeoutS} s`, { timeout_ms: timeoutMs, statement: 'INS-7' }) };
    }
    const decimation = this.scope.decimation;
    const dt = decimation * s.sample_time_s;
    const start = this.rng.next(); // trigger time: the mock does not align edges
    const input = String(p['input_channel']);
    const samples = new Float32Array(s.samples);
    for (let k = 0; k < s.samples; k++) samples[k] = measure(input, this.asgs, start + (k - s.trigger_index) * dt, this.rng);
    return { kind: 'trace', trace: { samples: new NDArray('<f4', [s.samples], samples), t0: -s.trigger_index * dt, dt, decimation } };
  }

  private quadratures(iq: IqState): { i: number; q: number } {
    const sigma = instrumentSpec().scope.noise_sigma_volts;
    let i = 0;
    let q = 0;
    for (const c of components(iq.input, this.asgs)) {
      if (Math.abs(c.frequency - iq.frequency) > Math.abs(iq.bandwidth)) continue;
      const phase = 2 * Math.PI * this.rng.next();
      i += (c.amplitude / 2) * Math.cos(phase);
      q += (c.amplitude / 2) * Math.sin(phase);
    }
    return { i: i + sigma * this.rng.gaussian(), q: q + sigma * this.rng.gaussian() };
  }
}
