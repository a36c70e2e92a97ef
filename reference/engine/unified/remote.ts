/** A remote engine reached through the broker by its client id, over the unified engine's connection. */
import type { NDArray } from '../../codec/ndarray.js';
import type { ConcordClient } from '../../client/index.js';
import type { ReasonResult, StateAck, MtlResult } from '../engine.js';
import type { TeacherConfidence } from '../mtl.js';
import type { EngineBackend, EngineLanguage } from './backend.js';

/** After a connection-level failure the engine is skipped this long, then tried again (it may have reconnected). */
export const RETRY_AFTER_MS = 500;

/** An engine reached through a broker by its client id, with a client of that broker; skipped for a while after a connection-level failure. */
export class RemoteBackend implements EngineBackend {
  private failedAt = -Infinity;

  constructor(private readonly client: ConcordClient, readonly name: string, readonly language: EngineLanguage) {}

  live(now: number): boolean {
    return now - this.failedAt >= RETRY_AFTER_MS;
  }

  markFailed(now: number): void {
    this.failedAt = now;
  }

  async reason(encoding: NDArray, context: string, timeoutMs: number): Promise<ReasonResult> {
    const r = await this.client.request('REASONING_REQUEST', { encoding, context, source: 'typescript' }, { dst: this.name, timeoutMs });
    return r as unknown as ReasonResult;
  }

  async feedback(encoding: NDArray, reward: number, learningRate: number | undefined, timeoutMs: number): Promise<StateAck> {
    const r = await this.client.request('FEEDBACK', { encoding, reward, ...(learningRate !== undefined ? { learning_rate: learningRate } : {}) }, { dst: this.name, timeoutMs });
    return r as unknown as StateAck;
  }

  async parameterSync(parameters: Record<string, number>, timeoutMs: number): Promise<StateAck> {
    return (await this.client.request('PARAMETER_SYNC', { parameters }, { dst: this.name, timeoutMs })) as unknown as StateAck;
  }

  async stateUpdate(layer: number, weights: NDArray, version: bigint, timeoutMs: number): Promise<StateAck> {
    return (await this.client.request('STATE_UPDATE', { layer, weights, state_version: version }, { dst: this.name, timeoutMs })) as unknown as StateAck;
  }

  async mtlCoordinate(id: string, teachers: TeacherConfidence[], encoding: NDArray | undefined, timeoutMs: number): Promise<MtlResult> {
    const payload = { coordination_id: id, teacher_outputs: teachers.map((t) => ({ teacher_id: t.teacher_id, confidence: t.confidence, spike_count: 0 })), ...(encoding ? { encoding } : {}) };
    return (await this.client.request('MTL_COORDINATE', payload, { dst: this.name, timeoutMs })) as unknown as MtlResult;
  }
}
