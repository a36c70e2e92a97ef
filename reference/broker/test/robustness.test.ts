/**
 * Hostile clients against the broker (issue 13, items 1-5): deep nesting, oversized handshake frames,
 * clients that never read, id hijacking, uncounted requests. Each test names the statement it checks.
 */
import { describe, expect, it } from 'vitest';
import { messageByName, MessageType } from '../../codec/index.js';
import { socketPath, useHarness } from './fixture.js';
import { WireClient } from './wire-client.js';
import type { MessageName } from '../../../spec/generated/catalog.js';

const h = useHarness();

/** A JSON value nested `levels` deep (arrays in arrays). */
const deep = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
/** Deep enough to overflow any recursive encoder, decoder or validator. */
const HOSTILE_LEVELS = 50_000;

const code = (name: MessageName): number => messageByName(name).code;

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Asserts the broker still serves `client`: a PING gets its PONG. */
async function stillServes(client: WireClient): Promise<void> {
  const id = client.send('PING');
  const pong = await client.next();
  expect([pong.name, pong.header.re]).toEqual(['PONG', id]);
}

describe('LIM-15: deep payloads never crash the broker', () => {
  const requests: [MessageName, string][] = [
    ['BUS_QUERY', `{"message_type":"q","payload":${deep(HOSTILE_LEVELS)}}`],
    ['BUS_SEND', `{"message_type":"q","payload":${deep(HOSTILE_LEVELS)}}`],
    ['BUS_PUBLISH', `{"event_type":"e","payload":${deep(HOSTILE_LEVELS)}}`],
    ['SERVICE_DISPATCH', `{"service_name":"svc","method":"m","payload":${deep(HOSTILE_LEVELS)}}`],
  ];
  it.each(requests)('%s nested 50,000 levels deep is refused with INVALID_PAYLOAD (max-depth), and the broker serves on', async (type, payload) => {
    const { address } = await h.broker();
    const handler = await h.client(address, 'handler');
    handler.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'q', category: 'query' });
    handler.send('BUS_SUBSCRIBE', { id: 's' }, { event_type: 'e' });
    handler.send('SERVICE_REGISTER', { id: 'v' }, { service: { name: 'svc', service_type: 't', version: '1.0.0' } });
    expect((await handler.take(3)).map((m) => m.name)).toEqual(['ACK', 'BUS_SUBSCRIBED', 'ACK']);
    const attacker = await h.client(address, 'attacker');
    attacker.sendBody(code(type), { id: 'deep' }, payload);
    const answer = await attacker.next();
    expect([answer.name, answer.header.re, (answer.payload as { code: string }).code]).toEqual(['ERROR', 'deep', 'INVALID_PAYLOAD']);
    expect((answer.payload as { details: { rule: string } }).details.rule).toBe('max-depth');
    await stillServes(attacker);
    await stillServes(handler);
    expect(handler.received).toEqual([]); // nothing of it reached the handler
  });

  it('a handler answering BUS_QUERY with a 50,000-level result: the requester gets exactly one ERROR, the broker serves on', async () => {
    const { address } = await h.broker();
    const handler = await h.client(address, 'handler');
    handler.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'q', category: 'query' });
    await handler.next();
    const requester = await h.client(address, 'requester');
    requester.send('BUS_QUERY', { id: 'q1' }, { message_type: 'q', payload: null });
    const fwd = await handler.next();
    expect(fwd.name).toBe('BUS_QUERY');
    handler.sendBody(MessageType.BUS_QUERY_RESULT, { id: 'a1', re: fwd.header.id }, `{"result":${deep(HOSTILE_LEVELS)}}`);
    const answer = await requester.next();
    expect([answer.name, answer.header.re, (answer.payload as { code: string }).code]).toEqual(['ERROR', 'q1', 'HANDLER_FAILED']);
    const refusal = await handler.next();
    expect([refusal.name, (refusal.payload as { code: string }).code]).toEqual(['ERROR', 'INVALID_PAYLOAD']);
    await stillServes(requester);
    expect(requester.received).toEqual([]); // exactly one answer
  });

  it('a service answering SERVICE_DISPATCH with a 50,000-level result: the caller gets exactly one ERROR, the broker serves on', async () => {
    const { address } = await h.broker();
    const service = await h.client(address, 'service');
    service.send('SERVICE_REGISTER', { id: 'v' }, { service: { name: 'svc', service_type: 't', version: '1.0.0' } });
    await service.next();
    const caller = await h.client(address, 'caller');
    caller.send('SERVICE_DISPATCH', { id: 'd1' }, { service_name: 'svc', method: 'm', payload: 1, max_retries: 0 });
    const fwd = await service.next();
    service.sendBody(MessageType.SERVICE_RESULT, { id: 'a1', re: fwd.header.id }, `{"result":${deep(HOSTILE_LEVELS)}}`);
    const answer = await caller.next();
    expect([answer.name, answer.header.re]).toEqual(['ERROR', 'd1']);
    await stillServes(caller);
    expect(caller.received).toEqual([]);
  });

  it('a handler ERROR whose details reach the depth limit is wrapped in details.error without exceeding it', async () => {
    const { address } = await h.broker();
    const handler = await h.client(address, 'handler');
    handler.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'q', category: 'query' });
    await handler.next();
    const requester = await h.client(address, 'requester');
    requester.send('BUS_QUERY', { id: 'q1' }, { message_type: 'q', payload: null });
    const fwd = await handler.next();
    // The ERROR payload is level 1, details level 2: 62 more levels reach exactly 64.
    handler.sendBody(MessageType.ERROR, { id: 'e1', re: fwd.header.id }, `{"code":"INTERNAL","message":"m","definite":false,"details":{"x":${deep(62)}}}`);
    // The test client decodes strictly first: a payload past the limit would arrive as raw text, without `code`.
    const frame = await requester.next();
    expect([frame.name, frame.header.re, (frame.payload as { code: string }).code]).toEqual(['ERROR', 'q1', 'HANDLER_FAILED']);
  });
});

