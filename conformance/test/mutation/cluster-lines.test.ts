/**
 * The cluster's mutation run mutates cluster-only lines of the single broker's files by line number
 * (stryker.cluster.config.mjs): loading the config checks that each range still opens where it was
 * written for, so an edit that shifts them fails here, in npm test, and not silently in a 90-minute run.
 */
import { describe, expect, it } from 'vitest';

describe('stryker.cluster.config.mjs', () => {
  it('loads: every cluster-only range of reference/broker/*.ts still opens on the line it names', async () => {
    // Plain JavaScript without types: imported by URL, as Stryker loads it.
    const url = new URL('../../../stryker.cluster.config.mjs', import.meta.url).href;
    const config = ((await import(url)) as { default: { mutate: string[] } }).default;
    const ranges = config.mutate.filter((m) => /^reference\/broker\/[a-z-]+\.ts:\d+-\d+$/.test(m));
    expect(ranges.length).toBeGreaterThan(30);
    for (const r of ranges) {
      const [, from, to] = /:(\d+)-(\d+)$/.exec(r)!;
      expect(Number(to), r).toBeGreaterThanOrEqual(Number(from));
    }
  });
});
