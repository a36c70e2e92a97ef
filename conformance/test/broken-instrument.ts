/**
 * A deliberately broken instrument worker for the instrument suite's own tests: the reference mock
 * (`concord instrument`) with one defect. Run as `tsx broken-instrument.ts <defect> [mock options]`.
 *   unasked-errors    injects HARDWARE_ERROR into half the commands without being asked (INS-21)
 *   silent-injection  its ready event's detail does not mention the fault injection asked for (INS-21)
 *   fault-as-internal reports a hardware fault during a command as ERROR INTERNAL (INS-8)
 *   fault-as-event    reports a hardware fault during a command as INSTRUMENT_EVENT fault, no answer (INS-8)
 *   wrong-way-unsupported  refuses a type no broker sends (STATS_REQUEST) as UNSUPPORTED, not UNEXPECTED_MESSAGE (REQ-6)
 *   exits-zero-on-fault    exits with status 0, not 65, after a fault that closed its connection (INS-15)
 * The proxy ends with the mock, with its exit status.
 */
import { spawn } from 'node:child_process';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessageFrame, type OutgoingMessage } from '../../reference/codec/message.js';
import { tsProgram } from '../../reference/test/programs.js';

const [defect, ...args] = process.argv.slice(2);
const instrument = tsProgram('reference/cli.ts', 'instrument', ...(defect === 'unasked-errors' ? ['--error-rate', '0.5'] : []), ...args);
const child = spawn(process.execPath, instrument.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
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
    if (defect === 'silent-injection' && m.name === 'INSTRUMENT_EVENT' && p['event'] === 'ready') again({ ...p, detail: 'seed 0' });
    else if (defect === 'fault-as-internal' && hardware) again({ ...p, code: 'INTERNAL', definite: false });
    else if (defect === 'wrong-way-unsupported' && m.name === 'ERROR' && p['code'] === 'UNEXPECTED_MESSAGE') again({ ...p, code: 'UNSUPPORTED', definite: true });
    else if (defect === 'fault-as-event' && hardware) again({ event: 'fault', worker: 'broken', mock: true, detail: String(p['message']) }, 'INSTRUMENT_EVENT', { id: `broken-${++n}` });
    else again(m.payload);
  }
});
