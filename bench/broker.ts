/**
 * The broker benchmark (issues 3 and 15), run by `npm run bench` after the codec one. Four targets under
 * the same load and topology, measured in one run with interleaved rounds (bench/broker/targets.ts): the
 * reference broker, a second process of the same build (the control: how far apart the run measures two
 * copies of one build, which decides whether a ratio near its target means anything), the minimal Node
 * router (Node's floor) and the C++ relay (the physical limit).
 *
 * Topology per target: the C++ load generator's `worker` process (one connection answering every
 * REASONING_REQUEST) and its `clients` process (CLIENTS connections `c0`.. keeping requests in flight
 * to `worker`, `src` set by the client so that routers which never rewrite headers work too). The
 * clients process reports its own CPU share, so a capped run is visible (bench/broker/loadgen.ts).
 *
 * Also measured: each target's idle per-connection memory (before any load), the broker's RSS under
 * sustained load after the rounds (flat = no growth per message), and how fast the harness runs
 * (bench/broker/suites.ts).
 *
 * Environment: CONCORD_BENCH_ROUNDS, CONCORD_BENCH_MEASURE_MS, CONCORD_BENCH_TARGETS (comma list),
 * CONCORD_BENCH_SOAK_STEPS (seconds of the memory phase, 30), CONCORD_BENCH_SCENARIOS (comma list of scenario keys: small_1, small_32, 768f32_32; e.g. one load to
 * profile), CONCORD_BENCH_SUITES=0 (skip the harness timings), CONCORD_BENCH_BROKER_NODE_FLAGS (targets.ts).
 * `npx tsx bench/broker-only.ts` runs this benchmark alone.
 */
import { performance } from 'node:perf_hooks';
import { buildCpp, ensureBrokerBuilt } from './broker/build.js';
import { planCpus, type CpuPlan } from './broker/cpus.js';
import { Clients, Worker } from './broker/loadgen.js';
import { idleConnectionKb, IDLE_CONNECTIONS } from './broker/memory.js';
import { hex, LARGE_REQUEST, RESPONSE, SMALL_REQUEST } from './broker/payloads.js';
import { stopAll, stopChild } from './broker/processes.js';
import { rssKb } from './broker/procfs.js';
import { figuresTable, perTarget, ratios, sampleKey, type Sample, type Samples, type ScenarioKey } from './broker/report.js';
import { fmt, growth } from './broker/stats.js';
import { brokerGeneratedCases, coreSuite, testeeSuite, type GeneratedCases, type SuiteRun, type TesteeSuite } from './broker/suites.js';
import { KNOWN_TARGETS, startTarget, TARGETS, type TargetName, type TargetProcess } from './broker/targets.js';

const CLIENTS = 4;
const envNumber = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
// Nine rounds: with five, one slow round on this shared machine moved a median across a target, and
// the broker's heap could still be growing to its plateau after the middle round.
const ROUNDS = envNumber('CONCORD_BENCH_ROUNDS', 9);
const WARMUP_MS = 250;
const MEASURE_MS = envNumber('CONCORD_BENCH_MEASURE_MS', 1_000);
/** The scenario rounds stop starting once this much time has passed (the warm-up pass included). */
const TIME_BUDGET_MS = 180_000;
/**
 * The memory phase: the broker alone under sustained load, SOAK_STEPS runs of SOAK_STEP_MS back to back
 * (32 in flight, small and 768-float32 requests in turn), its RSS read after each. The interleaved
 * rounds cannot judge memory: each target idles while the other three are measured, and V8 shrinks an
 * idle heap, so the broker's RSS after a round swung 93-119 MB with nothing retained (2026-12-05).
 */
const SOAK_STEPS = envNumber('CONCORD_BENCH_SOAK_STEPS', 30);
const SOAK_STEP_MS = 1_000;

interface Scenario {
  key: ScenarioKey;
  label: string;
  inFlight: number;
  payloadHex: string;
  latency: boolean;
}

