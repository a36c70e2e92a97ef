/**
 * The TypeScript client library of the Concord wire protocol v1: connect to a broker, send typed
 * requests and notifications, handle incoming ones, shut down gracefully.
 *
 * @example
 * ```ts
 * import { ConcordClient } from './reference/client/index.js';
 * const client = await ConcordClient.connect({ host: '127.0.0.1', port: 9999, clientId: 'demo' });
 * const stats = await client.request('STATS_REQUEST', {});
 * await client.close();
 * ```
 * @packageDocumentation
 * @module client
 */
export { ConcordClient, type ClientState, type ClientCloseInfo } from './client.js';
export {
  ConcordError,
  RemoteError,
  RequestTimeoutError,
  ConnectionClosedError,
  OverloadedError,
  ShuttingDownError,
  EncodeError,
  HandshakeError,
  ConnectTimeoutError,
  ConnectError,
  isRegistryCode,
  registryDefinite,
  type ConcordErrorOptions,
} from './errors.js';
export { DEFAULT_BACKOFF, MAX_TIMER_MS, backoffDelay, resolveBackoff, sleep, type BackoffOptions } from './backoff.js';
export { Connection, type CloseInfo, type ConnectionOptions, type Counters, type MessageSink } from './connection.js';
export { openConnection, openWithRetry, type Endpoint, type OpenOptions, type Opened, type RetryPolicy } from './handshake.js';
export { HandlerRegistry, errorPayloadFor, type AnyHandler } from './handlers.js';
export { InFlightLimiter, type Ticket } from './limiter.js';
export { PendingRequests, DEFAULT_LATE_IDS, type Settlement } from './pending.js';
export { payloadTimeout, requestTimeout } from './timeouts.js';
export { SessionRecord, type RestoreFailure, type RestoreRequest } from './session.js';
export {
  RESPONSE_OF,
  NOTIFICATIONS,
  type RequestName,
  type ClientRequestName,
  type NotificationName,
  type ResponseNameOf,
  type ResponsePayload,
  type IncomingName,
  type Handler,
  type LogEntry,
  type ConnectOptions,
  type ConnectionEvent,
  type RequestOptions,
  type SendOptions,
  type ClientStats,
} from './types.js';
