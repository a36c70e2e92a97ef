import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { LIMITS } from '../../spec/generated/catalog.js';
import { EMBEDDED_LIMITS, LimitError, parseLimitArgs, resolveLimits } from '../limits.js';
import { tsProgram } from '../../reference/test/programs.js';

describe('--limit NAME=VALUE', () => {
  it('takes each limit at its minimum and maximum and refuses one past either', () => {
    for (const l of LIMITS) {
      expect(parseLimitArgs([`${l.name}=${l.min}`])[l.name as 'max_frame']).toBe(l.min);
      expect(parseLimitArgs([`${l.name}=${l.max}`])[l.name as 'max_frame']).toBe(l.max);
      expect(() => parseLimitArgs([`${l.name}=${l.min - 1}`]), `${l.name} below min`).toThrow(LimitError);
      expect(() => parseLimitArgs([`${l.name}=${l.max + 1}`]), `${l.name} above max`).toThrow(LimitError);
    }
  });

  it('refuses unknown names and values that are not integers', () => {
    for (const bad of ['heartbeat=500', 'heartbeat_ms', 'heartbeat_ms=1.5', 'heartbeat_ms=', 'heartbeat_ms=1e3']) expect(() => parseLimitArgs([bad]), bad).toThrow(LimitError);
  });

  it('overrides the spec defaults, later values winning', () => {
    const l = resolveLimits(parseLimitArgs(['heartbeat_ms=250', 'shutdown_drain_ms=0', 'heartbeat_ms=300']));
    expect(l.heartbeat_ms).toBe(300);
    expect(l.shutdown_drain_ms).toBe(0);
    expect(l.handshake_timeout_ms).toBe(LIMITS.find((x) => x.name === 'handshake_timeout_ms')!.default);
  });

  it('runs the embedded broker\'s timers within their ranges', () => {
    for (const [name, value] of Object.entries(EMBEDDED_LIMITS)) {
      const info = LIMITS.find((x) => x.name === name)!;
      expect(value).toBeGreaterThanOrEqual(info.min);
      expect(value).toBeLessThanOrEqual(info.max);
    }
  });

  it('the command exits 64 with usage for a limit out of range', () => {
    const r = spawnSync(process.execPath, tsProgram('conformance/cli.ts', '--limit', 'heartbeat_ms=99').slice(1), { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/--limit heartbeat_ms=99: must be an integer in 100 \.\. 600000/);
  }, 60_000);
});
