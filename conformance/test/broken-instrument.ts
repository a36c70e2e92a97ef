/**
 * A deliberately broken instrument worker for the instrument suite's own tests: the reference mock
 * (`concord instrument`) with one defect. Run as `tsx broken-instrument.ts <defect> [mock options]`.
 *   unasked-errors    injects HARDWARE_ERROR into half the commands without being asked (INS-21)
 *   silent-injection  its ready event's detail does not mention the fault injection asked for (INS-21)
 *   fault-as-internal reports a hardware fault during a command as ERROR INTERNAL (INS-8)
 *   fault-as-event    reports a hardware fault during a command as INSTRUMENT_EVENT fault, no answer (INS-8)
 *   wrong-way-unsupported  refuses a type no broker sends (STATS_REQUEST) as UNSUPPORTED, not UNEXPECTED_MESSAGE (REQ-6)
 *   exits-zero-on-fault    exits with status 0, not 65, after a fault that closed its connection (INS-15)
 *   no-default-sine        in1 stays near 0 V when no generator drives out1, instead of the 1 kHz sine (INS-18)
 *   default-sine-on-in2    in2 also shows the 1 kHz sine when no generator drives out2 (INS-18)
 *   last-generator-wins    an input shows only asg1 when both generators drive its output (INS-18)
 *   clips-symmetric        the ADC clips at -max_volts instead of -1 V, in traces and the sampler (INS-18)
 *   sampler-reads-zero     sampler_read of an input reads 0 V, whatever drives it (INS-18)
 *   request-order          INVALID_PARAMS names the request's first parameter, not the file's first faulty one (INS-14)
 *   unknown-names-last     INVALID_PARAMS names a faulty known parameter before an unknown name (INS-14)
 *   integers-only          an integer parameter written 64.0 or 6.4e1 is refused with INVALID_PARAMS (ENC-14)
 *   ignores-set-trigger    scope_set_trigger is answered but changes nothing: every acquire without its own trigger fires at once (INS-17)
 *   timeout-at-once        an acquire whose trigger never arrives is answered TIMEOUT at once, not after its timeout (INS-17)
 *   runs-after-shutdown    a command read after shutdown is carried out and answered INSTRUMENT_RESPONSE, not SHUTTING_DOWN (INS-13)
 *   final-first            the final event goes out before the SHUTTING_DOWN answers of the commands behind shutdown (INS-13, INS-1)
 * The proxy ends with the mock, with its exit status. It reads the commands as they pass, for the defects
 * that depend on them, the bytes passing unchanged; a fault of the framing ends that reading (under
 * ignores-set-trigger, which rewrites commands and passes on only what it read, it ends the input).
 */
import { spawn } from 'node:child_process';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessage, encodeMessageFrame, type OutgoingMessage } from '../../reference/codec/message.js';
import { tsProgram } from '../../reference/test/programs.js';
import { NDArray } from '../../reference/codec/index.js';
import { instrumentSpec } from '../oracle.js';

