/**
 * The instrument suite (`--suite instrument`): a worker of spec sections 9.8 and 17, over stdio
 * (`--exec -- CMD`) or through a reference broker (`--exec -- CMD ... {broker}`). Each case starts
 * its own worker and ends it by PID. Generated cases draw settings with the run's seed.
 */
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { NDArray } from '../../reference/codec/index.js';
import { encodeMessageFrame, type Message } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext } from './context.js';
import { startWorker, gone, leftBehind, type StartedWorker } from './instrument-worker.js';
import { instrumentSpec, roundToStep } from '../oracle.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import type { OpenReceiver } from './receiver.cases.js';
import { commandOf } from '../wire/peer-target.js';

/** Commands of the 10,000-command pipeline case. */
const PIPELINED = 10_000;
/** How long a worker may take to exit once it should (a process end, not a reply). */
const EXIT_MS = 5_000;

async function withWorker(ctx: CaseContext, body: (w: StartedWorker) => Promise<void>, options: { relay?: boolean; parent?: boolean } = {}): Promise<void> {
  const w = await startWorker(ctx, options);
  try {
    await body(w);
  } finally {
    await w.close();
  }
}

/**
 * A worker on stdio as the receiver of the harness's frames (receiver.cases.ts); ended by PID with the
 * case. Through a broker the broker receives them, not the worker.
 */
export const openWorker: OpenReceiver = async (ctx, ack) => {
  if (commandOf(ctx.options.target)?.some((a) => a.includes('{broker}'))) throw new CaseSkipped('through a broker, the frames reach the broker, not the worker');
  const w = await startWorker(ctx, { encoding: ack === 'cbor' ? 'cbor' : 'json' });
  ctx.onClose(() => void w.close());
  if (!w.init) throw new Error('a worker on stdio without its INIT');
  return { conn: w.conn, init: w.init };
};

function describeAnswer(m: Message): string {
  const p = m.payload as Record<string, unknown>;
  return m.name === 'ERROR' ? `ERROR ${String(p['code'])}: ${String(p['message'])}` : `${m.name} ${JSON.stringify(p['command'])}`;
}

/** Fails the case when the worker, gone, left processes it started running (they hold its pipes and resources). */
async function expectNoDescendants(w: StartedWorker, when: string): Promise<void> {
  const rest = await leftBehind(w);
  if (rest.length > 0) throw new CaseFailure(`the worker exited ${when} but left ${rest.length} process(es) it started running (PIDs ${rest.join(', ')}); a child must not outlive its exit (STDIO-3)`, 'no descendants left', `${rest.length} running`);
}

/** The answer to command `id`: the next frame must be it (INS-2, INS-3). */
async function answerTo(ctx: CaseContext, w: StartedWorker, id: string, what: string): Promise<Message> {
  const m = await ctx.expectMessage(w.conn, `${what} (re=${JSON.stringify(id)})`, (x) => x.name === 'INSTRUMENT_RESPONSE' || x.name === 'ERROR');
  if (m.header.re !== id) throw new CaseFailure(`the answer carries re=${JSON.stringify(m.header.re)}, not the id of the command it should answer (INS-3)`, id, String(m.header.re));
  return m;
}

async function ok(ctx: CaseContext, w: StartedWorker, command: string, params?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const id = w.command(command, params);
  const m = await answerTo(ctx, w, id, `INSTRUMENT_RESPONSE to ${command}`);
  if (m.name !== 'INSTRUMENT_RESPONSE') throw new CaseFailure(`${command} ${JSON.stringify(params ?? {})} was refused: ${describeAnswer(m)}`, 'INSTRUMENT_RESPONSE', describeAnswer(m));
  const p = m.payload as Record<string, unknown>;
  if (p['command'] !== command) throw new CaseFailure(`the response names command ${JSON.stringify(p['command'])} (INS-3)`, command, String(p['command']));
  return p;
}

async function expectAlive(ctx: CaseContext, w: StartedWorker, after: string): Promise<void> {
  const p = await ok(ctx, w, 'ping');
  if (p['data'] !== 'pong') throw new CaseFailure(`ping after ${after} answered ${JSON.stringify(p['data'])}`, 'pong', JSON.stringify(p['data']));
}

function expectError(m: Message, code: ErrorName, param?: string): void {
  if (m.name !== 'ERROR') throw new CaseFailure(`expected ERROR ${code}; got ${describeAnswer(m)}`, code, describeAnswer(m));
  const p = m.payload as { code: string; details?: { param?: string } };
  if (p.code !== code) throw new CaseFailure(`expected ERROR ${code}; got ERROR ${p.code}`, code, p.code);
  if (param !== undefined && p.details?.param !== param) throw new CaseFailure(`ERROR ${code} names parameter ${JSON.stringify(p.details?.param)} (INS-5)`, param, String(p.details?.param));
}

interface TraceData { samples: NDArray; t0: number; dt: number; decimation: number }

function traceOf(p: Record<string, unknown>): TraceData {
  const t = p['trace'] as TraceData | undefined;
  if (!t || !(t.samples instanceof NDArray)) throw new CaseFailure('scope_acquire answered without a trace ndarray (INS-9)', '{trace: {samples, t0, dt, decimation}}', JSON.stringify(Object.keys(p)));
  return t;
}

