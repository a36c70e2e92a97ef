/**
 * Opening a connection: TCP or Unix connect, INIT, INIT_ACK (section 6), and the retry loop with
 * backoff around it.
 * @module
 */
import { connect as netConnect, type Socket } from 'node:net';
import { encodeMessageFrame, PROTOCOL_VERSION, receivedCode, type ErrorName, type Message } from '../codec/index.js';
import type { ErrorPayload, InitAckPayload, InitPayload } from '../../spec/generated/types.js';
import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { FifoStream } from '../transport/fifo-stream.js';
import { createPairIn, removePairDir } from '../transport/fifo-fs.js';
import { ConnectError, ConnectTimeoutError, HandshakeError } from './errors.js';

/** Where the broker listens: a Unix socket, TCP, or a broker's FIFO directory (section 10.4). */
export type Endpoint = { path: string } | { host: string; port: number } | { fifoDir: string };

/** What one connection attempt needs. */
export interface OpenOptions extends ConnectionOptions {
  /** Where to connect. */
  endpoint: Endpoint;
  /** The INIT payload to send. */
  init: InitPayload;
  /** Bound of the TCP connect and handshake together. */
  timeoutMs: number;
  /** Aborts the attempt (and the retry loop). */
  signal?: AbortSignal;
}

/** A connection whose handshake succeeded. */
export interface Opened {
  /** The connection, its sink unset (frames after INIT_ACK wait in its inbox). */
  conn: Connection;
  /** The broker's INIT_ACK. */
  ack: InitAckPayload;
}

/** Connects once and handshakes. The returned connection has no sink: later frames wait in its inbox. */
export async function openConnection(options: OpenOptions): Promise<Opened> {
  const socket = await openSocket(options.endpoint, options.timeoutMs);
  const conn = new Connection(socket, options);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<Opened>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        conn.destroy(e);
        reject(e);
      };
      timer = setTimeout(() => fail(new ConnectTimeoutError(options.timeoutMs)), options.timeoutMs);
      onAbort = () => fail(options.signal!.reason as Error);
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (e) => fail(e));
      void conn.closed.then((info) => fail(info.error ?? new Error('connection closed during the handshake')));

      const initId = options.nextId();
      conn.setSink((m) => {
        conn.setSink(null);
        const outcome = checkAck(m, initId, options.init);
        if (outcome instanceof Error) {
          // A refused handshake always closes (HS-3); an unexpected answer is our reason to close.
          fail(outcome);
          return;
        }
        conn.encodings = outcome.encoding === 'cbor' ? ['json', 'cbor'] : ['json'];
        conn.peerMaxFrame = outcome.max_frame;
        settled = true;
        resolve({ conn, ack: outcome });
      });
      socket.once('connect', () => {
        options.log('debug', 'connected; sending INIT', { clientId: options.init.client_id });
        // HS-1: INIT is JSON; the client sends nothing else before INIT_ACK (HS-8).
        try {
          conn.write(encodeMessageFrame({ type: 'INIT', header: { id: initId }, payload: options.init }), true).catch(fail);
        } catch (e) {
          fail(e as Error);
        }
      });
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A connecting socket, or for a FIFO endpoint a new pair put into the broker's directory and opened as
 * the client side; the pair is removed when the stream closes (the broker removes it too).
 */
async function openSocket(endpoint: Endpoint, timeoutMs: number): Promise<Socket | FifoStream> {
  if ('fifoDir' in endpoint) {
    const pair = await createPairIn(endpoint.fifoDir);
    const stream = FifoStream.connect(pair, 'client', { timeoutMs });
    stream.once('close', () => void removePairDir(pair));
    return stream;
  }
  return netConnect('path' in endpoint ? { path: endpoint.path } : { host: endpoint.host, port: endpoint.port });
}

function checkAck(m: Message, initId: string, init: InitPayload): InitAckPayload | Error {
  if (m.name === 'ERROR') {
    const p = m.payload as ErrorPayload;
    return new HandshakeError(`broker refused INIT: ${p.code}: ${p.message}`, receivedCode(p.code), p.details ? { details: p.details } : {});
  }
  if (m.name !== 'INIT_ACK' || m.header.re !== initId) {
    return new HandshakeError(`expected INIT_ACK answering ${initId}, got ${m.name} (re ${String(m.header.re)})`, 'PROTOCOL_VIOLATION');
  }
  const ack = m.payload as InitAckPayload;
  if (!init.encodings.includes(ack.encoding)) {
    return new HandshakeError(`broker chose encoding ${ack.encoding}, which the client did not offer`, 'PROTOCOL_VIOLATION');
  }
  if (ack.protocol_version.split('.')[0] !== PROTOCOL_VERSION.split('.')[0]) {
    return new HandshakeError(`broker speaks version ${ack.protocol_version}`, 'VERSION_MISMATCH');
  }
  return ack;
}

/** The retry policy of a connect. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Delays between attempts. */
  backoff: BackoffOptions;
  /** Handshake refusals worth retrying (for example DUPLICATE_CLIENT_ID while the broker notices a dropped connection). */
  retryCodes?: readonly ErrorName[];
}

/**
 * Attempts `openConnection` up to `retries + 1` times with backoff between attempts. A refused
 * handshake is thrown at once (unless its code is in `retryCodes`); when every attempt fails the
 * result is a ConnectError whose cause is the last failure.
 */
export async function openWithRetry(options: OpenOptions, policy: RetryPolicy): Promise<Opened> {
  let last: unknown;
  const attempts = policy.retries + 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) {
      const delay = backoffDelay(attempt - 1, policy.backoff);
      options.log('info', 'retrying connection', { attempt, delayMs: delay });
      await sleep(delay, options.signal);
    }
    try {
      return await openConnection(options);
    } catch (e) {
      last = e;
      if (options.signal?.aborted) throw e;
      if (e instanceof HandshakeError && !policy.retryCodes?.some((code) => code === e.code)) throw e;
      options.log('warn', 'connection attempt failed', { attempt, of: attempts, error: (e as Error).message });
    }
  }
  throw new ConnectError(`could not connect after ${attempts} attempt(s): ${(last as Error)?.message}`, attempts, { cause: last });
}
