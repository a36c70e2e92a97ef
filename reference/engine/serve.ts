/**
 * An engine attached to a broker: connects with role `engine` under a client id, answers the engine
 * requests routed to it, and reconnects with backoff when the broker goes away (ENG-16).
 */
import { ConcordClient } from '../client/index.js';
import type { ReferenceEngine } from './engine.js';
import { ENGINE_REQUESTS, handleEngineRequest } from './handler.js';

/** Where an engine attaches: the broker's address, the client id it serves under, and the broker's token. */
export interface ServeOptions {
  host: string;
  port: number;
  clientId: string;
  token?: string;
}

/** Connects and serves until the client is closed for good; returns the client. */
export async function serveBroker(engine: ReferenceEngine, o: ServeOptions): Promise<ConcordClient> {
  const client = await ConcordClient.connect({
    host: o.host, port: o.port, clientId: o.clientId, role: 'engine', language: 'typescript', features: ['engine'],
    encodings: ['json'], reconnect: true, retries: 1_000_000, backoff: { initialMs: 50, maxMs: 1000 },
    ...(o.token !== undefined ? { token: o.token } : {}),
  });
  for (const type of ENGINE_REQUESTS) {
    client.on(type, ((payload: Record<string, unknown>) => handleEngineRequest(engine, type, payload)) as never);
  }
  return client;
}
