import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Coordinator, InMemoryBus, BusError, backoffMs, type DispatchTarget } from '../index.js';
import { propertySeed } from '../../properties/seed.js';

function gate(): { wait: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('Coordinator', () => {
  it('under concurrent dispatch the load never exceeds max_concurrent and returns to 0 (SVC-4, SVC-5)', async () => {
    const seed = propertySeed();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.constantFrom('ok', 'fail', 'slow'), { minLength: 1, maxLength: 30 }), async (max, kinds) => {
        const loads: number[] = [];
        const c = new Coordinator(new InMemoryBus(), { backoffBaseMs: 1, onLoad: (_s, l) => loads.push(l) });
        await c.registerService({ name: 's', service_type: 'worker', max_concurrent: max }, async ({ payload }) => {
          await new Promise((r) => setImmediate(r));
          if (payload === 'fail') throw new BusError('HARDWARE_ERROR', 'x');
          if (payload === 'slow') await new Promise((r) => setTimeout(r, 2));
          return payload;
        });
        const outcomes = await Promise.allSettled(kinds.map((k) => c.dispatch({ service_name: 's', method: 'm', max_retries: 1 }, k)));
        expect(Math.max(0, ...loads)).toBeLessThanOrEqual(max);
        expect(c.load('s')).toBe(0);
        const started = outcomes.filter((o) => o.status === 'fulfilled' || (o.reason as BusError).code !== 'OVERLOADED').length;
        expect(started).toBe(Math.min(max, kinds.length));
        for (const o of outcomes) if (o.status === 'rejected') expect(['OVERLOADED', 'HANDLER_FAILED']).toContain((o.reason as BusError).code);
      }),
      { seed, numRuns: 60 },
    );
  });

  it('checks existence, health, handler, then max_concurrent (SVC-3)', async () => {
    const c = new Coordinator(new InMemoryBus());
    const t: DispatchTarget = { service_name: 's', method: 'm' };
    await expect(c.dispatch(t, null)).rejects.toMatchObject({ code: 'SERVICE_NOT_FOUND' });
    await c.registerService({ name: 's', service_type: 'w', max_concurrent: 1 });
    await expect(c.dispatch(t, null)).rejects.toMatchObject({ code: 'NO_HANDLER' });
    await c.setHealth('s', false);
    await expect(c.dispatch(t, null)).rejects.toMatchObject({ code: 'SERVICE_UNHEALTHY' });
    await c.setHealth('s', true);
    const g = gate();
    c.registerHandler('s', () => g.wait.then(() => 'done'));
    const first = c.dispatch(t, null);
    await expect(c.dispatch(t, null)).rejects.toMatchObject({ code: 'OVERLOADED' });
    g.open();
    expect(await first).toEqual({ result: 'done', attempts: 1 });
    await expect(c.registerService({ name: 's', service_type: 'w' })).rejects.toMatchObject({ code: 'SERVICE_EXISTS' });
  });

  it('retries other failures max_retries times with the same payload, never a timeout (SVC-6, SVC-7, SVC-9)', async () => {
    const c = new Coordinator(new InMemoryBus(), { backoffBaseMs: 1 });
    const seen: unknown[] = [];
    await c.registerService({ name: 's', service_type: 'w' }, ({ payload, attempt }) => {
      seen.push(structuredClone(payload));
      (payload as { n: number }).n = 99; // a handler that mutates its copy
      if (attempt < 3) throw new BusError('HARDWARE_ERROR', `attempt ${attempt}`);
      return 'ok';
    });
    const target = Object.freeze({ service_name: 's', method: 'm', max_retries: 2 });
    const payload = { n: 1 };
    expect(await c.dispatch(target, payload)).toEqual({ result: 'ok', attempts: 3 });
    expect(seen).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }]);
    expect(payload).toEqual({ n: 1 });
    await expect(c.dispatch({ ...target, max_retries: 1 }, payload)).rejects.toMatchObject({ code: 'HANDLER_FAILED', details: { error: { code: 'HARDWARE_ERROR', message: 'attempt 2' } } });
    let calls = 0;
    await c.registerService({ name: 'slow', service_type: 'w' }, () => (calls++, new Promise(() => undefined)));
    await expect(c.dispatch({ service_name: 'slow', method: 'm', timeout_ms: 5, max_retries: 3 }, null)).rejects.toMatchObject({ code: 'TIMEOUT', details: { timeout_ms: 5 } });
    expect(calls).toBe(1);
    expect(c.load('slow')).toBe(0);
  });

  it('backoff is min(base x 2^(r-1), 5000) (SVC-8)', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((r) => backoffMs(r))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it('starts dispatches of one turn in priority order, FIFO within a rank (SVC-10)', async () => {
    const c = new Coordinator(new InMemoryBus());
    const order: string[] = [];
    await c.registerService({ name: 's', service_type: 'w', max_concurrent: 0 }, ({ payload }) => void order.push(payload as string));
    await Promise.all([
      c.dispatch({ service_name: 's', method: 'm', priority: 'idle' }, 'idle'),
      c.dispatch({ service_name: 's', method: 'm' }, 'normal-1'),
      c.dispatch({ service_name: 's', method: 'm', priority: 'realtime' }, 'realtime'),
      c.dispatch({ service_name: 's', method: 'm', priority: 'normal' }, 'normal-2'),
      c.dispatch({ service_name: 's', method: 'm', priority: 'high' }, 'high'),
      c.dispatch({ service_name: 's', method: 'm', priority: 'low' }, 'low'),
    ]);
    expect(order).toEqual(['realtime', 'high', 'normal-1', 'normal-2', 'low', 'idle']);
  });

  it('broadcast and request go through the bus by type name (SVC-12, SVC-13)', async () => {
    const bus = new InMemoryBus();
    const c = new Coordinator(bus);
    const got: unknown[] = [];
    await bus.subscribe('memory.stored', (m) => void got.push(m.payload));
    await c.broadcast('memory.stored', { id: 1 });
    expect(got).toEqual([{ id: 1 }]);
    await bus.registerHandler('state.get', 'query', (m) => ({ echo: m.payload }));
    expect(await c.request('any', 'state.get', 7)).toEqual({ result: { echo: 7 } });
    expect(await c.request('any', 'missing', 7)).toEqual({ error: { code: 'NO_HANDLER', message: 'no handler is registered for missing' } });
  });

  it('lists by type and health, sorted, with the load (SVC-2)', async () => {
    const c = new Coordinator(new InMemoryBus());
    await c.registerService({ name: 'b', service_type: 'flow' });
    await c.registerService({ name: 'a', service_type: 'flow' });
    await c.registerService({ name: 'c', service_type: 'worker' });
    await c.setHealth('b', false);
    expect((await c.listServices({ service_type: 'flow' })).map((s) => s.name)).toEqual(['a']);
    expect((await c.listServices({ healthy_only: false })).map((s) => [s.name, s.current_load])).toEqual([['a', 0], ['b', 0], ['c', 0]]);
    expect(await c.unregisterService('a')).toBe(true);
    expect(await c.getService('a')).toBeUndefined();
  });
});
