/**
 * The targets, started the same way and reached over the same topology (`before` only when named):
 *   - `relay`: the C++ relay (cpp-client/bench/relay.cpp), the physical limit;
 *   - `router`: the minimal Node router (bench/node-router.ts), Node's floor;
 *   - `broker`: the reference broker from dist/ (`concord broker --port 0`);
 *   - `broker-again`: a second process of the same build, started the same way: the control. Two
 *     processes of one build measured side by side should give 1.0; what they give instead is the
 *     noise of the run (the host, the process's luck), the same for the broker's other ratios.
 * CONCORD_BENCH_BROKER_NODE_FLAGS adds Node flags to the broker's process (e.g. `--cpu-prof`),
 * CONCORD_BENCH_ROUTER_NODE_FLAGS to the Node router's (to profile both the same way),
 * CONCORD_BENCH_BEFORE_NODE_FLAGS to the `before` target's in place of the broker's (so one build can run
 * side by side with and without a flag);
 * CONCORD_BENCH_BROKER_CLI runs another build of the broker; CONCORD_BENCH_BEFORE_CLI adds that build as
 * a fourth target, `before`, so a before/after comparison runs side by side in the same interleaved rounds
 * (name it in CONCORD_BENCH_TARGETS, e.g. `broker,before,router`).
 */
import type { ChildProcess } from 'node:child_process';
import { BROKER_CLI, NODE_ROUTER, RELAY_BIN } from './build.js';
import { awaitLine, spawnTracked } from './processes.js';

export type TargetName = 'broker' | 'broker-again' | 'router' | 'relay' | 'before';
export const TARGETS: readonly TargetName[] = ['broker', 'broker-again', 'router', 'relay'];
/** Every name CONCORD_BENCH_TARGETS may list: the default four and `before`. */
export const KNOWN_TARGETS: readonly TargetName[] = [...TARGETS, 'before'];

export interface TargetProcess {
  name: TargetName;
  child: ChildProcess;
  pid: number;
  port: number;
}

const listening = (line: string): number | undefined => {
  const m = /^listening (\d+)$/.exec(line);
  return m ? Number(m[1]) : undefined;
};

/** The broker reports its port in its `listening` log record on stderr. */
const brokerListening = (line: string, stream: string): number | undefined => {
  if (stream !== 'stderr' || !line.includes('"listening"')) return undefined;
  const record = JSON.parse(line) as { msg?: string; port?: number };
  return record.msg === 'listening' && typeof record.port === 'number' ? record.port : undefined;
};

/** Extra Node flags from an environment variable, space separated. */
const nodeFlags = (variable: string): string[] => (process.env[variable] ?? '').split(' ').filter(Boolean);

/** Starts a target, on the cores `cpus` lists when given (bench/broker/cpus.ts). */
export async function startTarget(name: TargetName, cpus?: string): Promise<TargetProcess> {
  let child: ChildProcess;
  let port: number;
  if (name === 'broker' || name === 'broker-again' || name === 'before') {
    const flags = nodeFlags(name === 'before' && process.env['CONCORD_BENCH_BEFORE_NODE_FLAGS'] !== undefined ? 'CONCORD_BENCH_BEFORE_NODE_FLAGS' : 'CONCORD_BENCH_BROKER_NODE_FLAGS');
    const cli = name === 'before' ? process.env['CONCORD_BENCH_BEFORE_CLI'] : (process.env['CONCORD_BENCH_BROKER_CLI'] ?? BROKER_CLI);
    if (cli === undefined) throw new Error('the target `before` needs CONCORD_BENCH_BEFORE_CLI (the cli.js of another build)');
    child = spawnTracked(name, process.execPath, [...flags, cli, 'broker', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info'], cpus);
    port = await awaitLine(name, child, brokerListening);
  } else if (name === 'router') {
    // Under tsx, execArgv carries its loader, so the TypeScript source runs as is.
    child = spawnTracked(name, process.execPath, [...process.execArgv, ...nodeFlags('CONCORD_BENCH_ROUTER_NODE_FLAGS'), NODE_ROUTER, '0'], cpus);
    port = await awaitLine(name, child, listening);
  } else {
    child = spawnTracked(name, RELAY_BIN, ['0'], cpus);
    port = await awaitLine(name, child, listening);
  }
  return { name, child, pid: child.pid!, port };
}
