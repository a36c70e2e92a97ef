/**
 * `concord decode`: one whole frame from a hex argument or from standard input, printed as JSON.
 * Standard input is streamed through the frame decoder, so a length prefix above max_frame (or a
 * second frame) stops the command at once: it never holds more than one frame's bytes.
 */
import type { Readable } from 'node:stream';
import { FrameDecoder } from './codec/frame.js';
import { decodeMessage } from './codec/message.js';
import { ProtocolError } from './codec/errors.js';
import { messageByCode } from './codec/catalog.js';
import { payloadToFixture } from './codec/payload.js';

export interface DecodeIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

function explain(e: unknown): string {
  return e instanceof ProtocolError ? `${e.code}: ${e.message}${e.details.path !== undefined ? ` (at ${e.details.path || '/'})` : ''}` : (e as Error).message;
}

function print(body: Uint8Array, io: DecodeIo): number {
  try {
    const m = decodeMessage(body);
    const out = { type: m.type, name: m.name, encoding: m.encoding, header: m.header, payload: payloadToFixture(messageByCode(m.type)!, m.payload) };
    io.out(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  } catch (e) {
    io.err(`concord decode: ${explain(e)}\n`);
    return 65;
  }
}

/** Decodes the frame in `input`; resolves with the exit code (0, or 65 for anything but one valid frame). */
export function decodeStream(input: Readable, io: DecodeIo, maxFrame?: number): Promise<number> {
  const decoder = new FrameDecoder(maxFrame !== undefined ? { maxFrame } : {});
  let body: Uint8Array | undefined;
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number, message?: string): void => {
      if (done) return;
      done = true;
      input.removeAllListeners('data');
      input.destroy(); // stop reading: whatever follows is not looked at
      if (message !== undefined) io.err(`concord decode: ${message}\n`);
      resolve(code);
    };
    input.on('data', (chunk: Buffer) => {
      if (done) return;
      if (body !== undefined) return finish(65, 'expected one whole frame, found more bytes after it');
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunk);
      } catch (e) {
        return finish(65, explain(e));
      }
      if (bodies.length > 1 || (bodies.length === 1 && decoder.midFrame)) return finish(65, `expected one whole frame, found ${bodies.length}${decoder.midFrame ? ' and more bytes' : ''}`);
      if (bodies.length === 1) body = bodies[0];
    });
    input.on('error', (e) => finish(65, `cannot read the input: ${e.message}`));
    input.on('end', () => {
      if (done) return;
      if (body === undefined) return finish(65, `expected one whole frame, found 0${decoder.midFrame ? ' and a truncated one' : ''}`);
      done = true;
      resolve(print(body, io));
    });
  });
}

/** Decodes a frame given as hex text. */
export function decodeHex(hex: string, io: DecodeIo): number {
  const bytes = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  try {
    const decoder = new FrameDecoder();
    const bodies = decoder.push(bytes);
    if (bodies.length !== 1 || decoder.midFrame) throw new Error(`expected one whole frame, found ${bodies.length}${decoder.midFrame ? ' and a truncated one' : ''}`);
    return print(bodies[0]!, io);
  } catch (e) {
    io.err(`concord decode: ${explain(e)}\n`);
    return 65;
  }
}
