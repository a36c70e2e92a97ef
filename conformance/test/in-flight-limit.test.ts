/** The max_in_flight a case fills: at the case's bound, one past it, and announced values that are no limit. */
import { describe, expect, it } from 'vitest';
import { inFlightLimitToReach, MOST_REQUESTS_A_CASE_OPENS } from '../cases/in-flight-limit.js';
import { CaseFailure, CaseSkipped } from '../cases/model.js';

describe('inFlightLimitToReach', () => {
  it('returns a limit from 1 up to the most a case opens', () => {
    expect(inFlightLimitToReach({ max_in_flight: 1 }, 'fail')).toBe(1);
    expect(inFlightLimitToReach({ max_in_flight: MOST_REQUESTS_A_CASE_OPENS }, 'fail')).toBe(MOST_REQUESTS_A_CASE_OPENS);
  });

  it('skips one past that bound, up to LIM-7 largest limit: a conforming broker is never failed for it', () => {
    for (const mode of ['fail', 'skip'] as const) {
      expect(() => inFlightLimitToReach({ max_in_flight: MOST_REQUESTS_A_CASE_OPENS + 1 }, mode)).toThrow(CaseSkipped);
      expect(() => inFlightLimitToReach({ max_in_flight: 1_048_576 }, mode)).toThrow(CaseSkipped);
    }
  });

  it.each([0, -1, 1.5, 'many', null, undefined])('fails on max_in_flight %j (HS-6), or skips when told to', (value) => {
    const ack = value === undefined ? {} : { max_in_flight: value };
    expect(() => inFlightLimitToReach(ack, 'fail')).toThrow(CaseFailure);
    expect(() => inFlightLimitToReach(ack, 'skip')).toThrow(CaseSkipped);
  });
});
