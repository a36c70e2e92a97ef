import { describe, expect, it } from 'vitest';
import { NDArray, type Encoding } from '../../codec/index.js';
import type { ReasoningRequestPayload } from '../../../spec/generated/types.js';
import { EncodeError, OverloadedError, RemoteError, RequestTimeoutError } from '../index.js';
import { connect, logWatcher, reasoningResult, shuffled, startBroker, vector768 } from './helpers.js';

describe('requests', () => {
  it.each<Encoding>(['json', 'cbor'])('carries a REASONING_REQUEST with a 768-float32 vector in %s', async (encoding) => {
    const broker = await startBroker();
    const client = await connect(broker, { encodings: [encoding, 'json'] });
    expect(client.session.encoding).toBe(encoding);
    const vector = vector768(7);
    const answer = client.requestMessage('REASONING_REQUEST', { encoding: vector, context: 'ctx', source: 'typescript' }, { dst: 'engine-1' });

    const conn = await broker.nextConnection();
    const req = await conn.next('REASONING_REQUEST');
    expect(req.encoding).toBe(encoding);
    expect(req.header.dst).toBe('engine-1');
    const got = (req.payload as ReasoningRequestPayload).encoding;
    expect(got.dtype).toBe('<f4');
    expect(got.shape).toEqual([768]);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(vector.data as Float32Array));
    conn.reply(req, 'REASONING_RESPONSE', { ...reasoningResult('cpp:teacher-1', 42), activations: NDArray.from('<f4', [2], [0.25, 0.75]) });

    const message = await answer;
    expect(message.name).toBe('REASONING_RESPONSE');
    expect(message.encoding).toBe(encoding);
    expect(message.header.re).toBe(req.header.id);
    const result = message.payload;
    expect(result.spike_count).toBe(42);
    expect(result.engine).toBe('cpp:teacher-1');
    expect(Math.fround(result.confidence)).toBe(Math.fround(0.85));
    expect(result.firing_pattern).toBeInstanceOf(NDArray);
    expect(Array.from(result.activations!.data as Float32Array)).toEqual([0.25, 0.75]);
    expect(client.stats.inFlight).toBe(0);
  });

  it('rejects with RemoteError carrying the ERROR code, definite and details', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const answer = client.request('REASONING_REQUEST', { encoding: vector768(), context: '', source: 'typescript' }, { dst: 'gone-engine' });
    const conn = await broker.nextConnection();
    const req = await conn.next('REASONING_REQUEST');
    conn.replyError(req, 'PEER_GONE', 'the engine disconnected', false, { statement: 'HS-18' });
    const err = await answer.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ name: 'RemoteError', code: 'PEER_GONE', definite: false, message: 'the engine disconnected', details: { statement: 'HS-18' } });
    expect((err as RemoteError).frame?.header.re).toBe(req.header.id);

    const second = client.request('STATS_REQUEST', {});
    const req2 = await conn.next('STATS_REQUEST');
    conn.replyError(req2, 'UNKNOWN_DESTINATION', 'no such client', true);
    await expect(second).rejects.toMatchObject({ code: 'UNKNOWN_DESTINATION', definite: true });
  });

  it('times out with RequestTimeoutError and discards the late answer', async () => {
    const broker = await startBroker();
    const watch = logWatcher(() => false);
    const client = await connect(broker, {}, watch.logs);
    const answer = client.request('REASONING_REQUEST', { encoding: vector768(), context: 'slow', source: 'typescript' }, { dst: 'slow-engine', timeoutMs: 50 });
    const conn = await broker.nextConnection();
    const req = await conn.next('REASONING_REQUEST');
    const err = await answer.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err).toMatchObject({ code: 'TIMEOUT', definite: false, timeoutMs: 50, type: 'REASONING_REQUEST' });
    expect(client.stats.inFlight).toBe(0);

    conn.reply(req, 'REASONING_RESPONSE', reasoningResult('late'));
    await client.ping(); // the PONG comes after the late answer on the same stream
    expect(conn.received.filter((m) => m.name === 'ERROR')).toEqual([]);
    expect(watch.logs.some((e) => e.message.startsWith('late answer discarded'))).toBe(true);
  });

  it('resolves 200 concurrent requests answered out of order, each with its own answer', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const small = NDArray.from('<f4', [4], [0.5, -0.25, 0.125, 1]);
    const answers = Array.from({ length: 200 }, (_, i) =>
      client.request('REASONING_REQUEST', { encoding: small, context: `req-${i}`, source: 'typescript' }, { dst: 'engine-1' }),
    );
    const conn = await broker.nextConnection();
    const requests = await conn.take(200, 'REASONING_REQUEST');
    expect(new Set(requests.map((r) => r.header.id)).size).toBe(200);
    for (const req of shuffled(requests, 42)) {
      const context = (req.payload as ReasoningRequestPayload).context;
      conn.reply(req, 'REASONING_RESPONSE', reasoningResult(context, Number(context.slice(4))));
    }
    const results = await Promise.all(answers);
    results.forEach((r, i) => {
      expect(r.engine).toBe(`req-${i}`);
      expect(r.spike_count).toBe(i);
    });
    expect(client.stats.inFlight).toBe(0);
  });

  it("keeps at most the broker's max_in_flight requests open, queuing the rest", async () => {
    const broker = await startBroker({ maxInFlight: 4 });
    const client = await connect(broker);
    const small = NDArray.from('<f4', [2], [1, 2]);
    const answers = Array.from({ length: 20 }, (_, i) => client.request('FEEDBACK', { encoding: small, reward: 1, request_ref: `r${i}` }, { dst: 'engine-1' }));
    expect(client.stats.queued).toBe(16);
    const conn = await broker.nextConnection();
    let replied = 0;
    for (let round = 0; round < 5; round++) {
      const batch = await conn.take(4, 'FEEDBACK');
      expect(conn.received.filter((m) => m.name === 'FEEDBACK').length - replied).toBeLessThanOrEqual(4);
      for (const req of batch.reverse()) conn.reply(req, 'ACK', { detail: (req.payload as { request_ref: string }).request_ref });
      replied += batch.length;
    }
    const results = await Promise.all(answers);
    expect(results.map((r) => r.detail)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
    expect(client.stats).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('refuses a request beyond the bounded queue with OverloadedError', async () => {
    const broker = await startBroker({ maxInFlight: 1 });
    const client = await connect(broker, { maxQueued: 2 });
    const first = client.request('STATS_REQUEST', {});
    const queued = [client.request('STATS_REQUEST', {}), client.request('STATS_REQUEST', {})];
    const err = await client.request('STATS_REQUEST', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OverloadedError);
    expect(err).toMatchObject({ code: 'OVERLOADED', definite: true, limit: 2 });
    const conn = await broker.nextConnection();
    for (let i = 0; i < 3; i++) {
      const req = await conn.next('STATS_REQUEST');
      conn.reply(req, 'STATS_RESPONSE', { broker_id: 'fake-broker', uptime_ms: BigInt(i), clients: [] });
    }
    expect((await first).uptime_ms).toBe(0n);
    expect((await Promise.all(queued)).map((r) => r.uptime_ms)).toEqual([1n, 2n]);
  });

  it('refuses an invalid payload or an unnegotiated encoding locally with EncodeError', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const bad = await client.request('REASONING_REQUEST', { context: 'no vector', source: 'x' } as never).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(EncodeError);
    expect(bad).toMatchObject({ code: 'SCHEMA_VIOLATION', definite: true });
    const cbor = await client.request('STATS_REQUEST', {}, { encoding: 'cbor' }).catch((e: unknown) => e);
    expect(cbor).toMatchObject({ name: 'EncodeError', code: 'UNSUPPORTED_ENCODING' });
    expect(client.stats.inFlight).toBe(0);
  });
});
