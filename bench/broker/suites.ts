/**
 * How fast the harness runs, through its own runCommand (as `npx conformance` does):
 *   - the broker's property cases against the in-process reference broker (generated cases per second);
 *   - the whole testee suite against the reference testee (wall ms) and, from its property cases, the
 *     generated inputs pushed through one testee process per second;
 *   - the core suite against the embedded broker at its minimum limits (wall ms).
 * A suite that does not pass is reported with its outcome counts, not turned into a benchmark failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MESSAGES } from '../../reference/codec/index.js';
import { runCommand, type RunCommandOptions } from '../../conformance/run-command.js';
import { BROKER_CLI } from './build.js';
import { childrenCpuUs } from './procfs.js';

/** RUNS_PER_TYPE in conformance/cases/properties.cases.ts. */
const PROPERTY_RUNS_PER_TYPE = 25;
const BROKER_PROPERTY_CASES = ['requests/prop-routed-payloads-arrive-equal/encoding:json', 'requests/prop-routed-payloads-arrive-equal/encoding:cbor'];
/** GENERATED_RUNS in conformance/cases/testee.cases.ts, for each of these cases. */
const TESTEE_GENERATED_RUNS = 200;
const TESTEE_PROPERTY_CASES = ['testee/prop-generated-messages-echo-equal/encoding:json', 'testee/prop-generated-messages-echo-equal/encoding:cbor', 'testee/prop-missing-required-field-refused'];

interface CaseResult {
  id: string;
  outcome: string;
  durationMs: number;
}

export interface SuiteRun {
  exitCode: number;
  wallMs: number;
  /** CPU time (user + system) of the harness process during the run: the embedded broker's included. */
  harnessCpuMs: number;
  /** CPU time of the peer processes the run started and saw end (the testees). */
  peerCpuMs: number;
  results: CaseResult[];
  outcomes: Record<string, number>;
}

const seed = (): number => (process.env['CONCORD_SEED'] ? Number(process.env['CONCORD_SEED']) : 1);

async function runSuite(label: string, o: Partial<RunCommandOptions> & { suites: string[] }): Promise<SuiteRun> {
  const reportDir = mkdtempSync(join(tmpdir(), 'concord-bench-'));
  let out = '';
  let err = '';
  process.stderr.write(`bench: ${label}\n`);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const peers0 = childrenCpuUs(process.pid);
  let exitCode: number;
  try {
    exitCode = await runCommand({
      run: [], skip: [], seed: seed(), timeoutMs: 2_000, failFast: false, strict: false, knownFailing: [], json: true, reportDir,
      err: (t) => void (err += t), out: (t) => void (out += t), ...o,
    });
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const harnessCpuMs = (cpu.user + cpu.system) / 1000;
  const peerCpuMs = (childrenCpuUs(process.pid) - peers0) / 1000;
  const results = (JSON.parse(out || '{"results":[]}') as { results: CaseResult[] }).results;
  const outcomes: Record<string, number> = {};
  for (const r of results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  if (exitCode !== 0) process.stderr.write(`bench: ${label}: exit ${exitCode}: ${err.trim().split('\n').slice(-3).join(' | ')}\n`);
  return { exitCode, wallMs, harnessCpuMs, peerCpuMs, results, outcomes };
}

export interface GeneratedCases {
  generated: number;
  seconds: number;
  perSecond: number;
  seed: number;
}

/** The broker's property cases against an in-process reference broker. */
export async function brokerGeneratedCases(): Promise<GeneratedCases> {
  const routedTypes = MESSAGES.filter((m) => m.directions.includes('routed') && (m.kind === 'request' || m.kind === 'notification')).length;
  const generated = PROPERTY_RUNS_PER_TYPE * routedTypes * BROKER_PROPERTY_CASES.length;
  const r = await runSuite(`generated cases: conformance --run ${BROKER_PROPERTY_CASES.join(' --run ')} --seed ${seed()}`, { suites: ['core'], run: BROKER_PROPERTY_CASES, timeoutMs: 5_000 });
  if (r.exitCode !== 0 || r.results.length !== BROKER_PROPERTY_CASES.length) throw new Error(`the broker property cases did not pass (exit ${r.exitCode})`);
  const seconds = r.results.reduce((s, x) => s + x.durationMs, 0) / 1000;
  return { generated, seconds, perSecond: generated / seconds, seed: seed() };
}

export interface TesteeSuite extends SuiteRun {
  inputs: number;
  inputsPerSecond: number;
}

/** The whole testee suite against the reference testee (`concord testee` from dist/). */
export async function testeeSuite(): Promise<TesteeSuite> {
  const exec = [process.execPath, BROKER_CLI, 'testee'];
  const r = await runSuite(`testee suite: conformance --exec --seed ${seed()} -- node dist/reference/cli.js testee`, { suites: ['testee'], exec });
  const props = r.results.filter((x) => TESTEE_PROPERTY_CASES.includes(x.id) && x.outcome === 'pass');
  const inputs = props.length * TESTEE_GENERATED_RUNS;
  const seconds = props.reduce((s, x) => s + x.durationMs, 0) / 1000;
  return { ...r, inputs, inputsPerSecond: props.length === TESTEE_PROPERTY_CASES.length ? inputs / seconds : NaN };
}

/** The core suite against the embedded broker (its timers at the minimum limits.ts allows). */
export function coreSuite(): Promise<SuiteRun> {
  return runSuite(`core suite: conformance --seed ${seed()} (embedded broker)`, { suites: ['core'] });
}
