/**
 * Fault injection of a mock worker (spec section 17: `--error-rate P`, `--delay-ms N`, `--drop-after N`):
 * a mock announces it in its `ready` event's `detail` and injects nothing unless asked (INS-21), and a
 * fault of the instrument during a command is ERROR `HARDWARE_ERROR`, the worker staying alive (INS-8).
 * The harness starts the worker command with `--error-rate 1` appended. INS-8's other half, INSTRUMENT_EVENT
 * `fault` for a fault outside any command, has no way to be provoked from outside (no injection flag for
 * it), so these cases check the half a command can show.
 */
import type { Message } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { CaseContext } from './context.js';
import { commandOf, ExecPeer } from '../wire/peer-target.js';
import { startWorker, type StartedWorker } from './instrument-worker.js';
import { registryName } from '../../reference/codec/catalog.js';

/** Commands other than ping and shutdown, each harmless and valid with its defaults. */
const PROBES = ['sampler_read', 'pid_get_setpoint', 'iq_get_quadratures'];

/** Starts the worker command with `extra` arguments; its processes end with the case, by PID. */
async function withWorkerArgs(ctx: CaseContext, extra: string[], body: (w: StartedWorker) => Promise<void>): Promise<void> {
  const exec = commandOf(ctx.options.target);
  if (!exec) throw new CaseSkipped('needs a worker command: conformance --suite instrument --exec -- CMD');
  // The worker runs on stdio whatever the target's transport (startWorker starts it itself).
  const inner = new CaseContext({ ...ctx.options, target: new ExecPeer([...exec, ...extra]) });
  try {
    const w = await startWorker(inner);
    try {
      await body(w);
    } finally {
      await w.close();
    }
  } finally {
    inner.close();
  }
}

async function answerTo(ctx: CaseContext, w: StartedWorker, id: string, what: string): Promise<Message> {
  return ctx.expectMessage(w.conn, `${what} (re=${JSON.stringify(id)})`, (m) => (m.name === 'INSTRUMENT_RESPONSE' || m.name === 'ERROR') && m.header.re === id);
}

const codeOf = (m: Message): string => (m.name === 'ERROR' ? `ERROR ${String((m.payload as { code?: unknown }).code)}` : m.name);
const detailOf = (w: StartedWorker): string => String((w.ready.payload as { detail?: unknown }).detail ?? '');
const isMock = (w: StartedWorker): boolean => (w.ready.payload as { mock?: unknown }).mock === true;

async function pingAlive(ctx: CaseContext, w: StartedWorker, after: string): Promise<void> {
  const id = w.command('ping', {});
  const m = await answerTo(ctx, w, id, 'the answer to ping');
  if (m.name !== 'INSTRUMENT_RESPONSE') throw new CaseFailure(`ping after ${after} was answered ${codeOf(m)}`, 'INSTRUMENT_RESPONSE pong', codeOf(m));
}

export const instrumentFaultCases = (): Case[] => [
  defineCase({
    id: 'instrument-worker/fault-injection-announced-only-when-asked',
    statements: ['INS-21'],
    async run(ctx) {
      const problems: string[] = [];
      // Not asked: 3 x 15 commands, none answered HARDWARE_ERROR.
      await withWorkerArgs(ctx, [], async (w) => {
        if (!isMock(w)) throw new CaseSkipped('the worker drives real hardware (ready.mock is not true): fault injection is a mock\'s');
        let injected = 0;
        for (let i = 0; i < 45; i++) {
          const command = PROBES[i % PROBES.length]!;
          const m = await answerTo(ctx, w, w.command(command, {}), `the answer to ${command}`);
          if (m.name === 'ERROR' && registryName((m.payload as { code?: unknown }).code) === 'HARDWARE_ERROR') injected++;
        }
        if (injected > 0) problems.push(`without fault injection asked, ${injected} of 45 commands were answered HARDWARE_ERROR`);
      });
      // Asked (--error-rate 1): the ready event's detail says so.
      await withWorkerArgs(ctx, ['--error-rate', '1'], async (w) => {
        if (!/fault|inject|error.?rate/i.test(detailOf(w))) problems.push(`with --error-rate 1 the ready event's detail does not announce fault injection (${JSON.stringify(detailOf(w))})`);
      });
      if (problems.length) throw new CaseFailure(problems.join('; '), 'announced when asked, nothing injected otherwise', problems[0]);
    },
  }),
  defineCase({
    id: 'instrument/hardware-error-during-command',
    statements: ['INS-8'],
    async run(ctx) {
      // A fault injected into every command (--error-rate 1) is a fault during a command: ERROR HARDWARE_ERROR, no fault event, the worker alive.
      await withWorkerArgs(ctx, ['--error-rate', '1'], async (w) => {
        if (!isMock(w)) throw new CaseSkipped('the worker drives real hardware (ready.mock is not true): faults cannot be injected');
        for (const command of PROBES) {
          const id = w.command(command, {});
          const m = await ctx.expectMessage(w.conn, `ERROR HARDWARE_ERROR answering ${command} (re=${id})`, () => true);
          if (m.name === 'INSTRUMENT_EVENT') throw new CaseFailure(`a fault during ${command} was reported as INSTRUMENT_EVENT ${String((m.payload as { event?: unknown }).event)} instead of the command's ERROR`, 'ERROR HARDWARE_ERROR', `INSTRUMENT_EVENT ${String((m.payload as { event?: unknown }).event)}`);
          if (m.header.re !== id || m.name !== 'ERROR' || registryName((m.payload as { code?: unknown }).code) !== 'HARDWARE_ERROR') throw new CaseFailure(`with --error-rate 1, ${command} was answered ${codeOf(m)}`, 'ERROR HARDWARE_ERROR', `${codeOf(m)} re=${String(m.header.re)}`);
        }
        await pingAlive(ctx, w, 'three hardware faults');
      });
    },
  }),
];
