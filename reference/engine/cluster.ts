/**
 * A broker on loopback with engine processes attached and a unified-engine connection: what
 * `concord engine run`, the engine tests and the bench start. close() stops every process it
 * started, by PID, and the broker.
 */
import { Broker } from '../broker/index.js';
import { ConcordClient } from '../client/index.js';
import { EngineProcess, waitAttached } from './processes.js';
import type { EngineBackend, EngineLanguage } from './unified/backend.js';
import { LocalBackend } from './unified/local.js';
import { RemoteBackend } from './unified/remote.js';

export interface ClusterOptions {
  /** Remote engine processes to start, by language (e.g. ['python', 'cpp']). */
  remote: EngineLanguage[];
  /** Also attach the in-process TypeScript engine (first in attach order). */
  local?: boolean;
}

export interface Cluster {
  port: number;
  client: ConcordClient;
  processes: EngineProcess[];
  backends: EngineBackend[];
  broker: Broker;
  close(): Promise<void>;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
  const port = (await broker.listen()).port!;
  const processes: EngineProcess[] = [];
  let client: ConcordClient | undefined;
  const close = async (): Promise<void> => {
    await client?.close({ drainMs: 0 }).catch(() => undefined);
    await Promise.all(processes.map((p) => p.stop()));
    await broker.close();
  };
  try {
    client = await ConcordClient.connect({ host: '127.0.0.1', port, clientId: 'unified-engine', role: 'coordinator', encodings: ['json'], reconnect: true, retries: 100 });
    const counts: Record<string, number> = {};
    for (const language of o.remote) {
      counts[language] = (counts[language] ?? 0) + 1;
      processes.push(EngineProcess.attach(language, `engine-${language}-${counts[language]}`, port));
    }
    await Promise.all(processes.map((p) => waitAttached(client!, p)));
    const backends: EngineBackend[] = [
      ...(o.local ? [new LocalBackend('typescript')] : []),
      ...processes.map((p) => new RemoteBackend(client!, p.id, p.language)),
    ];
    return { port, client, processes, backends, broker, close };
  } catch (e) {
    await close();
    throw e;
  }
}
