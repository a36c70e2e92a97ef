/**
 * What a client sees across brokers (section 19): the routing rules of one broker, a broadcast once to
 * every client of the cluster, one client id per cluster, and STATS with the cluster (protocol 1.1).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { WireClient } from '../../test/wire-client.js';
import { encodingReq, encodingRsp } from '../../test/payloads.js';
import { PROTOCOL_VERSION } from '../../../../spec/generated/catalog.js';
import { startCluster, stopAfterAll, type ClusterUnderTest } from './cluster-fixture.js';

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
    // The registration reaches the other brokers by a control message: the caller retries until it has.
    let got;
    for (let i = 0; i < 100; i++) {
      caller.c.send('ENCODING_REQ', { id: `s${i}`, dst: 'svc-cluster' }, encodingReq('x'));
      const first = await Promise.race([provider.c.next(), caller.c.next()]);
      if (first.name === 'ENCODING_REQ') {
        got = first;
        break;
      }
      expect([first.name, (first.payload as { code: string }).code]).toEqual(['ERROR', 'UNKNOWN_DESTINATION']);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(got?.header.src).toBe(caller.id);
    provider.c.send('ENCODING_RSP', { re: got!.header.id }, encodingRsp('s'));
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

  it('refuses a service name registered on another broker with SERVICE_EXISTS, and frees it when its provider leaves (CLU-10)', async () => {
    const descriptor = { name: 'svc-claimed', service_type: 'test', version: '1' };
    const first = await client(0);
    first.c.send('SERVICE_REGISTER', { id: 'reg1' }, { service: descriptor });
    expect((await first.c.next()).name).toBe('ACK');
    const second = await client(2);
    second.c.send('SERVICE_REGISTER', { id: 'reg2' }, { service: descriptor });
    const refused = await second.c.next();
    expect([refused.name, refused.header.re, (refused.payload as { code: string }).code]).toEqual(['ERROR', 'reg2', 'SERVICE_EXISTS']);
    await first.c.close();
    // The release reaches the store a little after the close: retried until it has (bounded by the test timeout).
    for (let i = 0; ; i++) {
      second.c.send('SERVICE_REGISTER', { id: `again${i}` }, { service: descriptor });
      const m = await second.c.next();
      if (m.name === 'ACK') break;
      expect((m.payload as { code: string }).code).toBe('SERVICE_EXISTS');
      await new Promise((r) => setTimeout(r, 50));
    }
    await second.c.close();
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
});