describe('HS-20, HS-21: the handshake is bounded', () => {
  it('HS-20: a 16 MiB length prefix before INIT_ACK gets FRAME_TOO_LARGE with details.limit 65536, then a close', async () => {
    const { address } = await h.broker();
    const raw = await h.raw(address);
    raw.sendRaw(u32(16 * 1024 * 1024));
    const answer = await raw.next();
    expect([answer.name, (answer.payload as { code: string }).code, (answer.payload as { details: { limit: number } }).details.limit]).toEqual(['ERROR', 'FRAME_TOO_LARGE', 65_536]);
    await raw.waitClosed();
  });

  it('HS-20: a prefix of exactly 65,536 is read (the largest INIT)', async () => {
    const { address } = await h.broker();
    const raw = await h.raw(address);
    raw.sendRaw(u32(65_536));
    raw.sendRaw(Buffer.alloc(100)); // part of the body: the broker waits for the rest
    const other = await h.client(address, 'other');
    await stillServes(other);
    expect(raw.received).toEqual([]);
    expect(raw.closed).toBe(false);
  });

  it('HS-21: connections in the handshake hold at most max_handshake_bytes together; the one beyond is refused', async () => {
    const { address } = await h.broker({ maxHandshakeBytes: 3 * 65_540 });
    const holders: WireClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await h.raw(address);
      c.sendRaw(Buffer.concat([u32(65_536), Buffer.alloc(10)]));
      holders.push(c);
    }
    // Each of the three is within the budget; the fourth is not.
    const fourth = await h.raw(address);
    fourth.sendRaw(Buffer.concat([u32(65_536), Buffer.alloc(10)]));
    const answer = await fourth.next();
    expect([answer.name, (answer.payload as { code: string }).code]).toEqual(['ERROR', 'OVERLOADED']);
    await fourth.waitClosed();
    // A client with a complete INIT still gets in (its INIT is whole in one read: nothing held).
    const other = await h.client(address, 'other');
    await stillServes(other);
    for (const c of holders) expect(c.closed).toBe(false);
  });
});

