import { describe, expect, it } from 'vitest';
import { startPool, type PoolJob } from './case-pool.js';

/** Jobs that record how many ran at once; each ends when the test releases it. */
function tracked(specs: Array<{ name: string; placement?: PoolJob<string>['placement']; failures?: number }>) {
  let now = 0;
  const seen: Array<{ name: string; beside: number }> = [];
  const release = new Map<string, () => void>();
  const started: string[] = [];
  const jobs: PoolJob<string>[] = specs.map((s) => ({
    name: s.name,
    placement: s.placement ?? 'pool',
    run: () => new Promise<string>((resolve, reject) => {
      const run = started.filter((n) => n === s.name).length;
      started.push(s.name);
      seen.push({ name: s.name, beside: now++ });
      release.set(s.name, () => {
        now--;
        if (run < (s.failures ?? 0)) reject(new Error(`${s.name} failed`));
        else resolve(`${s.name} done`);
      });
    }),
  }));
  return { jobs, seen, started, release };
}

/** Releases the running jobs until every job has settled or none is running. */
async function drain(t: ReturnType<typeof tracked>): Promise<void> {
  for (let turns = 0; turns < 100; turns++) {
    await new Promise((r) => setImmediate(r));
    const open = [...t.release.entries()];
    if (open.length === 0) return;
    for (const [name, release] of open) {
      t.release.delete(name);
      release();
    }
  }
}

describe('startPool', () => {
  it('runs at most `width` jobs at once and settles each with its value', async () => {
    const t = tracked(['a', 'b', 'c', 'd', 'e'].map((name) => ({ name })));
    const pool = startPool(t.jobs, 2, () => false);
    await new Promise((r) => setImmediate(r));
    expect(t.started).toEqual(['a', 'b']);
    await drain(t);
    await pool.stop();
    expect(Math.max(...t.seen.map((s) => s.beside))).toBe(1);
    expect(await pool.outcome('e')).toEqual({ value: 'e done' });
  });

  it('runs a job marked alone with no other job beside it', async () => {
    const t = tracked([{ name: 'a' }, { name: 'b' }, { name: 'heavy', placement: 'alone' }, { name: 'c' }]);
    const pool = startPool(t.jobs, 4, () => false);
    await drain(t);
    await pool.stop();
    expect(t.seen.find((s) => s.name === 'heavy')?.beside).toBe(0);
    expect(t.seen.find((s) => s.name === 'c')?.beside).toBe(0);
    expect(t.started).toEqual(['a', 'b', 'heavy', 'c']);
  });

  it('starts the jobs that wait first, beside the pool and the alone jobs', async () => {
    const t = tracked([{ name: 'a' }, { name: 'heavy', placement: 'alone' }, { name: 'timer', placement: 'waits' }]);
    const pool = startPool(t.jobs, 1, () => false);
    await new Promise((r) => setImmediate(r));
    expect(t.started).toEqual(['timer', 'a']);
    t.release.get('a')!();
    t.release.delete('a');
    for (let turn = 0; turn < 5 && !t.started.includes('heavy'); turn++) await new Promise((r) => setImmediate(r));
    expect(t.seen.find((s) => s.name === 'heavy')?.beside).toBe(1);
    await drain(t);
    await pool.stop();
    expect(await pool.outcome('timer')).toEqual({ value: 'timer done' });
  });

  it('runs a failed job again, and starts nothing after it fails again', async () => {
    const t = tracked([{ name: 'a', failures: 2 }, { name: 'b' }, { name: 'c' }]);
    const pool = startPool(t.jobs, 1, (_name, s) => 'error' in s);
    await drain(t);
    await pool.stop();
    expect(t.started).toEqual(['a', 'a']);
    const a = await pool.outcome('a');
    expect(a && 'error' in a ? String(a.error) : a).toBe('Error: a failed');
    expect(await pool.outcome('b')).toBeUndefined();
    expect(pool.confirmedFailure?.name).toBe('a');
  });

  it('takes the outcome of the run again when it passes, and goes on', async () => {
    const t = tracked([{ name: 'a', failures: 1 }, { name: 'b' }, { name: 'c' }]);
    const pool = startPool(t.jobs, 1, (_name, s) => 'error' in s);
    await drain(t);
    await pool.stop();
    expect(t.started).toEqual(['a', 'a', 'b', 'c']);
    expect(await pool.outcome('a')).toEqual({ value: 'a done' });
    expect(await pool.outcome('c')).toEqual({ value: 'c done' });
    expect(pool.confirmedFailure).toBeUndefined();
  });

  it('runs a failed job again only once the jobs beside it have ended, with none started meanwhile', async () => {
    const t = tracked([{ name: 'a', failures: 1 }, { name: 'b' }, { name: 'c' }, { name: 'timer', placement: 'waits' }]);
    const pool = startPool(t.jobs, 2, (_name, s) => 'error' in s);
    await new Promise((r) => setImmediate(r));
    expect(t.started).toEqual(['timer', 'a', 'b']);
    t.release.get('a')!();
    t.release.delete('a');
    for (let turn = 0; turn < 5; turn++) await new Promise((r) => setImmediate(r));
    // a failed while b runs: neither its rerun nor c starts until b ends.
    expect(t.started).toEqual(['timer', 'a', 'b']);
    t.release.get('b')!();
    t.release.delete('b');
    for (let turn = 0; turn < 5 && t.started.length < 4; turn++) await new Promise((r) => setImmediate(r));
    expect(t.started).toEqual(['timer', 'a', 'b', 'a']);
    // Beside the rerun: only the job that waits.
    expect(t.seen.at(-1)).toEqual({ name: 'a', beside: 1 });
    await drain(t);
    await pool.stop();
    expect(t.started).toEqual(['timer', 'a', 'b', 'a', 'c']);
    expect(await pool.outcome('a')).toEqual({ value: 'a done' });
  });

  it('waits in stop() for the jobs still running', async () => {
    const t = tracked([{ name: 'a' }, { name: 'b' }]);
    const pool = startPool(t.jobs, 2, () => false);
    let stopped = false;
    const stopping = pool.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    await drain(t);
    await stopping;
    expect(await pool.outcome('b')).toEqual({ value: 'b done' });
  });

  it('refuses a width below one', () => {
    expect(() => startPool([], 0, () => false)).toThrow(RangeError);
  });
});
