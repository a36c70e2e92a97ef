/**
 * Type-level view of the catalog for the client: which response answers which request, which types
 * are notifications, and the client's options.
 * @module
 */
import type { RestoreFailure } from './session.js';
import type { MessageName, MessageNames } from '../../spec/generated/catalog.js';
import type { EncodingName, InitPayload, Language, PayloadMap } from '../../spec/generated/types.js';
import type { Message } from '../codec/index.js';
import type { BackoffOptions } from './backoff.js';

/**
 * The catalog `response` of every request type (spec/messages/*.json). A test checks this table
 * against the generated catalog, so it cannot drift.
 */
export const RESPONSE_OF = {
  INIT: 'INIT_ACK',
  SHUTDOWN: 'SHUTDOWN_ACK',
  PING: 'PONG',
  STATS_REQUEST: 'STATS_RESPONSE',
  REASONING_REQUEST: 'REASONING_RESPONSE',
  BATCH_REASONING_REQ: 'BATCH_REASONING_RSP',
  ENGINE_STATUS_REQ: 'ENGINE_STATUS_RSP',
  FEEDBACK: 'ACK',
  STATE_UPDATE: 'ACK',
  PARAMETER_SYNC: 'ACK',
  MTL_COORDINATE: 'TEACHER_SYNC',
  MEMORY_UPDATE: 'ACK',
  ENCODING_REQ: 'ENCODING_RSP',
  BUS_SUBSCRIBE: 'BUS_SUBSCRIBED',
  BUS_UNSUBSCRIBE: 'ACK',
  BUS_PUBLISH: 'BUS_PUBLISHED',
  BUS_EVENT: 'ACK',
  BUS_REGISTER_HANDLER: 'ACK',
  BUS_UNREGISTER_HANDLER: 'ACK',
  BUS_SEND: 'ACK',
  BUS_QUERY: 'BUS_QUERY_RESULT',
  SERVICE_REGISTER: 'ACK',
  SERVICE_UNREGISTER: 'ACK',
  SERVICE_HEALTH: 'ACK',
  SERVICE_LIST: 'SERVICE_LIST_RESULT',
  SERVICE_DISPATCH: 'SERVICE_RESULT',
  INSTRUMENT_COMMAND: 'INSTRUMENT_RESPONSE',
} as const satisfies Partial<Record<MessageName, MessageName>>;

/** The notification types of the catalog (kind `notification`). */
export const NOTIFICATIONS = ['DISAGREEMENT_SIGNAL', 'INSTRUMENT_EVENT'] as const satisfies readonly MessageName[];

/** A request type of the catalog. */
export type RequestName = keyof typeof RESPONSE_OF;
/** The request types an application sends with `request()`: INIT and SHUTDOWN belong to the client. */
export type ClientRequestName = Exclude<RequestName, MessageNames<'INIT' | 'SHUTDOWN'>>;
/** A notification type of the catalog. */
export type NotificationName = (typeof NOTIFICATIONS)[number];
/** The response type name of request type `T`. */
export type ResponseNameOf<T extends RequestName> = (typeof RESPONSE_OF)[T];
/** The payload of the response to request type `T`. */
export type ResponsePayload<T extends RequestName> = PayloadMap[ResponseNameOf<T>];
/** The types an application can handle with `on()`: requests (except the client's own) and notifications. */
export type IncomingName = Exclude<RequestName, MessageNames<'INIT' | 'SHUTDOWN' | 'PING'>> | NotificationName;

/**
 * A handler for incoming messages of type `T`. For a request it returns (or resolves to) the payload
 * of the type's response; for a notification its result is ignored.
 */
export type Handler<T extends IncomingName> = (
  payload: PayloadMap[T],
  message: Message<PayloadMap[T]>,
) => T extends RequestName ? ResponsePayload<T> | Promise<ResponsePayload<T>> : void | Promise<void>;

/** One log record of the client. Tokens are never logged (SEC-4). */
export interface LogEntry {
  /** Severity. */
  level: 'debug' | 'info' | 'warn' | 'error';
  /** What happened, a fixed text per event (suitable for matching). */
  message: string;
  /** Structured context (type names, ids, codes, attempt numbers). */
  data?: Record<string, unknown>;
}

