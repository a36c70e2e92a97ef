/**
 * Handlers for incoming requests and notifications, and how a handler's failure becomes an ERROR.
 * @module
 */
import { messageByName, type Message } from '../codec/index.js';
import type { ErrorPayload, ErrorPayloadDetails } from '../../spec/generated/types.js';
import { ERROR_MESSAGE_MAX_LENGTH } from '../../spec/generated/catalog.js';
import { isRegistryCode, registryDefinite } from './errors.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';

/** A handler as stored: payload and message in, response payload (or nothing) out. */
export type AnyHandler = (payload: unknown, message: Message) => unknown;

/**
 * The handlers of one client by message type. A request type has at most one handler (its answer
 * is unique); a notification type may have several, each called in registration order.
 */
export class HandlerRegistry {
  private readonly byType = new Map<string, AnyHandler[]>();

  /** Registers `handler` for `type`; returns the function that removes it. */
  add(type: MessageName, handler: AnyHandler): () => void {
    const info = messageByName(type);
    if (info.kind !== 'request' && info.kind !== 'notification') throw new TypeError(`on(${type}): only requests and notifications are handled`);
    if (type === 'INIT' || type === 'SHUTDOWN' || type === 'PING') throw new TypeError(`on(${type}): the client handles ${type} itself`);
    const list = this.byType.get(type) ?? [];
    if (info.kind === 'request' && list.length > 0) throw new Error(`on(${type}): a handler is already registered for this request type`);
    list.push(handler);
    this.byType.set(type, list);
    return () => {
      const current = this.byType.get(type);
      const i = current?.indexOf(handler) ?? -1;
      if (i >= 0) current!.splice(i, 1);
      if (current?.length === 0) this.byType.delete(type);
    };
  }

  /** The handlers of `type`, in registration order (a copy). */
  get(type: string): AnyHandler[] {
    return [...(this.byType.get(type) ?? [])];
  }
}

/**
 * The ERROR payload answering a request whose handler threw `error`: an error carrying a `code` of
 * the error registry (a RemoteError, a codec ProtocolError, or any error with such a `code`) is
 * answered with that code, its registry `definite` (ERR-2) and its `details`; anything else with
 * `INTERNAL`.
 */
export function errorPayloadFor(error: unknown): ErrorPayload & { code: ErrorName } {
  const e = error as { code?: unknown; message?: unknown; details?: unknown } | null;
  const message = typeof e?.message === 'string' && e.message.length > 0 ? e.message : String(error);
  if (e && isRegistryCode(e.code)) {
    const details = e.details && typeof e.details === 'object' && !Array.isArray(e.details) ? (e.details as ErrorPayloadDetails) : undefined;
    return { code: e.code, message: message.slice(0, ERROR_MESSAGE_MAX_LENGTH), definite: registryDefinite(e.code), ...(details && Object.keys(details).length > 0 ? { details } : {}) };
  }
  const prefix = typeof e?.code === 'string' ? `${e.code}: ` : '';
  const code: ErrorName = 'INTERNAL';
  return { code, message: `${prefix}${message}`.slice(0, ERROR_MESSAGE_MAX_LENGTH), definite: registryDefinite(code) };
}