const ALL_SCENARIOS: Scenario[] = [
  { key: 'small_1', label: 'small, 1 in flight', inFlight: 1, payloadHex: hex(SMALL_REQUEST), latency: true },
  { key: 'small_32', label: 'small, 32 in flight', inFlight: 32, payloadHex: hex(SMALL_REQUEST), latency: false },
  { key: '768f32_32', label: '768 f32, 32 in flight', inFlight: 32, payloadHex: hex(LARGE_REQUEST), latency: false },
];
const chosenScenarios = process.env['CONCORD_BENCH_SCENARIOS']?.split(',');
const unknownScenario = chosenScenarios?.find((k) => !ALL_SCENARIOS.some((s) => s.key === k));
if (unknownScenario !== undefined) throw new Error(`CONCORD_BENCH_SCENARIOS: unknown scenario ${unknownScenario} (known: ${ALL_SCENARIOS.map((s) => s.key).join(', ')})`);
const SCENARIOS = chosenScenarios === undefined ? ALL_SCENARIOS : ALL_SCENARIOS.filter((s) => chosenScenarios.includes(s.key));

interface Running {
  target: TargetProcess;
  worker: Worker;
  clients: Clients;
  idle: Awaited<ReturnType<typeof idleConnectionKb>>;
}

const log = (text: string): void => void process.stderr.write(text);

async function startTopology(name: TargetName, cpus: CpuPlan): Promise<Running> {
  const target = await startTarget(name, cpus.target);
  const idle = await idleConnectionKb(target.pid, target.port);
  const worker = await Worker.start(target.port, hex(RESPONSE), cpus.load);
  const clients = await Clients.start(target.port, CLIENTS, cpus.load);
  return { target, worker, clients, idle };
}

async function runScenario(r: Running, sc: Scenario, warmupMs: number, measureMs: number): Promise<Sample> {
  const rssBeforeKb = rssKb(r.target.pid);
  const workerErrors = r.worker.errors;
  await r.clients.setPayload(sc.payloadHex);
  const run = await r.clients.run({ inFlight: sc.inFlight, warmupMs, measureMs, latency: sc.latency, pids: [r.target.pid, r.worker.pid] });
  if (run.stuck > 0 || run.dead > 0) throw new Error(`${r.target.name}: ${run.stuck} requests unanswered after ${sc.label}, ${run.dead} connections closed`);
  const [targetCpu = NaN, workerCpu = NaN] = run.pid_cpu_us;
  return {
    reqPerSec: run.req_per_s,
    p50Us: run.p50_us >= 0 ? run.p50_us : undefined,
    p99Us: run.p99_us >= 0 ? run.p99_us : undefined,
    targetCpuUsPerReq: run.done > 0 && targetCpu >= 0 ? targetCpu / run.done : NaN,
    targetSyscallsPerReq: run.done > 0 && (run.pid_io_syscalls[0] ?? -1) >= 0 ? run.pid_io_syscalls[0]! / run.done : NaN,
    loadgenCpuShare: run.self_cpu_share,
    workerCpuShare: workerCpu >= 0 ? workerCpu / 1000 / run.elapsed_ms : NaN,
    rssBeforeKb,
    rssAfterKb: rssKb(r.target.pid),
    errors: run.errors + r.worker.errors - workerErrors,
  };
}

/** A suite's ten slowest cases, id and ms: where its wall time goes (most of it waiting on the peer's timers). */
const slowest = (run: SuiteRun): [string, number][] => [...run.results].sort((a, b) => b.durationMs - a.durationMs).slice(0, 10).map((r) => [r.id, r.durationMs]);

export interface BrokerBenchResult {
  /** Fields merged into the bench report (ratios at the top level, details under `broker_bench`). */
  report: Record<string, unknown>;
  /** broker / baseline per round, [min, max], by ratio field. */
  ranges: Record<string, [number, number]>;
  /** The printed figures. */
  table: string;
}

