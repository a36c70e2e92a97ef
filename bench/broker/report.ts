/**
 * The numbers the broker benchmark reports: medians per scenario and target, the ratios of the broker
 * against Node's floor (the minimal Node router) and against the physical limit (the C++ relay), each
 * ratio also per round (the rounds are interleaved, so a round's targets ran side by side), and the
 * table of ratios against the issue-15 targets.
 */
import { fmt, median, range, textTable, verdict } from './stats.js';
import type { TargetName } from './targets.js';

export type ScenarioKey = 'small_1' | 'small_32' | '768f32_32';

export interface Sample {
  reqPerSec: number;
  p50Us: number | undefined;
  p99Us: number | undefined;
  targetCpuUsPerReq: number;
  /** The target's read + write system calls per request: how well it batches. */
  targetSyscallsPerReq: number;
  loadgenCpuShare: number;
  workerCpuShare: number;
  rssBeforeKb: number;
  rssAfterKb: number;
  errors: number;
}

export type Metric = 'req_per_s' | 'p50_us' | 'p99_us' | 'target_cpu_us_per_req' | 'target_io_syscalls_per_req';

const pick: Record<Metric, (s: Sample) => number | undefined> = {
  req_per_s: (s) => s.reqPerSec,
  p50_us: (s) => s.p50Us,
  p99_us: (s) => s.p99Us,
  target_cpu_us_per_req: (s) => s.targetCpuUsPerReq,
  target_io_syscalls_per_req: (s) => s.targetSyscallsPerReq,
};

/** The five ratios of issue 15, as (name stem, scenario, metric). */
const RATIOS: readonly [string, ScenarioKey, Metric][] = [
  ['throughput_small_32', 'small_32', 'req_per_s'],
  ['throughput_768f32_32', '768f32_32', 'req_per_s'],
  ['cpu_per_req_small_32', 'small_32', 'target_cpu_us_per_req'],
  ['p50_small_1', 'small_1', 'p50_us'],
  ['p99_small_1', 'small_1', 'p99_us'],
];
/**
 * What the broker is divided by: Node's floor, the physical limit, and a second process of the broker's
 * own build (`same_build`, the control: its ratio would be 1.0 on a quiet machine).
 */
const BASELINES: readonly [string, TargetName][] = [['node_router', 'router'], ['c_relay', 'relay'], ['same_build', 'broker-again']];