/** Options of `ConcordClient.connect`. */
export interface ConnectOptions {
  /** Broker host for TCP (default `127.0.0.1`). */
  host?: string;
  /** Broker TCP port (default 9999, TCP-1). Ignored when `path` is given. */
  port?: number;
  /** Path of a Unix domain socket; takes precedence over host and port. */
  path?: string;
  /** A broker's FIFO directory (`--fifo-dir`, section 10.4); takes precedence over path, host and port. */
  fifoDir?: string;
  /** This client's id (a Name: 1-128 bytes of UTF-8, no control characters). */
  clientId: string;
  /** Implementation language announced in INIT (default `typescript`). */
  language?: Language;
  /** Role announced in INIT (default `client`). */
  role?: InitPayload['role'];
  /** Shared secret, when the broker requires one. Never logged. */
  token?: string;
  /** Payload encodings in order of preference (default `['json']`; `json` is added when missing). */
  encodings?: EncodingName[];
  /** Largest frame body this client accepts, announced in INIT (default max_frame, 16 MiB). */
  maxFrame?: number;
  /** Bound of one connection attempt, TCP connect and handshake together (default handshake_timeout_ms, 5 s). */
  connectTimeoutMs?: number;
  /** Retries after a failed connection attempt (default 0). A refused handshake is not retried. */
  retries?: number;
  /** Delays between attempts (defaults: 100 ms, x2, at most 5 s, +-20 % jitter). */
  backoff?: Partial<BackoffOptions>;
  /**
   * Timeout of every request that gives none of its own. When absent: the payload's `timeout_ms`
   * for BUS_QUERY and SERVICE_DISPATCH (REQ-14), else the type's catalog `timeout_ms`, else
   * request_timeout_ms (30 s).
   */
  requestTimeoutMs?: number;
  /**
   * Reconnect after an unexpected close, with the same retries and backoff, and handshake again.
   * Requests written before the drop reject with {@link ConnectionClosedError} (`definite` false);
   * requests still waiting for an in-flight slot wait for the new connection. Default false.
   */
  reconnect?: boolean;
  /** Requests that may wait for an in-flight slot (default 1024); beyond it `request()` rejects with OverloadedError. */
  maxQueued?: number;
  /** Bytes of frames that may wait for the socket to drain (default max_write_buffer, 8 MiB); beyond it a write rejects with OverloadedError. */
  maxWriteBuffer?: number;
  /** Longest drain after a SHUTDOWN, sent or received (default shutdown_drain_ms, 10 s). */
  shutdownDrainMs?: number;
  /** Optional features announced in INIT. */
  features?: string[];
  /** Receives the client's log records. */
  onLog?: (entry: LogEntry) => void;
  /**
   * Told when the connection is lost and reconnection starts, when it is restored (after the bus
   * subscriptions, bus handlers and services are restored, HS-24; `failures` lists what the broker
   * refused) and when reconnection gives up (the client is then closed).
   */
  onConnection?: (event: ConnectionEvent) => void;
}

/** What `onConnection` is told (HS-23, HS-24). */
export type ConnectionEvent =
  | { kind: 'lost'; error?: Error }
  | { kind: 'restored'; reconnects: number; failures: RestoreFailure[] }
  | { kind: 'gave-up'; error: Error };

/** Per-request options of `request()`. */
export interface RequestOptions {
  /** Destination client id or service name (routed types). */
  dst?: string;
  /** Timeout of this request in milliseconds; overrides every default. */
  timeoutMs?: number;
  /** Payload encoding of this frame (default: the negotiated one). `cbor` needs `cbor` negotiated. */
  encoding?: EncodingName;
}

/** Per-message options of `send()`. */
export interface SendOptions {
  /** Destination client id or service name (routed types). */
  dst?: string;
  /** Payload encoding of this frame (default: the negotiated one). */
  encoding?: EncodingName;
}

/** Counters of a client, over all its connections. Byte counts include the length prefixes. */
export interface ClientStats {
  /** Frames received. */
  framesIn: number;
  /** Frames written. */
  framesOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes written. */
  bytesOut: number;
  /** Requests written and not yet answered. */
  inFlight: number;
  /** Requests waiting for an in-flight slot. */
  queued: number;
  /** Successful reconnections. */
  reconnects: number;
}
