/**
 * The reference engine's constants and state (spec section engine). Weights are int32 matrices,
 * row = neuron, column = input; every sum stays an exact integer below 2^53.
 */
import { Xorshift32 } from './prng.js';

/** Width of the first layer's input: encodings are folded to it. */
export const INPUT_WIDTH = 64;
/** Neurons per layer. */
export const LAYER_SIZES = [512, 256, 128] as const;
/** Inputs of each layer: the folded encoding, then the previous layer's spikes. */
export const LAYER_INPUTS = [INPUT_WIDTH, 512, 256] as const;
/** Neurons of all layers: the length of a firing pattern. */
export const NEURONS = 512 + 256 + 128;
/** Seed of the weights when none is given. */
export const DEFAULT_SEED = 42;
export const DEFAULT_LR_Q = 655;
export const WEIGHT_LIMIT = 1_048_576;
export const INPUT_SCALE = 256;
export const DIGEST_PREFIX = 'concord-engine/1';

/** An engine's whole state: weights, thresholds, learning rate and version. */
export interface EngineState {
  seed: number;
  weights: [Int32Array, Int32Array, Int32Array];
  thresholds: [number, number, number];
  lrQ: number;
  version: bigint;
}

/** Draws W0, W1, W2 row by row from xorshift32(seed): each weight (draw >> 16) - 32768. */
export function drawWeights(seed: number): [Int32Array, Int32Array, Int32Array] {
  const rng = new Xorshift32(seed);
  const layers = LAYER_SIZES.map((n, l) => {
    const w = new Int32Array(n * LAYER_INPUTS[l]!);
    for (let i = 0; i < w.length; i++) w[i] = (rng.next() >>> 16) - 32768;
    return w;
  });
  return [layers[0]!, layers[1]!, layers[2]!];
}

/** The state every engine starts from for a seed. */
export function initialState(seed = DEFAULT_SEED): EngineState {
  return { seed, weights: drawWeights(seed), thresholds: [0, 0, 0], lrQ: DEFAULT_LR_Q, version: 0n };
}

/** A deep copy of a state. */
export function cloneState(s: EngineState): EngineState {
  return { seed: s.seed, weights: [s.weights[0].slice(), s.weights[1].slice(), s.weights[2].slice()], thresholds: [...s.thresholds], lrQ: s.lrQ, version: s.version };
}
