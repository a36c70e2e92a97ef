/**
 * The reference components the harness consults as oracles: the engine whose answers a peer's must
 * match, the instrument model, the bus adapter session that drives a broker's bus over the wire, and
 * the embedded reference broker and the options it runs with. Every other import of `reference/`
 * by the harness is a shared piece (codec, properties, repository paths, FIFO plumbing, table and
 * token helpers); `conformance/test/import-direction.test.ts` keeps it that way.
 */
export { ReferenceEngine, type ReasonResult, type StateAck, type MtlResult } from '../reference/engine/engine.js';
export { encodingOf, layerWeights, type EngineFixtures } from '../reference/engine/fixtures.js';
export { requestOf, stepDiff } from '../reference/engine/fixture-steps.js';
export type { EngineBackend, EngineLanguage } from '../reference/engine/unified/backend.js';
export { LocalBackend } from '../reference/engine/unified/local.js';
export { UnifiedEngine } from '../reference/engine/unified/unified.js';
export { Xorshift32 } from '../reference/engine/prng.js';
export { WEIGHT_LIMIT } from '../reference/engine/model.js';
export type { TeacherConfidence } from '../reference/engine/mtl.js';
export { instrumentSpec } from '../reference/instrument/spec.js';
export { roundToStep } from '../reference/instrument/params.js';
export { AdapterSession, type BusFactory } from '../reference/bus/adapter/session.js';
export { wireFactory } from '../reference/bus/wire/factory.js';
export type { BrokerOptions } from '../reference/broker/config.js';
export { Broker } from '../reference/broker/index.js';
export { handleEngineRequest, ENGINE_REQUESTS, type EngineRequest } from '../reference/engine/handler.js';
export { errorPayloadFor } from '../reference/client/handlers.js';
