import { describe, expect, it } from 'vitest';
import { parseAffinity, pinned, planCpus } from '../broker/cpus.js';

describe('bench CPU pinning', () => {
  it('reads the affinity list of taskset -pc, ranges included', () => {
    expect(parseAffinity("pid 7's current affinity list: 0,1\n")).toEqual([0, 1]);
    expect(parseAffinity("pid 7's current affinity list: 0-2,5,7-8\n")).toEqual([0, 1, 2, 5, 7, 8]);
    expect(parseAffinity("pid 7's current affinity list: 3\n")).toEqual([3]);
  });

  it('refuses an answer without a list', () => {
    expect(parseAffinity('taskset: failed to get pid 7 affinity: No such process')).toBeUndefined();
    expect(parseAffinity("pid 7's current affinity list: \n")).toBeUndefined();
  });

  it('runs a pinned command through taskset -c and leaves an unpinned one alone', () => {
    expect(pinned('1', 'relay', ['0'])).toEqual(['taskset', ['-c', '1', 'relay', '0']]);
    expect(pinned(undefined, 'relay', ['0'])).toEqual(['relay', ['0']]);
  });

  it('pins nothing when CONCORD_BENCH_PIN=0', () => {
    expect(planCpus({ CONCORD_BENCH_PIN: '0' })).toEqual({ description: 'unpinned (CONCORD_BENCH_PIN=0)' });
  });

  it('puts the target on the last allowed core and the load on the others, or says why it cannot', () => {
    const plan = planCpus({});
    if (plan.target === undefined) expect(plan.description).toMatch(/^unpinned: /);
    else {
      expect(plan.load?.split(',').map(Number)).not.toContain(Number(plan.target));
      expect(plan.description).toContain(`target on core ${plan.target}`);
    }
  });
});