/** INS-9 and INS-19 for one trace. */
function checkTrace(t: TraceData, decimation: number): void {
  const s = instrumentSpec().scope;
  if (t.samples.dtypeName !== 'float32' || t.samples.size !== s.samples) throw new CaseFailure(`the trace holds ${t.samples.size} ${t.samples.dtypeName} samples (INS-9)`, `${s.samples} float32`, `${t.samples.size} ${t.samples.dtypeName}`);
  const dt = decimation * s.sample_time_s;
  if (t.decimation !== decimation || t.dt !== dt) throw new CaseFailure(`decimation ${t.decimation}, dt ${t.dt} (INS-9)`, `decimation ${decimation}, dt ${dt}`, `decimation ${t.decimation}, dt ${t.dt}`);
  if (t.t0 !== -s.trigger_index * dt) throw new CaseFailure(`t0 is ${t.t0} (INS-19)`, String(-s.trigger_index * dt), String(t.t0));
  for (let k = 0; k < t.samples.size; k++) {
    const v = t.samples.data[k] as number;
    if (!(v >= -1 && v < 1)) throw new CaseFailure(`sample ${k} is ${v}, outside [-1, 1) V (INS-9)`, '[-1, 1)', String(v));
  }
}

const responseKinds: [string, Record<string, unknown> | undefined][] = [
  ['ping', undefined],
  ['scope_acquire', { decimation: 8, trigger_source: 'immediately', input_channel: 'in1', timeout: 1 }],
  ['scope_set_decimation', { value: 1024 }],
  ['scope_set_trigger', { source: 'ch1_positive_edge' }],
  ['pid_configure', { channel: 'pid1', p: 10, i: 100, d: 0, setpoint: 0.1, input: 'in2', output_direct: 'out2' }],
  ['pid_set_setpoint', { channel: 'pid2', value: -0.5 }],
  ['pid_get_setpoint', { channel: 'pid0' }],
  ['asg_setup', { channel: 'asg1', waveform: 'square', frequency: 1e6, amplitude: 0.3, offset: 0.1, output_direct: 'out2', trigger_source: 'immediately' }],
  ['iq_setup', { channel: 'iq2', frequency: 25e3, bandwidth: 1000, input: 'in1', output_direct: 'off' }],
  ['iq_get_quadratures', { channel: 'iq1' }],
  ['sampler_read', { channel: 'in2' }],
];

function schemaCase(command: string, params: Record<string, unknown> | undefined): Case {
  return defineCase({
    id: `instrument/response-schema/command:${command}`,
    statements: ['INS-3', 'INS-9'],
    run: (ctx) => withWorker(ctx, async (w) => {
      const p = await ok(ctx, w, command, params);
      const kind = instrumentSpec().commands[command]!.data;
      const data = p['data'];
      const bad = (expected: string): never => { throw new CaseFailure(`${command} answered ${JSON.stringify(p).slice(0, 200)}`, expected, JSON.stringify(data)); };
      if (kind === 'trace') return checkTrace(traceOf(p), Number(params?.['decimation'] ?? 64));
      if ('trace' in p) bad('no trace');
      if (kind === 'pong' && data !== 'pong') bad('"pong"');
      if (kind === 'null' && data !== null) bad('null');
      if (kind === 'number' && (typeof data !== 'number' || !Number.isFinite(data))) bad('a number');
      if (kind === 'quadratures') {
        const iq = data as { i?: unknown; q?: unknown } | null;
        if (typeof iq?.i !== 'number' || typeof iq.q !== 'number') bad('{i, q}');
      }
    }),
  });
}

/** Refused parameters: [command, params, the parameter the ERROR must name]. */
const refused: [string, Record<string, unknown>, string][] = [
  ['scope_acquire', { decimation: 3 }, 'decimation'],
  ['scope_acquire', { trigger_source: 'ch3_positive_edge' }, 'trigger_source'],
  ['scope_acquire', { input_channel: 'in3' }, 'input_channel'],
  ['scope_acquire', { timeout: 0 }, 'timeout'],
  ['scope_set_decimation', {}, 'value'],
  ['scope_set_decimation', { value: 131072 }, 'value'],
  ['scope_set_trigger', { source: 'sometimes' }, 'source'],
  ['pid_configure', { channel: 'pid3' }, 'channel'],
  ['pid_configure', { d: 0.5 }, 'd'],
  ['pid_configure', { input: 'in9' }, 'input'],
  ['pid_set_setpoint', { value: 'high' }, 'value'],
  ['pid_get_setpoint', { channel: 'asg0' }, 'channel'],
  ['asg_setup', { waveform: 'triangle' }, 'waveform'],
  ['asg_setup', { output_direct: 'out3' }, 'output_direct'],
  ['asg_setup', { trigger_source: 'ch1_positive_edge' }, 'trigger_source'],
  ['iq_setup', { channel: 'iq3' }, 'channel'],
  ['iq_get_quadratures', { channel: 'pid0' }, 'channel'],
  ['sampler_read', { channel: 'volts' }, 'channel'],
  ['ping', { verbose: true }, 'verbose'],
  ['asg_setup', { frequency: '1 kHz' }, 'frequency'],
];

const setpointMax = (): number => instrumentSpec().commands['pid_set_setpoint']!.params['value']!.maximum!;
const setpointStep = (): number => instrumentSpec().commands['pid_set_setpoint']!.params['value']!.step!;
/** The setpoint in effect for a requested value (INS-6): clamped, rounded to 2^-13 V, clamped. */
function setpointInEffect(v: number): number {
  const clamp = (x: number): number => Math.min(setpointMax(), Math.max(-1, x));
  return clamp(roundToStep(clamp(v), setpointStep()));
}

