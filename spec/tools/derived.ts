/**
 * Values the spec states inside schemas or across files, picked out once so that every generator
 * (TypeScript, C++, Python, Perl) emits the same constants and no peer writes them by hand.
 */
import type { SpecModel } from './model.js';

export interface DerivedValues {
  /** The ERROR payload's `message` maxLength (characters). */
  readonly errorMessageMaxLength: number;
  /** SERVICE_DISPATCH defaults: per-attempt timeout (catalog), retries (payload schema default), backoff (limits). */
  readonly dispatch: { readonly timeoutMs: number; readonly maxRetries: number; readonly backoffBaseMs: number; readonly backoffMaxMs: number };
}

function property(spec: SpecModel, message: string, field: string): Record<string, unknown> {
  const m = spec.messages.find((x) => x.name === message);
  const props = (m?.payload as { properties?: Record<string, Record<string, unknown>> } | null | undefined)?.properties;
  const p = props?.[field];
  if (!p) throw new Error(`derived: ${message} has no payload field ${field}`);
  return p;
}

function integer(value: unknown, where: string): number {
  if (!Number.isSafeInteger(value)) throw new Error(`derived: ${where} is not an integer`);
  return value as number;
}

function limit(spec: SpecModel, name: string): number {
  const l = spec.limitFile.limits.find((x) => x.name === name);
  if (!l) throw new Error(`derived: no limit ${name}`);
  return l.default;
}

export function derivedValues(spec: SpecModel): DerivedValues {
  const dispatch = spec.messages.find((m) => m.name === 'SERVICE_DISPATCH');
  return {
    errorMessageMaxLength: integer(property(spec, 'ERROR', 'message')['maxLength'], 'ERROR /message maxLength'),
    dispatch: {
      timeoutMs: integer(dispatch?.timeout_ms, 'SERVICE_DISPATCH timeout_ms'),
      maxRetries: integer(property(spec, 'SERVICE_DISPATCH', 'max_retries')['default'], 'SERVICE_DISPATCH /max_retries default'),
      backoffBaseMs: limit(spec, 'dispatch_backoff_base_ms'),
      backoffMaxMs: limit(spec, 'dispatch_backoff_max_ms'),
    },
  };
}
