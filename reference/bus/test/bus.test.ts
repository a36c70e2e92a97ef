import { describe, expect, it } from 'vitest';
import { InMemoryBus, BusError, CircuitBreaker } from '../index.js';
import type { BusMessage } from '../index.js';

describe('InMemoryBus', () => {
  it('publish reaches every subscription, the same function twice counted twice (BUS-21, BUS-23)', async () => {
    const bus = new InMemoryBus();
    const seen: unknown[] = [];
    const f = (m: BusMessage): void => void seen.push(m.payload);
    await bus.subscribe('e', f);
    const off = await bus.subscribe('e', f);
    await bus.publish('e', 1);
    expect(seen).toEqual([1, 1]);
    await off();
    await off(); // BUS-22: a no-op
    await bus.publish('e', 2);
    expect(seen).toEqual([1, 1, 2]);
    expect(bus.subscriberCount('e')).toBe(1);
  });

  it('publish waits for every subscriber and swallows their failures (BUS-23, BUS-24, BUS-25)', async () => {
    const errors: string[] = [];
    const bus = new InMemoryBus({ onSubscriberError: (_t, e) => errors.push(e.code) });
    let finished = false;
    await bus.subscribe('e', () => {
      throw new BusError('HARDWARE_ERROR', 'boom');
    });
    await bus.subscribe('e', async () => {
      await new Promise((r) => setTimeout(r, 5));
      finished = true;
    });
    await bus.publish('e', null);
    expect(finished).toBe(true);
    expect(errors).toEqual(['HARDWARE_ERROR']);
    await expect(bus.publish('nobody', null)).resolves.toBeUndefined();
  });

  it('one handler table for commands and queries (BUS-19)', async () => {
    const bus = new InMemoryBus();
    await bus.registerHandler('t', 'command', () => 1);
    await expect(bus.registerHandler('t', 'query', () => 2)).rejects.toMatchObject({ code: 'HANDLER_EXISTS' });
    expect(await bus.query('t', null)).toBe(1);
    expect(bus.registeredTypes()).toEqual(['t']);
  });

  it('send without handler returns; handler errors reach sender and caller unchanged (BUS-26, BUS-27, BUS-28)', async () => {
    const bus = new InMemoryBus();
    await expect(bus.send('none', 1)).resolves.toBeUndefined();
    await expect(bus.query('none', 1)).rejects.toMatchObject({ code: 'NO_HANDLER' });
    await bus.registerHandler('bad', 'command', () => {
      throw new BusError('INVALID_PARAMS', 'no such channel');
    });
    await expect(bus.send('bad', 1)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: 'no such channel' });
    await expect(bus.query('bad', 1)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: 'no such channel' });
  });

  it('a query times out with TIMEOUT naming the timeout; 0 means the default (BUS-29)', async () => {
    const bus = new InMemoryBus({ queryTimeoutMs: 40 });
    let release: () => void = () => undefined;
    await bus.registerHandler('slow', 'query', () => new Promise<void>((r) => (release = r)));
    await expect(bus.query('slow', null, { timeoutMs: 10 })).rejects.toMatchObject({ code: 'TIMEOUT', details: { timeout_ms: 10 } });
    await expect(bus.query('slow', null, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'TIMEOUT', details: { timeout_ms: 40 } });
    release();
  });

  it('middleware order, abort, failure and after chaining (BUS-30, BUS-31, BUS-32, BUS-33)', async () => {
    const bus = new InMemoryBus();
    const order: string[] = [];
    await bus.registerHandler('q', 'query', (m) => {
      order.push('handler');
      return m.payload;
    });
    bus.use({ before: (_c, m) => (order.push('b1'), m), after: (_c, _m, r) => (order.push('a1'), { result: `${String(r)}+a1` }) });
    bus.use({ before: (_c, m) => (order.push('b2'), m), after: (_c, _m, r) => (order.push('a2'), { result: `${String(r)}+a2` }) });
    expect(await bus.query('q', 'x')).toBe('x+a2+a1');
    expect(order).toEqual(['b1', 'b2', 'handler', 'a2', 'a1']);
    order.length = 0;
    bus.use({ before: () => undefined, after: () => (order.push('a3'), undefined) });
    await expect(bus.query('q', 'x')).rejects.toMatchObject({ code: 'ABORTED' });
    await expect(bus.send('q', 'x')).rejects.toMatchObject({ code: 'ABORTED' });
    expect(order).toEqual(['b1', 'b2', 'b1', 'b2']);
  });

  it('a replaced message goes to the handler of the original type (BUS-34)', async () => {
    const bus = new InMemoryBus();
    await bus.registerHandler('a', 'query', (m) => `a got ${m.type}:${String(m.payload)}`);
    await bus.registerHandler('b', 'query', () => 'b');
    bus.use({ before: (_c, m) => ({ ...m, type: 'b', payload: 'replaced' }) });
    expect(await bus.query('a', 'orig')).toBe('a got b:replaced');
  });

  it('clear removes subscriptions, handlers and middleware (BUS-36)', async () => {
    const bus = new InMemoryBus();
    await bus.subscribe('e', () => undefined);
    await bus.registerHandler('q', 'query', () => 1);
    bus.use({ before: () => undefined });
    await bus.clear();
    expect([bus.subscriberCount('e'), bus.hasHandler('q'), bus.registeredTypes()]).toEqual([0, false, []]);
    await bus.registerHandler('q', 'query', () => 2);
    expect(await bus.query('q', null)).toBe(2);
  });
});

describe('CircuitBreaker (BUS-38)', () => {
  it('opens after threshold failures, half-opens after resetMs, closes on a success', async () => {
    let now = 0;
    const breaker = new CircuitBreaker({ threshold: 2, resetMs: 100, now: () => now });
    const bus = new InMemoryBus();
    bus.use(breaker);
    let fail = true;
    let calls = 0;
    await bus.registerHandler('q', 'query', () => {
      calls++;
      if (fail) throw new BusError('HARDWARE_ERROR', 'down');
      return 'up';
    });
    await expect(bus.query('q', null)).rejects.toMatchObject({ code: 'HARDWARE_ERROR' });
    await expect(bus.query('q', null)).rejects.toMatchObject({ code: 'HARDWARE_ERROR' });
    expect(breaker.state('q')).toBe('open');
    await expect(bus.query('q', null)).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(calls).toBe(2);
    now = 100;
    expect(breaker.state('q')).toBe('half-open');
    await expect(bus.query('q', null)).rejects.toMatchObject({ code: 'HARDWARE_ERROR' }); // the probe fails: open again
    expect(breaker.state('q')).toBe('open');
    now = 200;
    fail = false;
    expect(await bus.query('q', null)).toBe('up');
    expect(breaker.state('q')).toBe('closed');
    expect(calls).toBe(4);
  });

  it('refuses bad options with a clear error', () => {
    expect(() => new CircuitBreaker({ threshold: 0, resetMs: 1 })).toThrow(/threshold/);
  });
});
