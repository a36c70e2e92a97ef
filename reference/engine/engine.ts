/**
 * The reference engine: one state, and the operations of the engine messages on it. Shared by the
 * in-process TypeScript backend, the `concord engine serve` process and the fixture generator.
 */
import { NDArray } from '../codec/ndarray.js';
import { EngineError } from './errors.js';
import { activationsOf, confidenceOf, forward } from './forward.js';
import { EngineMemory } from './memory.js';
import { encodeText } from './encoder.js';
import { stateDigest } from './digest.js';
import { hebbian, replaceLayer, syncParameters } from './learn.js';
import { coordinate, type TeacherConfidence } from './mtl.js';
import { cloneState, initialState, type EngineState } from './model.js';

/** The outcome of one REASONING_REQUEST on an engine: what fired, how sure, and the state it ran on. */
export interface ReasonResult {
  spike_count: number;
  confidence: number;
  firing_pattern: NDArray;
  /** The 128 output-layer activations (ENG-18). */
  activations: NDArray;
  engine: string;
  latency_ms: number;
  state_digest: string;
}

/** An engine's state after a change (FEEDBACK, STATE_UPDATE, PARAMETER_SYNC): equal digests mean equal states. */
export interface StateAck {
  state_digest: string;
  /** uint64: a bigint in the TypeScript codec's data model. */
  state_version: bigint;
}

/** One item of a BATCH_REASONING_REQ: its result, or the error that item alone failed with. */
export interface BatchItemResult {
  ok: boolean;
  result?: ReasonResult;
  error?: { code: string; message: string };
}

/** The answer to MTL_COORDINATE: the teachers' disagreement, the learning rates it implies and the state after the update (ENG-8). */
export interface MtlResult {
  coordination_id: string;
  teacher_count: number;
  disagreement: number;
  learning_rates: Record<string, number>;
  state_version: bigint;
  state_digest: string;
}

/** The answer to ENCODING_REQ (ENG-20). */
export interface EncodingResult {
  encoding: NDArray;
  model: string;
}

/** Float32 elements of a Vector payload field (the codec has checked dtype and shape). */
function elements(encoding: unknown): ArrayLike<number> {
  if (encoding instanceof NDArray) return encoding.data as ArrayLike<number>;
  if (encoding instanceof Float32Array) return encoding;
  throw new EngineError('SCHEMA_VIOLATION', 'encoding must be a float32 vector', { path: '/encoding' });
}

/** The deterministic reference engine: every engine in every language reproduces its answers and state digests bit for bit (fixtures/engine/engine.json). */
export class ReferenceEngine {
  private state: EngineState;
  private digest: string;
  private readonly memory: EngineMemory;

  constructor(readonly name = 'typescript', seed?: number, memoryMax?: number) {
    this.memory = new EngineMemory(memoryMax);
    this.state = initialState(seed);
    this.digest = stateDigest(this.state);
  }

  /** Digest of the current state (ENG-4): equal across engines that hold the same state. */
  get stateDigest(): string {
    return this.digest;
  }

  /** Version of the current state, raised by every change. */
  get stateVersion(): bigint {
    return this.state.version;
  }

  /** A deep copy of the state (for STATE_UPDATE to other engines). */
  snapshot(): EngineState {
    return cloneState(this.state);
  }

  private changed(): StateAck {
    this.digest = stateDigest(this.state);
    return { state_digest: this.digest, state_version: this.state.version };
  }

  /** Runs one encoding (a float32 vector of any length, folded to the input width) through the network; the state does not change. */
  reason(encoding: unknown): ReasonResult {
    const started = performance.now();
    const f = forward(this.state, elements(encoding));
    return {
      spike_count: f.spikeCount, confidence: confidenceOf(f.confidenceQ), firing_pattern: new NDArray('|u1', [f.spikes.length], f.spikes),
      activations: new NDArray('<f4', [f.outputSums.length], activationsOf(f.outputSums)), engine: this.name, latency_ms: Math.fround(performance.now() - started), state_digest: this.digest,
    };
  }

  /** Runs each item on its own: a refused item gets its error, the others their results. */
  reasonBatch(items: readonly { encoding: unknown }[]): BatchItemResult[] {
    return items.map((item) => {
      try {
        return { ok: true, result: this.reason(item.encoding) };
      } catch (e) {
        if (e instanceof EngineError) return { ok: false, error: { code: e.code, message: e.message } };
        throw e;
      }
    });
  }

  /** Applies the Hebbian update for an encoding and a reward in [-1, 1]. */
  feedback(encoding: unknown, reward: number, learningRate?: number): StateAck {
    hebbian(this.state, elements(encoding), reward, learningRate);
    return this.changed();
  }

  /** Replaces the weights of one layer (STATE_UPDATE) at the given state version. */
  stateUpdate(layer: number, weights: NDArray, version: bigint): StateAck {
    replaceLayer(this.state, layer, weights.dtype, weights.shape, weights.data as ArrayLike<number>, version);
    return this.changed();
  }

  /** Sets learning parameters (PARAMETER_SYNC), optionally at a given state version. */
  parameterSync(parameters: Record<string, number>, version?: bigint): StateAck {
    syncParameters(this.state, parameters, version);
    return this.changed();
  }

  /** Stores an encoding under a key (MEMORY_UPDATE, ENG-19); the state, and so its digest and version, stay as they are. */
  memoryUpdate(key: string, encoding: unknown, content?: string): StateAck {
    this.memory.store(key, elements(encoding), content);
    return { state_digest: this.digest, state_version: this.state.version };
  }

  /** The encoding of a text (ENCODING_REQ, ENG-20): from memory when an entry has it as content, else hashed. */
  encode(text: string, dim?: number): EncodingResult {
    const e = encodeText(this.memory, text, dim);
    return { encoding: new NDArray('<f4', [e.elements.length], e.elements), model: e.model };
  }

  /** Coordinates the teachers' confidences (MTL_COORDINATE); with an encoding, applies the update it implies. */
  mtlCoordinate(id: string, teachers: readonly TeacherConfidence[], encoding?: unknown): MtlResult {
    if (teachers.length < 2) throw new EngineError('SCHEMA_VIOLATION', 'MTL_COORDINATE needs at least two teachers', { path: '/teacher_outputs' });
    const o = coordinate(teachers, this.state.lrQ);
    if (encoding !== undefined) hebbian(this.state, elements(encoding), o.reward);
    const ack = this.changed();
    return { coordination_id: id, teacher_count: teachers.length, disagreement: Math.fround(o.disagreement), learning_rates: o.learningRates, ...ack };
  }
}
