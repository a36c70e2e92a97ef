/** The in-process TypeScript engine as a backend. */
import type { NDArray } from '../../codec/ndarray.js';
import { ReferenceEngine } from '../engine.js';
import type { TeacherConfidence } from '../mtl.js';
import type { EngineBackend } from './backend.js';

/** A {@link ReferenceEngine} in this process, behind the {@link EngineBackend} interface. */
export class LocalBackend implements EngineBackend {
  readonly language = 'typescript' as const;
  readonly engine: ReferenceEngine;

  constructor(readonly name = 'typescript', seed?: number) {
    this.engine = new ReferenceEngine(name, seed);
  }

  live(): boolean {
    return true;
  }

  markFailed(): void {}

  async reason(encoding: NDArray): Promise<ReturnType<ReferenceEngine['reason']>> {
    return this.engine.reason(encoding);
  }

  async feedback(encoding: NDArray, reward: number, learningRate: number | undefined): Promise<ReturnType<ReferenceEngine['feedback']>> {
    return this.engine.feedback(encoding, reward, learningRate);
  }

  async parameterSync(parameters: Record<string, number>): Promise<ReturnType<ReferenceEngine['parameterSync']>> {
    return this.engine.parameterSync(parameters);
  }

  async stateUpdate(layer: number, weights: NDArray, version: bigint): Promise<ReturnType<ReferenceEngine['stateUpdate']>> {
    return this.engine.stateUpdate(layer, weights, version);
  }

  async mtlCoordinate(id: string, teachers: TeacherConfidence[], encoding: NDArray | undefined): Promise<ReturnType<ReferenceEngine['mtlCoordinate']>> {
    return this.engine.mtlCoordinate(id, teachers, encoding);
  }
}
