/**
 * The reference engine of the Concord wire protocol v1 (spec section engine): the deterministic
 * engine itself, the unified engine that spreads calls over several engines, and the two ways to
 * serve an engine (attached to a broker, or on stdio as a peer under test).
 *
 * @example
 * ```ts
 * import { LocalBackend, UnifiedEngine } from 'concord/engine';
 * const unified = new UnifiedEngine({ strategy: 'round_robin' }).attach(new LocalBackend());
 * const r = await unified.reason(new Float32Array(64).fill(0.5));
 * ```
 * @packageDocumentation
 * @module engine
 */
export { ReferenceEngine, type ReasonResult, type StateAck, type BatchItemResult, type MtlResult, type EncodingResult } from './engine.js';
export { EngineMemory, type MemoryEntry } from './memory.js';
export { encodeText, hashEncode, fnv1a32, type Encoded } from './encoder.js';
export { EngineError } from './errors.js';
export { stateDigest } from './digest.js';
export { initialState, cloneState, DEFAULT_SEED, INPUT_WIDTH, LAYER_SIZES, NEURONS, type EngineState } from './model.js';
export { coordinate, type TeacherConfidence, type MtlOutcome } from './mtl.js';
export { ENGINE_REQUESTS, handleEngineRequest, type EngineRequest } from './handler.js';
export { serveBroker, type ServeOptions } from './serve.js';
export { serveStdio } from './stdio.js';
export { UnifiedEngine, agree, type EngineHint, type Attempt, type UnifiedError, type UnifiedResult, type UnifiedOptions, type TeacherOutput, type DisagreementSignal } from './unified/unified.js';
export { STRATEGIES, type Strategy } from './unified/strategy.js';
export { LocalBackend } from './unified/local.js';
export { RemoteBackend } from './unified/remote.js';
export { serveUnified, responseOf, UNIFIED_ENGINE_ID, type UnifiedService, type UnifiedServiceOptions, type AttachedEngine } from './unified/service.js';
export type { EngineBackend, EngineLanguage } from './unified/backend.js';
