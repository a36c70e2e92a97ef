/**
 * An engine on standard input and output (the engine suite's transport, like the testee profile):
 * INIT with role `testee` and feature `engine` first (a peer under test, ENG-17), then every engine request answered with its response or ERROR,
 * PING with PONG, anything else with ERROR UNSUPPORTED. Exits when its input ends.
 */
import type { Readable, Writable } from 'node:stream';
import { FrameDecoder } from '../codec/frame.js';
import { decodeMessage, encodeMessageFrame, type Message } from '../codec/message.js';
import { ProtocolError } from '../codec/errors.js';
import { messageByName } from '../codec/catalog.js';
import { DEFAULT_LIMITS, PROTOCOL_VERSION } from '../../spec/generated/catalog.js';
import { errorPayloadFor } from '../client/handlers.js';
import type { ReferenceEngine } from './engine.js';
import { ENGINE_REQUESTS, handleEngineRequest, type EngineRequest } from './handler.js';
import type { MessageName } from '../../spec/generated/catalog.js';

/** Serves an engine on a byte stream pair (the engine suite's transport): INIT first, then every engine request answered; resolves when the input ends. */
export function serveStdio(engine: ReferenceEngine, input: Readable, output: Writable): Promise<void> {
  const decoder = new FrameDecoder({ maxFrame: DEFAULT_LIMITS.max_frame });
  let count = 0;
  let closed = false;
  const send = (type: MessageName, re: string | undefined, payload: unknown, encoding: 'json' | 'cbor' = 'json'): void => {
    output.write(encodeMessageFrame({ type, header: re !== undefined ? { id: `e${++count}`, re } : { id: `e${++count}` }, payload, encoding } as Parameters<typeof encodeMessageFrame>[0]));
  };
  send('INIT', undefined, {
    client_id: `engine-${engine.name}-${process.pid}`, language: 'typescript', role: 'testee', protocol_version: PROTOCOL_VERSION,
    encodings: ['json', 'cbor'], max_frame: DEFAULT_LIMITS.max_frame, name: 'concord-typescript-engine', version: PROTOCOL_VERSION, features: ['cbor', 'engine'],
  });

  const handle = (m: Message): void => {
    if (m.name === 'INIT_ACK' || m.name === 'ERROR' || messageByName(m.name).kind === 'response') return;
    if (m.name === 'PING') return send('PONG', m.header.id, null, m.encoding);
    if (!(ENGINE_REQUESTS as readonly string[]).includes(m.name)) {
      return send('ERROR', m.header.id, new ProtocolError('UNSUPPORTED', `an engine does not handle ${m.name}`).toPayload());
    }
    try {
      const response = handleEngineRequest(engine, m.name as EngineRequest, m.payload as Record<string, unknown>);
      send(messageByName(m.name).response!, m.header.id, response, m.encoding);
    } catch (e) {
      send('ERROR', m.header.id, errorPayloadFor(e));
    }
  };

  return new Promise((resolve) => {
    input.on('data', (chunk: Buffer) => {
      if (closed) return;
      try {
        for (const body of decoder.push(chunk)) {
          try {
            handle(decodeMessage(body));
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
            send('ERROR', e.frameId, e.toPayload());
            if (e.closes) throw e;
          }
        }
      } catch (e) {
        if (e instanceof ProtocolError && !e.frameId) send('ERROR', undefined, e.toPayload());
        closed = true;
        output.end();
      }
    });
    input.on('end', () => {
      if (!closed) output.end();
    });
    output.on('finish', () => resolve());
    output.on('close', () => resolve());
  });
}
