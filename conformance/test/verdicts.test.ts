import { describe, expect, it } from 'vitest';
import { differences, firstDifference } from '../../reference/properties/equality.js';
import { auditFrame, jsonDuplicateKeys, cborSenderFaults } from '../cases/sender-audit.js';
import { readableId } from '../cases/testee-vectors.js';
import { RulesFailure, Verdict } from '../cases/context.js';
import { messageByName } from '../../reference/codec/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';

const utf8 = new TextEncoder();
const frame = (header: string, payload: Uint8Array | string, encoding: 'json' | 'cbor' = 'json', type: MessageName = 'ACK'): Uint8Array =>
  encodeFrame(encodeEnvelope(messageByName(type).code, encoding, utf8.encode(header), typeof payload === 'string' ? utf8.encode(payload) : payload));

describe('value differences', () => {
  it('names every differing member by its exact JSON Pointer, escaping ~ and /', () => {
    expect(differences({ 'a/b': 1, 'c~d': [1, 2], same: 'x' }, { 'a/b': 2, 'c~d': [1, 3], same: 'x' })).toEqual(['/a~1b', '/c~0d/1']);
    expect(differences({ a: 1 }, { b: 1 })).toEqual(['/a', '/b']);
    expect(firstDifference(1, 2)).toBe('');
    expect(firstDifference({ x: [1, { y: null }] }, { x: [1, { y: null }] })).toBeNull();
  });

  it('compares float32 fields after rounding both to binary32 (ENC-16), other numbers exactly', () => {
    const schema = messageByName('TEACHER_SYNC').payload;
    const a = { coordination_id: 'c', teacher_count: 2, disagreement: 0.85, learning_rates: { t: 0.1 } };
    expect(differences(a, { ...a, disagreement: Math.fround(0.85) }, { schema })).toEqual([]);
    expect(differences(a, { ...a, disagreement: 0.86 }, { schema })).toEqual(['/disagreement']);
    // learning_rates are not float32: binary64 values must match exactly.
    expect(differences(a, { ...a, learning_rates: { t: Math.fround(0.1) } }, { schema })).toEqual(['/learning_rates/t']);
    // Without the schema nothing is float32.
    expect(differences(a, { ...a, disagreement: Math.fround(0.85) })).toEqual(['/disagreement']);
  });
});

describe('the sender audit', () => {
  const options = { maxFrame: 16 * 1024 * 1024, cbor: true };

  it('passes a well-formed JSON and CBOR frame', () => {
    expect(auditFrame(frame('{"id":"a"}', '{"detail":"x"}'), options)).toEqual([]);
    expect(auditFrame(frame('{"id":"a"}', Uint8Array.of(0xa1, 0x61, 0x64, 0xd9, 0xc0, 0xc0, 0x41, 0x00), 'cbor'), options)).toEqual([]);
  });

  it('names duplicate keys in the header (BODY-8) and the payload (ENC-7)', () => {
    expect(jsonDuplicateKeys('{"a":{"b":1,"b":2},"c":[{"d":1,"d":1}]}')).toEqual(['/a/b', '/c/0/d']);
    expect(auditFrame(frame('{"id":"a","id":"b"}', '{"detail":"x","detail":"y"}'), options).map((f) => f.statement)).toEqual(['BODY-8', 'ENC-7']);
  });

  it('names indefinite lengths (ENC-9), tags other than 49344 (ENC-10) and duplicate CBOR keys (ENC-7)', () => {
    expect(cborSenderFaults(Uint8Array.of(0xbf, 0x61, 0x64, 0x01, 0xff)).map((f) => f.statement)).toEqual(['ENC-9']);
    expect(cborSenderFaults(Uint8Array.of(0xa1, 0x61, 0x64, 0xc1, 0x01)).map((f) => f.statement)).toEqual(['ENC-10']);
    expect(cborSenderFaults(Uint8Array.of(0xa2, 0x61, 0x64, 0x01, 0x61, 0x64, 0x02)).map((f) => f.statement)).toEqual(['ENC-7']);
  });

  it('names CBOR that INIT_ACK did not choose (ENC-2) and a frame above the announced max_frame (FRM-4)', () => {
    const f = frame('{"id":"a"}', Uint8Array.of(0xa0), 'cbor');
    expect(auditFrame(f, { maxFrame: options.maxFrame, cbor: false }).map((x) => x.statement)).toEqual(['ENC-2']);
    expect(auditFrame(f, { maxFrame: 10, cbor: true }).map((x) => x.statement)).toEqual(['FRM-4']);
  });
});

describe('the re an ERROR must carry (ERR-3)', () => {
  it('is the id of a header that parsed with a valid id, whatever else is faulty', () => {
    expect(readableId(frame('{"id":"x","re":""}', '{}'), 'INVALID_HEADER')).toBe('x');
    expect(readableId(frame('{"id":"x","ts":5}', '{}'), 'INVALID_HEADER')).toBe('x');
    expect(readableId(frame('{"id":""}', '{}'), 'INVALID_HEADER')).toBeUndefined();
    expect(readableId(frame('{"id":"' + 'é'.repeat(65) + '"}', '{}'), 'INVALID_HEADER')).toBeUndefined();
    expect(readableId(frame('[1]', '{}'), 'INVALID_HEADER')).toBeUndefined();
    // Steps 1 and 2 fail before the header is read.
    expect(readableId(frame('{"id":"x"}', '{}'), 'MALFORMED_FRAME')).toBeUndefined();
  });
});

describe('a verdict with several checks', () => {
  it('reports every broken rule with its statement, not only the first', () => {
    const v = new Verdict();
    v.check(true, 'ERR-2', 'never reported');
    v.check(false, 'ERR-2', 'definite inverted', 'true', 'false');
    v.check(false, 'ERR-3', 'no re', 're="a"', 'no re');
    let thrown: unknown;
    try {
      v.done();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(RulesFailure);
    expect((thrown as Error).message).toBe('2 rules broken: (1) [ERR-2] definite inverted; (2) [ERR-3] no re');
    expect((thrown as RulesFailure).expected).toBe('true | re="a"');
  });
});
