/**
 * An engine on standard input and output (the engine suite's transport, like the testee profile):
 * INIT with role `testee` and feature `engine` first (a peer under test, ENG-17), then every engine request answered with its response or ERROR,
 * PING with PONG, a response or a type a broker never sends with UNEXPECTED_MESSAGE, anything else with ERROR
 * UNSUPPORTED; faulty frames as the check table says (an ERROR never answered). Exits when its input ends.
 */
import type { Readable, Writable } from 'node:stream';
import { FrameDecoder } from '../codec/frame.js';
import { decodeMessage, encodeMessageFrame, type Message } from '../codec/message.js';
import { ProtocolError } from '../codec/errors.js';
import { messageByName, reachesClient } from '../codec/catalog.js';
import { DEFAULT_LIMITS, MessageType, PROTOCOL_VERSION } from '../../spec/generated/catalog.js';
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

  let acked = false;
  let encodings: ('json' | 'cbor')[] = ['json', 'cbor'];
  const handle = (m: Message): void => {
    // The check table's steps 9 and 10, then 13: the harness's first INIT_ACK is the one answer an
    // engine awaits; any other response answers nothing it sent (REQ-5); a type a broker never
    // writes is refused as such (REQ-6), not as unimplemented.
    if (m.name === 'ERROR') return;
    if (m.name === 'INIT_ACK' && !acked) {
      acked = true;
      // CBOR frames only when the INIT_ACK chose CBOR (ENC-3).
      if ((m.payload as { encoding?: string }).encoding !== 'cbor') encodings = ['json'];
      return;
    }
    const info = messageByName(m.name);
    if (!reachesClient(info)) {
      return send('ERROR', m.header.id, new ProtocolError('UNEXPECTED_MESSAGE', `${m.name} never travels from a broker to a client (REQ-6)`).toPayload());
    }
    if (info.kind === 'response') return send('ERROR', m.header.id, new ProtocolError('UNEXPECTED_MESSAGE', `${m.name} answers no request of this engine (REQ-5)`).toPayload());
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

  const answer = (body: Uint8Array): void => {
    let m: Message;
    try {
      m = decodeMessage(body, { encodings });
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return refuse(e, body);
    }
    handle(m);
  };

  /** Answers a faulty frame (never a faulty ERROR: ERR-6); a fault that closes ends the output. */
  const refuse = (e: ProtocolError, body?: Uint8Array): void => {
    if (body?.[0] !== MessageType.ERROR) send('ERROR', e.frameId, e.toPayload());
    if (e.closes) {
      closed = true;
      output.end();
    }
  };

  return new Promise((resolve) => {
    input.on('data', (chunk: Buffer) => {
      if (closed) return;
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunk);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        bodies = e.framesBefore ?? [];
        for (const body of bodies) if (!closed) answer(body);
        if (!closed) refuse(e);
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
