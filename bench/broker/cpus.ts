/**
 * Which cores the benchmark's processes run on. By default every target runs alone on the last core of
 * this process's affinity set and the load generator's two processes share the others: performance.md
 * measures its "1 core" figures the same way. Unpinned, the target, the load generator and the worker
 * are moved between two cores by the scheduler, and how often decides how many frames each read finds,
 * so one run's rounds spread from 0.5x to 1.6x (the README's runs of 2026-12-03). Pinned, a target's CPU
 * time per request and its throughput no longer depend on where the load generator ran.
 *
 * CONCORD_BENCH_PIN=0 runs everything unpinned. Pinning needs `taskset` (util-linux) and two cores;
 * without them the benchmark runs unpinned and says why.
 */
import { spawnSync } from 'node:child_process';

export interface CpuPlan {
  /** `taskset -c` lists, or undefined when nothing is pinned. */
  target?: string;
  load?: string;
  /** One line for the log and the report. */
  description: string;
}

/**
 * The CPUs of `taskset -pc PID`'s answer ("pid 7's current affinity list: 0,2-3"), in order; undefined
 * when the answer has no list in that form.
 */
export function parseAffinity(answer: string): number[] | undefined {
  const list = /affinity list:\s*(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*)\s*$/.exec(answer)?.[1];
  if (list === undefined) return undefined;
  return list.split(',').flatMap((part) => {
    const [lo, hi = lo] = part.split('-').map(Number) as [number, number?];
    return Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
  });
}

/** The CPUs this process may run on (undefined when taskset is missing or cannot tell). */
function allowedCpus(): number[] | undefined {
  const r = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' });
  return r.error !== undefined || r.status !== 0 ? undefined : parseAffinity(r.stdout);
}

export function planCpus(env: NodeJS.ProcessEnv = process.env): CpuPlan {
  if (env['CONCORD_BENCH_PIN'] === '0') return { description: 'unpinned (CONCORD_BENCH_PIN=0)' };
  const cpus = allowedCpus();
  if (cpus === undefined) return { description: 'unpinned: taskset (util-linux) is not available' };
  if (cpus.length < 2) return { description: `unpinned: only ${cpus.length} core available` };
  const target = String(cpus[cpus.length - 1]);
  const load = cpus.slice(0, -1).join(',');
  return { target, load, description: `target on core ${target}, load generator and worker on core${cpus.length > 2 ? 's' : ''} ${load}` };
}

/** The command line that runs `cmd args` on `cpus` (unchanged when cpus is undefined). */
export function pinned(cpus: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpus === undefined ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]];
}
