/**
 * One seed per test run for every property: taken from CONCORD_SEED when set (replay), otherwise
 * drawn at random, and printed once so any failure can be replayed.
 */
let announced = false;
let seed: number | undefined;

export function propertySeed(): number {
  if (seed === undefined) {
    const fromEnv = process.env['CONCORD_SEED'];
    seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
    if (!Number.isInteger(seed)) throw new RangeError(`CONCORD_SEED must be an integer, got ${fromEnv}`);
  }
  if (!announced) {
    announced = true;
    console.log(`[properties] seed ${seed} (replay: CONCORD_SEED=${seed} npm run test:ts)`);
  }
  return seed;
}
