/**
 * The bus suite (`conformance --suite bus`): the rules of sections bus-semantics and
 * coordinator-semantics as cases run through a bus adapter (section bus-adapter): the TypeScript bus
 * in process (`--exec -- npx concord bus-adapter`), the bus of a broker (`--target`, or no target), and
 * any other adapter such as the Python bus peer. The stateful model is one more case.
 */
import { defineCase, CaseSkipped, type Case } from './model.js';
import { BUS_CASES } from '../bus/bus-rules.js';
import { COORDINATOR_CASES } from '../bus/coordinator-rules.js';
import { MODEL_CASE } from '../bus/model-case.js';
import { ADAPTER_CASES } from '../bus/adapter-rules.js';
import { ProcessDriver, SessionDriver, ok, type BusDriver } from '../bus/driver.js';
import type { CaseContext } from './context.js';
import { commandOf, socketOf } from '../wire/peer-target.js';
import type { Hello } from '../../reference/bus/adapter/protocol.js';
import { wireFactory } from '../oracle.js';
import type { BusCaseDef } from '../bus/cases-model.js';

export const BUS_CASE_DEFS: BusCaseDef[] = [...BUS_CASES, ...COORDINATOR_CASES, ...ADAPTER_CASES, MODEL_CASE];

function openDriver(ctx: CaseContext): BusDriver {
  const command = commandOf(ctx.options.target);
  if (command) return new ProcessDriver([...command], ctx.timeoutMs);
  const socket = socketOf(ctx.options.target);
  if (!socket) throw new CaseSkipped('the bus suite needs a bus adapter command (--exec) or a broker over TCP or Unix');
  const target = { ...(socket.kind === 'unix' ? { path: socket.path } : { host: socket.host, port: socket.port }), ...(ctx.options.token !== undefined ? { token: ctx.options.token } : {}) };
  return new SessionDriver(wireFactory(target), { name: 'wire-bus', language: 'typescript', version: '0.1.0', features: [] }, ctx.timeoutMs);
}

/** Runs one definition against a driver: hello, reset, the case, and the driver closed whatever happens. */
export async function runBusCase(def: BusCaseDef, d: BusDriver, seed: number, modelRuns?: number): Promise<void> {
  try {
    if (def.process && !(d instanceof ProcessDriver)) throw new CaseSkipped('judges a bus adapter process (--exec)');
    const hello = await ok<Hello>(d, { op: 'hello' });
    const missing = (def.needs ?? []).filter((f) => !hello.features.includes(f));
    if (missing.length > 0) throw new CaseSkipped(`the adapter does not declare ${missing.join(', ')}`);
    await ok(d, { op: 'reset' });
    await def.run(d, { seed, features: hello.features, ...(modelRuns !== undefined ? { modelRuns } : {}) });
  } catch (e) {
    if (e instanceof Error && d.transcript.length > 0 && !(e instanceof CaseSkipped) && !e.message.includes('its exchanges with the adapter')) e.message += `\nlast adapter exchanges:\n${d.transcript.slice(-8).join('\n')}`;
    throw e;
  } finally {
    await d.close();
  }
}

export function busCases(): Case[] {
  return BUS_CASE_DEFS.map((def) => defineCase({ id: def.id, statements: def.statements, run: (ctx) => runBusCase(def, openDriver(ctx), ctx.seed) }));
}
