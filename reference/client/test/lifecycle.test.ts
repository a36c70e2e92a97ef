import { describe, expect, it } from 'vitest';
import type { ShutdownAckPayload, ShutdownPayload } from '../../../spec/generated/types.js';
import { ConnectionClosedError, ShuttingDownError } from '../index.js';
import { connect, logWatcher, startBroker, vector768 } from './helpers.js';

const FAST = { initialMs: 5, maxMs: 20, factor: 2, jitter: 0 };

describe('connection loss and shutdown', () => {
  it('rejects in-flight requests with definite=false on a drop, then reconnects and handshakes again', async () => {
    const broker = await startBroker();
    const watch = logWatcher(() => false);
    const client = await connect(broker, { reconnect: true, retries: 20, backoff: FAST }, watch.logs);
    const inFlight = client.request('REASONING_REQUEST', { encoding: vector768(), context: 'x', source: 'typescript' }, { dst: 'engine-1' });
    const first = await broker.nextConnection();
    await first.next('REASONING_REQUEST');
    first.drop();

    const err = await inFlight.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err).toMatchObject({ name: 'ConnectionClosedError', definite: false });

    const second = await broker.nextConnection();
    expect(broker.inits).toHaveLength(2);
    expect(second.init.client_id).toBe('ts-test');
    const again = client.request('STATS_REQUEST', {});
    const req = await second.next('STATS_REQUEST');
    second.reply(req, 'STATS_RESPONSE', { broker_id: 'fake-broker', uptime_ms: 5n, clients: [] });
    expect((await again).uptime_ms).toBe(5n);
    expect(client.stats.reconnects).toBe(1);
    expect(client.state).toBe('open');
  });

  it('keeps requests issued while reconnecting queued until the new connection is up', async () => {
    const broker = await startBroker();
    const lost = logWatcher((e) => e.message === 'connection lost');
    const client = await connect(broker, { reconnect: true, retries: 20, backoff: FAST, onLog: lost.onLog });
    const first = await broker.nextConnection();
    first.drop();
    await lost.seen; // the client has noticed the drop
    const waiting = client.request('STATS_REQUEST', {}); // waits for the new connection
    expect(['reconnecting', 'open']).toContain(client.state);
    const second = await broker.nextConnection();
    const req = await second.next('STATS_REQUEST');
    second.reply(req, 'STATS_RESPONSE', { broker_id: 'fake-broker', uptime_ms: 1n, clients: [] });
    expect((await waiting).uptime_ms).toBe(1n);
  });

  it('closes for good on a drop without reconnect', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const inFlight = client.request('STATS_REQUEST', {});
    const conn = await broker.nextConnection();
    await conn.next('STATS_REQUEST');
    conn.drop();
    await expect(inFlight).rejects.toMatchObject({ name: 'ConnectionClosedError', definite: false });
    expect(await client.closed).toMatchObject({ reason: 'connection-lost' });
    await expect(client.request('STATS_REQUEST', {})).rejects.toMatchObject({ name: 'ConnectionClosedError', definite: true });
    expect(broker.inits).toHaveLength(1);
  });

  it('closes gracefully: SHUTDOWN, SHUTDOWN_ACK, end; idempotent', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const conn = await broker.nextConnection();
    const closing = client.close({ reason: 'test over', drainMs: 1000 });
    expect(client.close()).toBe(closing);
    await expect(client.request('STATS_REQUEST', {})).rejects.toBeInstanceOf(ShuttingDownError);
    await closing;
    await conn.closed;
    const shutdown = conn.received.find((m) => m.name === 'SHUTDOWN');
    expect(shutdown?.payload as ShutdownPayload).toEqual({ reason: 'test over', drain_ms: 1000 });
    expect(client.state).toBe('closed');
    expect(await client.closed).toEqual({ reason: 'closed' });
  });

  it('lets requests in flight finish before the SHUTDOWN_ACK when closing', async () => {
    const broker = await startBroker({ autoShutdownAck: false });
    const client = await connect(broker);
    const inFlight = client.request('STATS_REQUEST', {});
    const conn = await broker.nextConnection();
    const req = await conn.next('STATS_REQUEST');
    const closing = client.close({ drainMs: 2000 });
    const shutdown = await conn.next('SHUTDOWN');
    conn.reply(req, 'STATS_RESPONSE', { broker_id: 'fake-broker', uptime_ms: 9n, clients: [] });
    conn.reply(shutdown, 'SHUTDOWN_ACK', { drained: 1 });
    expect((await inFlight).uptime_ms).toBe(9n);
    await closing;
    await conn.closed;
  });

  it("drains on the broker's SHUTDOWN: no new requests, in-flight answered, SHUTDOWN_ACK, close", async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    client.on('BUS_EVENT', async () => {
      await gate;
      return {};
    });
    const inFlight = client.request('STATS_REQUEST', {});
    const conn = await broker.nextConnection();
    const req = await conn.next('STATS_REQUEST');
    const eventId = conn.send('BUS_EVENT', { event_type: 'tick', subscription_id: 's1', publisher: 'pub-1', payload: {} }, { src: 'fake-broker' });
    const shutdownId = conn.send('SHUTDOWN', { reason: 'maintenance', drain_ms: 5000 });
    // A request arriving after SHUTDOWN is refused (HS-13); PING is still answered (HS-9).
    const lateId = conn.send('BUS_EVENT', { event_type: 'tick', subscription_id: 's1', publisher: 'pub-1', payload: {} });
    const refused = await conn.next('ERROR');
    expect(refused.header.re).toBe(lateId);
    expect(refused.payload).toMatchObject({ code: 'SHUTTING_DOWN' });
    const pingId = conn.send('PING', null);
    expect((await conn.next('PONG')).header.re).toBe(pingId);
    await expect(client.request('STATS_REQUEST', {})).rejects.toBeInstanceOf(ShuttingDownError);
    expect(client.state).toBe('draining');

    conn.reply(req, 'STATS_RESPONSE', { broker_id: 'fake-broker', uptime_ms: 3n, clients: [] });
    expect((await inFlight).uptime_ms).toBe(3n);
    release();
    const ack = await conn.next('ACK');
    expect(ack.header.re).toBe(eventId);
    const shutdownAck = await conn.next('SHUTDOWN_ACK');
    expect(shutdownAck.header.re).toBe(shutdownId);
    expect(shutdownAck.payload as ShutdownAckPayload).toEqual({ drained: 1, timed_out: 0 });
    expect(await client.closed).toEqual({ reason: 'shutdown' });
    await conn.closed;
  });
});
