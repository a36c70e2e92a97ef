/**
 * A non-loopback IPv4 address of this machine: where the SEC-1 case probes for a broker that listens
 * beyond loopback, and what its tests and the mutation run check for before expecting that case to run.
 */
import { networkInterfaces } from 'node:os';

/** The first non-internal IPv4 address of this machine, if any. */
export function externalIPv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
