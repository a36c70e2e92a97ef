import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConcordClient, ConnectError, HandshakeError } from '../index.js';
import { FakeBroker } from './fake-broker.js';
import { connect, logWatcher, startBroker, track, trackClient } from './helpers.js';
import { PROTOCOL_VERSION } from '../../../spec/generated/catalog.js';

describe('connect and handshake', () => {
  it('sends INIT in JSON and takes the INIT_ACK', async () => {
    const broker = await startBroker({ brokerId: 'fake-1', maxInFlight: 7 });
    const client = await connect(broker);
    expect(broker.inits).toHaveLength(1);
    const init = broker.inits[0]!;
    expect(init).toMatchObject({ client_id: 'ts-test', language: 'typescript', role: 'client', protocol_version: PROTOCOL_VERSION, encodings: ['json'], max_frame: 16_777_216 });
    expect(init.token).toBeUndefined();
    expect(client.state).toBe('open');
    expect(client.session).toMatchObject({ broker_id: 'fake-1', encoding: 'json', max_in_flight: 7 });
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(client.stats.framesOut).toBeGreaterThanOrEqual(2);
    expect(client.stats.framesIn).toBeGreaterThanOrEqual(2);
  });

  it('negotiates cbor when both sides offer it, and announces role and max_frame', async () => {
    const broker = await startBroker();
    const client = await connect(broker, { encodings: ['cbor'], role: 'engine', maxFrame: 65_536 });
    expect(broker.inits[0]).toMatchObject({ encodings: ['cbor', 'json'], role: 'engine', max_frame: 65_536 });
    expect(client.session.encoding).toBe('cbor');
  });

  it('connects over a Unix domain socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'concord-client-'));
    try {
      const broker = await startBroker({ path: join(dir, 'broker.sock') });
      const client = trackClient(await ConcordClient.connect({ path: join(dir, 'broker.sock'), clientId: 'unix-client', connectTimeoutMs: 2000 }));
      expect(client.session.client_id).toBe('unix-client');
      expect(await client.ping()).toBeGreaterThanOrEqual(0);
      await client.close({ drainMs: 200 });
      await broker.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retries with backoff until the broker starts listening', async () => {
    const port = await FakeBroker.freePort();
    const watch = logWatcher((e) => e.message === 'connection attempt failed');
    const connecting = ConcordClient.connect({
      host: '127.0.0.1',
      port,
      clientId: 'late-bird',
      retries: 50,
      backoff: { initialMs: 10, maxMs: 40, factor: 2, jitter: 0.5 },
      connectTimeoutMs: 2000,
      onLog: watch.onLog,
    });
    await watch.seen; // at least one attempt was refused
    track(await FakeBroker.start({ port }));
    const client = trackClient(await connecting);
    const failures = watch.logs.filter((e) => e.message === 'connection attempt failed');
    const retries = watch.logs.filter((e) => e.message === 'retrying connection');
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(retries.length).toBe(failures.length);
    expect(failures.length).toBeLessThanOrEqual(51);
    expect(client.state).toBe('open');
  });

  it('gives up with ConnectError after retries + 1 attempts', async () => {
    const port = await FakeBroker.freePort();
    const err = await ConcordClient.connect({ port, clientId: 'nobody-home', retries: 2, backoff: { initialMs: 1, maxMs: 5, jitter: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).attempts).toBe(3);
    expect((err as ConnectError).cause).toBeInstanceOf(Error);
  });

  it('rejects with a typed HandshakeError on UNAUTHORIZED, without retrying or logging the token', async () => {
    const broker = await startBroker({ token: 'right-secret' });
    const watch = logWatcher(() => false);
    const err = await ConcordClient.connect({ port: broker.port, clientId: 'intruder', token: 'wrong-secret', retries: 3, backoff: { initialMs: 1 }, onLog: watch.onLog }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ name: 'HandshakeError', code: 'UNAUTHORIZED', definite: true });
    expect(broker.inits).toHaveLength(1);
    expect(JSON.stringify(watch.logs)).not.toContain('wrong-secret');

    const client = await connect(broker, { token: 'right-secret' }, watch.logs);
    expect(broker.inits[1]!.token).toBe('right-secret');
    expect(client.state).toBe('open');
    expect(JSON.stringify(watch.logs)).not.toContain('right-secret');
  });
});
