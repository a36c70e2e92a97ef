/**
 * What a broker forgets when a connection closes (HS-19) and a reconnecting client restores (HS-24):
 * bus subscriptions, bus handlers and registered services, recorded as the broker accepts them.
 * The application keeps the subscription ids it was given: after a restore, BUS_UNSUBSCRIBE is
 * translated to the new id and each BUS_EVENT back to the original one.
 * @module
 */
import type { BusRegisterHandlerPayload, ServiceRegisterPayload } from '../../spec/generated/types.js';
import { RemoteError } from './errors.js';
import type { MessageName } from '../../spec/generated/catalog.js';

/** A restoration the broker refused (reported to the application, HS-24). */
export interface RestoreFailure {
  type: MessageName;
  payload: unknown;
  error: Error;
}

/** Sends one request on the new connection and resolves with its answer's payload. */
export type RestoreRequest = (type: MessageName, payload: unknown) => Promise<unknown>;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The subscriptions, bus handlers and services one client holds on its broker. */
export class SessionRecord {
  /** Original subscription id (the application's) to its event type and current id. */
  private readonly subscriptions = new Map<string, { eventType: string; currentId: string }>();
  private readonly handlers = new Map<string, BusRegisterHandlerPayload>();
  private readonly services = new Map<string, ServiceRegisterPayload>();

  /** The payload to send for `type`: an unsubscription names the subscription's current id. */
  outgoing(type: MessageName, payload: unknown): unknown {
    if (type !== 'BUS_UNSUBSCRIBE' || !isObject(payload)) return payload;
    const sub = this.subscriptions.get(String(payload.subscription_id));
    return sub ? { ...payload, subscription_id: sub.currentId } : payload;
  }

  /** Records a request the broker accepted (`payload` as the application gave it). */
  accepted(type: MessageName, payload: unknown, answer: unknown): void {
    if (!isObject(payload)) return;
    switch (type) {
      case 'BUS_SUBSCRIBE':
        if (isObject(answer)) this.subscriptions.set(String(answer.subscription_id), { eventType: String(payload.event_type), currentId: String(answer.subscription_id) });
        break;
      case 'BUS_UNSUBSCRIBE':
        this.subscriptions.delete(String(payload.subscription_id));
        break;
      case 'BUS_REGISTER_HANDLER':
        this.handlers.set(String(payload.message_type), payload as unknown as BusRegisterHandlerPayload);
        break;
      case 'BUS_UNREGISTER_HANDLER':
        this.handlers.delete(String(payload.message_type));
        break;
      case 'SERVICE_REGISTER':
        this.services.set((payload as unknown as ServiceRegisterPayload).service.name, payload as unknown as ServiceRegisterPayload);
        break;
      case 'SERVICE_UNREGISTER':
        this.services.delete(String(payload.name));
        break;
    }
  }

  /** The payload the application sees: a BUS_EVENT names the subscription id it was given. */
  incoming(type: MessageName, payload: unknown): unknown {
    if (type !== 'BUS_EVENT' || !isObject(payload)) return payload;
    for (const [original, sub] of this.subscriptions) {
      if (sub.currentId === payload.subscription_id) return { ...payload, subscription_id: original };
    }
    return payload;
  }

  /**
   * Replays every record on a new connection (services, then handlers, then subscriptions); resolves
   * with what the broker refused (an ERROR), each dropped from the record so that it is reported once.
   * Any other failure (the connection lost again, a timeout) rejects and keeps the record.
   */
  async restore(request: RestoreRequest): Promise<RestoreFailure[]> {
    const failures: RestoreFailure[] = [];
    const replay = async (type: MessageName, payload: unknown): Promise<unknown> => {
      try {
        return (await request(type, payload)) ?? {};
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e; // lost again or timed out: kept for the next restore
        failures.push({ type, payload, error: e });
        return undefined;
      }
    };
    for (const [name, payload] of [...this.services]) {
      if ((await replay('SERVICE_REGISTER', payload)) === undefined) this.services.delete(name);
    }
    for (const [messageType, payload] of [...this.handlers]) {
      if ((await replay('BUS_REGISTER_HANDLER', payload)) === undefined) this.handlers.delete(messageType);
    }
    for (const [original, sub] of [...this.subscriptions]) {
      const answer = await replay('BUS_SUBSCRIBE', { event_type: sub.eventType });
      if (answer === undefined) this.subscriptions.delete(original);
      else if (isObject(answer)) sub.currentId = String(answer.subscription_id);
    }
    return failures;
  }
}
