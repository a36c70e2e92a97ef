/**
 * Cluster-wide names (CLU-3): client ids, and service names (CLU-10), each in a JetStream key-value
 * bucket whose `create` succeeds for one claimant only. A claim left by a broker that died is taken
 * over with an `update` at the revision read, so two brokers cannot both take it over.
 */
import type { KV } from '@nats-io/kv';
import { token } from './wire.js';

export type ClaimOutcome = 'claimed' | 'taken' | 'unreachable';

/** A claim's value: the owning broker and what the others need about the name (a client's routing facts, a service's owner). */
export type Claim<D> = { broker: string } & D;

/** How long one store operation may take before the claim counts as unreachable. */
export const CLAIM_TIMEOUT_MS = 2000;

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expire = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, expire]).finally(() => clearTimeout(timer));
}

export class ClaimStore<D extends object> {
  /** Revisions of the claims this broker holds, so a release deletes only its own. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly kv: KV,
    private readonly brokerId: string,
  ) {}

  private value(detail: D): string {
    return JSON.stringify({ ...detail, broker: this.brokerId });
  }

  private async read(name: string): Promise<{ claim: Partial<Claim<D>>; revision: number } | undefined> {
    const entry = await bounded(this.kv.get(token(name)), CLAIM_TIMEOUT_MS);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    try {
      return { claim: JSON.parse(entry.string()) as Partial<Claim<D>>, revision: entry.revision };
    } catch {
      return { claim: {}, revision: entry.revision };
    }
  }

  /** Claims `name` for this broker; `isAlive(broker)` decides whether another holder's claim still stands. */
  async claim(name: string, detail: D, isAlive: (broker: string) => boolean): Promise<ClaimOutcome> {
    const key = token(name);
    try {
      this.held.set(name, await bounded(this.kv.create(key, this.value(detail)), CLAIM_TIMEOUT_MS));
      return 'claimed';
    } catch {
      // Either the key exists or NATS did not answer: the entry tells which.
    }
    let found;
    try {
      found = await this.read(name);
    } catch {
      return 'unreachable';
    }
    if (found === undefined) return 'unreachable';
    const holder = found.claim.broker;
    if (typeof holder === 'string' && holder !== this.brokerId && isAlive(holder)) return 'taken';
    try {
      this.held.set(name, await bounded(this.kv.update(key, this.value(detail), found.revision), CLAIM_TIMEOUT_MS));
      return 'claimed';
    } catch {
      return 'taken'; // another broker took it over first
    }
  }

  /** Who holds `name`, if anyone. */
  async lookup(name: string): Promise<Claim<D> | undefined> {
    const found = await this.read(name);
    return typeof found?.claim.broker === 'string' ? (found.claim as Claim<D>) : undefined;
  }

  /** Releases a claim this broker holds (a no-op for one it does not). */
  async release(name: string): Promise<void> {
    const revision = this.held.get(name);
    if (revision === undefined) return;
    this.held.delete(name);
    await bounded(this.kv.delete(token(name), { previousSeq: revision }), CLAIM_TIMEOUT_MS);
  }

  /** CLU-7: removes a claim a dead broker left, only while it is still that broker's. */
  async clearStale(name: string, deadBroker: string): Promise<void> {
    const found = await this.read(name);
    if (found === undefined || found.claim.broker !== deadBroker) return;
    await bounded(this.kv.delete(token(name), { previousSeq: found.revision }), CLAIM_TIMEOUT_MS);
  }

  /** After NATS came back: this broker's claims are written again where they were lost; returns the names another broker holds now. */
  async reassert(names: Iterable<[string, D]>): Promise<string[]> {
    const lost: string[] = [];
    for (const [name, detail] of names) {
      const found = await this.read(name).catch(() => undefined);
      if (found !== undefined) {
        if (found.claim.broker === this.brokerId) this.held.set(name, found.revision);
        else lost.push(name);
        continue;
      }
      try {
        this.held.set(name, await bounded(this.kv.create(token(name), this.value(detail)), CLAIM_TIMEOUT_MS));
      } catch {
        lost.push(name);
      }
    }
    return lost;
  }
}
