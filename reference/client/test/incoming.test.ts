import { describe, expect, it } from 'vitest';
import { encodeEnvelope, encodeFrame, encodeMessageFrame, NDArray } from '../../codec/index.js';
import type { DisagreementSignalPayload, ErrorPayload, ReasoningResponsePayload } from '../../../spec/generated/types.js';
import { RemoteError } from '../index.js';
import { connect, reasoningResult, startBroker, vector768 } from './helpers.js';

describe('incoming messages', () => {
  it('answers an incoming request with the handler result, re and dst set', async () => {
    const broker = await startBroker();
    const client = await connect(broker, { role: 'engine', encodings: ['cbor', 'json'] });
    const seen: string[] = [];
    client.on('REASONING_REQUEST', (payload, message) => {
      seen.push(`${message.header.src}:${payload.context}`);
      return reasoningResult(`ts:${payload.encoding.shape[0]}`, payload.context.length);
    });
    const conn = await broker.nextConnection();
    const id = conn.send('REASONING_REQUEST', { encoding: vector768(), context: 'hello', source: 'python' }, { src: 'py-client' }, 'cbor');
    const answer = await conn.next('REASONING_RESPONSE');
    expect(answer.header.re).toBe(id);
    expect(answer.header.dst).toBe('py-client');
    expect(answer.encoding).toBe('cbor'); // answered in the request's encoding
    expect((answer.payload as ReasoningResponsePayload).engine).toBe('ts:768');
    expect(seen).toEqual(['py-client:hello']);
  });

  it('answers a thrown RemoteError with its code, any other error with INTERNAL, and no handler with UNSUPPORTED', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    client.on('INSTRUMENT_COMMAND', (p) => {
      if (p.command === 'bad') throw new RemoteError('INVALID_PARAMS', 'decimation must be a power of two', { details: { param: 'decimation' } });
      throw new Error('boom');
    });
    const conn = await broker.nextConnection();
    const id1 = conn.send('INSTRUMENT_COMMAND', { command: 'bad', params: {} });
    const e1 = await conn.next('ERROR');
    expect(e1.header.re).toBe(id1);
    expect(e1.payload).toMatchObject({ code: 'INVALID_PARAMS', definite: true, details: { param: 'decimation' } });

    const id2 = conn.send('INSTRUMENT_COMMAND', { command: 'other', params: {} });
    const e2 = await conn.next('ERROR');
    expect(e2.header.re).toBe(id2);
    expect(e2.payload).toMatchObject({ code: 'INTERNAL', message: 'boom' });

    const id3 = conn.send('ENCODING_REQ', { text: 'no handler here' });
    const e3 = await conn.next('ERROR');
    expect(e3.header.re).toBe(id3);
    expect((e3.payload as ErrorPayload).code).toBe('UNSUPPORTED');
  });

  it('removes a handler with the returned function, and delivers notifications to every handler', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const got: string[] = [];
    const off = client.on('DISAGREEMENT_SIGNAL', (p: DisagreementSignalPayload) => void got.push(`a:${p.coordination_id}`));
    client.on('DISAGREEMENT_SIGNAL', (p) => void got.push(`b:${p.coordination_id}`));
    const conn = await broker.nextConnection();
    conn.send('DISAGREEMENT_SIGNAL', { coordination_id: 'round-1', disagreement_score: 0.5, threshold: 0.3 });
    await client.ping(); // round-1 has been handled once the PONG is in
    off();
    conn.send('DISAGREEMENT_SIGNAL', { coordination_id: 'round-2', disagreement_score: 0.5, threshold: 0.3 });
    await client.ping();
    expect(got).toEqual(['a:round-1', 'b:round-1', 'b:round-2']);
    expect(conn.received.filter((m) => m.name === 'ERROR')).toEqual([]); // notifications are never answered

    expect(() => client.on('PING' as never, (() => undefined) as never)).toThrow(TypeError);
    client.on('BUS_EVENT', () => ({}));
    expect(() => client.on('BUS_EVENT', () => ({}))).toThrow(/already registered/);
  });

  it('answers an incoming PING with PONG', async () => {
    const broker = await startBroker();
    await connect(broker);
    const conn = await broker.nextConnection();
    const id = conn.send('PING', null);
    const pong = await conn.next('PONG');
    expect(pong.header.re).toBe(id);
    expect(pong.payload).toBeNull();
  });

  it('answers faulty frames with ERROR without crashing, keeping the connection when the fault allows', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const conn = await broker.nextConnection();
    // A header without id: INVALID_HEADER, connection stays open (BODY-2).
    conn.write(encodeFrame(encodeEnvelope(0x03, 'json', new TextEncoder().encode('{"x":1}'), new Uint8Array(0))));
    const e1 = await conn.next('ERROR');
    expect(e1.payload).toMatchObject({ code: 'INVALID_HEADER', details: { path: '/header/id' } });
    // An unknown type code: UNKNOWN_TYPE with re (ERR-3, ERR-7).
    conn.write(encodeFrame(encodeEnvelope(0x0e, 'json', { id: 'u1' }, new Uint8Array(0))));
    const e2 = await conn.next('ERROR');
    expect(e2.header.re).toBe('u1');
    expect((e2.payload as ErrorPayload).code).toBe('UNKNOWN_TYPE');
    // A CBOR payload on a json-only connection: UNSUPPORTED_ENCODING (ENC-3).
    conn.write(encodeMessageFrame({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'c1' }, payload: { coordination_id: 'r', disagreement_score: 1, threshold: 0 }, encoding: 'cbor' }));
    expect((await conn.next('ERROR')).payload).toMatchObject({ code: 'UNSUPPORTED_ENCODING' });
    // A response that answers nothing: UNEXPECTED_MESSAGE (REQ-5).
    conn.send('REASONING_RESPONSE', reasoningResult('nobody'), { re: 'never-sent' });
    const e4 = await conn.next('ERROR');
    expect(e4.payload).toMatchObject({ code: 'UNEXPECTED_MESSAGE' });
    // A faulty ERROR is never answered (ERR-6); an uncorrelated ERROR neither.
    conn.write(encodeFrame(encodeEnvelope(0xff, 'json', { id: 'e1' }, new TextEncoder().encode('{"code":1}'))));
    conn.send('ERROR', { code: 'INTERNAL', message: 'stray', definite: false }, { re: 'nothing' });
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(conn.received.filter((m) => m.name === 'ERROR')).toHaveLength(4);
    expect(client.state).toBe('open');
  });

  it('answers a zero-length frame with MALFORMED_FRAME and closes', async () => {
    const broker = await startBroker();
    const client = await connect(broker);
    const conn = await broker.nextConnection();
    conn.write(Uint8Array.of(0, 0, 0, 0));
    const err = await conn.next('ERROR');
    expect(err.payload).toMatchObject({ code: 'MALFORMED_FRAME' });
    await conn.closed;
    expect(await client.closed).toMatchObject({ reason: 'connection-lost' });
  });

  it('answers a frame above its max_frame with FRAME_TOO_LARGE and closes', async () => {
    const broker = await startBroker();
    const client = await connect(broker, { maxFrame: 65_536 });
    const conn = await broker.nextConnection();
    const big = NDArray.from('<f4', [20_000], new Float32Array(20_000));
    conn.send('REASONING_REQUEST', { encoding: big, context: '', source: 'x' });
    const err = await conn.next('ERROR');
    expect(err.payload).toMatchObject({ code: 'FRAME_TOO_LARGE', details: { limit: 65_536 } });
    await conn.closed;
    await client.closed;
    expect(client.state).toBe('closed');
  });
});
