/**
 * An engine behind the unified engine: the in-process TypeScript engine, or a remote engine reached
 * through the broker. Both answer the same operations with the same payloads.
 */
import type { NDArray } from '../../codec/ndarray.js';
import type { ReasonResult, StateAck, MtlResult } from '../engine.js';
import type { TeacherConfidence } from '../mtl.js';

export type EngineLanguage = 'typescript' | 'python' | 'cpp';

export interface EngineBackend {
  readonly name: string;
  readonly language: EngineLanguage;
  /** false after a connection-level failure, until the retry delay has passed. */
  live(now: number): boolean;
  reason(encoding: NDArray, context: string, timeoutMs: number): Promise<ReasonResult>;
  feedback(encoding: NDArray, reward: number, learningRate: number | undefined, timeoutMs: number): Promise<StateAck>;
  parameterSync(parameters: Record<string, number>, timeoutMs: number): Promise<StateAck>;
  mtlCoordinate(id: string, teachers: TeacherConfidence[], encoding: NDArray | undefined, timeoutMs: number): Promise<MtlResult>;
  /** Records a connection-level failure (the engine is skipped for a while). */
  markFailed(now: number): void;
}
