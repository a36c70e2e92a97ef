/** The suites and their cases. `core` tests a broker: framing, handshake, requests, errors, limits; `testee` a codec. */
import type { Case } from './cases/model.js';
import { framingCases } from './cases/framing.cases.js';
import { fixtureFaultCases } from './cases/fixture-faults.cases.js';
import { handshakeCases } from './cases/handshake.cases.js';
import { requestCases } from './cases/requests.cases.js';
import { propertyCases } from './cases/properties.cases.js';
import { testeeCases } from './cases/testee.cases.js';
import { clientCases } from './cases/client.cases.js';
import { registryCases } from './cases/registry.cases.js';
import { instrumentCases } from './cases/instrument.cases.js';

export const SUITES: Record<string, () => Case[]> = {
  core: () => [...framingCases, ...fixtureFaultCases(), ...handshakeCases, ...requestCases, ...registryCases, ...propertyCases],
  /** A peer's codec through the testee profile (conformance --exec -- CMD). */
  testee: testeeCases,
  /** A client under test (conformance --listen). */
  client: () => clientCases,
  /** An instrument worker (spec section 17) over stdio, or through a broker when the command holds {broker}. */
  instrument: instrumentCases,
};

export function casesOf(suites: string[]): Case[] {
  return suites.flatMap((s) => {
    const make = SUITES[s];
    if (!make) throw new RangeError(`unknown suite ${s} (known: ${Object.keys(SUITES).join(', ')})`);
    return make();
  });
}
