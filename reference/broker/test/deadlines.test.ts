import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines, type DeadlineEntry } from '../deadlines.js';

interface Entry extends DeadlineEntry {
  name: string;
}

const entry = (name: string): Entry => ({ name, deadline: 0, deadlineList: undefined, deadlinePrev: undefined, deadlineNext: undefined });

// Fake timers (performance.now included): the order and the moment of expiry are checked exactly.
describe('request deadlines (one timer per timeout value, REQ-15)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each entry at its own deadline, never before, in the order added', () => {
    const expired: [string, number][] = [];
    const d = new Deadlines<Entry>((e) => expired.push([e.name, performance.now() - e.deadline]));
    const a = entry('a');
    d.add(a, performance.now(), 100);
    vi.advanceTimersByTime(40);
    const b = entry('b');
    d.add(b, performance.now(), 100);
    const c = entry('c');
    d.add(c, performance.now(), 30);
    vi.advanceTimersByTime(29);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired.map(([n]) => n)).toEqual(['c']);
    vi.advanceTimersByTime(29);
    expect(expired.map(([n]) => n)).toEqual(['c']);
    vi.advanceTimersByTime(1);
    expect(expired.map(([n]) => n)).toEqual(['c', 'a']);
    vi.advanceTimersByTime(40);
    expect(expired.map(([n]) => n)).toEqual(['c', 'a', 'b']);
    for (const [, late] of expired) expect(late).toBeGreaterThanOrEqual(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never expires a removed entry, wherever it sat in its list', () => {
    const expired: string[] = [];
    const d = new Deadlines<Entry>((e) => expired.push(e.name));
    const es = ['a', 'b', 'c', 'd'].map(entry);
    for (const e of es) d.add(e, performance.now(), 50);
    d.remove(es[0]!); // head
    d.remove(es[2]!); // middle
    d.remove(es[2]!); // twice: a no-op
    vi.advanceTimersByTime(50);
    expect(expired).toEqual(['b', 'd']);
  });

  it('re-arms for an entry added to a list that emptied, and stop() cancels every timer', () => {
    const expired: string[] = [];
    const d = new Deadlines<Entry>((e) => expired.push(e.name));
    const a = entry('a');
    d.add(a, performance.now(), 50);
    d.remove(a);
    vi.advanceTimersByTime(30);
    const b = entry('b');
    d.add(b, performance.now(), 50); // the timer still armed for a fires early for b and re-arms
    vi.advanceTimersByTime(49);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(['b']);
    d.add(entry('c'), performance.now(), 10);
    d.stop();
    vi.advanceTimersByTime(100);
    expect(expired).toEqual(['b']);
  });
});
