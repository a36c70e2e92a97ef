import { describe, expect, it } from 'vitest';
import { harnessInitAck } from '../cases/init-ack.js';
import { decodeMessage, encodeMessage, PROTOCOL_VERSION, type Message } from '../../reference/codec/index.js';

const init = (protocol_version: string): Message => decodeMessage(encodeMessage({ type: 'INIT', header: { id: 'i-1' }, payload: {
  client_id: 'c1', language: 'python', role: 'client', protocol_version, encodings: ['json'], max_frame: 65536,
} }));

describe('the INIT_ACK of the harness playing the broker', () => {
  it('answers a 1.0 peer with 1.0 and a peer of the current version with it (VER-2)', () => {
    expect((harnessInitAck(init('1.0')).payload as { protocol_version: string }).protocol_version).toBe('1.0');
    expect((harnessInitAck(init(PROTOCOL_VERSION)).payload as { protocol_version: string }).protocol_version).toBe(PROTOCOL_VERSION);
  });

  it('is a valid INIT_ACK answering the INIT, in the encoding asked for', () => {
    const ack = decodeMessage(encodeMessage(harnessInitAck(init('1.0'), 'cbor')));
    expect(ack.name).toBe('INIT_ACK');
    expect(ack.header.re).toBe('i-1');
    expect(ack.payload).toMatchObject({ client_id: 'c1', encoding: 'cbor' });
  });
});
