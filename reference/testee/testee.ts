/**
 * The TypeScript reference testee (spec section testee): INIT on standard output, then every
 * frame from standard input answered with its echo (same type and encoding, re-encoded from the
 * decoded value) or with the ERROR of the first failing check. It knows no message semantics.
 */
import type { Readable, Writable } from 'node:stream';
import { FrameDecoder } from '../codec/frame.js';
import { decodeMessage, encodeMessageFrame } from '../codec/message.js';
import { ProtocolError } from '../codec/errors.js';
import { DEFAULT_LIMITS, PROTOCOL_VERSION } from '../../spec/generated/catalog.js';

export interface TesteeOptions {
  name?: string;
  version?: string;
  /** Encodings the testee decodes and encodes (default both). */
  encodings?: ('json' | 'cbor')[];
}

/** Runs the testee until `input` ends or a closing error; resolves when output is flushed. */
export function runTestee(input: Readable, output: Writable, options: TesteeOptions = {}): Promise<void> {
  const declared = options.encodings ?? ['json', 'cbor'];
  let encodings = declared;
  const decoder = new FrameDecoder({ maxFrame: DEFAULT_LIMITS.max_frame });
  let count = 0;
  let handshaken = false;
  let closed = false;

  output.write(encodeMessageFrame({
    type: 'INIT', header: { id: 'testee-init' },
    payload: {
      client_id: `testee-${process.pid}`, language: 'typescript', role: 'testee', protocol_version: PROTOCOL_VERSION,
      encodings: declared, max_frame: DEFAULT_LIMITS.max_frame, name: options.name ?? 'concord-typescript-testee',
      version: options.version ?? PROTOCOL_VERSION, features: declared.includes('cbor') ? ['cbor'] : [],
    },
  }));

  const refuse = (e: ProtocolError): void => {
    const header = e.frameId !== undefined ? { id: `err-${++count}`, re: e.frameId } : { id: `err-${++count}` };
    output.write(encodeMessageFrame({ type: 'ERROR', header, payload: e.toPayload() }));
    if (e.closes) close();
  };

  const close = (): void => {
    closed = true;
    input.pause();
    // Destroyed once the output is flushed (input and output may be one FIFO stream): a merely
    // paused standard input would hold the process open (TST-9).
    output.end(() => input.destroy());
  };

  const answer = (body: Uint8Array): void => {
    let m;
    try {
      m = decodeMessage(body, { encodings });
    } catch (e) {
      if (e instanceof ProtocolError) return refuse(e);
      throw e;
    }
    if (!handshaken) {
      // The harness's INIT_ACK: the one frame a testee does not echo.
      handshaken = m.name === 'INIT_ACK';
      // CBOR only when INIT_ACK chose it (ENC-2): otherwise a CBOR frame is refused, never echoed.
      if (handshaken && (m.payload as { encoding?: string }).encoding !== 'cbor') encodings = ['json'];
      if (handshaken) return;
    }
    try {
      output.write(encodeMessageFrame({ type: m.name, header: { id: `echo-${++count}`, re: m.header.id }, payload: m.payload, encoding: m.encoding }));
    } catch (e) {
      // A value our decoder accepted but our encoder refuses is our own fault: say so.
      const message = (e instanceof Error ? e.message : String(e)).slice(0, 4000);
      output.write(encodeMessageFrame({ type: 'ERROR', header: { id: `err-${++count}`, re: m.header.id }, payload: new ProtocolError('INTERNAL', message).toPayload() }));
    }
  };

  return new Promise((resolve) => {
    input.on('data', (chunk: Buffer) => {
      if (closed) return;
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunk);
      } catch (e) {
        for (const body of (e as ProtocolError).framesBefore ?? []) if (!closed) answer(body);
        if (!closed) refuse(e as ProtocolError);
        return;
      }
      for (const body of bodies) if (!closed) answer(body);
    });
    input.on('end', () => {
      if (!closed) output.end();
    });
    output.on('finish', () => resolve());
    output.on('close', () => resolve());
  });
}
