/** Sections 9.6 and 9.7 at the frame level: the broker's bus and SERVICE_DISPATCH, with raw wire clients. */
import { describe, expect, it } from 'vitest';
import { useHarness } from './fixture.js';

const h = useHarness();

describe('bus over the wire', () => {
  it('delivers a publish to the publisher\'s own and a remote subscription once each, then BUS_PUBLISHED (BUS-3, BUS-5, BUS-6, BUS-7, BUS-8)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    for (const c of [a, b]) {
      c.send('BUS_SUBSCRIBE', { id: 's' }, { event_type: 'tick' });
      expect((await c.next()).name).toBe('BUS_SUBSCRIBED');
    }
    a.send('BUS_PUBLISH', { id: 'p' }, { event_type: 'tick', payload: { n: 1 } });
    const atA = await a.next();
    const atB = await b.next();
    for (const [m, c] of [[atA, a], [atB, b]] as const) {
      expect(m.name).toBe('BUS_EVENT');
      expect(m.payload).toMatchObject({ event_type: 'tick', publisher: 'a', payload: { n: 1 } });
      c.send(c === a ? 'ACK' : 'ERROR', { re: m.header.id }, c === a ? {} : { code: 'HARDWARE_ERROR', message: 'x', definite: false });
    }
    const done = await a.next();
    expect(done.name).toBe('BUS_PUBLISHED');
    expect(done.header.re).toBe('p');
    expect(done.payload).toEqual({ delivered: 2, failed: 1 });
  });

  it('counts a subscriber that disconnects during delivery as failed (BUS-6, BUS-7)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    b.send('BUS_SUBSCRIBE', { id: 's' }, { event_type: 'tick' });
    await b.next();
    a.send('BUS_PUBLISH', { id: 'p' }, { event_type: 'tick' });
    expect((await b.next()).name).toBe('BUS_EVENT');
    await b.close();
    const done = await a.next();
    expect(done.payload).toEqual({ delivered: 1, failed: 1 });
  });

  it('forwards BUS_QUERY to the handler with src, wraps its ERROR in HANDLER_FAILED, NO_HANDLER without one (BUS-10, BUS-11, BUS-12)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('BUS_QUERY', { id: 'q0' }, { message_type: 'status' });
    expect((await a.next()).payload).toMatchObject({ code: 'NO_HANDLER' });
    b.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'status', category: 'query' });
    expect((await b.next()).name).toBe('ACK');
    a.send('BUS_REGISTER_HANDLER', { id: 'r2' }, { message_type: 'status', category: 'command' });
    expect((await a.next()).payload).toMatchObject({ code: 'HANDLER_EXISTS' });
    a.send('BUS_QUERY', { id: 'q1' }, { message_type: 'status', payload: 1 });
    const fwd = await b.next();
    expect(fwd.header.src).toBe('a');
    b.send('BUS_QUERY_RESULT', { re: fwd.header.id }, { result: { ok: true } });
    const r1 = await a.next();
    expect([r1.name, r1.header.re, r1.payload]).toEqual(['BUS_QUERY_RESULT', 'q1', { result: { ok: true } }]);
    a.send('BUS_QUERY', { id: 'q2' }, { message_type: 'status' });
    const fwd2 = await b.next();
    b.send('ERROR', { re: fwd2.header.id }, { code: 'INVALID_PARAMS', message: 'bad', definite: true });
    const r2 = await a.next();
    expect(r2.payload).toMatchObject({ code: 'HANDLER_FAILED', details: { error: { code: 'INVALID_PARAMS', message: 'bad' } } });
  });

  it('refuses a BUS_SUBSCRIBE beyond max_subscriptions with OVERLOADED (LIM-9)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    for (let i = 0; i < 1024; i++) a.send('BUS_SUBSCRIBE', { id: `s${i}` }, { event_type: 'tick' });
    const answers = await a.take(1024, 20_000);
    expect(answers.every((m) => m.name === 'BUS_SUBSCRIBED')).toBe(true);
    a.send('BUS_SUBSCRIBE', { id: 'one-more' }, { event_type: 'tick' });
    expect((await a.next()).payload).toMatchObject({ code: 'OVERLOADED', details: { limit: 1024 } });
  }, 30_000);
});

describe('SERVICE_DISPATCH over the wire', () => {
  async function service(address: Parameters<typeof h.client>[0], max: number) {
    const s = await h.client(address, 'svc');
    s.send('SERVICE_REGISTER', { id: 'reg' }, { service: { name: 'scope', service_type: 'instrument', version: '1.0.0', max_concurrent: max } });
    expect((await s.next()).name).toBe('ACK');
    return s;
  }

  it('retries an ERROR with the same call, counts attempts, restores the load (REG-6, REG-8, REG-9, REG-11)', async () => {
    const { address } = await h.broker();
    const s = await service(address, 1);
    const a = await h.client(address, 'a');
    const call = { service_name: 'scope', method: 'acquire', payload: { decimation: 64 }, max_retries: 1, timeout_ms: 5000 };
    a.send('SERVICE_DISPATCH', { id: 'd' }, call);
    const first = await s.next();
    expect(first.payload).toEqual(call);
    s.send('ERROR', { re: first.header.id }, { code: 'HARDWARE_ERROR', message: 'glitch', definite: false });
    const second = await s.next();
    expect(second.payload).toEqual(call);
    s.send('SERVICE_RESULT', { re: second.header.id }, { result: 'trace' });
    const r = await a.next();
    expect([r.name, r.header.re, r.payload]).toEqual(['SERVICE_RESULT', 'd', { result: 'trace', attempts: 2 }]);
    a.send('SERVICE_LIST', { id: 'l' }, { name: 'scope' });
    expect((await a.next()).payload).toMatchObject({ services: [{ current_load: 0 }] });
  });

  it('refuses beyond max_concurrent, ends with PEER_GONE when the service leaves, load back to 0 (REG-4, REG-9, REG-12)', async () => {
    const { address } = await h.broker();
    const s = await service(address, 1);
    const a = await h.client(address, 'a');
    a.send('SERVICE_DISPATCH', { id: 'd1' }, { service_name: 'scope', method: 'm' });
    await s.next();
    a.send('SERVICE_DISPATCH', { id: 'd2' }, { service_name: 'scope', method: 'm' });
    const refused = await a.next();
    expect([refused.header.re, (refused.payload as { code: string }).code]).toEqual(['d2', 'OVERLOADED']);
    await s.close();
    const gone = await a.next();
    expect([gone.header.re, (gone.payload as { code: string }).code]).toEqual(['d1', 'PEER_GONE']);
    a.send('SERVICE_DISPATCH', { id: 'd3' }, { service_name: 'scope', method: 'm' });
    expect((await a.next()).payload).toMatchObject({ code: 'SERVICE_NOT_FOUND' });
  });
});
