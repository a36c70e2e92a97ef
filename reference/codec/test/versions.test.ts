import { describe, expect, it } from 'vitest';
import { describeLaterParts, isLaterVersion, negotiatedVersion, partsLaterThan } from '../versions.js';
import { MESSAGES } from '../../../spec/generated/catalog.js';
import { NDArray } from '../ndarray.js';

const stats = { broker_id: 'b1', uptime_ms: 1n, clients: [] };
const result = { spike_count: 3, confidence: 0.5, firing_pattern: new NDArray('|u1', [2], new Uint8Array(2)), engine: 'typescript', latency_ms: 1 };

describe('isLaterVersion', () => {
  it('compares each part as a decimal integer (VER-2)', () => {
    expect(isLaterVersion('1.1', '1.0')).toBe(true);
    expect(isLaterVersion('1.0', '1.0')).toBe(false);
    expect(isLaterVersion('1.0', '1.1')).toBe(false);
    expect(isLaterVersion('1.10', '1.9')).toBe(true);
    expect(isLaterVersion('2.0', '1.99')).toBe(true);
    expect(() => isLaterVersion('1.x', '1.0')).toThrow(/MAJOR\.MINOR/);
  });
});

describe('partsLaterThan (VER-3)', () => {
  it('names a type introduced after the negotiated version', () => {
    expect(partsLaterThan('ENGINE_STATUS_REQ', {}, '1.0')).toEqual([{ pointer: null, since: '1.1' }]);
    expect(partsLaterThan('ENGINE_STATUS_REQ', {}, '1.1')).toEqual([]);
  });

  it('names a later field only when it is present and the session is older', () => {
    expect(partsLaterThan('STATS_RESPONSE', stats, '1.0')).toEqual([]);
    const withCluster = { ...stats, cluster: [{ broker_id: 'b1', clients: 0 }] };
    expect(partsLaterThan('STATS_RESPONSE', withCluster, '1.0')).toEqual([{ pointer: '/cluster', since: '1.1' }]);
    expect(partsLaterThan('STATS_RESPONSE', withCluster, '1.1')).toEqual([]);
  });

  it('follows shared definitions and arrays to nested later fields', () => {
    expect(partsLaterThan('REASONING_RESPONSE', { ...result, cached: false }, '1.0')).toEqual([{ pointer: '/cached', since: '1.1' }]);
    const batch = MESSAGES.find((m) => m.name === 'BATCH_REASONING_RSP')!;
    expect(batch.since).toBe('1.0');
    const items = [{ ok: true, result }, { ok: true, result: { ...result, agreement: true, cached: true } }];
    const parts = partsLaterThan('BATCH_REASONING_RSP', { results: items }, '1.0');
    expect(parts.map((p) => p.pointer)).toEqual(['/results/1/result/agreement', '/results/1/result/cached']);
    expect(describeLaterParts('BATCH_REASONING_RSP', parts)).toBe('BATCH_REASONING_RSP /results/1/result/agreement (since 1.1), BATCH_REASONING_RSP /results/1/result/cached (since 1.1)');
  });

});

describe('negotiatedVersion (VER-2)', () => {
  it('answers the own major with the smaller minor', () => {
    expect(negotiatedVersion('1.0', '1.1')).toBe('1.0');
    expect(negotiatedVersion('1.1', '1.1')).toBe('1.1');
    expect(negotiatedVersion('1.7', '1.1')).toBe('1.1');
    expect(negotiatedVersion('1.10', '1.9')).toBe('1.9');
  });

  it('answers its own version to an offer VER-1 refuses or the schema does', () => {
    expect(negotiatedVersion('2.0', '1.1')).toBe('1.1');
    expect(negotiatedVersion(1.0, '1.1')).toBe('1.1');
    expect(negotiatedVersion('1.x', '1.1')).toBe('1.1');
  });
});
