/** Hebbian learning (ENG-3), STATE_UPDATE (ENG-5) and PARAMETER_SYNC (ENG-6): deterministic state changes. */
import { EngineError } from './errors.js';
import { forward } from './forward.js';
import { drawWeights, LAYER_INPUTS, LAYER_SIZES, WEIGHT_LIMIT, type EngineState } from './model.js';

const clampW = (v: number): number => (v < -WEIGHT_LIMIT ? -WEIGHT_LIMIT : v > WEIGHT_LIMIT ? WEIGHT_LIMIT : v);

/** lr_q from a learning rate in (0, 1]. */
export function lrQOf(rate: number): number {
  if (!(rate > 0 && rate <= 1)) throw new EngineError('INVALID_PARAMS', `learning_rate ${rate} is outside (0, 1]`, { param: 'learning_rate' });
  return Math.max(1, Math.floor(rate * 65536));
}

/** Applies one Hebbian update in place and bumps the version. */
export function hebbian(state: EngineState, encoding: ArrayLike<number>, reward: number, learningRate?: number): void {
  if (!(reward >= -1 && reward <= 1)) throw new EngineError('INVALID_PARAMS', `reward ${reward} is outside [-1, 1]`, { param: 'reward' });
  const f = forward(state, encoding);
  const rQ = Math.floor(reward * 256);
  const lQ = learningRate === undefined ? state.lrQ : lrQOf(learningRate);
  const delta = Math.floor((rQ * lQ) / 256);
  const [n0, n1, n2] = LAYER_SIZES;
  const s0 = f.spikes.subarray(0, n0);
  const s1 = f.spikes.subarray(n0, n0 + n1);
  const s2 = f.spikes.subarray(n0 + n1);
  if (delta !== 0) {
    const w0 = state.weights[0];
    for (let n = 0; n < n0; n++) {
      if (!s0[n]) continue;
      for (let j = 0; j < LAYER_INPUTS[0]; j++) w0[n * LAYER_INPUTS[0] + j] = clampW(w0[n * LAYER_INPUTS[0] + j]! + delta * Math.sign(f.x[j]!));
    }
    strengthen(state.weights[1], s1, s0, n1, delta);
    strengthen(state.weights[2], s2, s1, n2, delta);
  }
  state.version += 1n;
}

function strengthen(w: Int32Array, post: Uint8Array, pre: Uint8Array, nOut: number, delta: number): void {
  const nIn = pre.length;
  for (let n = 0; n < nOut; n++) {
    if (!post[n]) continue;
    for (let k = 0; k < nIn; k++) if (pre[k]) w[n * nIn + k] = clampW(w[n * nIn + k]! + delta);
  }
}

/** Replaces one layer (ENG-5); refuses anything but an int32 matrix of the layer's shape in range. */
export function replaceLayer(state: EngineState, layer: number, dtype: string, shape: readonly number[], data: ArrayLike<number>, version: bigint): void {
  if (!Number.isInteger(layer) || layer < 0 || layer > 2) throw new EngineError('INVALID_PARAMS', `layer ${layer} is not 0, 1 or 2`, { param: 'layer' });
  if (dtype !== '<i4' && dtype !== '>i4') throw new EngineError('INVALID_PARAMS', `weights must be int32, got ${dtype}`, { param: 'weights' });
  const rows = LAYER_SIZES[layer]!;
  const cols = LAYER_INPUTS[layer]!;
  if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols) throw new EngineError('INVALID_PARAMS', `layer ${layer} weights must have shape [${rows}, ${cols}], got [${shape.join(', ')}]`, { param: 'weights' });
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < -WEIGHT_LIMIT || v > WEIGHT_LIMIT) throw new EngineError('INVALID_PARAMS', `weight ${i} (${v}) is outside [-${WEIGHT_LIMIT}, ${WEIGHT_LIMIT}]`, { param: 'weights' });
  }
  state.weights[layer] = Int32Array.from(data);
  state.version = version;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Applies PARAMETER_SYNC atomically (ENG-6): everything is checked before anything changes. */
export function syncParameters(state: EngineState, parameters: Record<string, number>, version?: bigint): void {
  let seed: number | undefined;
  let lrQ: number | undefined;
  const thresholds: (number | undefined)[] = [undefined, undefined, undefined];
  for (const [name, v] of Object.entries(parameters)) {
    const bad = (why: string): EngineError => new EngineError('INVALID_PARAMS', `parameter ${name}: ${why}`, { param: name });
    const t = /^threshold\.layer([0-2])$/.exec(name);
    if (name === 'seed') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw bad(`${v} is not an integer 0 to 4294967295`);
      seed = v;
    } else if (name === 'learning_rate') {
      if (!(v > 0 && v <= 1)) throw bad(`${v} is outside (0, 1]`);
      lrQ = lrQOf(v);
    } else if (t) {
      if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) throw bad(`${v} is not an int32`);
      thresholds[Number(t[1])] = v;
    } else {
      throw bad('unknown parameter (known: seed, learning_rate, threshold.layer0, threshold.layer1, threshold.layer2)');
    }
  }
  if (seed !== undefined) {
    state.seed = seed;
    state.weights = drawWeights(seed);
  }
  if (lrQ !== undefined) state.lrQ = lrQ;
  thresholds.forEach((t, i) => {
    if (t !== undefined) state.thresholds[i] = t;
  });
  state.version = version ?? state.version + 1n;
}
