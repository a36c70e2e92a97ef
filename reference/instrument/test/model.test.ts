/**
 * The mock's parameter checks, clamping and state, in process: what spec/instrument/commands.json
 * says per parameter, read back through the model (INS-5, INS-6, INS-11, INS-14).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { checkParams, roundToStep } from '../params.js';
import { InstrumentModel, type Outcome } from '../model.js';
import { CommandError, instrumentSpec, specFile } from '../spec.js';
import { propertySeed } from '../../properties/seed.js';

function refusal(command: string, params: unknown): CommandError {
  try {
    checkParams(command, params);
  } catch (e) {
    return e as CommandError;
  }
  throw new Error(`${command} ${JSON.stringify(params)} was accepted`);
}

function data(o: Outcome): unknown {
  if (o.kind !== 'data') throw new Error(`expected data, got ${o.kind}${o.kind === 'error' ? `: ${o.error.message}` : ''}`);
  return o.data;
}

describe('spec/instrument/commands.json', () => {
  it('validates against its schema and lists the 12 commands of the systems reference', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const schema = JSON.parse(readFileSync(specFile('spec/instrument/commands.schema.json'), 'utf8')) as object;
    const validate = ajv.compile(schema);
    expect(validate(instrumentSpec()), JSON.stringify(validate.errors)).toBe(true);
    expect(Object.keys(instrumentSpec().commands).sort()).toEqual(['asg_setup', 'iq_get_quadratures', 'iq_setup', 'pid_configure', 'pid_get_setpoint',
      'pid_set_setpoint', 'ping', 'sampler_read', 'scope_acquire', 'scope_set_decimation', 'scope_set_trigger', 'shutdown']);
    for (const [name, c] of Object.entries(instrumentSpec().commands)) {
      for (const [param, p] of Object.entries(c.params)) {
        if (p.enum) expect(instrumentSpec().enums[p.enum], `${name}.${param}`).toBeDefined();
      }
    }
  });
});

describe('checkParams', () => {
  it('refuses names and enumerations, naming the parameter', () => {
    expect(refusal('scope_acquire', { decimation: 100 }).details.param).toBe('decimation');
    expect(refusal('scope_acquire', { decimation: 64.5 }).details.param).toBe('decimation');
    expect(refusal('pid_configure', { d: 1 }).details.param).toBe('d');
    expect(refusal('asg_setup', { waveform: 'triangle' }).details.param).toBe('waveform');
    expect(refusal('asg_setup', { amplitude: true }).details.param).toBe('amplitude');
    expect(refusal('ping', { x: 1 }).details.param).toBe('x');
    expect(refusal('pid_set_setpoint', {}).details.param).toBe('value');
    expect(refusal('scope_acquire', { timeout: -1 }).details.param).toBe('timeout');
    expect(refusal('scope_acquire', { timeout: 4000 }).details.param).toBe('timeout');
    expect(refusal('nope', {}).code).toBe('UNKNOWN_COMMAND');
    expect(refusal('asg_setup', { amplitude: Number.NaN }).code).toBe('INVALID_PARAMS');
  });

  it('names an unknown parameter before a faulty listed one (INS-14)', () => {
    expect(refusal('asg_setup', { waveform: 'bad', colour: 'red' }).details.param).toBe('colour');
    expect(refusal('asg_setup', { output_direct: 'x', waveform: 'bad' }).details.param).toBe('waveform');
  });

  it('clamps and rounds to the register step', () => {
    const step = 125e6 / 2 ** 30;
    expect(checkParams('asg_setup', { frequency: 1e9 })['frequency']).toBe(62.5e6);
    expect(checkParams('asg_setup', { frequency: -5 })['frequency']).toBe(0);
    expect(checkParams('asg_setup', { frequency: 1000 })['frequency']).toBe(roundToStep(1000, step));
    expect(checkParams('asg_setup', { amplitude: 3, offset: -2 })).toMatchObject({ amplitude: 1, offset: -1 });
    expect(checkParams('pid_configure', { p: 1e6, i: -1e6 })).toMatchObject({ p: 2048, i: -38856 });
    expect(checkParams('pid_set_setpoint', { value: 1 })['value']).toBe(8191 / 8192);
    const bw = instrumentSpec().iq_bandwidths;
    expect(bw).toContain(checkParams('iq_setup', { bandwidth: 1000 })['bandwidth']);
    expect(checkParams('iq_setup', { bandwidth: 1e12 })['bandwidth']).toBe(Math.max(...bw));
    expect(checkParams('iq_setup', { bandwidth: -1e12 })['bandwidth']).toBe(Math.min(...bw));
  });

  it('applies defaults and leaves settings without one untouched', () => {
    expect(checkParams('scope_acquire', {})).toEqual({ input_channel: 'in1', timeout: 5 });
    expect(checkParams('asg_setup', undefined)).toEqual({ channel: 'asg0' });
  });

  it('gives every setpoint a value on the 2^-13 V grid inside -1 .. 8191/8192 (property)', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (v) => {
      const got = checkParams('pid_set_setpoint', { value: v })['value'] as number;
      expect(got).toBeGreaterThanOrEqual(-1);
      expect(got).toBeLessThanOrEqual(8191 / 8192);
      expect(Number.isInteger(got * 8192)).toBe(true);
      if (v >= -1 && v <= 8191 / 8192) expect(Math.abs(got - v)).toBeLessThanOrEqual(2 ** -14);
    }), { seed: propertySeed(), numRuns: 500 });
  });
});

describe('InstrumentModel', () => {
  it('keeps settings: what is set reads back, per channel', () => {
    const m = new InstrumentModel(1);
    data(m.execute('pid_set_setpoint', { channel: 'pid2', value: 0.25 }));
    data(m.execute('pid_configure', { channel: 'pid1', setpoint: -0.5 }));
    expect(data(m.execute('pid_get_setpoint', { channel: 'pid2' }))).toBe(0.25);
    expect(data(m.execute('pid_get_setpoint', { channel: 'pid1' }))).toBe(-0.5);
    expect(data(m.execute('pid_get_setpoint', {}))).toBe(0);
    data(m.execute('scope_set_decimation', { value: 8 }));
    const o = m.execute('scope_acquire', {});
    expect(o.kind === 'trace' && o.trace.decimation).toBe(8);
  });

  it('routes a generator through the loopback: a dc level on out1 is seen on in1 and the sampler', () => {
    const m = new InstrumentModel(2);
    data(m.execute('asg_setup', { channel: 'asg1', waveform: 'dc', offset: 0.4, output_direct: 'out1' }));
    const v = data(m.execute('sampler_read', { channel: 'in1' })) as number;
    expect(Math.abs(v - 0.4)).toBeLessThan(0.02);
    const o = m.execute('scope_acquire', { input_channel: 'out1' });
    if (o.kind !== 'trace') throw new Error('no trace');
    expect(new Set(o.trace.samples.data as Float32Array).size).toBe(1); // outputs carry no noise
  });

  it('demodulates a generator within the bandwidth and nothing outside it', () => {
    const m = new InstrumentModel(3);
    data(m.execute('asg_setup', { waveform: 'sin', frequency: 10_000, amplitude: 0.8, output_direct: 'out2' }));
    data(m.execute('iq_setup', { channel: 'iq1', input: 'in2', frequency: 10_000, bandwidth: 100 }));
    const near = data(m.execute('iq_get_quadratures', { channel: 'iq1' })) as { i: number; q: number };
    expect(Math.hypot(near.i, near.q)).toBeCloseTo(0.4, 1);
    data(m.execute('iq_setup', { channel: 'iq1', frequency: 1e6 }));
    const far = data(m.execute('iq_get_quadratures', { channel: 'iq1' })) as { i: number; q: number };
    expect(Math.hypot(far.i, far.q)).toBeLessThan(0.02);
  });

  it('is deterministic for a seed and differs between seeds (INS-11, INS-20)', () => {
    const run = (seed: number): number[] => {
      const m = new InstrumentModel(seed);
      const o = m.execute('scope_acquire', { decimation: 1 });
      if (o.kind !== 'trace') throw new Error('no trace');
      return [...o.trace.samples.data.slice(0, 64) as Float32Array, data(m.execute('sampler_read', {})) as number];
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('times out a trigger that never arrives, after the given timeout', () => {
    const o = new InstrumentModel().execute('scope_acquire', { trigger_source: 'off', timeout: 0.25 });
    expect(o).toMatchObject({ kind: 'error', afterMs: 250, error: { code: 'TIMEOUT', details: { timeout_ms: 250 } } });
  });
});
