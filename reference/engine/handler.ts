/** Maps engine messages to ReferenceEngine operations: one place for every transport (stdio, broker). */
import type { NDArray } from '../codec/ndarray.js';
import type { ReferenceEngine } from './engine.js';
import type { TeacherConfidence } from './mtl.js';
import type { MessageName } from '../../spec/generated/catalog.js';

/** The request types an engine answers. */
export const ENGINE_REQUESTS = ['REASONING_REQUEST', 'BATCH_REASONING_REQ', 'FEEDBACK', 'STATE_UPDATE', 'PARAMETER_SYNC', 'MTL_COORDINATE', 'MEMORY_UPDATE', 'ENCODING_REQ'] as const satisfies readonly MessageName[];
/** One of {@link ENGINE_REQUESTS}. */
export type EngineRequest = (typeof ENGINE_REQUESTS)[number];

const version = (v: unknown): bigint | undefined => (v === undefined ? undefined : BigInt(v as string | bigint));

/** The response payload for one request; throws EngineError for a refusal. */
export function handleEngineRequest(engine: ReferenceEngine, type: EngineRequest, p: Record<string, unknown>): unknown {
  switch (type) {
    case 'REASONING_REQUEST':
      return engine.reason(p['encoding']);
    case 'BATCH_REASONING_REQ':
      return { results: engine.reasonBatch(p['items'] as { encoding: unknown }[]) };
    case 'FEEDBACK':
      return engine.feedback(p['encoding'], p['reward'] as number, p['learning_rate'] as number | undefined);
    case 'STATE_UPDATE':
      return engine.stateUpdate(p['layer'] as number, p['weights'] as NDArray, version(p['state_version']) ?? 0n);
    case 'PARAMETER_SYNC':
      return engine.parameterSync(p['parameters'] as Record<string, number>, version(p['state_version']));
    case 'MTL_COORDINATE':
      return engine.mtlCoordinate(p['coordination_id'] as string, p['teacher_outputs'] as TeacherConfidence[], p['encoding']);
    case 'MEMORY_UPDATE':
      return engine.memoryUpdate(p['key'] as string, p['encoding'], p['content'] as string | undefined);
    case 'ENCODING_REQ':
      return engine.encode(p['text'] as string, p['dim'] as number | undefined);
  }
}
