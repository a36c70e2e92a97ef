/**
 * What a client sees across brokers (section 19): the routing rules of one broker, a broadcast once to
 * every client of the cluster, one client id per cluster, and STATS with the cluster (protocol 1.1).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { WireClient } from '../../test/wire-client.js';
import { encodingReq, encodingRsp } from '../../test/payloads.js';
import { PROTOCOL_VERSION } from '../../../../spec/generated/catalog.js';
import { clusterOn, startCluster, stopAfterAll, type ClusterUnderTest } from './cluster-fixture.js';
import { NatsProcess } from '../nats-process.js';

let cluster: ClusterUnderTest | undefined;
beforeAll(async () => {
  cluster = await startCluster(['r1', 'r2', 'r3']);
}, 60_000);
stopAfterAll(() => cluster);

let n = 0;
async function client(broker: number, overrides: Record<string, unknown> = {}): Promise<{ c: WireClient; id: string }> {
  const id = `rt-${++n}`;
  const { client: c } = await WireClient.open({ port: cluster!.ports[broker]! }, id, overrides);
  return { c, id };
}

describe('a cluster of three brokers', () => {
  it('routes a request to a client of another broker: new id, src set, payload untouched, the answer with the original id restored', async () => {
    const x = await client(0);
    const y = await client(2);
    x.c.send('ENCODING_REQ', { id: 'q-1', dst: y.id, src: 'forged' }, encodingReq('hello'));
    const req = await y.c.next();
    expect([req.name, req.header.src, req.header.dst, req.payload]).toEqual(['ENCODING_REQ', x.id, y.id, encodingReq('hello')]);
    expect(req.header.id).not.toBe('q-1');
    y.c.send('ENCODING_RSP', { id: 'a-1', re: req.header.id }, encodingRsp('m'));
    const answer = await x.c.next();
    expect([answer.name, answer.header.re, answer.header.src, answer.payload]).toEqual(['ENCODING_RSP', 'q-1', y.id, encodingRsp('m')]);
    await Promise.all([x.c.close(), y.c.close()]);
  });

  it('routes by service name to a provider on another broker', async () => {
    const provider = await client(1);
    provider.c.send('SERVICE_REGISTER', { id: 'reg' }, { service: { name: 'svc-cluster', service_type: 'test', version: '1' } });
    expect((await provider.c.next()).name).toBe('ACK');
    const caller = await client(2);
    // Right after the ACK (SYS-1): found through the claim if the announcement has not arrived yet.
    caller.c.send('ENCODING_REQ', { id: 's0', dst: 'svc-cluster' }, encodingReq('x'));
    const got = await provider.c.next();
    expect(got.name).toBe('ENCODING_REQ');
    expect(got.header.src).toBe(caller.id);
    provider.c.send('ENCODING_RSP', { re: got.header.id }, encodingRsp('s'));
    expect((await caller.c.next()).name).toBe('ENCODING_RSP');
    await Promise.all([provider.c.close(), caller.c.close()]);
  });

  it('delivers a broadcast once to every other client of the cluster', async () => {
    const clients = await Promise.all([0, 1, 2, 0, 1, 2].map((b) => client(b)));
    // The sender's broker hands the broadcast to each broker it knows, which delivers it to its own clients.
    await cluster!.settled();
    const [sender, ...others] = clients;
    sender!.c.send('DISAGREEMENT_SIGNAL', { id: 'bc', dst: '*' }, { coordination_id: 'c', disagreement_score: 1, threshold: 0.5, teacher_ids: ['t'] });
    for (const o of others) {
      const m = await o.c.next();
      expect([m.name, m.header.src]).toEqual(['DISAGREEMENT_SIGNAL', sender!.id]);
    }
    // Exactly once: a PING round trip on each connection comes back before any second copy could.
    for (const o of [sender!, ...others]) {
      const id = o.c.send('PING');
      const m = await o.c.next();
      expect([m.name, m.header.re]).toEqual(['PONG', id]);
    }
    await Promise.all(clients.map((c) => c.c.close()));
  });

  it('refuses a client id held on another broker with DUPLICATE_CLIENT_ID and closes', async () => {
    const held = await client(0);
    const second = await WireClient.connect({ port: cluster!.ports[1]! });
    const refused = await second.init(held.id);
    expect([refused.name, (refused.payload as { code: string }).code]).toEqual(['ERROR', 'DUPLICATE_CLIENT_ID']);
    await second.waitClosed();
    await held.c.close();
  });

  const CLAIMED_NAMES = [
    { what: 'a service name', code: 'SERVICE_EXISTS', statement: 'CLU-10', type: 'SERVICE_REGISTER' as const, payload: { service: { name: 'svc-claimed', service_type: 'test', version: '1' } } },
    { what: 'a bus handler type', code: 'HANDLER_EXISTS', statement: 'CLU-13', type: 'BUS_REGISTER_HANDLER' as const, payload: { message_type: 'cluster.claimed', category: 'command' } },
  ];
  it.each(CLAIMED_NAMES)('refuses $what registered on another broker with $code, and frees it when its client leaves ($statement)', async ({ code, type, payload }) => {
    const first = await client(0);
    first.c.send(type, { id: 'reg1' }, payload);
    expect((await first.c.next()).name).toBe('ACK');
    const second = await client(2);
    second.c.send(type, { id: 'reg2' }, payload);
    const refused = await second.c.next();
    expect([refused.name, refused.header.re, (refused.payload as { code: string }).code]).toEqual(['ERROR', 'reg2', code]);
    await first.c.close();
    // The release reaches the store a little after the close: retried until it has (bounded by the test timeout).
    // OVERLOADED is the store not answering in time on a loaded machine (the spec's try-again), so it is retried too.
    for (let i = 0; ; i++) {
      second.c.send(type, { id: `again${i}` }, payload);
      const m = await second.c.next();
      if (m.name === 'ACK') break;
      expect([code, 'OVERLOADED']).toContain((m.payload as { code: string }).code);
      await new Promise((r) => setTimeout(r, 50));
    }
    await second.c.close();
  });

  it('hands a BUS_QUERY to the broker of its handler, and the answer back unchanged (CLU-11, CLU-13)', async () => {
    const handler = await client(2);
    handler.c.send('BUS_REGISTER_HANDLER', { id: 'h' }, { message_type: 'cluster.query', category: 'query' });
    expect((await handler.c.next()).name).toBe('ACK');
    const asker = await client(0);
    // No retry: the ACK came after the claim, so the asker's broker finds the handler at once.
    asker.c.send('BUS_QUERY', { id: 'q' }, { message_type: 'cluster.query', payload: { n: 1 } });
    const fwd = await handler.c.next();
    expect([fwd.name, fwd.header.src, fwd.payload]).toEqual(['BUS_QUERY', asker.id, { message_type: 'cluster.query', payload: { n: 1 } }]);
    handler.c.send('BUS_QUERY_RESULT', { re: fwd.header.id }, { result: { n: 2 } });
    const answer = await asker.c.next();
    expect([answer.name, answer.header.re, answer.payload]).toEqual(['BUS_QUERY_RESULT', 'q', { result: { n: 2 } }]);
    await Promise.all([handler.c.close(), asker.c.close()]);
  });

  it('counts the subscriptions of every broker in BUS_PUBLISHED, each event delivered once (CLU-11)', async () => {
    await cluster!.settled();
    const subscribers = await Promise.all([0, 1, 2, 2].map((b) => client(b)));
    const ids = new Set<string>();
    for (const s of subscribers) {
      s.c.send('BUS_SUBSCRIBE', { id: 'sub' }, { event_type: 'cluster.event' });
      const m = await s.c.next();
      ids.add((m.payload as { subscription_id: string }).subscription_id);
    }
    expect(ids.size).toBe(4); // unique across brokers
    const publisher = await client(1);
    publisher.c.send('BUS_PUBLISH', { id: 'pub' }, { event_type: 'cluster.event', payload: 7 });
    for (const s of subscribers) {
      const event = await s.c.next();
      expect([event.name, (event.payload as { publisher: string }).publisher]).toEqual(['BUS_EVENT', publisher.id]);
      s.c.send('ACK', { re: event.header.id }, {});
    }
    const published = await publisher.c.next();
    expect([published.name, published.header.re, published.payload]).toEqual(['BUS_PUBLISHED', 'pub', { delivered: 4, failed: 0 }]);
    await Promise.all([...subscribers, publisher].map((c) => c.c.close()));
  });

  it('dispatches right after the provider\'s registration on another broker, and lists the load its broker counts (CLU-11, CLU-12)', async () => {
    const provider = await client(0);
    provider.c.send('SERVICE_REGISTER', { id: 'reg' }, { service: { name: 'svc-dispatched', service_type: 'test', version: '1', max_concurrent: 1 } });
    expect((await provider.c.next()).name).toBe('ACK');
    const caller = await client(1);
    caller.c.send('SERVICE_DISPATCH', { id: 'd1' }, { service_name: 'svc-dispatched', method: 'run', payload: 1, max_retries: 0 });
    const fwd = await provider.c.next();
    expect([fwd.name, fwd.header.src]).toEqual(['SERVICE_DISPATCH', caller.id]);
    const lister = await client(2);
    lister.c.send('SERVICE_LIST', { id: 'l' }, { name: 'svc-dispatched' });
    const listed = (await lister.c.next()).payload as { services: { current_load: number }[] };
    expect(listed.services.map((x) => x.current_load)).toEqual([1]);
    // max_concurrent is the provider broker's: a second caller elsewhere is refused.
    lister.c.send('SERVICE_DISPATCH', { id: 'd2' }, { service_name: 'svc-dispatched', method: 'run' });
    const refused = await lister.c.next();
    expect([refused.name, refused.header.re, (refused.payload as { code: string }).code]).toEqual(['ERROR', 'd2', 'OVERLOADED']);
    provider.c.send('SERVICE_RESULT', { re: fwd.header.id }, { result: 'ok' });
    const result = await caller.c.next();
    expect([result.name, result.header.re, result.payload]).toEqual(['SERVICE_RESULT', 'd1', { result: 'ok', attempts: 1 }]);
    await Promise.all([provider.c.close(), caller.c.close(), lister.c.close()]);
  });

  it('reports the cluster in STATS to a 1.1 client, and not to a 1.0 one (VER-3)', async () => {
    await cluster!.settled();
    const v11 = await client(1, { protocol_version: PROTOCOL_VERSION });
    v11.c.send('STATS_REQUEST', { id: 'st' }, {});
    const stats = (await v11.c.next()).payload as { broker_id: string; cluster?: { broker_id: string; clients: number }[] };
    expect(stats.broker_id).toBe('r2');
    expect(stats.cluster?.map((e) => e.broker_id)).toEqual(['r2', 'r1', 'r3']);
    expect(stats.cluster![0]!.clients).toBeGreaterThanOrEqual(1);
    const v10 = await client(1, { protocol_version: '1.0' });
    v10.c.send('STATS_REQUEST', { id: 'st' }, {});
    expect(((await v10.c.next()).payload as Record<string, unknown>)['cluster']).toBeUndefined();
    await Promise.all([v11.c.close(), v10.c.close()]);
  });
  // Last: it takes a fourth broker out of the cluster.
  it('answers a dispatch handed to a broker that leaves with PEER_GONE, exactly once (CLU-6, CLU-11)', async () => {
    const { broker, port } = await cluster!.add('r4');
    await cluster!.settled();
    const { client: provider } = await WireClient.open({ port }, `rt-${++n}`);
    provider.send('SERVICE_REGISTER', { id: 'reg' }, { service: { name: 'svc-leaving', service_type: 'test', version: '1' } });
    expect((await provider.next()).name).toBe('ACK');
    const caller = await client(0);
    caller.c.send('SERVICE_DISPATCH', { id: 'd' }, { service_name: 'svc-leaving', method: 'run', max_retries: 3 });
    expect((await provider.next()).name).toBe('SERVICE_DISPATCH');
    await broker.close();
    const gone = await caller.c.next();
    expect([gone.name, gone.header.re, (gone.payload as { code: string }).code]).toEqual(['ERROR', 'd', 'PEER_GONE']);
    // Exactly once: a PING round trip comes back before any second answer could.
    const ping = caller.c.send('PING');
    const pong = await caller.c.next();
    expect([pong.name, pong.header.re]).toEqual(['PONG', ping]);
    await caller.c.close();
  });
});

describe('a service announced to no other broker yet (SYS-1 across brokers)', () => {
  // Heartbeats slower than the test: the broker that joins after the registration hears of the
  // service only from the claims store, never from an announcement.
  const SLOW = { heartbeatMs: 60_000, deadAfterMs: 120_000 };
  let slow: ClusterUnderTest | undefined;
  stopAfterAll(() => slow);

  it('routes a request to it from a broker that joined after its registration, and the answer back (CLU-12)', async () => {
    slow = clusterOn(await NatsProcess.start(), {}, SLOW);
    const { port: providerPort } = await slow.add('s1');
    const { client: provider } = await WireClient.open({ port: providerPort }, 'late-provider');
    provider.send('SERVICE_REGISTER', { id: 'reg' }, { service: { name: 'svc-unannounced', service_type: 'test', version: '1', max_concurrent: 2 } });
    expect((await provider.next()).name).toBe('ACK');
    const { port: callerPort } = await slow.add('s2');
    const { client: caller } = await WireClient.open({ port: callerPort }, 'late-caller');
    caller.send('ENCODING_REQ', { id: 'first', dst: 'svc-unannounced' }, encodingReq('x'));
    const got = await provider.next();
    expect([got.name, got.header.src, got.payload]).toEqual(['ENCODING_REQ', 'late-caller', encodingReq('x')]);
    provider.send('ENCODING_RSP', { re: got.header.id }, encodingRsp('s'));
    const answer = await caller.next();
    expect([answer.name, answer.header.re, answer.header.src]).toEqual(['ENCODING_RSP', 'first', 'late-provider']);
    await Promise.all([provider.close(), caller.close()]);
  });

  it('keeps the claim of a name two clients of one broker raced for, with the winner as its owner (CLU-10, CLU-12)', async () => {
    // The store grants a name again to the broker holding it: a broker that let both claims run would
    // refuse the loser locally and release the winner's claim (or leave the loser as its owner), and a
    // broker that knows the service only from the claims store would then not find it, or route to the loser.
    slow = slow ?? clusterOn(await NatsProcess.start(), {}, SLOW);
    const { port } = await slow.add('s3');
    const [first, second] = await Promise.all(['raced-1', 'raced-2'].map(async (id) => (await WireClient.open({ port }, id)).client));
    for (const c of [first!, second!]) c.send('SERVICE_REGISTER', { id: 'reg' }, { service: { name: 'svc-raced-here', service_type: 'test', version: '1' } });
    const answers = await Promise.all([first!, second!].map(async (c) => {
      const m = await c.next();
      return m.name === 'ERROR' ? (m.payload as { code: string }).code : m.name;
    }));
    expect(answers.slice().sort()).toEqual(['ACK', 'SERVICE_EXISTS']);
    const winner = answers[0] === 'ACK' ? first! : second!;
    const { port: callerPort } = await slow.add('s4');
    const { client: caller } = await WireClient.open({ port: callerPort }, 'raced-caller');
    caller.send('ENCODING_REQ', { id: 'to-raced', dst: 'svc-raced-here' }, encodingReq('y'));
    const got = await winner.next();
    expect([got.name, got.header.src]).toEqual(['ENCODING_REQ', 'raced-caller']);
    winner.send('ENCODING_RSP', { re: got.header.id }, encodingRsp('w'));
    expect((await caller.next()).header.re).toBe('to-raced');
    await Promise.all([first!.close(), second!.close(), caller.close()]);
  });
});
