/**
 * Buffers for outgoing frames, cut from 16 KiB slabs (issue 15). `Buffer.allocUnsafe` cuts small
 * buffers from an 8 KiB pool, and most of its cost is creating a new pool every few dozen frames:
 * measured on Node 20 for 230-byte frames (interleaved, warm), 160-190 ns a frame from its pool against
 * 90-110 ns from a 16 KiB slab (70-90 ns from a 64 KiB one). A slab lives while any frame cut from it
 * is still queued on a socket, as Node's pool does: a reader that leaves its frames unread can hold up
 * to a slab per queued frame, twice what Node's pool would hold, which is why slabs are not larger.
 * No byte of a slab is handed out twice.
 */

/** Bytes of one slab. */
const SLAB_BYTES = 16 * 1024;
/** Larger buffers are allocated by Node: cutting them from a slab would waste most of it. */
const SLAB_MAX_TAKE = SLAB_BYTES / 4;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/** An uninitialised buffer of `size` bytes; the caller writes every byte of it. */
export function takeBuffer(size: number): Buffer {
  if (size > SLAB_MAX_TAKE) return Buffer.allocUnsafe(size);
  if (used + size > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const out = slab.subarray(used, used + size);
  used += size;
  return out;
}
