/** Shared set-up for the client tests: brokers and clients created by a test are closed after it. */
import { afterEach } from 'vitest';
import { NDArray } from '../../codec/index.js';
import type { ReasoningResponsePayload } from '../../../spec/generated/types.js';
import { ConcordClient, type ConnectOptions, type LogEntry } from '../index.js';
import { FakeBroker, type FakeBrokerOptions } from './fake-broker.js';

const brokers: FakeBroker[] = [];
const clients: ConcordClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close({ drainMs: 200 })));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

/** Starts a fake broker that is closed after the test. */
export async function startBroker(options: FakeBrokerOptions = {}): Promise<FakeBroker> {
  const broker = await FakeBroker.start(options);
  brokers.push(broker);
  return broker;
}

/** Registers a broker started otherwise for closing after the test. */
export function track(broker: FakeBroker): FakeBroker {
  brokers.push(broker);
  return broker;
}

/** Connects a client to `broker` (closed after the test); logs go to `logs` when given. */
export async function connect(broker: FakeBroker, options: Partial<ConnectOptions> = {}, logs?: LogEntry[]): Promise<ConcordClient> {
  const client = await ConcordClient.connect({
    host: '127.0.0.1',
    port: broker.port,
    clientId: 'ts-test',
    connectTimeoutMs: 2000,
    ...(logs ? { onLog: (e: LogEntry) => logs.push(e) } : {}),
    ...options,
  });
  clients.push(client);
  return client;
}

/** Registers a client created otherwise for closing after the test. */
export function trackClient(client: ConcordClient): ConcordClient {
  clients.push(client);
  return client;
}

/** A 768-element float32 vector with distinct values. */
export function vector768(seed = 1): NDArray {
  const values = new Float32Array(768);
  for (let i = 0; i < values.length; i++) values[i] = Math.fround(Math.sin(seed * 1000 + i) / 2);
  return NDArray.from('<f4', [768], values);
}

/** A valid REASONING_RESPONSE payload naming `engine`. */
export function reasoningResult(engine: string, spikeCount = 3): ReasoningResponsePayload {
  return {
    spike_count: spikeCount,
    confidence: Math.fround(0.85),
    firing_pattern: NDArray.from('|u1', [8], [1, 0, 0, 1, 1, 0, 1, 0]),
    engine,
    latency_ms: 0.5,
  };
}

/** A deterministic shuffle (mulberry32). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let a = seed >>> 0;
  const random = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Resolves when `predicate` holds for a log entry pushed to the returned `onLog`. */
export function logWatcher(predicate: (e: LogEntry) => boolean): { onLog: (e: LogEntry) => void; seen: Promise<void>; logs: LogEntry[] } {
  const logs: LogEntry[] = [];
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  return {
    logs,
    seen,
    onLog: (e) => {
      logs.push(e);
      if (predicate(e)) resolve();
    },
  };
}
