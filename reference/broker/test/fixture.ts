/**
 * Starts brokers and clients for a test and closes every one of them afterwards.
 */
import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, type BrokerOptions } from '../index.js';
import { WireClient, type Address, type InitOverrides } from './wire-client.js';

export interface Harness {
  /** Log lines of the brokers started by the current test. */
  readonly logs: string[];
  /** A broker on 127.0.0.1 with an ephemeral port. */
  broker(options?: BrokerOptions): Promise<{ broker: Broker; address: Address }>;
  /** A client connected and through its handshake. */
  client(address: Address, clientId: string, overrides?: InitOverrides): Promise<WireClient>;
  /** A connected client that has sent nothing yet. */
  raw(address: Address): Promise<WireClient>;
}

const socketDirs: string[] = [];

/** A fresh Unix socket path in a private temporary directory (removed when the test file ends). */
export function socketPath(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-broker-'));
  socketDirs.push(dir);
  return join(dir, `${name}.sock`);
}

/** Registers cleanup for the calling test file and returns the factory. */
export function useHarness(): Harness {
  const brokers: Broker[] = [];
  const clients: WireClient[] = [];
  const logs: string[] = [];
  afterEach(async () => {
    logs.length = 0;
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(brokers.splice(0).map((b) => b.close()));
    for (const dir of socketDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return {
    logs,
    async broker(options = {}) {
      // Logs go to `logs` rather than stderr, so expected warnings do not clutter test output.
      const broker = new Broker({ port: 0, logSink: (line) => logs.push(line), ...options });
      brokers.push(broker);
      const bound = await broker.listen();
      const address: Address = bound.port !== undefined ? { port: bound.port } : { path: bound.unixPath! };
      return { broker, address };
    },
    async client(address, clientId, overrides = {}) {
      const client = await WireClient.connect(address);
      clients.push(client);
      const ack = await client.init(clientId, overrides);
      if (ack.name !== 'INIT_ACK') throw new Error(`handshake of ${clientId} answered by ${ack.name}: ${JSON.stringify(ack.payload)}`);
      return client;
    },
    async raw(address) {
      const client = await WireClient.connect(address);
      clients.push(client);
      return client;
    },
  };
}
