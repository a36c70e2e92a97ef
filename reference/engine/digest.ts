/** The state digest (ENG-4): SHA-256 over the prefix, the weights and the parameters, int32 little-endian. */
import { createHash } from 'node:crypto';
import { DIGEST_PREFIX, type EngineState } from './model.js';

function leBytes(a: Int32Array): Uint8Array {
  // Int32Array is host order; make the layout little-endian explicitly on any host.
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) view.setInt32(i * 4, a[i]!, true);
  return out;
}

/** The state digest (ENG-4), hex: SHA-256 over the prefix, the weights and the parameters; the same in every language. */
export function stateDigest(s: EngineState): string {
  const h = createHash('sha256');
  h.update(DIGEST_PREFIX, 'ascii');
  for (const w of s.weights) h.update(leBytes(w));
  h.update(leBytes(Int32Array.from([...s.thresholds, s.lrQ])));
  return h.digest('hex');
}
