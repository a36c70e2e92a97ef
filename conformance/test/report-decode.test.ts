import { describe, expect, it } from 'vitest';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { decodeFrames } from '../report/decode.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('frames decoded beside the hex of a wire log', () => {
  it('reads each whole frame of an entry: type, encoding, header, payload', () => {
    const ping = encodeMessageFrame({ type: 'PING', header: { id: 'p-1' } });
    const error = encodeMessageFrame({ type: 'ERROR', header: { id: 'e-1', re: 'p-1' }, payload: { code: 'TIMEOUT', message: 'late', definite: false } });
    const lines = decodeFrames(hex(ping) + hex(error));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('PING (json) {"id":"p-1"}');
    expect(lines[1]).toMatch(/^ERROR \(json\) \{"id":"e-1","re":"p-1"\} \{"code":"TIMEOUT","message":"late","definite":false\}$/);
  });

  it('says why a frame does not decode, and where a frame is unfinished or the log cut it short', () => {
    expect(decodeFrames(hex(encodeFrame(Uint8Array.from([0xee, 0xee, 0, 0]))))[0]).toMatch(/^undecodable frame \(4 bytes\): /);
    const ping = hex(encodeMessageFrame({ type: 'PING', header: { id: 'p-1' } }));
    expect(decodeFrames(ping + ping.slice(0, 20))).toEqual(['PING (json) {"id":"p-1"}', '(10 bytes of an unfinished frame)']);
    expect(decodeFrames(`${ping.slice(0, 20)}... (900 bytes)`)).toEqual(['(the log keeps only the first 10 bytes)']);
    expect(decodeFrames(undefined)).toEqual([]);
  });
});
