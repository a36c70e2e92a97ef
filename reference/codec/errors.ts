/**
 * The one error type of the codec: it carries a name from the error registry (spec/errors.json)
 * and, where the fault has one, the JSON pointer of the faulty field and the broken rule.
 */
import { ERRORS, type ErrorName } from '../../spec/generated/catalog.js';

/** What an ERROR's `details` say about a fault: where, which rule, which statement, which limit. */
export interface ErrorDetails {
  /** JSON pointer from the payload root, or `/header/...` for header keys. */
  path?: string;
  /** The rule broken: a schema keyword, an ndarray rule name, or a framing rule. */
  rule?: string;
  /** Statement id of spec/protocol.md. */
  statement?: string;
  /** The limit that applied. */
  limit?: number;
  [key: string]: unknown;
}

const REGISTRY = new Map(ERRORS.map((e) => [e.name, e]));

/** A protocol fault with its registry code; `definite` and `closes` come from the registry. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  /** The `id` of the faulty frame when it had a readable one: the ERROR's `re`. */
  frameId?: string;
  /** For a framing fault: the whole frames that preceded it in the same chunk, to be handled first. */
  framesBefore?: Uint8Array[];
  constructor(
    readonly code: ErrorName,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** true when the request certainly had no effect. */
  get definite(): boolean {
    return REGISTRY.get(this.code)?.definite ?? false;
  }

  /** true when the receiver closes the connection after reporting this error. */
  get closes(): boolean {
    return REGISTRY.get(this.code)?.closes ?? false;
  }

  /** The ERROR payload that reports this fault. */
  toPayload(): { code: ErrorName; message: string; definite: boolean; details?: ErrorDetails } {
    const hasDetails = Object.keys(this.details).length > 0;
    return { code: this.code, message: this.message, definite: this.definite, ...(hasDetails ? { details: this.details } : {}) };
  }
}

/** JSON pointer segment escaping (RFC 6901). */
export function pointer(parent: string, key: string | number): string {
  return `${parent}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** Sets an own enumerable property, even for keys like `__proto__` (plain assignment would not). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