describe('REQ-7, HS-22, REG-1: client ids and service names share one namespace', () => {
  it('HS-22: an INIT claiming a registered service name is refused with DUPLICATE_CLIENT_ID', async () => {
    const { address } = await h.broker();
    const service = await h.client(address, 'provider');
    service.send('SERVICE_REGISTER', { id: 'v' }, { service: { name: 'scope', service_type: 't', version: '1.0.0' } });
    expect((await service.next()).name).toBe('ACK');
    const thief = await h.raw(address);
    const answer = await thief.init('scope');
    expect([answer.name, (answer.payload as { code: string }).code]).toEqual(['ERROR', 'DUPLICATE_CLIENT_ID']);
    await thief.waitClosed();
    // Traffic to the name still reaches the service.
    const caller = await h.client(address, 'caller');
    caller.sendBody(code('REASONING_REQUEST'), { id: 'x', dst: 'scope' }, '{}');
    expect((await service.next()).name).toBe('REASONING_REQUEST');
  });

  it('REG-1: SERVICE_REGISTER of a connected client id, or of the broker id, is refused with SERVICE_EXISTS', async () => {
    const { address } = await h.broker();
    const victim = await h.client(address, 'victim');
    const thief = await h.client(address, 'thief');
    for (const name of ['victim', 'concord-broker']) {
      const id = thief.send('SERVICE_REGISTER', {}, { service: { name, service_type: 't', version: '1.0.0' } });
      const answer = await thief.next();
      expect([name, answer.name, answer.header.re, (answer.payload as { code: string }).code]).toEqual([name, 'ERROR', id, 'SERVICE_EXISTS']);
    }
    // Routed traffic for the victim still reaches the victim.
    thief.sendBody(code('REASONING_REQUEST'), { id: 'x', dst: 'victim' }, '{}');
    expect((await victim.next()).name).toBe('REASONING_REQUEST');
  });

  it('REG-1: a service registered before its namesake client connects keeps the name; the client is refused', async () => {
    const { address } = await h.broker();
    const squatter = await h.client(address, 'squatter');
    squatter.send('SERVICE_REGISTER', {}, { service: { name: 'late-client', service_type: 't', version: '1.0.0' } });
    expect((await squatter.next()).name).toBe('ACK');
    const late = await h.raw(address);
    expect(((await late.init('late-client')).payload as { code: string }).code).toBe('DUPLICATE_CLIENT_ID');
  });
});

describe('LIM-7: every request kind counts against max_in_flight', () => {
  const kinds: [string, (c: WireClient, i: number) => string][] = [
    ['BUS_QUERY', (c, i) => c.send('BUS_QUERY', { id: `r${i}` }, { message_type: 'q', payload: i })],
    ['BUS_SEND', (c, i) => c.send('BUS_SEND', { id: `r${i}` }, { message_type: 'q', payload: i })],
    ['BUS_PUBLISH', (c, i) => c.send('BUS_PUBLISH', { id: `r${i}` }, { event_type: 'e', payload: i })],
    ['SERVICE_DISPATCH', (c, i) => c.send('SERVICE_DISPATCH', { id: `r${i}` }, { service_name: 'svc', method: 'm', payload: i })],
  ];
  it.each(kinds)('the request beyond max_in_flight open %s requests gets OVERLOADED with details.limit', async (_name, send) => {
    const { address } = await h.broker({ maxInFlight: 2 });
    const silent = await h.client(address, 'silent'); // takes everything, answers nothing
    silent.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'q', category: 'query' });
    silent.send('BUS_SUBSCRIBE', { id: 's' }, { event_type: 'e' });
    silent.send('SERVICE_REGISTER', { id: 'v' }, { service: { name: 'svc', service_type: 't', version: '1.0.0' } });
    await silent.take(3);
    const requester = await h.client(address, 'requester');
    for (let i = 0; i < 3; i++) send(requester, i);
    const answer = await requester.next();
    expect([answer.name, answer.header.re, (answer.payload as { code: string }).code]).toEqual(['ERROR', 'r2', 'OVERLOADED']);
    expect((answer.payload as { details: { limit: number } }).details.limit).toBe(2);
    await stillServes(requester); // PING is never refused
  });

  it('registry requests count too, and the count falls when requests are answered', async () => {
    const { address } = await h.broker({ maxInFlight: 1 });
    const silent = await h.client(address, 'silent');
    silent.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'q', category: 'query' });
    await silent.next();
    const requester = await h.client(address, 'requester');
    requester.send('BUS_QUERY', { id: 'open' }, { message_type: 'q', payload: 1 });
    const fwd = await silent.next();
    requester.send('SERVICE_LIST', { id: 'list' }, {});
    const refused = await requester.next();
    expect([refused.header.re, (refused.payload as { code: string }).code]).toEqual(['list', 'OVERLOADED']);
    silent.send('BUS_QUERY_RESULT', { re: fwd.header.id }, { result: 1 });
    expect((await requester.next()).header.re).toBe('open');
    requester.send('SERVICE_LIST', { id: 'list2' }, {});
    expect((await requester.next()).name).toBe('SERVICE_LIST_RESULT');
  });
});

/** The bytes queued for the reader LIM-17 closed, from the broker's log (the queue only grows while unread). */
function queuedAtClose(logs: string[]): number | undefined {
  const line = logs.find((l) => l.includes('"statement":"LIM-17"'));
  return line === undefined ? undefined : (JSON.parse(line) as { queued: number }).queued;
}

