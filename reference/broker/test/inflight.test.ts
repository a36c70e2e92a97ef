import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { messageByName, ProtocolError } from '../../codec/index.js';
import { Inflight, type PendingRequest } from '../inflight.js';
import type { Connection } from '../connection.js';
import type { Logger } from '../logger.js';

const silent = { info: (): void => undefined } as unknown as Logger;
const REQUEST = messageByName('REASONING_REQUEST');
const RESPONSE_CODE = messageByName('REASONING_RESPONSE').code;

/** The part of a Connection the in-flight table touches, with the latency samples it records. */
function connection(clientId: string): Connection & { samples: number[] } {
  const samples: number[] = [];
  const ignore = (): void => undefined;
  return { clientId, samples, requested: new Set(), served: new Map(), expired: { add: ignore }, stats: { latency: { add: (us: number) => samples.push(us) } } } as unknown as Connection & { samples: number[] };
}

// Fake timers (performance.now included): the clock moves only when the test moves it.
describe('the in-flight table reads the clock once per read (issue 15)', () => {
  let failed: [PendingRequest, ProtocolError][];
  let inflight: Inflight;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    failed = [];
    inflight = new Inflight({ fail: (p, e) => failed.push([p, e]), settled: () => undefined }, silent);
  });
  afterEach(() => {
    inflight.clear();
    vi.useRealTimers();
  });

  it('starts every request of a read at the read, and times it out its timeout after the read (REQ-15)', () => {
    const client = connection('c0');
    const worker = connection('worker');
    const outer = inflight.beginRead();
    const readAt = performance.now();
    const a = inflight.track(client, worker, 'a', '1', REQUEST, RESPONSE_CODE, 100);
    vi.advanceTimersByTime(30); // the clock moves while the read is handled: its requests keep the read's time
    const b = inflight.track(client, worker, 'b', '2', REQUEST, RESPONSE_CODE, 100);
    inflight.endRead(outer);
    expect([a.startedAt, b.startedAt]).toEqual([readAt, readAt]);
    vi.advanceTimersByTime(69);
    expect(failed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(failed.map(([p, e]) => [p.origId, e.code])).toEqual([
      ['a', 'TIMEOUT'],
      ['b', 'TIMEOUT'],
    ]);
  });

  it('reads the clock per request outside a read, and after endRead', () => {
    const client = connection('c0');
    const worker = connection('worker');
    const outer = inflight.beginRead();
    inflight.endRead(outer);
    vi.advanceTimersByTime(5);
    const a = inflight.track(client, worker, 'a', '1', REQUEST, RESPONSE_CODE, 100);
    vi.advanceTimersByTime(5);
    const b = inflight.track(client, worker, 'b', '2', REQUEST, RESPONSE_CODE, 100);
    expect(b.startedAt - a.startedAt).toBe(5);
    expect(b.startedAt).toBe(performance.now());
  });

  it('ends an answered request at the read of its answer: the latency is from read to read', () => {
    const client = connection('c0');
    const worker = connection('worker');
    let outer = inflight.beginRead();
    const p = inflight.track(client, worker, 'a', '1', REQUEST, RESPONSE_CODE, 100);
    inflight.endRead(outer);
    vi.advanceTimersByTime(7);
    outer = inflight.beginRead();
    vi.advanceTimersByTime(3);
    inflight.answered(p);
    inflight.endRead(outer);
    expect(client.samples).toEqual([7000]);
    expect(inflight.size).toBe(0);
  });

  it('restores the outer read when reads nest', () => {
    const client = connection('c0');
    const worker = connection('worker');
    const none = inflight.beginRead();
    const first = performance.now();
    vi.advanceTimersByTime(4);
    const outer = inflight.beginRead();
    const inner = inflight.track(client, worker, 'a', '1', REQUEST, RESPONSE_CODE, 100);
    inflight.endRead(outer);
    const after = inflight.track(client, worker, 'b', '2', REQUEST, RESPONSE_CODE, 100);
    inflight.endRead(none);
    expect([inner.startedAt, after.startedAt]).toEqual([first + 4, first]);
  });
});
