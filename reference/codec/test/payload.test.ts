import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MESSAGES } from '../../../spec/generated/catalog.js';
import { decodeMessage, encodeMessage } from '../message.js';
import { encodePayload, decodePayload } from '../payload.js';
import { ProtocolError } from '../errors.js';
import { NDArray } from '../ndarray.js';
import { messageByName } from '../catalog.js';
import { payloadArb } from '../../properties/arbitraries.js';
import { firstDifference } from '../../properties/equality.js';
import { propertySeed } from '../../properties/seed.js';

describe('payloads of every message type', () => {
  for (const info of MESSAGES) {
    for (const encoding of ['json', 'cbor'] as const) {
      it(`${info.name} ${encoding}: decode(encode(x)) equals x (property)`, () => {
        fc.assert(
          fc.property(payloadArb(info), fc.string({ minLength: 1, maxLength: 40 }), (payload, id) => {
            const body = encodeMessage({ type: info.name, header: { id }, payload, encoding });
            const back = decodeMessage(body);
            expect(back.name).toBe(info.name);
            expect(back.header.id).toBe(id);
            expect(firstDifference(back.payload, payload)).toBeNull();
          }),
          { seed: propertySeed(), numRuns: 40 },
        );
      });
    }
  }
});

describe('payload faults', () => {
  const request = messageByName('REASONING_REQUEST');
  const valid = { encoding: NDArray.from('<f4', [2], [1, 2]), context: 'c', source: 'python' };

  it('refuses to encode an invalid payload', () => {
    expect(() => encodePayload(request, 'json', { ...valid, context: 3 })).toThrow(expect.objectContaining({ code: 'SCHEMA_VIOLATION', details: { path: '/context', rule: 'type' } }));
  });

  it('names the field of an array that breaks its rule', () => {
    expect(() => encodePayload(request, 'cbor', { ...valid, encoding: NDArray.from('<f8', [1], [1]) })).toThrow(expect.objectContaining({ code: 'INVALID_ARRAY', details: expect.objectContaining({ path: '/encoding', rule: 'field-dtype' }) }));
  });

  it('keeps a "__proto__" key as data instead of a prototype', () => {
    const info = messageByName('BUS_PUBLISH');
    const text = '{"event_type":"e","payload":{"__proto__":{"polluted":true},"a":1}}';
    const value = decodePayload(info, 'json', new TextEncoder().encode(text)) as { payload: Record<string, unknown> };
    expect(Object.keys(value.payload)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    const cbor = decodePayload(info, 'cbor', encodePayload(info, 'cbor', value)) as { payload: Record<string, unknown> };
    expect(Object.keys(cbor.payload)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(cbor.payload)).toBe(Object.prototype);
  });

  it('carries the faulty frame id on payload errors', () => {
    const body = encodeMessage({ type: 'PING', header: { id: 'ping-7' } });
    body[1] = 2; // reserved encoding value
    try {
      decodeMessage(body);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as ProtocolError).code).toBe('UNSUPPORTED_ENCODING');
      expect((e as ProtocolError).frameId).toBe('ping-7');
    }
  });

  it('refuses CBOR on a connection that negotiated JSON only', () => {
    const body = encodeMessage({ type: 'PING', header: { id: 'p' }, encoding: 'cbor' });
    expect(() => decodeMessage(body, { encodings: ['json'] })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ENCODING' }));
  });

  it('writes 64-bit integers as decimal strings in JSON and integers in CBOR', () => {
    const ack = messageByName('ACK');
    const big = (1n << 64n) - 1n;
    expect(new TextDecoder().decode(encodePayload(ack, 'json', { state_version: big }))).toBe('{"state_version":"18446744073709551615"}');
    expect(Buffer.from(encodePayload(ack, 'cbor', { state_version: big })).toString('hex')).toBe('a16d73746174655f76657273696f6e1bffffffffffffffff');
    expect(Buffer.from(encodePayload(ack, 'cbor', { state_version: 5n })).toString('hex')).toBe('a16d73746174655f76657273696f6e05');
  });
});
