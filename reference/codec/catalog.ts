/** Lookups into the generated message catalog. */
import { ERRORS, MESSAGES, type ErrorName, type MessageInfo, type MessageName, type ReceivedCode } from '../../spec/generated/catalog.js';
import { buildPlan, type Plan } from './plan.js';

const byCode = new Map<number, MessageInfo>(MESSAGES.map((m) => [m.code, m]));
const byName = new Map<string, MessageInfo>(MESSAGES.map((m) => [m.name, m]));
export type { ReceivedCode };

const registry = new Set<string>(ERRORS.map((e) => e.name));
const plans = new Map<number, Plan>(MESSAGES.map((m) => [m.code, buildPlan(m.payload)]));
const responses = new Map<number, number>(MESSAGES.flatMap((m) => (m.response ? [[m.code, byName.get(m.response)!.code] as const] : [])));

/** The catalog entry of a type code, or undefined for an unknown code. */
export function messageByCode(code: number): MessageInfo | undefined {
  return byCode.get(code);
}

/** The type code of a request type's response (the catalog's `response`), looked up once rather than per frame; undefined for other types. */
export function responseCodeOf(code: number): number | undefined {
  return responses.get(code);
}

/** The catalog entry of a type name; throws for an unknown name (a programming error). */
export function messageByName(name: MessageName): MessageInfo {
  const m = byName.get(name);
  if (!m) throw new RangeError(`messageByName: no message type ${name}`);
  return m;
}

/**
 * Whether a broker may write this type to a client: its directions hold broker-to-client or routed.
 * A client-side receiver refuses any other type with UNEXPECTED_MESSAGE (REQ-6, step 10 of the check
 * table), before it asks whether it implements the type (ERR-8, step 13).
 */
export function reachesClient(info: MessageInfo): boolean {
  return info.directions.includes('broker-to-client') || info.directions.includes('routed');
}

/** The catalog entry of a name read at run time (a command line, a spec file), or undefined. */
export function lookupMessage(name: string): MessageInfo | undefined {
  return byName.get(name);
}

/**
 * A code received from a peer as a registry name, or undefined when it is not one (ERR-2 says it must
 * be; a faulty peer may send anything). Comparing its result with a literal lets the compiler check the
 * literal against the registry.
 */
export function registryName(code: unknown): ErrorName | undefined {
  return typeof code === 'string' && registry.has(code) ? (code as ErrorName) : undefined;
}

/** A code that must be a registry name (a fixture's expected error, say); throws when it is not. */
export function toRegistryName(code: string): ErrorName {
  const name = registryName(code);
  if (name === undefined) throw new RangeError(`${code} is not a name of the error registry`);
  return name;
}

/** A code from the wire, typed for the places that take registry names or received codes. */
export function receivedCode(code: string): ErrorName | ReceivedCode {
  return code as ErrorName | ReceivedCode;
}

/** Where a type's ndarray and 64-bit fields are. */
export function planOf(m: MessageInfo): Plan {
  return plans.get(m.code)!;
}
