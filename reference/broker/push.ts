/**
 * The broker's own notifications to its clients: to one client (the seed's `send_to_client`) or to
 * every client (`broadcast`). Only notification types the catalog lets travel from broker to client
 * qualify (DISAGREEMENT_SIGNAL, INSTRUMENT_EVENT): a request would need its answer awaited, and a
 * response answers nothing here.
 * @module
 */
import { messageByName } from '../codec/catalog.js';
import { encodeMessage } from '../codec/message.js';
import type { NotificationName } from '../client/types.js';
import type { PayloadMap } from '../../spec/generated/types.js';

/** A notification type the broker may push to clients. */
export type PushName = NotificationName;

/**
 * Checks that `type` is a broker-to-client notification and that `payload` encodes (schema
 * included), so that a bad push throws at the caller instead of reaching a client.
 */
export function checkPush<T extends PushName>(type: T, payload: PayloadMap[T]): void {
  const info = messageByName(type);
  if (info.kind !== 'notification' || !info.directions.includes('broker-to-client')) {
    throw new TypeError(`${type} is not a notification a broker sends to clients`);
  }
  encodeMessage({ type, header: { id: '0' }, payload, encoding: 'json' });
}
