import { createServer, connect as netConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MESSAGES, ProtocolError } from '../../codec/index.js';
import {
  Connection,
  InFlightLimiter,
  NOTIFICATIONS,
  OverloadedError,
  RESPONSE_OF,
  RemoteError,
  RequestTimeoutError,
  backoffDelay,
  errorPayloadFor,
  requestTimeout,
  resolveBackoff,
} from '../index.js';

describe('catalog view', () => {
  it('RESPONSE_OF and NOTIFICATIONS match the generated catalog', () => {
    const requests = Object.fromEntries(MESSAGES.filter((m) => m.kind === 'request').map((m) => [m.name, m.response]));
    expect(RESPONSE_OF).toEqual(requests);
    expect([...NOTIFICATIONS].sort()).toEqual(MESSAGES.filter((m) => m.kind === 'notification').map((m) => m.name).sort());
  });
});

describe('backoff', () => {
  it('grows by the factor up to maxMs, and jitter stays within its band', () => {
    const b = resolveBackoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map((r) => backoffDelay(r, b))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const j = resolveBackoff({ initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.5 });
    expect(backoffDelay(1, j, () => 0)).toBe(50);
    expect(backoffDelay(1, j, () => 1)).toBe(150);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(RangeError);
  });
});

describe('timeouts', () => {
  it('follows REQ-14: call, payload, client default, catalog, request_timeout_ms', () => {
    expect(requestTimeout('REASONING_REQUEST', {}, 5, 7)).toBe(5);
    expect(requestTimeout('BUS_QUERY', { message_type: 'q', timeout_ms: 1234 }, undefined, 7)).toBe(1234);
    expect(requestTimeout('BUS_QUERY', { message_type: 'q', timeout_ms: 0 }, undefined, undefined)).toBe(30_000);
    expect(requestTimeout('REASONING_REQUEST', {}, undefined, 7)).toBe(7);
    expect(requestTimeout('BATCH_REASONING_REQ', {}, undefined, undefined)).toBe(120_000);
    expect(requestTimeout('STATS_REQUEST', {}, undefined, undefined)).toBe(30_000);
    // SERVICE_DISPATCH: 2 attempts of 1000 ms and one 100 ms backoff.
    expect(requestTimeout('SERVICE_DISPATCH', { service_name: 's', method: 'm', timeout_ms: 1000, max_retries: 1 }, undefined, undefined)).toBe(2100);
  });
});

describe('InFlightLimiter', () => {
  it('grants up to the limit, queues FIFO, refuses beyond maxQueued, times out waiters', async () => {
    const limiter = new InFlightLimiter(2, 2);
    const a = limiter.enqueue('X', 1000);
    const b = limiter.enqueue('X', 1000);
    const c = limiter.enqueue('X', 1000);
    const d = limiter.enqueue('X', 5);
    expect(() => limiter.enqueue('X', 1000)).toThrow(OverloadedError);
    expect(limiter.inUse).toBe(2);
    expect(limiter.queued).toBe(2);
    await a.ready;
    await b.ready;
    await expect(d.ready).rejects.toMatchObject({ name: 'RequestTimeoutError', definite: true });
    const order: string[] = [];
    void c.ready.then(() => order.push('c'));
    a.release();
    a.release(); // idempotent
    await c.ready;
    expect(order).toEqual(['c']);
    expect(limiter.inUse).toBe(2);
    limiter.pause();
    const e = limiter.enqueue('X', 1000);
    b.release();
    expect(limiter.inUse).toBe(1);
    limiter.resume(3);
    await e.ready;
    limiter.close(new Error('closed'));
    expect(() => limiter.enqueue('X', 10)).toThrow('closed');
    c.release();
    e.release();
    expect(limiter.inUse).toBe(0);
  });
});

describe('errorPayloadFor', () => {
  it('keeps registry codes with their registry definite, maps the rest to INTERNAL', () => {
    expect(errorPayloadFor(new RemoteError('INVALID_PARAMS', 'bad', { details: { param: 'p' }, definite: false }))).toEqual({
      code: 'INVALID_PARAMS',
      message: 'bad',
      definite: true,
      details: { param: 'p' },
    });
    expect(errorPayloadFor(new ProtocolError('SCHEMA_VIOLATION', 'x', { path: '/a', rule: 'type' }))).toMatchObject({ code: 'SCHEMA_VIOLATION', details: { path: '/a' } });
    expect(errorPayloadFor(new RequestTimeoutError('X', 5))).toMatchObject({ code: 'TIMEOUT', definite: false });
    expect(errorPayloadFor(Object.assign(new Error('nope'), { code: 'ECONNREFUSED' }))).toMatchObject({ code: 'INTERNAL', message: 'ECONNREFUSED: nope' });
    expect(errorPayloadFor('plain string')).toMatchObject({ code: 'INTERNAL', message: 'plain string' });
  });
});

describe('Connection writes', () => {
  it('waits for drain above the high-water mark and refuses beyond maxWriteBuffer', async () => {
    let peer!: Socket;
    const server = createServer((s) => {
      peer = s;
      s.pause(); // read nothing until told
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = netConnect({ host: '127.0.0.1', port: (server.address() as { port: number }).port });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const counters = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0 };
    const conn = new Connection(socket, { maxFrame: 65_536, maxWriteBuffer: 4 * 65_536, counters, nextId: () => 'x', log: () => undefined });
    try {
      const frame = new Uint8Array(65_536);
      const writes: Promise<void>[] = [];
      let refused: unknown;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        const w = conn.write(frame);
        w.catch((e: unknown) => (refused = e));
        writes.push(w);
        await Promise.resolve();
      }
      expect(refused).toBeInstanceOf(OverloadedError);
      // The first frame went to the socket (above its 16 KiB mark), four waited for 'drain', the sixth was refused.
      expect(writes).toHaveLength(6);
      expect(counters.framesOut).toBe(1);
      peer.resume();
      await Promise.all(writes.slice(0, 5));
      expect(counters.framesOut).toBe(5);
    } finally {
      conn.destroy();
      peer?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