describe('LIM-14, LIM-17, LIM-18: a client that never reads', () => {
  const maxWriteBuffer = 65_536;
  /** The limit, one 16 KiB event or request and the ERROR of LIM-17. */
  const bound = maxWriteBuffer + 2 * 17_000;

  it('fan-out to a subscriber that never reads stays bounded, and the publisher is always served', async () => {
    // A Unix socket: its small kernel buffers fill at once, so what the broker queues is what it holds.
    const { address } = await h.broker({ maxWriteBuffer, slowReaderTimeoutMs: 300, tcp: false, unixPath: socketPath('fanout') });
    const sink = await h.client(address, 'sink');
    for (let i = 0; i < 64; i++) sink.send('BUS_SUBSCRIBE', { id: `s${i}` }, { event_type: 'e' });
    await sink.take(64);
    sink.socket.pause(); // never reads again
    const publisher = await h.client(address, 'publisher');
    const chunk = 'x'.repeat(16_384);
    const rounds = 20; // 20 x 64 events of 16 KiB: 20 MiB for the sink without back-pressure
    for (let i = 0; i < rounds; i++) publisher.send('BUS_PUBLISH', { id: `p${i}` }, { event_type: 'e', payload: chunk });
    const answers = await publisher.take(rounds, 20_000);
    // Exactly one BUS_PUBLISHED per publish, in whatever order the deliveries settle.
    expect(answers.map((a) => `${a.name}:${a.header.re}`).sort()).toEqual(Array.from({ length: rounds }, (_, i) => `BUS_PUBLISHED:p${i}`).sort());
    await stillServes(publisher);
    const queued = queuedAtClose(h.logs);
    expect(queued).toBeDefined();
    expect(queued!).toBeLessThan(bound);
  }, 30_000);

  it('routed frames to a reader that never reads: the reader is closed with OVERLOADED after slow_reader_timeout_ms, the sender resumes', async () => {
    const { broker, address } = await h.broker({ maxWriteBuffer, slowReaderTimeoutMs: 300 });
    const sink = await h.client(address, 'sink');
    sink.socket.pause();
    const sender = await h.client(address, 'sender');
    const payload = 'y'.repeat(32_768);
    // Requests routed to the sink (the broker never reads routed payloads); 200 x 32 KiB fill any socket buffer.
    for (let i = 0; i < 200; i++) sender.sendBody(code('REASONING_REQUEST'), { id: `n${i}`, dst: 'sink' }, `{"context":"${payload}"}`);
    const ping = sender.send('PING');
    // Every request gets exactly one answer (PEER_GONE once the sink is cut off), then the PONG.
    const seen = new Map<string, number>();
    let pong = false;
    for (let i = 0; i < 201 && !pong; i++) {
      const m = await sender.next(15_000);
      if (m.name === 'PONG' && m.header.re === ping) pong = true;
      else seen.set(m.header.re!, (seen.get(m.header.re!) ?? 0) + 1);
    }
    expect(pong).toBe(true);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(sender.closed).toBe(false);
    expect(broker.stats().clients.some((c) => c.clientId === 'sink' && c.state === 'open')).toBe(false);
    expect(queuedAtClose(h.logs)!).toBeLessThan(maxWriteBuffer + 2 * 33_000);
  }, 30_000);

  it('BUS_SEND to a handler that never reads: every send is answered (OVERLOADED or PEER_GONE) and the queue stays bounded', async () => {
    const { address } = await h.broker({ maxWriteBuffer, slowReaderTimeoutMs: 300, tcp: false, unixPath: socketPath('send') });
    const handler = await h.client(address, 'handler');
    handler.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'q', category: 'query' });
    await handler.next();
    handler.socket.pause();
    const sender = await h.client(address, 'sender');
    const chunk = 'z'.repeat(16_384);
    const n = 1000; // 16 MiB: beyond any socket buffer
    for (let i = 0; i < n; i++) sender.send('BUS_SEND', { id: `b${i}` }, { message_type: 'q', payload: chunk });
    const answers = await sender.take(n, 20_000);
    expect(new Set(answers.map((a) => a.header.re)).size).toBe(n);
    const codes = new Set(answers.map((a) => `${a.name}:${(a.payload as { code?: string }).code}`));
    // OVERLOADED while the handler's queue is full, PEER_GONE for those it held when cut off, ACK (BUS-9)
    // for those read after its registration went with it.
    expect([...codes].filter((c) => c !== 'ERROR:OVERLOADED' && c !== 'ERROR:PEER_GONE' && c !== 'ACK:undefined')).toEqual([]);
    expect(queuedAtClose(h.logs)!).toBeLessThan(bound);
    await stillServes(sender);
  }, 30_000);
});
