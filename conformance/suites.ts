/** The suites and their cases. `core` tests a broker: framing, handshake, requests, errors, limits; `testee` a codec. */
import type { Case } from './cases/model.js';
import { framingCases } from './cases/framing.cases.js';
import { fixtureFaultCases } from './cases/fixture-faults.cases.js';
import { handshakeCases } from './cases/handshake.cases.js';
import { requestCases } from './cases/requests.cases.js';
import { propertyCases } from './cases/properties.cases.js';
import { testeeCases } from './cases/testee.cases.js';
import { clientCases } from './cases/client.cases.js';
import { clientReceiverCases, receiverCases } from './cases/receiver.cases.js';
import { registryCases } from './cases/registry.cases.js';
import { busCases } from './cases/bus.cases.js';
import { fifoCases } from './cases/fifo.cases.js';
import { linesCases } from './cases/lines.cases.js';
import { engineCases, openEngine } from './cases/engine.cases.js';
import { instrumentCases, openWorker } from './cases/instrument.cases.js';
import { livenessCases } from './cases/runtime-liveness.cases.js';
import { shutdownCases } from './cases/runtime-shutdown.cases.js';
import { runtimeRequestCases } from './cases/runtime-requests.cases.js';
import { runtimeSystemCases } from './cases/runtime-system.cases.js';
import { brokerShutdownCases } from './cases/runtime-broker-shutdown.cases.js';
import { robustnessCases } from './cases/robustness.cases.js';
import { brokerBuiltPayloadCases } from './cases/broker-built-payloads.cases.js';
import { brokerProcessCases } from './cases/broker-process.cases.js';
import { instrumentFaultCases } from './cases/instrument-faults.cases.js';
import { stdioCases } from './cases/stdio.cases.js';
import { clusterCases } from './cases/cluster.cases.js';
import { clusterProcessCases } from './cases/cluster-process.cases.js';

export const SUITES: Record<string, () => Case[]> = {
  core: () => [...framingCases, ...fixtureFaultCases(), ...handshakeCases, ...requestCases, ...registryCases, ...propertyCases,
    ...livenessCases, ...shutdownCases, ...runtimeRequestCases, ...runtimeSystemCases, ...robustnessCases,
    ...brokerBuiltPayloadCases,
    // Last: it shuts the broker down (skipped where the harness cannot).
    ...brokerShutdownCases],
  /** A peer's codec through the testee profile (conformance --exec -- CMD). */
  testee: () => [...testeeCases(), ...stdioCases('testee', false)],
  /** A client under test (conformance --listen). */
  client: () => [...clientCases, ...clientReceiverCases()],
  /** A bus through a bus adapter (--exec), or the bus of a broker (--target, or the reference broker). */
  bus: busCases,
  /** A broker over FIFO pairs (--target fifo:DIR): the FIFO cases, then the core suite over FIFOs. */
  fifo: () => [...fifoCases, ...SUITES['core']!()],
  /** A legacy line-based pipe peer (--target lines:REQ,REP --role ROLE -- CMD), section 10.5. */
  lines: () => linesCases,
  /** An engine peer on stdio (conformance --suite engine --exec -- CMD): fixtures, digests, unified-engine behaviour. */
  engine: () => [...engineCases(), ...receiverCases('engine', openEngine), ...stdioCases('engine', false)],
  /** An instrument worker (spec section 17) over stdio, or through a broker when the command holds {broker}. */
  instrument: () => [...instrumentCases(), ...instrumentFaultCases(), ...receiverCases('worker', openWorker), ...stdioCases('instrument', true)],
  /** A cluster of brokers (--target HOST:PORT,HOST:PORT[,...], section 19): claims, look-ups and STATS across brokers. */
  cluster: () => clusterCases,
  /** A broker the harness starts itself (conformance --suite broker-process -- CMD, {unix} {port} {host} replaced). */
  'broker-process': () => brokerProcessCases,
  /** A cluster the harness owns (conformance --suite cluster-process -- CMD, {host} {port} {nats} {id} replaced): dead brokers, NATS outages, the NATS format. */
  'cluster-process': () => clusterProcessCases,
};

export function casesOf(suites: string[]): Case[] {
  return suites.flatMap((s) => {
    const make = SUITES[s];
    if (!make) throw new RangeError(`unknown suite ${s} (known: ${Object.keys(SUITES).join(', ')})`);
    return make();
  });
}
