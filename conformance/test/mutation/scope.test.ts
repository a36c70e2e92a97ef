import { describe, expect, it } from 'vitest';
import { BUS_CASE_DEFS } from '../../cases/bus.cases.js';
import { SKIPPED_ON_REFERENCE } from './scope.js';

describe('what the mutation run expects the reference broker to skip', () => {
  // A case the broker skips that the list misses makes Stryker's dry run fail, and no mutant is tested
  // (two cases added on 2026-12-04 did: `npm run mutation` stopped at its first step until this test).
  it('lists exactly the bus cases the broker\'s bus cannot run: those judging an adapter process, or needing a feature the wire bus does not declare', () => {
    const wireBusSkips = BUS_CASE_DEFS.filter((d) => d.process === true || (d.needs ?? []).length > 0).map((d) => d.id);
    const busIds = new Set(BUS_CASE_DEFS.map((d) => d.id));
    expect([...SKIPPED_ON_REFERENCE.keys()].filter((id) => busIds.has(id)).sort()).toEqual(wireBusSkips.sort());
    expect(wireBusSkips.length).toBeGreaterThan(0);
  });
});
