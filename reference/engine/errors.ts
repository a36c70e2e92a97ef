/** Typed engine errors; `code` is a name of the error registry (spec/errors.json). */
import { ERRORS } from '../../spec/generated/catalog.js';

type Code = (typeof ERRORS)[number]['name'];

/** A refusal by an engine: `code` is an error name of the registry, sent back as the ERROR's code. */
export class EngineError extends Error {
  override name = 'EngineError';
  constructor(readonly code: Code, message: string, readonly details: Record<string, unknown> = {}, readonly retryable = false) {
    super(message);
  }
}
