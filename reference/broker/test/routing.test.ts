/** Section 7 (requests, responses and routing): forwarding, correlation, and every routing refusal. */
import { describe, expect, it } from 'vitest';
import { useHarness } from './fixture.js';
import { disagreement, encodingReq, encodingRsp } from './payloads.js';
import type { WireClient } from './wire-client.js';

const h = useHarness();

/** Sends PING and expects the very next message to be its PONG: proof that nothing else was queued. */
async function expectQuiet(c: WireClient): Promise<void> {
  const id = c.send('PING');
  const m = await c.next();
  expect(m.name).toBe('PONG');
  expect(m.header.re).toBe(id);
}

describe('routing', () => {
  it('forwards a request with src set and a broker id, and returns the answer with the original id in re (BODY-7, REQ-12, REQ-13)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'q1', dst: 'b', src: 'mallory', ts: '1700000000000000000' }, encodingReq('hello'));
    const req = await b.next();
    expect(req.name).toBe('ENCODING_REQ');
    expect(req.header.src).toBe('a'); // the broker overwrites a forged src
    expect(req.header.dst).toBe('b');
    expect(req.header.ts).toBe('1700000000000000000');
    expect(req.payload).toEqual(encodingReq('hello'));
    b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp('m'));
    const rsp = await a.next();
    expect(rsp.name).toBe('ENCODING_RSP');
    expect(rsp.header.re).toBe('q1');
    expect(rsp.header.src).toBe('b');
    expect(rsp.payload).toEqual(encodingRsp('m'));
  });

  it('echoes edge-value ids verbatim (REQ-4)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    const ids = ['0', ' ', 'é漢字🙂\u2028"\\', 'x'.repeat(128), '🙂'.repeat(32), '{"id":"nested"}'];
    for (const id of ids) {
      a.send('ENCODING_REQ', { id, dst: 'b' }, encodingReq(id));
      const req = await b.next();
      b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp(id));
      const rsp = await a.next();
      expect(rsp.header.re).toBe(id);
      expect((rsp.payload as { model: string }).model).toBe(id);
    }
  });

  it('keeps 500 requests in flight without cross-talk, answered in reverse order', async () => {
    const { address, broker } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    const n = 500;
    for (let i = 0; i < n; i++) a.send('ENCODING_REQ', { id: `r${i}`, dst: 'b' }, encodingReq(`t${i}`));
    const reqs = await b.take(n);
    expect(new Set(reqs.map((r) => r.header.id)).size).toBe(n);
    expect(broker.stats().inFlight).toBe(n);
    for (const req of reqs.reverse()) b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp((req.payload as { text: string }).text));
    const answers = await a.take(n);
    const seen = new Set<string>();
    for (const rsp of answers) {
      const re = rsp.header.re!;
      expect((rsp.payload as { model: string }).model).toBe(`t${re.slice(1)}`);
      seen.add(re);
    }
    expect(seen.size).toBe(n);
    expect(broker.stats().inFlight).toBe(0);
  });

  it('answers PEER_GONE (definite false) when the target disconnects mid-request (HS-18)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'gone', dst: 'b' }, encodingReq('x'));
    await b.next();
    await b.close();
    const m = await a.next();
    expect(m.name).toBe('ERROR');
    expect(m.header.re).toBe('gone');
    expect(m.payload).toMatchObject({ code: 'PEER_GONE', definite: false });
  });

  it('answers TIMEOUT after the type timeout and drops the late answer (REQ-15, REQ-16)', async () => {
    const { address } = await h.broker({ typeTimeoutMs: { ENCODING_REQ: 50 } });
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'slow', dst: 'b' }, encodingReq('x'));
    const req = await b.next();
    const m = await a.next();
    expect(m.header.re).toBe('slow');
    expect(m.payload).toMatchObject({ code: 'TIMEOUT', definite: false, details: { timeout_ms: 50 } });
    b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp('late'));
    await expectQuiet(b); // the late answer is not refused...
    await expectQuiet(a); // ...and not forwarded
  });

  it('answers UNKNOWN_DESTINATION for an unknown or missing dst and stays open (REQ-8)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    a.send('ENCODING_REQ', { id: 'u1', dst: 'nobody' }, encodingReq('x'));
    const m1 = await a.next();
    expect(m1.header.re).toBe('u1');
    expect(m1.payload).toMatchObject({ code: 'UNKNOWN_DESTINATION', definite: true });
    a.send('ENCODING_REQ', { id: 'u2' }, encodingReq('x'));
    const m2 = await a.next();
    expect(m2.header.re).toBe('u2');
    expect(m2.payload).toMatchObject({ code: 'UNKNOWN_DESTINATION' });
    await expectQuiet(a);
  });

  it('refuses an unmatched response with UNEXPECTED_MESSAGE (REQ-5)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    a.send('ENCODING_RSP', { id: 'r', re: 'never-sent', dst: 'b' }, encodingRsp('x'));
    const m = await a.next();
    expect(m.header.re).toBe('r');
    expect(m.payload).toMatchObject({ code: 'UNEXPECTED_MESSAGE' });
    await expectQuiet(a);
  });

  it('refuses a response of the wrong type and keeps the request open (REQ-5)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'w', dst: 'b' }, encodingReq('x'));
    const req = await b.next();
    b.send('ACK', { id: 'wrong', re: req.header.id }, {});
    const refused = await b.next();
    expect(refused.header.re).toBe('wrong');
    expect(refused.payload).toMatchObject({ code: 'UNEXPECTED_MESSAGE' });
    b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp('right'));
    const rsp = await a.next();
    expect(rsp.name).toBe('ENCODING_RSP');
    expect(rsp.header.re).toBe('w');
  });

  it('forwards an ERROR answering a request back to the requester', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'e', dst: 'b' }, encodingReq('x'));
    const req = await b.next();
    b.send('ERROR', { re: req.header.id }, { code: 'INVALID_PARAMS', message: 'no', definite: true, details: { param: 'dim' } });
    const m = await a.next();
    expect(m.header.re).toBe('e');
    expect(m.header.src).toBe('b');
    expect(m.payload).toEqual({ code: 'INVALID_PARAMS', message: 'no', definite: true, details: { param: 'dim' } });
  });

  it('forwards notifications without tracking, and broadcasts dst "*" to every other client', async () => {
    const { address, broker } = await h.broker();
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    const c = await h.client(address, 'c');
    a.send('DISAGREEMENT_SIGNAL', { id: 'n1', dst: 'b' }, disagreement('one'));
    const one = await b.next();
    expect(one.header).toMatchObject({ id: 'n1', src: 'a', dst: 'b' });
    expect(broker.stats().inFlight).toBe(0);
    a.send('DISAGREEMENT_SIGNAL', { id: 'n2', dst: '*' }, disagreement('all'));
    for (const peer of [b, c]) {
      const m = await peer.next();
      expect(m.name).toBe('DISAGREEMENT_SIGNAL');
      expect(m.header).toMatchObject({ id: 'n2', src: 'a', dst: '*' });
      expect(m.payload).toEqual(disagreement('all'));
    }
    await expectQuiet(a); // the sender does not get its own broadcast
  });

  it('refuses a CBOR frame to a destination that did not negotiate CBOR (REQ-10)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a', { encodings: ['cbor', 'json'] });
    await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'cb', dst: 'b' }, encodingReq('x'), 'cbor');
    const m = await a.next();
    expect(m.header.re).toBe('cb');
    expect(m.payload).toMatchObject({ code: 'UNSUPPORTED_ENCODING' });
  });

  it('forwards CBOR payloads byte for byte between CBOR clients (REQ-9)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a', { encodings: ['cbor', 'json'] });
    const b = await h.client(address, 'b', { encodings: ['cbor', 'json'] });
    a.send('ENCODING_REQ', { id: 'c1', dst: 'b' }, encodingReq('cbor'), 'cbor');
    const req = await b.next();
    expect(req.encoding).toBe('cbor');
    expect(req.payload).toEqual(encodingReq('cbor'));
    b.send('ENCODING_RSP', { re: req.header.id }, encodingRsp('m'), 'cbor');
    const rsp = await a.next();
    expect(rsp.encoding).toBe('cbor');
    expect(rsp.payload).toEqual(encodingRsp('m'));
  });
});
