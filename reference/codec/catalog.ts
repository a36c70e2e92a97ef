/** Lookups into the generated message catalog. */
import { MESSAGES, type MessageInfo } from '../../spec/generated/catalog.js';
import { buildPlan, type Plan } from './plan.js';

const byCode = new Map<number, MessageInfo>(MESSAGES.map((m) => [m.code, m]));
const byName = new Map<string, MessageInfo>(MESSAGES.map((m) => [m.name, m]));
const plans = new Map<number, Plan>(MESSAGES.map((m) => [m.code, buildPlan(m.payload)]));

/** The catalog entry of a type code, or undefined for an unknown code. */
export function messageByCode(code: number): MessageInfo | undefined {
  return byCode.get(code);
}

/** The catalog entry of a type name; throws for an unknown name (a programming error). */
export function messageByName(name: string): MessageInfo {
  const m = byName.get(name);
  if (!m) throw new RangeError(`messageByName: no message type ${name}`);
  return m;
}

/** Where a type's ndarray and 64-bit fields are. */
export function planOf(m: MessageInfo): Plan {
  return plans.get(m.code)!;
}