export async function runBrokerBench(): Promise<BrokerBenchResult> {
  ensureBrokerBuilt();
  buildCpp();
  const targets = (process.env['CONCORD_BENCH_TARGETS']?.split(',') ?? TARGETS).filter((t): t is TargetName => (KNOWN_TARGETS as readonly string[]).includes(t));
  const running = new Map<TargetName, Running>();
  const samples: Samples = new Map();
  const rssSeries: Partial<Record<TargetName, number[]>> = {};
  const soakRss: number[] = [];
  let rounds = 0;
  const began = performance.now();
  const cpus = planCpus();
  log(`bench: cores: ${cpus.description}\n`);
  try {
    for (const name of targets) {
      const r = await startTopology(name, cpus);
      running.set(name, r);
      rssSeries[name] = [rssKb(r.target.pid)];
    }
    // Warm-up pass: JIT of the Node targets; not recorded.
    for (const sc of SCENARIOS) for (const name of targets) await runScenario(running.get(name)!, sc, 50, 300);
    for (const name of targets) rssSeries[name]!.push(rssKb(running.get(name)!.target.pid));
    for (; rounds < ROUNDS && performance.now() - began < TIME_BUDGET_MS; rounds++) {
      // Interleaved: every scenario runs on every target back to back; the order rotates per round.
      const order = targets.map((_, i) => targets[(i + rounds) % targets.length]!);
      for (const sc of SCENARIOS) {
        for (const name of order) {
          const key = sampleKey(sc.key, name);
          samples.set(key, [...(samples.get(key) ?? []), await runScenario(running.get(name)!, sc, WARMUP_MS, MEASURE_MS)]);
        }
      }
      for (const name of targets) rssSeries[name]!.push(rssKb(running.get(name)!.target.pid));
      log(`\rbench: broker round ${rounds + 1}/${ROUNDS}`);
    }
    log('\n');
    const broker = running.get('broker');
    const sustained = SCENARIOS.filter((sc) => sc.inFlight > 1);
    for (let step = 0; broker && sustained.length > 0 && step < SOAK_STEPS; step++) {
      await runScenario(broker, sustained[step % sustained.length]!, 0, SOAK_STEP_MS);
      soakRss.push(rssKb(broker.target.pid));
      log(`\rbench: broker under sustained load ${step + 1}/${SOAK_STEPS} s`);
    }
    if (soakRss.length > 0) log('\n');
  } finally {
    for (const r of running.values()) {
      await r.clients.close();
      await r.worker.close();
      await stopChild(r.target.child);
    }
    await stopAll();
  }

  let cases: GeneratedCases | undefined;
  let testee: TesteeSuite | undefined;
  let core: SuiteRun | undefined;
  if (process.env['CONCORD_BENCH_SUITES'] !== '0') {
    cases = await brokerGeneratedCases();
    testee = await testeeSuite();
    core = await coreSuite();
  }

  const { ratios: r, ranges } = ratios(samples);
  const loadgenShares = [...samples.values()].flat().map((s) => s.loadgenCpuShare);
  // Memory: growth of the broker's RSS under the sustained load (stats.ts's growth: the last third of the
  // samples over the middle third). Twenty rounds on 2026-12-03 climbed from 87 to 120 MB in five and
  // then stayed within 1%; forty broker-only rounds on 2026-12-05 stayed at 110-118 MB from the second.
  const rssGrowth = growth(soakRss);
  const lastRss = (t: TargetName): number => rssSeries[t]?.at(-1) ?? NaN;
  const idle = Object.fromEntries([...running].map(([name, x]) => [name, { per_connection_kb: x.idle.perConnectionKb, rss_kb_before: x.idle.rssBeforeKb, rss_kb_with: x.idle.rssWithKb }]));
  const report = {
    ...r,
    load_generator_cpu_share: Math.max(...loadgenShares.filter(Number.isFinite)),
    testee_inputs_per_second: testee?.inputsPerSecond ?? NaN,
    testee_suite_wall_ms: testee?.wallMs ?? NaN,
    core_suite_wall_ms: core?.wallMs ?? NaN,
    idle_connection_kb: running.get('broker')?.idle.perConnectionKb ?? NaN,
    broker_rss_growth_ratio: rssGrowth,
    broker_rss_vs_node_router_ratio: lastRss('broker') / lastRss('router'),
    generated_cases_per_second: cases?.perSecond ?? NaN,
    broker_bench: {
      rounds,
      clients: CLIENTS,
      cores: cpus.description,
      warmup_ms: WARMUP_MS,
      measure_ms: MEASURE_MS,
      load_generator: 'cpp-client/bench/loadgen.cpp (epoll, pipelined, batched writes); load_generator_cpu_share is the largest median over scenarios and targets',
      payload_bytes: { small_request: SMALL_REQUEST.length, request_768f32: LARGE_REQUEST.length, response: RESPONSE.length },
      ratio_ranges_over_rounds: ranges,
      scenarios: perTarget(samples, SCENARIOS, targets),
      rss_kb_after_start_warmup_rounds: rssSeries,
      broker_rss_kb_under_sustained_load: { step_ms: SOAK_STEP_MS, after_each_step: soakRss },
      idle_connections: { count: IDLE_CONNECTIONS, ...idle },
      generated_cases: cases,
      testee_suite: testee && { exit_code: testee.exitCode, outcomes: testee.outcomes, inputs: testee.inputs, harness_cpu_ms: testee.harnessCpuMs, testee_cpu_ms: testee.peerCpuMs, slowest_cases: slowest(testee) },
      core_suite: core && { exit_code: core.exitCode, outcomes: core.outcomes, harness_cpu_ms: core.harnessCpuMs, slowest_cases: slowest(core) },
    },
  };

  const table = [
    `broker benchmark: ${CLIENTS} clients -> worker through each target (C++ load generator), median of ${rounds} interleaved rounds (${MEASURE_MS} ms each); ${cpus.description}`,
    figuresTable(samples, targets),
    '',
    `idle connection kB of RSS (${IDLE_CONNECTIONS} connections): ${Object.entries(idle).map(([n, x]) => `${n} ${fmt(x.per_connection_kb, 1)}`).join(', ')}`,
    `RSS kB (start, after warm-up, after each round): ${Object.entries(rssSeries).map(([n, xs]) => `${n} ${xs.join(' ')}`).join('; ')}`,
    `broker RSS kB under sustained load, every ${SOAK_STEP_MS} ms: ${soakRss.join(' ')} (growth, last third over middle third: ${fmt(rssGrowth, 2)})`,
    cases ? `generated cases against the reference broker: ${cases.generated} in ${cases.seconds.toFixed(2)} s = ${cases.perSecond.toFixed(0)}/s (seed ${cases.seed})` : 'harness timings skipped (CONCORD_BENCH_SUITES=0)',
    ...(testee ? [`testee suite against the reference testee: ${testee.wallMs.toFixed(0)} ms (${JSON.stringify(testee.outcomes)}; CPU: harness ${testee.harnessCpuMs.toFixed(0)} ms, testees ${testee.peerCpuMs.toFixed(0)} ms); ${testee.inputs} generated inputs at ${testee.inputsPerSecond.toFixed(0)}/s`] : []),
    ...(core ? [`core suite against the embedded broker: ${core.wallMs.toFixed(0)} ms (${JSON.stringify(core.outcomes)}; CPU of harness and broker ${core.harnessCpuMs.toFixed(0)} ms)`] : []),
  ].join('\n');
  const errors = [...samples.values()].flat().reduce((n, s) => n + s.errors, 0);
  if (errors > 0) log(`bench: ${errors} ERROR frames were received during the broker benchmark\n`);
  return { report, ranges, table };
}
