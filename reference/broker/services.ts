/**
 * The broker's service registry (section registry): services registered by their providing
 * connection, resolvable as a routed frame's `dst` after client ids (REQ-7), listed with their
 * load and health, and removed with their connection (HS-19). Dispatch with its retries and
 * concurrency rules (REG-4, REG-5, REG-6, REG-7, REG-8, REG-9, REG-10, REG-11, REG-12) builds on this.
 */
import { ProtocolError } from '../codec/errors.js';
import type { ServiceDescriptor } from '../../spec/generated/types.js';
import type { Connection } from './connection.js';

export interface ServiceEntry {
  descriptor: ServiceDescriptor;
  owner: Connection;
  load: number;
}

const utf8 = new TextEncoder();

/** UTF-8 byte order (REG-3), which differs from UTF-16 code unit order above U+FFFF. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(utf8.encode(a), utf8.encode(b));
}

/** REG-3's order of a listing. */
export function sortByName(services: ServiceDescriptor[]): ServiceDescriptor[] {
  return services.sort((a, b) => byteOrder(a.name, b.name));
}

export class ServiceRegistry {
  private readonly byName = new Map<string, ServiceEntry>();

  /** `isClientName`: true for a name an open connection holds as its client id, or the broker's own (REG-1). */
  register(owner: Connection, descriptor: ServiceDescriptor, isClientName: (name: string) => boolean = () => false): void {
    this.checkFree(descriptor, isClientName);
    // current_load is the registry's to report, never the registrant's to set.
    const { current_load: _ignored, ...rest } = descriptor;
    this.byName.set(descriptor.name, { descriptor: { ...rest, healthy: descriptor.healthy ?? true }, owner, load: 0 });
  }

  /** REG-1's checks of a registration, without making it (a cluster claims the name in between). */
  checkFree(descriptor: ServiceDescriptor, isClientName: (name: string) => boolean): void {
    if (this.byName.has(descriptor.name)) throw new ProtocolError('SERVICE_EXISTS', `service ${descriptor.name} is already registered`, { path: '/service/name', statement: 'REG-1' });
    // Client ids and service names share one namespace (REQ-7): a service named like a client would
    // capture the traffic routed to it.
    if (isClientName(descriptor.name)) throw new ProtocolError('SERVICE_EXISTS', `${descriptor.name} is a connected client's id`, { path: '/service/name', statement: 'REG-1' });
  }

  /**
   * A service another broker of the cluster registered (section 19), owned by the remote client
   * providing it. A local registration of the same name is kept: the cluster announces, it never
   * takes a name from a local provider.
   */
  adopt(owner: Connection, descriptor: ServiceDescriptor, name: string): boolean {
    const held = this.byName.get(name);
    if (held !== undefined && !held.owner.remote) return false;
    const { current_load: _ignored, ...rest } = descriptor;
    this.byName.set(name, { descriptor: { ...rest, name, healthy: descriptor.healthy ?? true }, owner, load: held?.owner === owner ? held.load : 0 });
    return true;
  }

  private owned(owner: Connection, name: string): ServiceEntry {
    const e = this.byName.get(name);
    if (!e || e.owner !== owner) throw new ProtocolError('SERVICE_NOT_FOUND', `this connection registered no service ${name}`, { path: '/name', statement: 'REG-2' });
    return e;
  }

  unregister(owner: Connection, name: string): void {
    this.owned(owner, name);
    this.byName.delete(name);
  }

  setHealth(owner: Connection, name: string, healthy: boolean): void {
    this.owned(owner, name).descriptor.healthy = healthy;
  }

  /** The registration of `name` (its load is the dispatcher's to change, REG-9). */
  entry(name: string): ServiceEntry | undefined {
    return this.byName.get(name);
  }

  /** The connection providing `name`, if it is registered. */
  provider(name: string): Connection | undefined {
    return this.byName.get(name)?.owner;
  }

  /** `ownOnly`: only services of this broker's own clients (a cluster's broker asked by another, CLU-11). */
  list(filter: { name?: string; service_type?: string }, ownOnly = false): ServiceDescriptor[] {
    return sortByName(
      [...this.byName.values()]
        .filter((e) => (!ownOnly || !e.owner.remote) && (filter.name === undefined || e.descriptor.name === filter.name) && (filter.service_type === undefined || e.descriptor.service_type === filter.service_type))
        .map((e) => ({ ...e.descriptor, current_load: e.load })),
    );
  }

  /** HS-19: a closed connection's services go with it; returns their names. */
  dropOwner(owner: Connection): string[] {
    const dropped: string[] = [];
    for (const [name, e] of this.byName) {
      if (e.owner !== owner) continue;
      this.byName.delete(name);
      dropped.push(name);
    }
    return dropped;
  }
}
