/**
 * An engine behind the unified engine: the in-process TypeScript engine, or a remote engine reached
 * through the broker. Both answer the same operations with the same payloads.
 */
import type { NDArray } from '../../codec/ndarray.js';
import type { ReasonResult, StateAck, MtlResult } from '../engine.js';
import type { TeacherConfidence } from '../mtl.js';

/** The languages of the reference engines. */
export type EngineLanguage = 'typescript' | 'python' | 'cpp';

/** An engine as the unified engine sees it: in process ({@link LocalBackend}) or through a broker ({@link RemoteBackend}). */
export interface EngineBackend {
  readonly name: string;
  readonly language: EngineLanguage;
  /** false after a connection-level failure, until the retry delay has passed. */
  live(now: number): boolean;
  /** REASONING_REQUEST: the engine's result for one encoding. */
  reason(encoding: NDArray, context: string, timeoutMs: number): Promise<ReasonResult>;
  /** FEEDBACK: a Hebbian update; resolves with the new state. */
  feedback(encoding: NDArray, reward: number, learningRate: number | undefined, timeoutMs: number): Promise<StateAck>;
  /** PARAMETER_SYNC: new learning parameters; resolves with the new state. */
  parameterSync(parameters: Record<string, number>, timeoutMs: number): Promise<StateAck>;
  /** MTL_COORDINATE: the multi-teacher update; resolves with the coordination result. */
  mtlCoordinate(id: string, teachers: TeacherConfidence[], encoding: NDArray | undefined, timeoutMs: number): Promise<MtlResult>;
  /** STATE_UPDATE: one layer's weights replaced at a version; resolves with the new state. */
  stateUpdate?(layer: number, weights: NDArray, version: bigint, timeoutMs: number): Promise<StateAck>;
  /** Records a connection-level failure (the engine is skipped for a while). */
  markFailed(now: number): void;
}
