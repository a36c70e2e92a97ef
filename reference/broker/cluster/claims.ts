/**
 * Cluster-wide client id claims (HS-5 across brokers, CLU-3): a JetStream key-value bucket whose
 * `create` succeeds for one claimant only. A claim left by a broker that died is taken over with an
 * `update` at the revision read, so two brokers cannot both take it over.
 */
import type { KV } from '@nats-io/kv';
import { token, type ClientInfo } from './wire.js';

/** A claim's value: the owning broker and what routing to the client needs (CLU-3). */
export interface Claim {
  broker: string;
  client: ClientInfo;
}

export type ClaimOutcome = 'claimed' | 'taken' | 'unreachable';

/** How long one claim may take before the INIT is refused as unreachable. */
export const CLAIM_TIMEOUT_MS = 2000;

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expire = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, expire]).finally(() => clearTimeout(timer));
}

export class ClaimStore {
  /** Revisions of the claims this broker holds, so a release deletes only its own. */
  private readonly held = new Map<string, number>();

  constructor(
    private readonly kv: KV,
    private readonly brokerId: string,
  ) {}

  /** Claims `clientId` for this broker; `isAlive(broker)` decides whether another holder's claim still stands. */
  async claim(client: ClientInfo, isAlive: (broker: string) => boolean): Promise<ClaimOutcome> {
    const clientId = client.id;
    const key = token(clientId);
    const value = JSON.stringify({ broker: this.brokerId, client } satisfies Claim);
    try {
      this.held.set(clientId, await bounded(this.kv.create(key, value), CLAIM_TIMEOUT_MS));
      return 'claimed';
    } catch {
      // Either the key exists or NATS did not answer: the entry tells which.
    }
    let entry;
    try {
      entry = await bounded(this.kv.get(key), CLAIM_TIMEOUT_MS);
    } catch {
      return 'unreachable';
    }
    if (entry === null || entry.operation !== 'PUT') return 'unreachable';
    let holder: unknown;
    try {
      holder = (JSON.parse(entry.string()) as { broker?: unknown }).broker;
    } catch {
      holder = undefined;
    }
    if (typeof holder === 'string' && holder !== this.brokerId && isAlive(holder)) return 'taken';
    try {
      this.held.set(clientId, await bounded(this.kv.update(key, value, entry.revision), CLAIM_TIMEOUT_MS));
      return 'claimed';
    } catch {
      return 'taken'; // another broker took it over first
    }
  }

  /** Who holds `clientId`, if anyone (a client that connected too recently for its join to have arrived). */
  async lookup(clientId: string): Promise<Claim | undefined> {
    const entry = await bounded(this.kv.get(token(clientId)), CLAIM_TIMEOUT_MS);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const claim = JSON.parse(entry.string()) as Partial<Claim>;
    return typeof claim.broker === 'string' && typeof claim.client === 'object' && claim.client !== null ? (claim as Claim) : undefined;
  }

  /** Releases a claim this broker holds (a no-op for one it does not). */
  async release(clientId: string): Promise<void> {
    const revision = this.held.get(clientId);
    if (revision === undefined) return;
    this.held.delete(clientId);
    await bounded(this.kv.delete(token(clientId), { previousSeq: revision }), CLAIM_TIMEOUT_MS);
  }

  /** Removes the claims a dead broker left, each only while it is still that broker's. */
  async clearStale(clientId: string, deadBroker: string): Promise<void> {
    const key = token(clientId);
    const entry = await bounded(this.kv.get(key), CLAIM_TIMEOUT_MS);
    if (entry === null || entry.operation !== 'PUT') return;
    if ((JSON.parse(entry.string()) as { broker?: unknown }).broker !== deadBroker) return;
    await bounded(this.kv.delete(key, { previousSeq: entry.revision }), CLAIM_TIMEOUT_MS);
  }

  /** After NATS came back: this broker's claims are written again (a restarted server without storage lost them). */
  async reassert(clients: Iterable<ClientInfo>): Promise<string[]> {
    const lost: string[] = [];
    for (const client of clients) {
      const id = client.id;
      const key = token(id);
      const entry = await bounded(this.kv.get(key), CLAIM_TIMEOUT_MS).catch(() => null);
      if (entry !== null && entry.operation === 'PUT') {
        const holder = (JSON.parse(entry.string()) as { broker?: unknown }).broker;
        if (holder === this.brokerId) {
          this.held.set(id, entry.revision);
          continue;
        }
        lost.push(id);
        continue;
      }
      try {
        this.held.set(id, await bounded(this.kv.create(key, JSON.stringify({ broker: this.brokerId, client } satisfies Claim)), CLAIM_TIMEOUT_MS));
      } catch {
        lost.push(id);
      }
    }
    return lost;
  }
}
