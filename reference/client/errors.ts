/**
 * The typed errors of the Concord client. Every one extends {@link ConcordError}, so a caller can
 * tell the client's failures from its own with one `instanceof`, and carries `name`, `code` (a name
 * of the error registry where one applies), `definite` (true when the request certainly had no
 * effect) and the standard `cause`.
 * @module
 */
import { ERRORS, type ErrorName } from '../../spec/generated/catalog.js';
import type { ErrorPayload, ErrorPayloadDetails } from '../../spec/generated/types.js';
import { receivedCode, registryName, type Message, type ReceivedCode } from '../codec/index.js';

const REGISTRY = new Map(ERRORS.map((e) => [e.name as string, e]));

/** true when `code` is a name of the error registry (spec/errors.json). */
export function isRegistryCode(code: unknown): code is ErrorName {
  return registryName(code) !== undefined;
}

/** The registry's `definite` value for a code; `false` for a code the registry does not know. */
export function registryDefinite(code: ErrorName | ReceivedCode): boolean {
  return REGISTRY.get(code)?.definite ?? false;
}

/** Options common to every client error. */
export interface ConcordErrorOptions {
  /** The underlying failure, if any. */
  cause?: unknown;
}

/** Base class of every error the client raises. */
export class ConcordError extends Error {
  override name = 'ConcordError';
  /** A name of the error registry where one applies. */
  readonly code: ErrorName | ReceivedCode | undefined;
  /** true when the operation certainly had no effect on the peer. */
  readonly definite: boolean;

  constructor(message: string, code: ErrorName | ReceivedCode | undefined, definite: boolean, options: ConcordErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.definite = definite;
  }
}

/**
 * The peer answered with an ERROR frame. `code`, `message`, `definite` and `details` are those of
 * the ERROR payload; `frame` is the whole ERROR message.
 *
 * A handler registered with `ConcordClient.on` may also throw one to answer an incoming request
 * with an ERROR of that code.
 */
export class RemoteError extends ConcordError {
  override name = 'RemoteError';
  declare readonly code: ErrorName | ReceivedCode;
  /** Machine-readable context of the ERROR (`path`, `rule`, `limit`, ...). */
  readonly details: ErrorPayloadDetails | undefined;
  /** The ERROR message, when the error came from the wire. */
  readonly frame: Message<ErrorPayload> | undefined;

  constructor(
    code: ErrorName | ReceivedCode,
    message: string,
    options: ConcordErrorOptions & { definite?: boolean; details?: ErrorPayloadDetails; frame?: Message<ErrorPayload> } = {},
  ) {
    super(message, code, options.definite ?? registryDefinite(code), options);
    this.details = options.details;
    this.frame = options.frame;
  }

  /** The RemoteError an ERROR message reports. */
  static fromMessage(message: Message<ErrorPayload>): RemoteError {
    const p = message.payload;
    return new RemoteError(receivedCode(p.code), p.message, { definite: p.definite, ...(p.details ? { details: p.details } : {}), frame: message });
  }
}

/** A request got no answer within its timeout. A late answer is discarded. */
export class RequestTimeoutError extends ConcordError {
  override name = 'RequestTimeoutError';
  /** The message type of the request. */
  readonly type: string;
  /** The timeout that applied, in milliseconds. */
  readonly timeoutMs: number;

  /** `definite` is true when the request timed out before it was written to the connection. */
  constructor(type: string, timeoutMs: number, options: ConcordErrorOptions & { definite?: boolean } = {}) {
    super(`${type} got no answer within ${timeoutMs} ms`, 'TIMEOUT', options.definite ?? false, options);
    this.type = type;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The connection closed before the request was answered. `definite` is false for a request that
 * had been written (the peer may have acted on it) and true for one that never left the client.
 */
export class ConnectionClosedError extends ConcordError {
  override name = 'ConnectionClosedError';
  constructor(message: string, options: ConcordErrorOptions & { definite?: boolean } = {}) {
    super(message, 'PEER_GONE', options.definite ?? false, options);
  }
}

/**
 * The client refused a request locally because a bound was reached: the queue of requests waiting
 * for an in-flight slot (max_in_flight announced by the broker) is full, or the write buffer is.
 * Nothing was sent (`definite` true).
 */
export class OverloadedError extends ConcordError {
  override name = 'OverloadedError';
  /** The bound that was reached. */
  readonly limit: number;
  constructor(message: string, limit: number, options: ConcordErrorOptions = {}) {
    super(message, 'OVERLOADED', true, options);
    this.limit = limit;
  }
}

/** The client is closing or the broker asked it to shut down: no new request is started (HS-12). */
export class ShuttingDownError extends ConcordError {
  override name = 'ShuttingDownError';
  constructor(message = 'the client is shutting down', options: ConcordErrorOptions = {}) {
    super(message, 'SHUTTING_DOWN', true, options);
  }
}

/**
 * A message could not be encoded or may not be sent on this connection: its payload breaks the
 * type's schema (`code` of the codec's ProtocolError, which is the `cause`), its frame exceeds the
 * broker's max_frame (`FRAME_TOO_LARGE`), or its encoding was not negotiated (`UNSUPPORTED_ENCODING`).
 */
export class EncodeError extends ConcordError {
  override name = 'EncodeError';
  constructor(message: string, code: ErrorName, options: ConcordErrorOptions = {}) {
    super(message, code, true, options);
  }
}

/**
 * The broker refused the handshake with an ERROR answering INIT (`UNAUTHORIZED`,
 * `VERSION_MISMATCH`, `DUPLICATE_CLIENT_ID`, `SCHEMA_VIOLATION`, ...), or answered INIT with
 * something other than a valid INIT_ACK (`code` `PROTOCOL_VIOLATION`). Not retried by `connect`.
 */
export class HandshakeError extends ConcordError {
  override name = 'HandshakeError';
  /** Details of the broker's ERROR, when it sent one. */
  readonly details: ErrorPayloadDetails | undefined;
  constructor(message: string, code: ErrorName | ReceivedCode, options: ConcordErrorOptions & { details?: ErrorPayloadDetails } = {}) {
    super(message, code, true, options);
    this.details = options.details;
  }
}

/** A connection attempt (TCP or Unix connect plus handshake) did not finish within connectTimeoutMs. */
export class ConnectTimeoutError extends ConcordError {
  override name = 'ConnectTimeoutError';
  /** The bound that was exceeded, in milliseconds. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number, options: ConcordErrorOptions = {}) {
    super(`connection and handshake did not complete within ${timeoutMs} ms`, undefined, true, options);
    this.timeoutMs = timeoutMs;
  }
}

/** Every connection attempt failed; `cause` is the last attempt's error. */
export class ConnectError extends ConcordError {
  override name = 'ConnectError';
  /** How many attempts were made. */
  readonly attempts: number;
  constructor(message: string, attempts: number, options: ConcordErrorOptions = {}) {
    super(message, undefined, true, options);
    this.attempts = attempts;
  }
}
