/**
 * The wire bus under test: two clients of one broker. Operations and middleware are on the first;
 * subscriptions and handlers alternate between both, so events, commands and queries travel to the
 * publisher's own client and to another one (BUS-5, BUS-37); services are provided by the second.
 */
import { ConcordClient } from '../../client/client.js';
import type { BusFactory } from '../adapter/session.js';
import { WireBus } from './wire-bus.js';
import { WireCoordinator } from './wire-coordinator.js';

export interface WireTarget {
  host?: string;
  port?: number;
  path?: string;
  token?: string;
}

let counter = 0;

export function wireFactory(t: WireTarget): BusFactory {
  return async () => {
    const tag = `${process.pid}-${Date.now().toString(36)}-${++counter}`;
    const connect = (name: string): Promise<ConcordClient> =>
      ConcordClient.connect({
        ...(t.path !== undefined ? { path: t.path } : { host: t.host ?? '127.0.0.1', port: t.port ?? 9999 }),
        clientId: `bus-${name}-${tag}`, ...(t.token !== undefined ? { token: t.token } : {}),
      });
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    const busA = new WireBus(a);
    const busB = new WireBus(b);
    return {
      bus: busA,
      members: [busA, busB],
      coordinator: new WireCoordinator(a, b, busA),
      close: async () => {
        await Promise.all([a.close({ drainMs: 0 }), b.close({ drainMs: 0 })]);
      },
    };
  };
}
