/**
 * Per-connection counters and request latency. Counters are plain numbers on the hot path (exact up to
 * 2^53, far beyond a connection's life) and become u64 bigints only when a STATS_RESPONSE is built.
 * Latency keeps a bounded ring of recent samples so memory stays flat under sustained load.
 */
import type { ClientStats } from '../../spec/generated/types.js';

/** A fixed-size ring of the most recent samples. */
export class LatencyRing {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(capacity = 1024) {
    this.samples = new Float64Array(capacity);
  }

  get size(): number {
    return this.filled;
  }

  add(us: number): void {
    this.samples[this.next] = us;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
  }

  /** The q-quantile (0..1) of the samples held, nearest-rank; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.filled === 0) return undefined;
    const sorted = Float64Array.from(this.samples.subarray(0, this.filled)).sort();
    const rank = Math.min(this.filled - 1, Math.max(0, Math.ceil(q * this.filled) - 1));
    return sorted[rank];
  }
}

export class ConnStats {
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Highest number of bytes seen queued for this connection's socket (back-pressure evidence). */
  maxQueuedBytes = 0;
  /** Times reading from this connection was paused because a reader it feeds was full (LIM-14). */
  readPauses = 0;
  readonly latency = new LatencyRing();
}

/** One entry of STATS_RESPONSE's `clients`, typed from the spec (spec/messages/system.json). */
export type ClientStatsEntry = ClientStats;

export function clientStatsEntry(clientId: string, language: ClientStats['language'], stats: ConnStats, inFlight: number): ClientStatsEntry {
  const entry: ClientStatsEntry = {
    client_id: clientId,
    language,
    frames_in: BigInt(stats.framesIn),
    frames_out: BigInt(stats.framesOut),
    bytes_in: BigInt(stats.bytesIn),
    bytes_out: BigInt(stats.bytesOut),
    in_flight: inFlight,
  };
  const p50 = stats.latency.quantile(0.5);
  const p99 = stats.latency.quantile(0.99);
  if (p50 !== undefined) entry.latency_p50_us = round(p50);
  if (p99 !== undefined) entry.latency_p99_us = round(p99);
  return entry;
}

function round(us: number): number {
  return Math.round(us * 10) / 10;
}
