/** Section 6 (lifecycle) and 9.1: PING/PONG, heartbeat, statistics, SHUTDOWN in both directions. */
import { describe, expect, it } from 'vitest';
import { useHarness } from './fixture.js';
import { encodingReq, encodingRsp } from './payloads.js';

const h = useHarness();

describe('liveness', () => {
  it('answers PING with PONG carrying re and no payload (HS-9)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const id = a.send('PING', { id: 'ping-0' });
    const m = await a.next();
    expect(m.name).toBe('PONG');
    expect(m.header.re).toBe(id);
    expect(m.payload).toBeNull();
  });

  it('pings a silent client and closes after three unanswered PINGs (HS-10, HS-11)', async () => {
    const { address } = await h.broker({ heartbeatMs: 100 });
    const a = await h.client(address, 'a');
    const pings = await a.take(3);
    expect(pings.map((p) => p.name)).toEqual(['PING', 'PING', 'PING']);
    expect(new Set(pings.map((p) => p.header.id)).size).toBe(3);
    await a.waitClosed();
    expect(a.received).toEqual([]);
  });

  it('keeps a client that answers its PINGs (HS-10)', async () => {
    const { address } = await h.broker({ heartbeatMs: 100 });
    const a = await h.client(address, 'a');
    for (let i = 0; i < 5; i++) {
      const ping = await a.next();
      expect(ping.name).toBe('PING');
      a.send('PONG', { re: ping.header.id });
    }
    expect(a.closed).toBe(false);
  });
});

describe('statistics', () => {
  it('answers STATS_REQUEST with per-client counters as u64 and latency (SYS-2)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { dst: 'b' }, encodingReq('s'));
    const req = await b.next();
    b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp('s'));
    await a.next();
    const statsId = a.send('STATS_REQUEST', {}, {});
    const m = await a.next();
    expect(m.name).toBe('STATS_RESPONSE');
    expect(m.header.re).toBe(statsId);
    const p = m.payload as { broker_id: string; uptime_ms: bigint; clients: Array<Record<string, unknown>> };
    expect(p.broker_id).toBe('concord-broker');
    expect(typeof p.uptime_ms).toBe('bigint');
    const ca = p.clients.find((c) => c.client_id === 'a')!;
    const cb = p.clients.find((c) => c.client_id === 'b')!;
    // a: INIT, ENCODING_REQ, STATS_REQUEST in; INIT_ACK, ENCODING_RSP out (the STATS_RESPONSE is not yet counted).
    expect(ca).toMatchObject({ language: 'typescript', frames_in: 3n, frames_out: 2n, in_flight: 0 });
    expect(cb).toMatchObject({ frames_in: 2n, frames_out: 2n, in_flight: 0 });
    expect(ca['bytes_in']).toBe(BigInt(a.socket.bytesWritten));
    expect(typeof ca['latency_p50_us']).toBe('number');
    expect(ca['latency_p99_us'] as number).toBeGreaterThanOrEqual(ca['latency_p50_us'] as number);
    expect(cb['latency_p50_us']).toBeUndefined(); // b made no request

    a.send('STATS_REQUEST', {}, { client_id: 'b' });
    expect((await a.next()).payload).toMatchObject({ clients: [{ client_id: 'b' }] });
    a.send('STATS_REQUEST', {}, { client_id: 'nobody' });
    expect((await a.next()).payload).toMatchObject({ clients: [] });
  });

  it('counts in flight requests in STATS_RESPONSE and in stats()', async () => {
    const { address, broker } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { dst: 'b' }, encodingReq('1'));
    a.send('ENCODING_REQ', { dst: 'b' }, encodingReq('2'));
    await b.take(2);
    a.send('STATS_REQUEST', {}, { client_id: 'a' });
    expect((await a.next()).payload).toMatchObject({ clients: [{ client_id: 'a', in_flight: 2 }] });
    expect(broker.stats().inFlight).toBe(2);
    expect(broker.stats().clients.find((c) => c.clientId === 'b')!.served).toBe(2);
  });
});

describe('shutdown', () => {
  it('drains a client\'s in-flight request after its SHUTDOWN, refuses new ones, then acks and closes (HS-13, HS-14, HS-15)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'before', dst: 'b' }, encodingReq('x'));
    const req = await b.next();
    a.send('SHUTDOWN', { id: 'bye' }, { reason: 'test' });
    a.send('ENCODING_REQ', { id: 'after', dst: 'b' }, encodingReq('y'));
    const refused = await a.next();
    expect(refused.header.re).toBe('after');
    expect(refused.payload).toMatchObject({ code: 'SHUTTING_DOWN', definite: true });
    const pingId = a.send('PING');
    expect((await a.next()).header.re).toBe(pingId); // PING still answered while draining (HS-9)
    b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp('x'));
    const rsp = await a.next();
    expect(rsp.name).toBe('ENCODING_RSP');
    expect(rsp.header.re).toBe('before');
    const ack = await a.next();
    expect(ack.name).toBe('SHUTDOWN_ACK');
    expect(ack.header.re).toBe('bye');
    expect(ack.payload).toEqual({ drained: 1, timed_out: 0 });
    await a.waitClosed();
  });

  it('answers TIMEOUT to what is still open when drain_ms runs out, then acks (HS-14, LIM-13)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'stuck', dst: 'b' }, encodingReq('x'));
    await b.next();
    a.send('SHUTDOWN', { id: 'bye' }, { drain_ms: 50 });
    const timeout = await a.next();
    expect(timeout.header.re).toBe('stuck');
    expect(timeout.payload).toMatchObject({ code: 'TIMEOUT', definite: false, details: { timeout_ms: 50 } });
    const ack = await a.next();
    expect(ack.payload).toEqual({ drained: 0, timed_out: 1 });
    await a.waitClosed();
  });

  it('shuts the broker down gracefully: SHUTDOWN to all, the in-flight request answered, then close (HS-17)', async () => {
    const { address, broker } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'last', dst: 'b' }, encodingReq('x'));
    const req = await b.next();
    const done = broker.shutdown(5000);
    const sa = await a.next();
    const sb = await b.next();
    expect(sa.name).toBe('SHUTDOWN');
    expect(sb.name).toBe('SHUTDOWN');
    expect(sb.payload).toMatchObject({ drain_ms: 5000 });
    a.send('ENCODING_REQ', { id: 'late', dst: 'b' }, encodingReq('y'));
    expect((await a.next()).payload).toMatchObject({ code: 'SHUTTING_DOWN' });
    b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp('x'));
    b.send('SHUTDOWN_ACK', { re: sb.header.id }, { drained: 1 });
    const rsp = await a.next();
    expect(rsp.header.re).toBe('last');
    a.send('SHUTDOWN_ACK', { re: sa.header.id }, { drained: 0 });
    await done;
    await a.waitClosed();
    await b.waitClosed();
    expect(broker.stats().connections).toBe(0);
  });

  it('answers TIMEOUT for what the broker\'s own drain leaves open (HS-17)', async () => {
    const { address, broker } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'never', dst: 'b' }, encodingReq('x'));
    await b.next();
    const done = broker.shutdown(100);
    expect((await a.next()).name).toBe('SHUTDOWN');
    const timeout = await a.next();
    expect(timeout.header.re).toBe('never');
    expect(timeout.payload).toMatchObject({ code: 'TIMEOUT', details: { timeout_ms: 100 } });
    await done;
    await a.waitClosed();
  });
});