const ASG_CHANNELS = ['asg0', 'asg1'];

function requireMock(w: StartedWorker, why: string): void {
  if ((w.ready.payload as { mock?: boolean }).mock !== true) throw new CaseSkipped(why);
}

function extremes(samples: NDArray): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < samples.size; k++) {
    const v = samples.data[k] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

/** How often the samples rise from below -threshold to above +threshold: periods of a sine, noise ignored. */
function risingCrossings(samples: NDArray, threshold: number): number {
  let rises = 0;
  let low = false;
  for (let k = 0; k < samples.size; k++) {
    const v = samples.data[k] as number;
    if (v < -threshold) low = true;
    else if (v > threshold && low) {
      rises++;
      low = false;
    }
  }
  return rises;
}

/**
 * Fails unless the samples are the level `want` plus the mock's noise: the mean within six standard
 * errors (and float32's rounding), the deviation within a factor of 1.5 of noise_sigma_volts.
 */
function expectLevel(samples: NDArray, want: number, what: string): void {
  const sigma = instrumentSpec().scope.noise_sigma_volts;
  const n = samples.size;
  let sum = 0;
  for (let k = 0; k < n; k++) sum += samples.data[k] as number;
  const mean = sum / n;
  let sq = 0;
  for (let k = 0; k < n; k++) sq += ((samples.data[k] as number) - mean) ** 2;
  const std = Math.sqrt(sq / (n - 1));
  if (Math.abs(mean - want) > 6 * sigma / Math.sqrt(n) + 1e-6) throw new CaseFailure(`the mean of ${what} is ${mean} V, not ${want} V`, String(want), String(mean));
  if (std < sigma / 1.5 || std > sigma * 1.5) throw new CaseFailure(`the noise of ${what} has standard deviation ${std} V`, String(sigma), String(std));
}

/** Commands with more than one faulty parameter, and the one INS-14 names. */
const severalFaults: [string, Record<string, unknown>, string][] = [
  // The request lists input before channel; the file lists channel first.
  ['pid_configure', { input: 'in9', channel: 'pid3' }, 'channel'],
  ['asg_setup', { trigger_source: 'ch1_positive_edge', output_direct: 'out3', waveform: 'triangle' }, 'waveform'],
  ['scope_acquire', { timeout: 0, decimation: 3 }, 'decimation'],
  // An unknown name before, after and between faulty known ones.
  ['pid_configure', { zeta: 1, channel: 'pid3' }, 'zeta'],
  ['pid_configure', { channel: 'pid3', zeta: 1 }, 'zeta'],
  ['asg_setup', { waveform: 'triangle', colour: 'red', output_direct: 'out3' }, 'colour'],
];

async function check<T>(ctx: CaseContext, arb: fc.Arbitrary<T>, runs: number, predicate: (v: T) => Promise<void>): Promise<void> {
  const result = await fc.check(fc.asyncProperty(arb, predicate), { seed: ctx.seed, numRuns: runs });
  if (result.failed) {
    const cause = result.errorInstance as Error | undefined;
    const detail = `seed ${result.seed}, path ${result.counterexamplePath}, ${result.numShrinks} shrinks; smallest counterexample: ${JSON.stringify(result.counterexample)}`;
    if (cause instanceof CaseFailure) throw new CaseFailure(`${cause.message} (${detail})`, cause.expected, cause.actual);
    throw cause ?? new Error(detail);
  }
}

export const instrumentCases = (): Case[] => [
  defineCase({
    id: 'instrument-worker/ready-event-first',
    statements: ['INS-12', 'INS-1'],
    run: (ctx) => withWorker(ctx, async (w) => {
      const p = w.ready.payload as { worker?: unknown; mock?: unknown };
      if (typeof p.worker !== 'string' || p.worker.length === 0) throw new CaseFailure('the ready event names no worker (INS-12)');
      await expectAlive(ctx, w, 'the ready event');
    }),
  }),
  ...responseKinds.map(([c, p]) => schemaCase(c, p)),
  defineCase({
    id: 'instrument/unknown-command',
    statements: ['INS-4', 'INS-15'],
    run: (ctx) => withWorker(ctx, async (w) => {
      for (const name of ['scope_explode', 'PING', 'x']) {
        const id = w.command(name, {});
        expectError(await answerTo(ctx, w, id, `ERROR UNKNOWN_COMMAND for ${name}`), 'UNKNOWN_COMMAND');
      }
      await expectAlive(ctx, w, 'unknown commands');
    }),
  }),
  defineCase({
    id: 'instrument/invalid-params-typed',
    statements: ['INS-5', 'INS-14', 'INS-15'],
    run: (ctx) => withWorker(ctx, async (w) => {
      for (const [command, params, param] of refused) {
        const id = w.command(command, params);
        const m = await answerTo(ctx, w, id, `ERROR INVALID_PARAMS for ${command} ${JSON.stringify(params)}`);
        try {
          expectError(m, 'INVALID_PARAMS', param);
        } catch (e) {
          throw new CaseFailure(`${command} ${JSON.stringify(params)}: ${(e as Error).message}`, (e as CaseFailure).expected, (e as CaseFailure).actual);
        }
      }
      await expectAlive(ctx, w, 'refused parameters');
    }),
  }),
  defineCase({
    id: 'instrument-worker/invalid-params-named-in-order',
    statements: ['INS-14', 'INS-5'],
    run: (ctx) => withWorker(ctx, async (w) => {
      // Several faults in one command: an unknown name wins wherever it stands, then the file's order, not the request's.
      for (const [command, params, param] of severalFaults) {
        const id = w.command(command, params);
        const m = await answerTo(ctx, w, id, `ERROR INVALID_PARAMS for ${command} ${JSON.stringify(params)}`);
        try {
          expectError(m, 'INVALID_PARAMS', param);
        } catch (e) {
          throw new CaseFailure(`${command} ${JSON.stringify(params)}: ${(e as Error).message}; INS-14 names an unknown parameter first, else the first faulty one in the order of spec/instrument/commands.json`, (e as CaseFailure).expected, (e as CaseFailure).actual);
        }
      }
      await expectAlive(ctx, w, 'commands with several faulty parameters');
    }),
  }),
  defineCase({
    id: 'instrument-worker/integer-params-with-a-fraction-of-zero',
    statements: ['INS-14', 'ENC-14'],
    run: (ctx) => withWorker(ctx, async (w) => {
      // Integer parameters spelled 64.0 and 6.4e1 (JSON.stringify writes neither, so the payload is written by hand).
      for (const spelling of ['64.0', '6.4e1', '1024.000']) {
        const header = { id: `decimation-${spelling}`, ...(w.dst !== undefined ? { dst: w.dst } : { src: 'concord-conformance' }) };
        ctx.sendUnchecked(w.conn, 'INSTRUMENT_COMMAND', header, `{"command":"scope_set_decimation","params":{"value":${spelling}}}`);
        const m = await answerTo(ctx, w, header.id, `INSTRUMENT_RESPONSE to scope_set_decimation {"value":${spelling}}`);
        if (m.name !== 'INSTRUMENT_RESPONSE') throw new CaseFailure(`scope_set_decimation {"value":${spelling}} was refused: ${describeAnswer(m)} (ENC-14: a number with a zero fractional part is an integer)`, 'INSTRUMENT_RESPONSE', describeAnswer(m));
        const t = traceOf(await ok(ctx, w, 'scope_acquire', { trigger_source: 'immediately', input_channel: 'in1', timeout: 1 }));
        const want = Number(spelling);
        if (t.decimation !== want) throw new CaseFailure(`after scope_set_decimation {"value":${spelling}} a trace reports decimation ${t.decimation} (INS-14)`, String(want), String(t.decimation));
      }
      // A fraction that is not zero stays refused.
      const id = w.command('scope_set_decimation', { value: 64.5 });
      expectError(await answerTo(ctx, w, id, 'ERROR INVALID_PARAMS for scope_set_decimation {"value":64.5}'), 'INVALID_PARAMS', 'value');
    }),
  }),
  defineCase({
    id: 'instrument-worker/faulty-frame-keeps-worker',
    statements: ['INS-15'],
    run: (ctx) => withWorker(ctx, async (w) => {
      const header = { id: 'no-command', ...(w.dst !== undefined ? { dst: w.dst } : { src: 'concord-conformance' }) };
      ctx.sendUnchecked(w.conn, 'INSTRUMENT_COMMAND', header, '{"params":{}}');
      const m = await answerTo(ctx, w, 'no-command', 'ERROR SCHEMA_VIOLATION for a command without `command`');
      expectError(m, 'SCHEMA_VIOLATION');
      await expectAlive(ctx, w, 'a faulty frame');
    }),
  }),
  defineCase({
    id: 'instrument/clamped-values-read-back',
    statements: ['INS-6'],
    run: (ctx) => withWorker(ctx, (w) => check(ctx, fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(-1, 1, 0.99988, 5, -5, 0)), 40, async (v) => {
      await ok(ctx, w, 'pid_set_setpoint', { channel: 'pid1', value: v });
      const got = (await ok(ctx, w, 'pid_get_setpoint', { channel: 'pid1' }))['data'];
      const want = setpointInEffect(v);
      if (got !== want) throw new CaseFailure(`setpoint ${v} reads back as ${JSON.stringify(got)} (INS-6: clamped to -1 .. ${setpointMax()}, rounded to ${setpointStep()} V)`, String(want), String(got));
    })),
  }),
  defineCase({
    id: 'instrument/ids-echoed-never-stale',
    statements: ['INS-3', 'REQ-4'],
    run: (ctx) => withWorker(ctx, async (w) => {
      const ids = ['0', ' ', 'é ünï 字', 'a'.repeat(128), 'same', '"quoted"', 'same'];
      for (const id of ids) {
        w.command('ping', undefined, id);
        await answerTo(ctx, w, id, `the answer to command id ${JSON.stringify(id)}`);
      }
      // Pipelined, with a slow command first: each answer must carry its own command's id.
      const sent = ids.slice(0, 4).map((id, k) => w.command(k === 0 ? 'scope_acquire' : 'ping', k === 0 ? { decimation: 1 } : undefined, id));
      for (const id of sent) await answerTo(ctx, w, id, 'the pipelined answers in order');
    }),
  }),
  defineCase({
    id: 'instrument/pipelined-in-order',
    statements: ['INS-2', 'INS-3'],
    run: (ctx) => withWorker(ctx, async (w) => {
      // Triples set / get / ping: each get must read the set before it, so order is execution order.
      const expected: { id: string; command: string; value?: number }[] = [];
      for (let k = 0; expected.length < PIPELINED; k++) {
        const v = ((k * 7919) % 16000) / 8000 - 1;
        expected.push({ id: `p${k}-set`, command: 'pid_set_setpoint' }, { id: `p${k}-get`, command: 'pid_get_setpoint', value: setpointInEffect(v) }, { id: `p${k}-ping`, command: 'ping' });
      }
      expected.length = PIPELINED;
      let next = 0;
      const sendUpTo = (limit: number): void => {
        while (next < limit) {
          const e = expected[next]!;
          const k = Number(e.id.slice(1, e.id.indexOf('-')));
          const v = ((k * 7919) % 16000) / 8000 - 1;
          w.command(e.command, e.command === 'ping' ? undefined : e.command === 'pid_set_setpoint' ? { channel: 'pid2', value: v } : { channel: 'pid2' }, e.id);
          next++;
        }
      };
      sendUpTo(Math.min(PIPELINED, w.window));
      for (let i = 0; i < PIPELINED; i++) {
        const e = expected[i]!;
        const m = await answerTo(ctx, w, e.id, `answer ${i + 1} of ${PIPELINED}`);
        if (m.name !== 'INSTRUMENT_RESPONSE') throw new CaseFailure(`command ${e.id} was refused: ${describeAnswer(m)}`);
        if (e.value !== undefined && (m.payload as { data: unknown }).data !== e.value) throw new CaseFailure(`${e.id} read ${JSON.stringify((m.payload as { data: unknown }).data)}: not the setpoint set just before it (INS-2)`, String(e.value), JSON.stringify((m.payload as { data: unknown }).data));
        sendUpTo(Math.min(PIPELINED, i + 1 + w.window));
      }
    }),
  }),
  defineCase({
    id: 'instrument/trigger-timeout',
    statements: ['INS-7', 'INS-17'],
    run: (ctx) => withWorker(ctx, async (w) => {
      const id = w.command('scope_acquire', { trigger_source: 'ext_positive_edge', timeout: 0.2 });
      const m = await answerTo(ctx, w, id, 'ERROR TIMEOUT for a trigger that never arrives');
      expectError(m, 'TIMEOUT');
      const ms = (m.payload as { details?: { timeout_ms?: number } }).details?.timeout_ms;
      if (ms !== 200) throw new CaseFailure(`details.timeout_ms is ${ms} (INS-7)`, '200', String(ms));
      await expectAlive(ctx, w, 'a trigger timeout');
    }),
  }),
  defineCase({
    id: 'instrument-worker/every-trigger-source',
    statements: ['INS-17', 'INS-7'],
    run: (ctx) => withWorker(ctx, async (w) => {
      requireMock(w, 'which triggers arrive is the mock\'s model (ready.mock true)');
      const never = instrumentSpec().scope.triggers_that_never_arrive;
      const timeout = 0.15;
      for (const source of instrumentSpec().enums['scope_trigger'] as string[]) {
        // Set by scope_set_trigger, not by the acquire: the trigger in effect is the scope's setting.
        await ok(ctx, w, 'scope_set_trigger', { source });
        const sent = performance.now();
        const id = w.command('scope_acquire', { decimation: 1, input_channel: 'in1', timeout });
        const m = await answerTo(ctx, w, id, `the answer to scope_acquire with trigger ${source}`);
        const waited = performance.now() - sent;
        if (!never.includes(source)) {
          if (m.name !== 'INSTRUMENT_RESPONSE') throw new CaseFailure(`scope_acquire with trigger ${source}, which arrives, was answered ${describeAnswer(m)} (INS-17: the trace is delivered)`, 'INSTRUMENT_RESPONSE with a trace', describeAnswer(m));
          checkTrace(traceOf(m.payload as Record<string, unknown>), 1);
          continue;
        }
        if (m.name !== 'ERROR' || (m.payload as { code?: string }).code !== ('TIMEOUT' satisfies ErrorName)) throw new CaseFailure(`scope_acquire with trigger ${source}, which never arrives, was answered ${describeAnswer(m)} (INS-17: ERROR TIMEOUT once its timeout has passed)`, 'ERROR TIMEOUT', describeAnswer(m));
        const ms = (m.payload as { details?: { timeout_ms?: number } }).details?.timeout_ms;
        if (ms !== timeout * 1000) throw new CaseFailure(`TIMEOUT for trigger ${source} carries details.timeout_ms ${ms} (INS-7)`, String(timeout * 1000), String(ms));
        // A lower bound only: a loaded machine makes the answer later, never earlier.
        if (waited < timeout * 1000 - 20) throw new CaseFailure(`TIMEOUT for trigger ${source} came ${waited.toFixed(0)} ms after the acquire, before its timeout of ${timeout * 1000} ms had passed (INS-17)`, `>= ${timeout * 1000} ms`, `${waited.toFixed(0)} ms`);
      }
      await ok(ctx, w, 'scope_set_trigger', { source: 'immediately' });
    }),
  }),
  defineCase({
    id: 'instrument/trace-properties',
    statements: ['INS-9', 'INS-18', 'INS-19'],
    run: (ctx) => withWorker(ctx, async (w) => {
      requireMock(w, 'noise statistics apply to a mock worker (ready.mock true)');
      const settings = fc.record({
        decimation: fc.constantFrom(...(instrumentSpec().enums['decimation'] as number[])),
        offset: fc.double({ min: -0.9, max: 0.9, noNaN: true }),
        asg: fc.constantFrom('asg0', 'asg1'),
        input: fc.constantFrom('in1', 'in2'),
      });
      await check(ctx, settings, 8, async (s) => {
        // A dc level on the generator wired to the input: the trace is that level plus the noise.
        const other = s.asg === 'asg0' ? 'asg1' : 'asg0';
        await ok(ctx, w, 'asg_setup', { channel: other, output_direct: 'off' });
        await ok(ctx, w, 'asg_setup', { channel: s.asg, waveform: 'dc', offset: s.offset, amplitude: 0, output_direct: s.input === 'in1' ? 'out1' : 'out2', trigger_source: 'immediately' });
        const t = traceOf(await ok(ctx, w, 'scope_acquire', { decimation: s.decimation, input_channel: s.input, timeout: 1 }));
        checkTrace(t, s.decimation);
        expectLevel(t.samples, s.offset, `a trace of ${s.input} with a dc level of ${s.offset} V routed to it (INS-18)`);
      });
    }),
  }),
  defineCase({
    id: 'instrument-worker/unrouted-inputs',
    statements: ['INS-18'],
    run: (ctx) => withWorker(ctx, async (w) => {
      requireMock(w, 'the default signals apply to a mock worker (ready.mock true)');
      // Nothing routed to either output (a worker on a TCP port keeps the settings of earlier cases).
      for (const channel of ASG_CHANNELS) await ok(ctx, w, 'asg_setup', { channel, output_direct: 'off' });
      const s = instrumentSpec().scope;
      const sine = s.default_signal;
      // Decimation 64: 16,384 samples of 512 ns span 8.4 periods of the 1 kHz sine.
      const in1 = traceOf(await ok(ctx, w, 'scope_acquire', { decimation: 64, trigger_source: 'immediately', input_channel: 'in1', timeout: 1 }));
      checkTrace(in1, 64);
      const { min, max } = extremes(in1.samples);
      // The sampled peaks lie within 6 noise deviations of the amplitude (a 1,953-sample period misses a peak by 5e-6 of it).
      const slack = 6 * s.noise_sigma_volts;
      if (Math.abs(max - sine.amplitude) > slack || Math.abs(min + sine.amplitude) > slack) throw new CaseFailure(`with nothing routed to out1, in1 swings from ${min} to ${max} V (INS-18: a sine of ${sine.amplitude} V amplitude)`, `-${sine.amplitude} .. ${sine.amplitude}`, `${min} .. ${max}`);
      const periods = s.samples * in1.dt * sine.frequency;
      const rises = risingCrossings(in1.samples, sine.amplitude / 2);
      if (Math.abs(rises - periods) > 1) throw new CaseFailure(`with nothing routed to out1, in1 rises through 0 V ${rises} times in ${s.samples} samples of ${in1.dt} s (INS-18: a ${sine.frequency} Hz sine, ${periods.toFixed(1)} periods)`, `${Math.floor(periods)} or ${Math.ceil(periods)}`, String(rises));
      const in2 = traceOf(await ok(ctx, w, 'scope_acquire', { decimation: 64, trigger_source: 'immediately', input_channel: 'in2', timeout: 1 }));
      checkTrace(in2, 64);
      expectLevel(in2.samples, 0, 'in2 with nothing routed to out2 (INS-18: 0 V plus the noise)');
    }),
  }),
  defineCase({
    id: 'instrument-worker/generators-summed-on-their-output',
    statements: ['INS-18'],
    run: (ctx) => withWorker(ctx, async (w) => {
      requireMock(w, 'the loopback cable applies to a mock worker (ready.mock true)');
      const sigma = instrumentSpec().scope.noise_sigma_volts;
      // Levels at least 50 mV from 0 (fast-check draws values near 0 first): a generator left out, or an input read as 0 V, shows.
      const level = fc.tuple(fc.double({ min: 0.05, max: 0.45, noNaN: true }), fc.boolean()).map(([v, negative]) => (negative ? -v : v));
      const levels = fc.record({ a: level, b: level });
      await check(ctx, levels, 4, async ({ a, b }) => {
        // asg0 on out1 alone, asg1 on both outputs: in1 shows a + b, in2 shows b.
        await ok(ctx, w, 'asg_setup', { channel: 'asg0', waveform: 'dc', amplitude: 0, offset: a, output_direct: 'out1', trigger_source: 'immediately' });
        await ok(ctx, w, 'asg_setup', { channel: 'asg1', waveform: 'dc', amplitude: 0, offset: b, output_direct: 'both', trigger_source: 'immediately' });
        for (const [input, want, what] of [['in1', a + b, 'asg0 on out1 plus asg1 on both'], ['in2', b, 'asg1 on both']] as const) {
          const t = traceOf(await ok(ctx, w, 'scope_acquire', { decimation: 8, trigger_source: 'immediately', input_channel: input, timeout: 1 }));
          checkTrace(t, 8);
          expectLevel(t.samples, want, `${input} with ${what} at dc ${a} and ${b} V (INS-18: the sum of the generators routed to its output)`);
          const read = (await ok(ctx, w, 'sampler_read', { channel: input }))['data'];
          if (typeof read !== 'number' || Math.abs(read - want) > 6 * sigma) throw new CaseFailure(`sampler_read ${input} with ${what} at dc ${a} and ${b} V read ${JSON.stringify(read)} (INS-18: a sampler input shows the generators routed to its output)`, `${want} +- ${6 * sigma}`, JSON.stringify(read));
        }
      });
    }),
  }),
  defineCase({
    id: 'instrument-worker/inputs-clipped',
    statements: ['INS-18', 'INS-9'],
    run: (ctx) => withWorker(ctx, async (w) => {
      requireMock(w, 'the ADC model applies to a mock worker (ready.mock true)');
      const s = instrumentSpec().scope;
      // Two generators at full offset on both outputs put 2 V on each input, 1,000 noise deviations past the range.
      for (const limit of [s.max_volts, s.min_volts]) {
        const offset = Math.sign(limit);
        for (const channel of ASG_CHANNELS) await ok(ctx, w, 'asg_setup', { channel, waveform: 'dc', amplitude: 0, offset, output_direct: 'both', trigger_source: 'immediately' });
        for (const input of ['in1', 'in2']) {
          const t = traceOf(await ok(ctx, w, 'scope_acquire', { decimation: 1, trigger_source: 'immediately', input_channel: input, timeout: 1 }));
          const { min, max } = extremes(t.samples);
          if (min !== limit || max !== limit) throw new CaseFailure(`${input} with ${2 * offset} V routed to it reads ${min} .. ${max} V (INS-18: every value clipped to [${s.min_volts}, ${s.max_volts}] V)`, String(limit), `${min} .. ${max}`);
          const read = (await ok(ctx, w, 'sampler_read', { channel: input }))['data'];
          if (read !== limit) throw new CaseFailure(`sampler_read ${input} with ${2 * offset} V routed to it read ${JSON.stringify(read)} (INS-18: clipped to [${s.min_volts}, ${s.max_volts}] V)`, String(limit), JSON.stringify(read));
        }
      }
      for (const channel of ASG_CHANNELS) await ok(ctx, w, 'asg_setup', { channel, offset: 0, output_direct: 'off' });
    }),
  }),
  defineCase({
    id: 'instrument/deterministic-for-seed',
    statements: ['INS-11', 'INS-20'],
    run: async (ctx) => {
      const sequence: [string, Record<string, unknown>][] = [['sampler_read', { channel: 'in1' }], ['iq_get_quadratures', {}], ['scope_acquire', { decimation: 16 }]];
      const runOnce = async (): Promise<string[]> => {
        const out: string[] = [];
        await withWorker(ctx, async (w) => {
          for (const [c, p] of sequence) {
            const r = await ok(ctx, w, c, p);
            out.push(r['trace'] ? Buffer.from(traceOf(r).samples.data.buffer, traceOf(r).samples.data.byteOffset, traceOf(r).samples.data.byteLength).toString('base64') : JSON.stringify(r['data']));
          }
        });
        return out;
      };
      const a = await runOnce();
      const b = await runOnce();
      a.forEach((x, i) => {
        if (x !== b[i]) throw new CaseFailure(`two workers started alike answered ${sequence[i]![0]} differently (INS-11)`, x.slice(0, 80), b[i]!.slice(0, 80));
      });
    },
  }),
  defineCase({
    id: 'instrument-worker/shutdown-then-final',
    statements: ['INS-13', 'INS-1'],
    run: (ctx) => withWorker(ctx, async (w) => {
      const p = await ok(ctx, w, 'shutdown');
      if (p['data'] !== null && p['data'] !== undefined) throw new CaseFailure('shutdown answered data other than null', 'null', JSON.stringify(p['data']));
      const final = await ctx.expectMessage(w.conn, 'INSTRUMENT_EVENT final after the shutdown response (INS-13)', (m) => m.name === 'INSTRUMENT_EVENT');
      const f = final.payload as { event: string; exit_code?: number };
      if (f.event !== 'final' || f.exit_code !== 0) throw new CaseFailure(`expected event final with exit_code 0; got ${JSON.stringify(f)}`, 'final 0', JSON.stringify(f));
      if (w.via === 'stdio') await ctx.expectClosed(w.conn, 'the worker closing its output after final');
      if (!(await gone(w.pid, EXIT_MS))) throw new CaseFailure(`the worker (PID ${w.pid}) still runs ${EXIT_MS} ms after final (INS-13)`);
      const code = await w.exited();
      if (code !== 0) throw new CaseFailure(`the worker exited with ${code} after shutdown (INS-13)`, '0', String(code));
      await expectNoDescendants(w, 'after shutdown');
    }),
  }),
  defineCase({
    id: 'instrument-worker/commands-after-shutdown-refused',
    statements: ['INS-13', 'INS-2', 'INS-1'],
    run: (ctx) => withWorker(ctx, async (w) => {
      // shutdown with commands pipelined behind it: each one the worker read must get ERROR SHUTTING_DOWN, in
      // order, and none may run; which of them it read before it stopped reading is its own, so the answered
      // ones must be the first ones. Then final with exit_code 0.
      // In one write: a worker reading its input in one read holds them all when it answers shutdown.
      const pipeline: [string, string, Record<string, unknown>?][] = [['sd-before', 'ping'], ['sd-shutdown', 'shutdown'], ['sd-after-1', 'ping'], ['sd-after-2', 'pid_set_setpoint', { channel: 'pid0', value: 0.25 }], ['sd-after-3', 'sampler_read', { channel: 'in1' }]];
      const route = w.dst !== undefined ? { dst: w.dst } : { src: 'concord-conformance' };
      w.conn.sendRaw(Buffer.concat(pipeline.map(([id, command, params]) => encodeMessageFrame({ type: 'INSTRUMENT_COMMAND', header: { id, ...route }, payload: params ? { command, params } : { command } }))), 'ping, shutdown and three commands behind it, in one write');
      const [before, shutdown, ...after] = pipeline.map(([id]) => id) as [string, string, ...string[]];
      await answerTo(ctx, w, before, 'the answer to the ping before shutdown');
      const answer = await answerTo(ctx, w, shutdown, 'INSTRUMENT_RESPONSE to shutdown');
      if (answer.name !== 'INSTRUMENT_RESPONSE') throw new CaseFailure(`shutdown was answered ${describeAnswer(answer)} (INS-13)`, 'INSTRUMENT_RESPONSE', describeAnswer(answer));
      let refused = 0;
      for (;;) {
        const m = await ctx.expectMessage(w.conn, `ERROR SHUTTING_DOWN for the commands after shutdown, or INSTRUMENT_EVENT final (INS-13)`, (x) => x.name === 'INSTRUMENT_RESPONSE' || x.name === 'ERROR' || x.name === 'INSTRUMENT_EVENT');
        if (m.name === 'INSTRUMENT_EVENT') {
          const f = m.payload as { event: string; exit_code?: number };
          if (f.event !== 'final' || f.exit_code !== 0) throw new CaseFailure(`after shutdown and ${refused} refused command(s), an event ${JSON.stringify(f)} (INS-13: final with exit_code 0)`, 'final 0', JSON.stringify(f));
          break;
        }
        const id = after[refused];
        if (id === undefined) throw new CaseFailure(`after shutdown and the ${after.length} commands behind it were refused, the worker answered again: ${describeAnswer(m)}`, 'INSTRUMENT_EVENT final', describeAnswer(m));
        if (m.header.re !== id) throw new CaseFailure(`after shutdown the worker answered re=${JSON.stringify(m.header.re)} where the next command behind shutdown was ${JSON.stringify(id)} (INS-2: answers in the order received)`, id, String(m.header.re));
        if (m.name !== 'ERROR' || (m.payload as { code?: string }).code !== ('SHUTTING_DOWN' satisfies ErrorName)) throw new CaseFailure(`command ${refused + 1} behind shutdown was answered ${describeAnswer(m)} (INS-13: ERROR SHUTTING_DOWN, the command not carried out)`, 'ERROR SHUTTING_DOWN', describeAnswer(m));
        refused++;
      }
      if (w.via === 'stdio') await ctx.expectClosed(w.conn, 'the worker closing its output after final');
      if (!(await gone(w.pid, EXIT_MS))) throw new CaseFailure(`the worker (PID ${w.pid}) still runs ${EXIT_MS} ms after final (INS-13)`);
      const code = await w.exited();
      if (code !== 0) throw new CaseFailure(`the worker exited with ${code} after shutdown (INS-13)`, '0', String(code));
    }),
  }),
  // A worker that logs a framing fault and reads on (its input can no longer be trusted), or that exits
  // as if all went well; the receiver cases check the ERROR and the close of every closing fault.
  defineCase({
    id: 'instrument-worker/closing-fault-ends-worker',
    statements: ['INS-15', 'ERR-4'],
    run: (ctx) => withWorker(ctx, async (w) => {
      if (w.via !== 'stdio') throw new CaseSkipped('through a broker, the broker reads the frames and closes the connection, not the worker');
      w.conn.sendRaw(Uint8Array.of(0, 0, 0, 0), 'a length prefix of 0 (MALFORMED_FRAME, which closes)');
      await ctx.expectError(w.conn, 'MALFORMED_FRAME', { statement: 'ERR-4' });
      if (!(await gone(w.pid, EXIT_MS))) throw new CaseFailure(`the worker (PID ${w.pid}) still runs ${EXIT_MS} ms after the fault that closed its connection (INS-15)`);
      const code = await w.exited();
      if (code !== 65) throw new CaseFailure(`the worker exited with ${code} after a fault that closed its connection (INS-15: exit code 65)`, '65', String(code));
      await expectNoDescendants(w, 'after a closing fault');
    }),
  }),
  defineCase({
    id: 'instrument/input-closed-exits',
    statements: ['INS-10', 'STDIO-3'],
    run: (ctx) => withWorker(ctx, async (w) => {
      await expectAlive(ctx, w, 'start');
      w.closeInput();
      if (!(await gone(w.pid, EXIT_MS))) throw new CaseFailure(`the worker (PID ${w.pid}) still runs ${EXIT_MS} ms after its input closed (INS-10)`);
      const code = await w.exited();
      if (code !== 0) throw new CaseFailure(`the worker exited with ${code} when its input closed`, '0', String(code));
      await expectNoDescendants(w, 'when its input closed');
    }, { relay: true }),
  }),
  defineCase({
    id: 'instrument-worker/parent-killed-exits',
    statements: ['INS-16', 'INS-10', 'STDIO-3'],
    run: (ctx) => withWorker(ctx, async (w) => {
      await expectAlive(ctx, w, 'start');
      // Only the parent dies: the worker's input stays open (the harness holds it), so only parent-death detection can end it.
      if (!w.parentPid || w.parentPid <= 0) throw new CaseFailure('the worker\'s intermediate parent has no PID');
      process.kill(w.parentPid, 'SIGKILL');
      if (!(await gone(w.pid, EXIT_MS))) throw new CaseFailure(`the worker (PID ${w.pid}) still runs ${EXIT_MS} ms after its parent was killed, its input still open (INS-16)`);
      await expectNoDescendants(w, 'when its parent died');
    }, { parent: true }),
  }),
];
