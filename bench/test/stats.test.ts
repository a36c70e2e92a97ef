import { describe, expect, it } from 'vitest';
import { growth, verdict } from '../broker/stats.js';
import { targetsTable } from '../broker/report.js';

describe('bench verdicts against the issue-15 targets', () => {
  it('says met or not met on each side of the bound, and - without a ratio or a bound', () => {
    expect(verdict(0.8, '>= 0.8')).toBe('met');
    expect(verdict(0.79, '>= 0.8')).toBe('not met');
    expect(verdict(1.3, '<= 1.3')).toBe('met');
    expect(verdict(1.31, '<= 1.3')).toBe('not met');
    expect(verdict(NaN, '>= 0.8')).toBe('-');
    expect(verdict(0.5, '-')).toBe('-');
  });

  it('says within noise when the ratio lies within the control\'s factor of the bound, on either side', () => {
    // The same build measured 1.10x itself: 0.75 and 0.86 are both within 10% of 0.8.
    expect(verdict(0.75, '>= 0.8', 1.1)).toBe('within noise');
    expect(verdict(0.86, '>= 0.8', 1 / 1.1)).toBe('within noise');
    expect(verdict(0.72, '>= 0.8', 1.1)).toBe('not met');
    expect(verdict(0.89, '>= 0.8', 1.1)).toBe('met');
    expect(verdict(1.2, '<= 1.3', 1.1)).toBe('within noise');
    expect(verdict(1.1, '<= 1.3', 1.1)).toBe('met');
    // A control of exactly 1.0 leaves the verdict to the bound alone.
    expect(verdict(0.79, '>= 0.8', 1)).toBe('not met');
  });

  it('judges each node-router ratio against the control of its own metric', () => {
    const report = {
      throughput_small_32_vs_node_router_ratio: 0.76,
      throughput_small_32_vs_same_build_ratio: 1.08,
      throughput_768f32_32_vs_node_router_ratio: 0.76,
      throughput_768f32_32_vs_same_build_ratio: 1.01,
    };
    const row = (field: string): string => targetsTable(report).split('\n').find((l) => l.startsWith(`${field} `))!;
    expect(row('throughput_small_32_vs_node_router_ratio')).toMatch(/within noise$/);
    expect(row('throughput_768f32_32_vs_node_router_ratio')).toMatch(/not met$/);
    expect(row('throughput_small_32_vs_same_build_ratio')).toMatch(/ -$/);
  });

  it('reads a sawtooth that stays level as flat, and a series that keeps climbing as growth', () => {
    // The garbage collector's sawtooth: every third sample 8% lower, around a level 110 MB.
    const sawtooth = Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? 101_000 : 110_000 + (i % 2) * 500));
    expect(growth(sawtooth)).toBeGreaterThan(0.99);
    expect(growth(sawtooth)).toBeLessThan(1.01);
    // (kB) 10 kB more per sample on top of the same sawtooth is no growth to speak of ...
    expect(growth(sawtooth.map((x, i) => x + i * 10))).toBeLessThan(1.01);
    // ... 3 MB per sample (a leak of 3 kB a message at a thousand messages a second) is.
    expect(growth(sawtooth.map((x, i) => x + i * 3_000))).toBeGreaterThan(1.1);
    // The first third (the heap's sizing) counts for nothing, however low it starts.
    expect(growth([50_000, 60_000, 110_000, 110_000, 110_000, 110_000])).toBe(1);
    expect(growth([110_000, 110_000])).toBeNaN();
  });
});
