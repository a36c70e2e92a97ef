/** The forward pass (spec section engine, ENG-1): integers only, so every language gets the same bits. */
import { EngineError } from './errors.js';
import { INPUT_SCALE, INPUT_WIDTH, LAYER_INPUTS, LAYER_SIZES, NEURONS, type EngineState } from './model.js';

export interface Forward {
  /** The folded input x_0..x_63. */
  x: Int32Array;
  /** s0 || s1 || s2, one byte per neuron. */
  spikes: Uint8Array;
  spikeCount: number;
  /** Fired output neurons x 512: the confidence numerator over 65536. */
  confidenceQ: number;
  /** P2_n, the exact output-layer sums (the activations before scaling, ENG-18). */
  outputSums: Float64Array;
}

const clamp16 = (v: number): number => (v < -32768 ? -32768 : v > 32767 ? 32767 : v);

/** Steps 1 and 2: quantise each element to floor(e x 256) and fold into 64 sums. */
export function foldInput(encoding: ArrayLike<number>): Int32Array {
  const x = new Float64Array(INPUT_WIDTH);
  for (let i = 0; i < encoding.length; i++) {
    const e = encoding[i]!;
    if (!Number.isFinite(e)) throw new EngineError('INVALID_ARRAY', `encoding element ${i} is not finite (${e})`, { path: `/encoding/${i}` });
    const j = i % INPUT_WIDTH;
    x[j] = x[j]! + clamp16(Math.floor(e * INPUT_SCALE));
  }
  return Int32Array.from(x, clamp16);
}

/** One layer: s_n = 1 when sum_k W[n][k] in_k > threshold. Binary inputs skip the multiply. */
function layer(w: Int32Array, inputs: ArrayLike<number>, nIn: number, nOut: number, threshold: number, out: Uint8Array, offset: number, binary: boolean, sums?: Float64Array): number {
  let fired = 0;
  const active: number[] = [];
  if (binary) for (let k = 0; k < nIn; k++) if (inputs[k]) active.push(k);
  for (let n = 0; n < nOut; n++) {
    const row = n * nIn;
    let p = 0;
    if (binary) for (const k of active) p += w[row + k]!;
    else for (let k = 0; k < nIn; k++) p += w[row + k]! * inputs[k]!;
    if (sums) sums[n] = p;
    const s = p > threshold ? 1 : 0;
    out[offset + n] = s;
    fired += s;
  }
  return fired;
}

export function forward(state: EngineState, encoding: ArrayLike<number>): Forward {
  const x = foldInput(encoding);
  const spikes = new Uint8Array(NEURONS);
  const [n0, n1, n2] = LAYER_SIZES;
  const f0 = layer(state.weights[0], x, LAYER_INPUTS[0], n0, state.thresholds[0], spikes, 0, false);
  const f1 = layer(state.weights[1], spikes.subarray(0, n0), LAYER_INPUTS[1], n1, state.thresholds[1], spikes, n0, true);
  const outputSums = new Float64Array(n2);
  const f2 = layer(state.weights[2], spikes.subarray(n0, n0 + n1), LAYER_INPUTS[2], n2, state.thresholds[2], spikes, n0 + n1, true, outputSums);
  return { x, spikes, spikeCount: f0 + f1 + f2, confidenceQ: f2 * 512, outputSums };
}

/** confidence = confidenceQ / 65536: the one division, exact in float32. */
export const confidenceOf = (q: number): number => q / 65536;

/** Activations (ENG-18): each output sum clamped to +-2^24 over 2^24, exact in float32. */
export function activationsOf(outputSums: ArrayLike<number>): Float32Array {
  const limit = 2 ** 24; // the spec's scale: integers of 24 bits are exact in float32
  return Float32Array.from(outputSums, (p) => (p < -limit ? -limit : p > limit ? limit : p) / limit);
}
