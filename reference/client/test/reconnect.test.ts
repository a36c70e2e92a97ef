import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcordClient, ConnectionClosedError, RequestTimeoutError, type ConnectionEvent } from '../index.js';
import { BrokerProcess, freePort } from './broker-process.js';

// A broker killed and started again under traffic (HS-23 .. HS-25): the clients reconnect, restore
// their bus subscriptions (same ids for the application), bus handlers and services, tell the
// application, a request in flight at the drop fails with PEER_GONE (definite false), and traffic
// carries on. Every wait is a hang guard, not a timing assertion.
const BOUND_MS = 30_000;
let broker: BrokerProcess;

beforeAll(async () => {
  broker = new BrokerProcess(await freePort());
  await broker.start();
}, 60_000);
afterAll(() => broker.kill());

function events(): { seen: ConnectionEvent[]; onConnection: (e: ConnectionEvent) => void; next: (kind: ConnectionEvent['kind']) => Promise<ConnectionEvent> } {
  const seen: ConnectionEvent[] = [];
  const waiters: { kind: string; resolve: (e: ConnectionEvent) => void }[] = [];
  return {
    seen,
    onConnection: (e) => {
      seen.push(e);
      for (const w of waiters.filter((x) => x.kind === e.kind)) w.resolve(e);
    },
    next: (kind) => new Promise((resolve) => waiters.push({ kind, resolve })),
  };
}

describe('a broker restart under traffic', () => {
  it('reconnects, restores subscriptions, bus handlers and services, and carries on', async () => {
    const workerEvents = events();
    const callerEvents = events();
    const options = { port: broker.port, reconnect: true, retries: 50 } as const;
    const worker = await ConcordClient.connect({ ...options, clientId: 'ts-rc-worker', onConnection: workerEvents.onConnection });
    const caller = await ConcordClient.connect({ ...options, clientId: 'ts-rc-caller', onConnection: callerEvents.onConnection });
    const delivered: [string, unknown][] = [];
    let slowStarted!: () => void;
    const slowSeen = new Promise<void>((resolve) => (slowStarted = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    worker.on('BUS_EVENT', (p) => {
      delivered.push([p.subscription_id, p.payload]);
      return {};
    });
    worker.on('BUS_QUERY', async (p) => {
      if (p.message_type === 'rc.slow') {
        slowStarted();
        await released;
      }
      return { result: { echo: p.payload } };
    });
    worker.on('SERVICE_DISPATCH', (p) => ({ result: { method: p.method } }) as never);
    let stop = false;
    const traffic = { ok: 0, lost: 0, okAfter: 0, other: [] as unknown[] };
    const pinger = (async () => {
      for (let i = 0; i < 100_000 && !stop; i++) { // bounded in count and by stop
        try {
          await caller.ping({ timeoutMs: 5000 });
          traffic.ok++;
          if (callerEvents.seen.some((e) => e.kind === 'restored')) traffic.okAfter++;
        } catch (e) {
          // Lost at the drop, or held while reconnecting beyond its own timeout (HS-25).
          if (e instanceof ConnectionClosedError || e instanceof RequestTimeoutError) traffic.lost++;
          else traffic.other.push(e);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      const { subscription_id: sid } = await worker.request('BUS_SUBSCRIBE', { event_type: 'rc.tick' });
      await worker.request('BUS_REGISTER_HANDLER', { message_type: 'rc.echo', category: 'query' });
      await worker.request('BUS_REGISTER_HANDLER', { message_type: 'rc.gone', category: 'query' });
      await worker.request('BUS_UNREGISTER_HANDLER', { message_type: 'rc.gone' }); // forgotten: not restored
      await worker.request('BUS_REGISTER_HANDLER', { message_type: 'rc.slow', category: 'query' });
      await worker.request('SERVICE_REGISTER', { service: { name: 'ts-rc-svc', service_type: 'test', version: '1.0.0', max_concurrent: 2 } });
      const slow = caller.request('BUS_QUERY', { message_type: 'rc.slow', payload: { n: 1 } }, { timeoutMs: BOUND_MS }).catch((e: unknown) => e);
      await slowSeen;

      const lost = workerEvents.next('lost');
      const restored = [workerEvents.next('restored'), callerEvents.next('restored')];
      await broker.kill();
      expect(await slow).toMatchObject({ name: 'ConnectionClosedError', code: 'PEER_GONE', definite: false }); // HS-25
      await lost;
      await broker.start();
      for (const e of await Promise.all(restored)) expect(e).toMatchObject({ kind: 'restored', reconnects: 1, failures: [] });
      release();

      expect(await caller.request('BUS_PUBLISH', { event_type: 'rc.tick', payload: { n: 7 } })).toEqual({ delivered: 1, failed: 0 });
      expect(delivered).toEqual([[sid, { n: 7 }]]); // the id the application was given
      expect(await caller.request('BUS_QUERY', { message_type: 'rc.echo', payload: { n: 3 } })).toEqual({ result: { echo: { n: 3 } } });
      await expect(caller.request('BUS_QUERY', { message_type: 'rc.gone', payload: { n: 3 } })).rejects.toMatchObject({ code: 'NO_HANDLER' });
      expect(await caller.request('SERVICE_DISPATCH', { service_name: 'ts-rc-svc', method: 'm', timeout_ms: 10_000 })).toEqual({ result: { method: 'm' }, attempts: 1 });
      await worker.request('BUS_UNSUBSCRIBE', { subscription_id: sid }); // the original id still names it
      expect(await caller.request('BUS_PUBLISH', { event_type: 'rc.tick', payload: { n: 8 } })).toEqual({ delivered: 0, failed: 0 });

      const deadline = Date.now() + BOUND_MS;
      while (traffic.okAfter === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(traffic.okAfter).toBeGreaterThan(0); // the traffic carried on after the restart
      expect(traffic.other).toEqual([]);
    } finally {
      stop = true;
      release();
      await pinger;
      await Promise.all([worker.close(), caller.close()]);
    }
  }, 90_000);
});
