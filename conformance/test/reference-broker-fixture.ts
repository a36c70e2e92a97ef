/**
 * For test files that put a broken proxy in front of the reference broker: one in-process broker on a
 * free loopback port for the whole file, and a report directory removed with it.
 */
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';

export interface ReferenceBrokerFixture {
  /** The broker's port, once `beforeAll` has run. */
  readonly port: number;
  readonly reportDir: string;
}

export function useReferenceBroker(reportPrefix: string): ReferenceBrokerFixture {
  const reportDir = mkdtempSync(join(tmpdir(), reportPrefix));
  let broker: Broker | undefined;
  let port = 0;
  beforeAll(async () => {
    broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', maxInFlight: 64 });
    port = (await broker.listen()).port!;
  });
  afterAll(async () => {
    await broker?.close();
    rmSync(reportDir, { recursive: true, force: true });
  });
  return { get port() { return port; }, reportDir };
}
