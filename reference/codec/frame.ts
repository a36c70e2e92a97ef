/**
 * Framing (decision D1): `u32 big-endian length` then `length` bytes of body. The decoder takes
 * any chunking of the stream and checks the length against max_frame as soon as the 4 prefix bytes
 * are in, before it allocates or keeps a single body byte.
 */
import { DEFAULT_LIMITS, FRAMING } from '../../spec/generated/catalog.js';
import { ProtocolError } from './errors.js';

export const LENGTH_PREFIX_BYTES = FRAMING.lengthPrefixBytes;

/** Prepends the length prefix to a body. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  if (body.length === 0) throw new RangeError('encodeFrame: a body is never empty');
  if (body.length > 0xffffffff) throw new RangeError('encodeFrame: body exceeds 2^32 - 1 bytes');
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, LENGTH_PREFIX_BYTES);
  return out;
}

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest body accepted, in bytes (default: the spec's max_frame). */
  maxFrame?: number;
}

/**
 * Incremental frame decoder. `push()` returns the bodies completed by a chunk; a body lying whole
 * inside one chunk is returned as a view on it (no copy). A framing fault is thrown as a
 * ProtocolError whose `framesBefore` holds the frames completed earlier in the same chunk; after
 * it the decoder is failed for good: the stream can no longer be trusted.
 */
export class FrameDecoder {
  /** Changeable between frames: a broker accepts at most 65,536 bytes before INIT_ACK (HS-20), then its max_frame. */
  maxFrame: number;
  private prefix = new Uint8Array(LENGTH_PREFIX_BYTES);
  private prefixFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  private failure: ProtocolError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrame = options.maxFrame ?? DEFAULT_LIMITS.max_frame;
  }

  /** Bytes held for an incomplete frame (prefix bytes plus body bytes received so far). */
  get bufferedBytes(): number {
    return this.prefixFill + this.bodyFill;
  }

  /** Capacity reserved for the frame in progress (0 until a valid length prefix is complete). */
  get reservedBytes(): number {
    return this.body?.length ?? 0;
  }

  /** true when a frame has started but not finished (an EOF now truncates it). */
  get midFrame(): boolean {
    return this.prefixFill > 0 || this.body !== null;
  }

  /** The framing fault that failed the decoder for good, if any. */
  get failed(): ProtocolError | null {
    return this.failure;
  }

  /** Feeds bytes; returns the frame bodies they complete, in order. Throws a ProtocolError on a framing fault. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure) throw this.failure;
    const out: Uint8Array[] = [];
    try {
      this.consume(chunk, out);
    } catch (e) {
      // Frames completed before the fault were well delimited: hand them over with the error.
      if (e instanceof ProtocolError) e.framesBefore = out;
      throw e;
    }
    return out;
  }

  private consume(chunk: Uint8Array, out: Uint8Array[]): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.body === null) {
        // Fast path: a whole frame inside the chunk, prefix included.
        if (this.prefixFill === 0 && chunk.length - i >= LENGTH_PREFIX_BYTES) {
          const length = this.checkLength(readU32(chunk, i));
          if (chunk.length - i - LENGTH_PREFIX_BYTES >= length) {
            // A plain view (not chunk.subarray, which builds a Buffer when the chunk is one): one per frame.
            out.push(new Uint8Array(chunk.buffer, chunk.byteOffset + i + LENGTH_PREFIX_BYTES, length));
            i += LENGTH_PREFIX_BYTES + length;
            continue;
          }
          this.body = new Uint8Array(length);
          i += LENGTH_PREFIX_BYTES;
          continue;
        }
        const take = Math.min(LENGTH_PREFIX_BYTES - this.prefixFill, chunk.length - i);
        this.prefix.set(chunk.subarray(i, i + take), this.prefixFill);
        this.prefixFill += take;
        i += take;
        if (this.prefixFill === LENGTH_PREFIX_BYTES) {
          const length = this.checkLength(readU32(this.prefix, 0));
          this.prefixFill = 0;
          this.body = new Uint8Array(length);
        }
        continue;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - i);
      this.body.set(chunk.subarray(i, i + take), this.bodyFill);
      this.bodyFill += take;
      i += take;
      if (this.bodyFill === this.body.length) {
        out.push(this.body);
        this.body = null;
        this.bodyFill = 0;
      }
    }
  }

  private checkLength(length: number): number {
    if (length === 0) this.fail(new ProtocolError('MALFORMED_FRAME', 'frame length is 0', { rule: 'zero-length' }));
    if (length > this.maxFrame) {
      this.fail(new ProtocolError('FRAME_TOO_LARGE', `frame length ${length} exceeds max_frame ${this.maxFrame}`, { rule: 'max-frame', limit: this.maxFrame }));
    }
    return length;
  }

  private fail(error: ProtocolError): never {
    this.failure = error;
    this.prefixFill = 0;
    this.body = null;
    this.bodyFill = 0;
    throw error;
  }
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) >>> 0) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!;
}