/** The control ratio measured on the same metric as `field` (a `*_vs_node_router_ratio`), or undefined. */
function sameBuildOf(report: Record<string, unknown>, field: string): number | undefined {
  const stem = /^(.*)_vs_node_router_ratio$/.exec(field)?.[1];
  const v = stem === undefined ? undefined : report[`${stem}_vs_same_build_ratio`];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Targets of issue 15 (ratios of the broker to the Node router; the relay is reported beside them). */
export const TARGETS_TEXT: Record<string, string> = {
  throughput_small_32_vs_node_router_ratio: '>= 0.8',
  throughput_768f32_32_vs_node_router_ratio: '>= 0.8',
  cpu_per_req_small_32_vs_node_router_ratio: '<= 1.3',
  p50_small_1_vs_node_router_ratio: '<= 1.2',
  load_generator_cpu_share: '<= 0.9 (not the limit)',
  testee_inputs_per_second: '>= 1000',
  testee_suite_wall_ms: '<= 10000',
  ndarray_pack_unpack_vs_raw_binary_ratio: '<= 2',
  broker_rss_growth_ratio: '<= 1.1 (flat)',
};

export type Samples = Map<string, Sample[]>;
export const sampleKey = (sc: ScenarioKey, t: TargetName): string => `${sc}/${t}`;

export function medianOf(samples: Samples, sc: ScenarioKey, t: TargetName, metric: Metric): number {
  return median((samples.get(sampleKey(sc, t)) ?? []).map((s) => pick[metric](s) ?? NaN));
}

/** broker / baseline per round, for the ranges. */
function roundRatios(samples: Samples, sc: ScenarioKey, base: TargetName, metric: Metric): number[] {
  const b = samples.get(sampleKey(sc, 'broker')) ?? [];
  const o = samples.get(sampleKey(sc, base)) ?? [];
  return b.map((s, i) => (o[i] ? (pick[metric](s) ?? NaN) / (pick[metric](o[i]!) ?? NaN) : NaN));
}

export function ratios(samples: Samples): { ratios: Record<string, number>; ranges: Record<string, [number, number]> } {
  const out: Record<string, number> = {};
  const ranges: Record<string, [number, number]> = {};
  for (const [stem, sc, metric] of RATIOS) {
    for (const [baseName, base] of BASELINES) {
      const key = `${stem}_vs_${baseName}_ratio`;
      out[key] = medianOf(samples, sc, 'broker', metric) / medianOf(samples, sc, base, metric);
      ranges[key] = range(roundRatios(samples, sc, base, metric));
    }
  }
  return { ratios: out, ranges };
}

/** Per scenario and target: medians and the raw rounds. */
export function perTarget(samples: Samples, scenarios: readonly { key: ScenarioKey; latency: boolean }[], targets: readonly TargetName[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const sc of scenarios) {
    for (const t of targets) {
      const ss = samples.get(sampleKey(sc.key, t)) ?? [];
      out[sampleKey(sc.key, t)] = {
        req_per_s: medianOf(samples, sc.key, t, 'req_per_s'),
        ...(sc.latency ? { p50_us: medianOf(samples, sc.key, t, 'p50_us'), p99_us: medianOf(samples, sc.key, t, 'p99_us') } : {}),
        target_cpu_us_per_req: medianOf(samples, sc.key, t, 'target_cpu_us_per_req'),
        target_io_syscalls_per_req: medianOf(samples, sc.key, t, 'target_io_syscalls_per_req'),
        loadgen_cpu_share: median(ss.map((s) => s.loadgenCpuShare)),
        worker_cpu_share: median(ss.map((s) => s.workerCpuShare)),
        rss_kb_before_after: ss.map((s) => [s.rssBeforeKb, s.rssAfterKb]),
        errors: ss.reduce((n, s) => n + s.errors, 0),
        rounds: ss.map((s) => ({ req_per_s: Math.round(s.reqPerSec), ...(sc.latency ? { p50_us: s.p50Us, p99_us: s.p99Us } : {}), cpu_us_per_req: s.targetCpuUsPerReq })),
      };
    }
  }
  return out;
}

/** The figures side by side: one row per metric, one column per target. */
export function figuresTable(samples: Samples, targets: readonly TargetName[]): string {
  const rows: string[][] = [['metric', ...targets]];
  const row = (label: string, sc: ScenarioKey, metric: Metric, digits: number): void => {
    rows.push([label, ...targets.map((t) => fmt(medianOf(samples, sc, t, metric), digits))]);
  };
  row('small, 1 in flight: req/s', 'small_1', 'req_per_s', 0);
  row('small, 1 in flight: p50 us', 'small_1', 'p50_us', 0);
  row('small, 1 in flight: p99 us', 'small_1', 'p99_us', 0);
  row('small, 32 in flight: req/s', 'small_32', 'req_per_s', 0);
  row('768 f32, 32 in flight: req/s', '768f32_32', 'req_per_s', 0);
  row('small, 32 in flight: target CPU us/req', 'small_32', 'target_cpu_us_per_req', 2);
  row('768 f32, 32 in flight: target CPU us/req', '768f32_32', 'target_cpu_us_per_req', 2);
  row('small, 32 in flight: target I/O syscalls/req', 'small_32', 'target_io_syscalls_per_req', 2);
  for (const [label, sc] of [['small 1', 'small_1'], ['small 32', 'small_32'], ['768 f32 32', '768f32_32']] as const) {
    rows.push([`${label}: CPU share load generator / worker`, ...targets.map((t) => {
      const ss = samples.get(sampleKey(sc, t)) ?? [];
      return `${fmt(median(ss.map((s) => s.loadgenCpuShare)), 2)} / ${fmt(median(ss.map((s) => s.workerCpuShare)), 2)}`;
    })]);
  }
  return textTable(rows);
}

/** Ratios against their targets (met / not met); fields without a target are listed with '-'. */
export function targetsTable(report: Record<string, unknown>, ranges: Record<string, [number, number]> = {}): string {
  const rows: string[][] = [['field', 'value', 'rounds range', 'target', 'met']];
  const keys = [
    ...RATIOS.flatMap(([stem]) => BASELINES.map(([b]) => `${stem}_vs_${b}_ratio`)),
    'load_generator_cpu_share', 'testee_inputs_per_second', 'testee_suite_wall_ms', 'core_suite_wall_ms',
    'ndarray_pack_unpack_vs_raw_binary_ratio', 'idle_connection_kb', 'broker_rss_growth_ratio',
    'broker_rss_vs_node_router_ratio',
  ];
  for (const k of keys) {
    const v = report[k];
    const x = typeof v === 'number' ? v : NaN;
    const target = TARGETS_TEXT[k] ?? '-';
    const r = ranges[k];
    rows.push([k, fmt(x, Math.abs(x) >= 100 ? 0 : 2), r ? `${fmt(r[0], 2)}-${fmt(r[1], 2)}` : '', target, verdict(x, target, sameBuildOf(report, k))]);
  }
  return textTable(rows);
}
