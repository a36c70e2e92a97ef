import { afterAll, beforeAll, expect, it } from 'vitest';
import { NatsProcess } from '../nats-process.js';
import { useHarness } from '../../test/fixture.js';
import { encodingReq, encodingRsp } from '../../test/payloads.js';

let nats: NatsProcess;
beforeAll(async () => {
  nats = await NatsProcess.start();
}, 30_000);
afterAll(async () => nats?.dispose());
const h = useHarness();

it('routes a request across two brokers', async () => {
  const a = await h.broker({ brokerId: 'a', cluster: { url: nats.url } });
  const b = await h.broker({ brokerId: 'b', cluster: { url: nats.url } });
  await Promise.all([a.broker.clusterReady(), b.broker.clusterReady()]);
  const x = await h.client(a.address, 'x');
  const y = await h.client(b.address, 'y');
  await new Promise((r) => setTimeout(r, 800));
  x.send('STATS_REQUEST', { id: 's1' }, {});
  console.log(JSON.stringify((await x.next()).payload, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  x.send('ENCODING_REQ', { id: 'r1', dst: 'y' }, encodingReq('q'));
  const req = await y.next();
  console.log(req);
  y.send('ENCODING_RSP', { id: 'a1', re: req.header.id }, encodingRsp('m'));
  const ans = await x.next();
  console.log(ans);
  expect(ans.header.re).toBe('r1');
}, 30_000);
