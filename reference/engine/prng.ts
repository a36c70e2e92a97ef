/** xorshift32, the engine's named PRNG (spec section engine): exact uint32 arithmetic. */
export const ZERO_SEED_REPLACEMENT = 0x9e3779b9;

export class Xorshift32 {
  private s: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed ${seed} is not a uint32`);
    this.s = seed === 0 ? ZERO_SEED_REPLACEMENT : seed;
  }

  /** The next draw, a uint32. */
  next(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s;
  }
}
