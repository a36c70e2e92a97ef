/**
 * A payload schema reduced to what the wire transform needs: where the ndarray fields and the
 * 64-bit integer fields are. Built once per message type from the catalog.
 */
import { SCHEMA_DEFS } from '../../spec/generated/catalog.js';

export interface NdarrayRule {
  dtypes: string[];
  ndim?: number;
  shape?: (number | null)[];
  minSize?: number;
  maxSize?: number;
}

export type Plan =
  | { kind: 'ndarray'; rule: NdarrayRule }
  | { kind: 'int64'; signed: boolean }
  | { kind: 'object'; props: Map<string, Plan>; rest?: Plan }
  | { kind: 'array'; items: Plan }
  /** A field whose schema allows any value: a `$ndarray` wrapper or tag 49344 in it is an ndarray (ARR-8). */
  | { kind: 'any' }
  /** Nothing special below this node (plain JSON values). */
  | { kind: 'plain' };

const PLAIN: Plan = { kind: 'plain' };
const ANY: Plan = { kind: 'any' };

/** Keywords that only annotate: a schema with nothing else allows any value. */
const ANNOTATIONS = new Set(['description', 'title', 'examples', '$comment', 'default', 'since']);

function allowsAnyValue(schema: Record<string, unknown>): boolean {
  return Object.keys(schema).every((k) => ANNOTATIONS.has(k));
}

/** Follows `#/$defs/NAME` references to the shared definition (the catalog has no other kind). */
export function resolve(schema: Record<string, unknown>): Record<string, unknown> {
  const ref = schema['$ref'];
  if (typeof ref !== 'string') return schema;
  const name = ref.replace('#/$defs/', '');
  const target = SCHEMA_DEFS[name];
  if (!target) throw new Error(`plan: unresolved $ref ${ref}`);
  return resolve(target as Record<string, unknown>);
}

/** Reduces a JSON Schema to a Plan. Combinators holding special fields are refused (the spec avoids them). */
export function buildPlan(schemaIn: Readonly<Record<string, unknown>> | null | undefined): Plan {
  if (!schemaIn) return PLAIN;
  const schema = resolve(schemaIn as Record<string, unknown>);
  if (allowsAnyValue(schema)) return ANY;
  if (schema['ndarray']) return { kind: 'ndarray', rule: schema['ndarray'] as NdarrayRule };
  if (schema['int64']) return { kind: 'int64', signed: schema['int64'] === 'int64' };
  for (const combinator of ['oneOf', 'anyOf', 'allOf']) {
    if (schema[combinator] && JSON.stringify(schema[combinator]).match(/"(ndarray|int64)"/)) {
      throw new Error(`plan: ${combinator} around ndarray or int64 fields is not supported`);
    }
  }
  const props = schema['properties'] as Record<string, Record<string, unknown>> | undefined;
  const additional = schema['additionalProperties'];
  if (props || (additional && typeof additional === 'object')) {
    const map = new Map<string, Plan>();
    for (const [k, v] of Object.entries(props ?? {})) {
      const p = buildPlan(v);
      if (p.kind !== 'plain') map.set(k, p);
    }
    const rest = additional && typeof additional === 'object' ? buildPlan(additional as Record<string, unknown>) : PLAIN;
    if (map.size === 0 && rest.kind === 'plain') return PLAIN;
    return rest.kind === 'plain' ? { kind: 'object', props: map } : { kind: 'object', props: map, rest };
  }
  if (schema['items'] && typeof schema['items'] === 'object') {
    const items = buildPlan(schema['items'] as Record<string, unknown>);
    return items.kind === 'plain' ? PLAIN : { kind: 'array', items };
  }
  return PLAIN;
}