const [defect, ...args] = process.argv.slice(2);
const instrument = tsProgram('reference/cli.ts', 'instrument', ...(defect === 'unasked-errors' ? ['--error-rate', '0.5'] : []), ...args);
const child = spawn(process.execPath, instrument.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
/** Rewrites the commands it passes on (ignores-set-trigger); the other defects pass the bytes as they come. */
const rewriting = defect === 'ignores-set-trigger';
if (!rewriting) process.stdin.pipe(child.stdin);
const write = (payload: unknown, type: OutgoingMessage['type'], header: OutgoingMessage['header']): void => void process.stdout.write(encodeMessageFrame({ type, header, payload, encoding: 'json' } as OutgoingMessage));
// The signal defects need the generators' settings and what each command reads: the commands, read as they pass.
const asgs: Record<string, { offset: number; output_direct: string }> = { asg0: { offset: 0, output_direct: 'off' }, asg1: { offset: 0, output_direct: 'off' } };
const reads = new Map<string, string>();
/** The parameter names of each command, in the request's order, by id. */
const paramsOf = new Map<string, { command: string; names: string[] }>();
/** Ids of scope_set_decimation commands whose JSON writes the value with a fraction or an exponent. */
const spelledAsFloat = new Set<string>();
/** The scope's trigger as the commands set it, and the ids this proxy answered itself (the mock's answer to them is dropped). */
let trigger: string = instrumentSpec().initial.scope.trigger_source;
const answeredHere = new Set<string>();
/** final-first: the SHUTTING_DOWN answers held until the final event is out. */
const heldBack: Uint8Array[] = [];
const commands = new FrameDecoder();
let readable = true;
process.stdin.on('data', (chunk: Buffer) => {
  if (!readable) return;
  try {
    for (const body of commands.push(chunk)) {
      const passed = command(body);
      if (rewriting) child.stdin.write(encodeFrame(passed));
    }
  } catch {
    readable = false; // no longer framed as the proxy reads it: the rest passes unread (unchanged, unless rewriting)
  }
});
// Piped input ends the mock's with it; rewritten input is ended here.
process.stdin.on('end', () => {
  if (rewriting) child.stdin.end();
});

/** Notes what one command asks for; returns the body to pass on (rewritten under ignores-set-trigger). */
function command(body: Uint8Array): Uint8Array {
  let m: ReturnType<typeof decodeMessage>;
  try {
    m = decodeMessage(body);
  } catch {
    return body; // a faulty frame the mock must answer: passed on as it is
  }
  if (m.name !== 'INSTRUMENT_COMMAND') return body;
  const { command: name, params = {} } = m.payload as { command: string; params?: Record<string, unknown> };
  paramsOf.set(m.header.id, { command: name, names: Object.keys(params) });
  // scope_set_decimation's value is its one integer parameter named `value`.
  if (name === 'scope_set_decimation' && /"value":-?[0-9]+(\.[0-9]+|[eE])/.test(Buffer.from(body).toString('latin1'))) spelledAsFloat.add(m.header.id);
  if (name === 'asg_setup') {
    const a = asgs[String(params['channel'] ?? 'asg0')];
    if (a && typeof params['offset'] === 'number') a.offset = Math.max(-1, Math.min(1, params['offset']));
    if (a && typeof params['output_direct'] === 'string') a.output_direct = params['output_direct'];
  } else if (name === 'sampler_read') reads.set(m.header.id, String(params['channel'] ?? 'in1'));
  else if (name === 'scope_set_trigger') {
    if (typeof params['source'] === 'string') trigger = params['source'];
    if (rewriting) return encodeMessage({ type: 'INSTRUMENT_COMMAND', header: m.header, payload: { command: name, params: { ...params, source: 'immediately' } }, encoding: m.encoding } as OutgoingMessage);
  } else if (name === 'scope_acquire') {
    reads.set(m.header.id, String(params['input_channel'] ?? 'in1'));
    if (typeof params['trigger_source'] === 'string') trigger = params['trigger_source'];
    if (defect === 'timeout-at-once' && instrumentSpec().scope.triggers_that_never_arrive.includes(trigger)) {
      const timeoutMs = Math.round(Number(params['timeout'] ?? 1) * 1000);
      answeredHere.add(m.header.id);
      write({ code: 'TIMEOUT', message: `no ${trigger} trigger`, definite: false, details: { timeout_ms: timeoutMs } }, 'ERROR', { id: `at-once-${m.header.id}`, re: m.header.id });
    }
  }
  return body;
}

const driving = (input: string | undefined): string[] => {
  const out = input === 'in1' ? 'out1' : input === 'in2' ? 'out2' : undefined;
  return Object.keys(asgs).filter((k) => out !== undefined && (asgs[k]!.output_direct === out || asgs[k]!.output_direct === 'both'));
};
/** The value `v` of `input` as the worker broken by the signal defect would show it. */
function broken(v: number, input: string | undefined, t: number): number {
  const { max_volts: max, default_signal: sine } = instrumentSpec().scope;
  const by = driving(input);
  switch (defect) {
    case 'no-default-sine': return input === 'in1' && by.length === 0 ? v / 100 : v;
    case 'default-sine-on-in2': return input === 'in2' && by.length === 0 ? v + sine.amplitude * Math.sin(2 * Math.PI * sine.frequency * t) : v;
    case 'last-generator-wins': return by.length === 2 ? v - asgs['asg0']!.offset : v;
    case 'clips-symmetric': return v === -1 ? -max : v;
    default: return v;
  }
}
child.stdin.on('error', () => undefined);
child.on('exit', (code) => {
  process.exitCode = defect === 'exits-zero-on-fault' && code === 65 ? 0 : code ?? 1;
  process.stdin.unpipe(child.stdin);
  process.stdin.destroy();
});
const decoder = new FrameDecoder();
let n = 0;
child.stdout.on('data', (chunk: Buffer) => {
  for (const body of decoder.push(chunk)) {
    const m = decodeMessage(body);
    const p = (m.payload ?? {}) as Record<string, unknown>;
    const again = (payload: unknown, type = m.name, header: OutgoingMessage['header'] = m.header): void => void process.stdout.write(encodeMessageFrame({ type, header, payload, encoding: m.encoding } as OutgoingMessage));
    const hardware = m.name === 'ERROR' && p['code'] === 'HARDWARE_ERROR';
    const input = m.header.re === undefined ? undefined : reads.get(m.header.re);
    const trace = p['trace'] as { samples: NDArray; dt: number } | undefined;
    if (trace?.samples instanceof NDArray) {
      const data = trace.samples.data as Float32Array;
      for (let k = 0; k < data.length; k++) data[k] = broken(data[k]!, input, k * trace.dt);
    } else if (m.name === 'INSTRUMENT_RESPONSE' && p['command'] === 'sampler_read' && typeof p['data'] === 'number') {
      p['data'] = defect === 'sampler-reads-zero' ? 0 : broken(p['data'], input, 0);
    }
    if (m.header.re !== undefined && answeredHere.delete(m.header.re)) continue;
    const shuttingDown = m.name === 'ERROR' && p['code'] === 'SHUTTING_DOWN';
    if (defect === 'runs-after-shutdown' && shuttingDown && m.header.re !== undefined) {
      again({ command: paramsOf.get(m.header.re)?.command ?? 'ping', data: null }, 'INSTRUMENT_RESPONSE');
      continue;
    }
    if (defect === 'final-first' && shuttingDown) {
      heldBack.push(body);
      continue;
    }
    if (defect === 'final-first' && m.name === 'INSTRUMENT_EVENT' && p['event'] === 'final') {
      again(m.payload);
      for (const b of heldBack.splice(0)) process.stdout.write(encodeFrame(b));
      continue;
    }
    const asked = m.header.re === undefined ? undefined : paramsOf.get(m.header.re);
    if (m.name === 'ERROR' && p['code'] === 'INVALID_PARAMS' && asked !== undefined) {
      const details = p['details'] as { param?: string } | undefined;
      const known = Object.keys(instrumentSpec().commands[asked.command]?.params ?? {});
      const named = details?.param;
      if (defect === 'request-order' && asked.names.length > 1) p['details'] = { ...details, param: asked.names[0] };
      if (defect === 'unknown-names-last' && named !== undefined && !known.includes(named)) p['details'] = { ...details, param: asked.names.find((n) => known.includes(n)) ?? named };
    }
    if (defect === 'integers-only' && m.name === 'INSTRUMENT_RESPONSE' && m.header.re !== undefined && spelledAsFloat.has(m.header.re)) {
      again({ code: 'INVALID_PARAMS', message: 'value: expected an integer', definite: true, details: { param: 'value' } }, 'ERROR');
      continue;
    }
    if (defect === 'silent-injection' && m.name === 'INSTRUMENT_EVENT' && p['event'] === 'ready') again({ ...p, detail: 'seed 0' });
    else if (defect === 'fault-as-internal' && hardware) again({ ...p, code: 'INTERNAL', definite: false });
    else if (defect === 'wrong-way-unsupported' && m.name === 'ERROR' && p['code'] === 'UNEXPECTED_MESSAGE') again({ ...p, code: 'UNSUPPORTED', definite: true });
    else if (defect === 'fault-as-event' && hardware) again({ event: 'fault', worker: 'broken', mock: true, detail: String(p['message']) }, 'INSTRUMENT_EVENT', { id: `broken-${++n}` });
    else again(m.payload);
  }
});
