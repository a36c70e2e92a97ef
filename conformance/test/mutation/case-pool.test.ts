import { describe, expect, it } from 'vitest';
import { startPool, type PoolJob } from './case-pool.js';

/** Jobs that record how many ran at once; each ends when the test releases it. */
function tracked(specs: Array<{ name: string; placement?: PoolJob<string>['placement']; fails?: boolean }>) {
  let now = 0;
  const seen: Array<{ name: string; beside: number }> = [];
  const release = new Map<string, () => void>();
  const started: string[] = [];
  const jobs: PoolJob<string>[] = specs.map((s) => ({
    name: s.name,
    placement: s.placement ?? 'pool',
    run: () => new Promise<string>((resolve, reject) => {
      started.push(s.name);
      seen.push({ name: s.name, beside: now++ });
      release.set(s.name, () => {
        now--;
        if (s.fails) reject(new Error(`${s.name} failed`));
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

  it('starts nothing after a failure, and says so with an undefined outcome', async () => {
    const t = tracked([{ name: 'a', fails: true }, { name: 'b' }, { name: 'c' }]);
    const pool = startPool(t.jobs, 1, (_name, s) => 'error' in s);
    await drain(t);
    await pool.stop();
    expect(t.started).toEqual(['a']);
    const a = await pool.outcome('a');
    expect(a && 'error' in a ? String(a.error) : a).toBe('Error: a failed');
    expect(await pool.outcome('b')).toBeUndefined();
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
