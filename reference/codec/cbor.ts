/**
 * The only module that configures cbor-x (decision D3). Options are pinned so other languages'
 * decoders read what we write: plain definite-length maps with preferred-size headers, no record
 * extension, no string bundling, no tag 259, byte strings untagged (the ndarray tag is added by
 * the payload transform, not here), float64 for every non-integer number.
 */
import { Encoder, Decoder, Tag } from 'cbor-x';

/** The cbor-x encoder options of the canonical CBOR of decision D3: definite lengths, text keys, float64 for fractions. */
export const CBOR_ENCODER_OPTIONS = Object.freeze({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  useTag259ForMaps: false,
  bundleStrings: false,
  tagUint8Array: false,
  largeBigIntToFloat: false,
  useFloat32: 0,
  structuredClone: false,
  pack: false,
});

/** The cbor-x decoder options: maps come back as Map so a non-text key can be refused. */
export const CBOR_DECODER_OPTIONS = Object.freeze({
  useRecords: false,
  // Maps come back as Map so a non-text key can be refused rather than silently stringified.
  mapsAsObjects: false,
  bundleStrings: false,
  structuredClone: false,
  pack: false,
  copyBuffers: false,
});

const encoder = new Encoder(CBOR_ENCODER_OPTIONS);
const decoder = new Decoder(CBOR_DECODER_OPTIONS);

export { Tag };

const TWO_32 = 2 ** 32;

/**
 * cbor-x writes an integral number of 2^32 or more as a float64; RFC 8949 preferred serialization
 * (and a strict decoder checking an integer field) wants a CBOR integer, so such numbers become
 * bigints before encoding. Returns the input itself when nothing needed changing.
 */
function integersAsIntegers(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) && Math.abs(value) >= TWO_32 ? BigInt(value) : value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((v, i) => {
      const w = integersAsIntegers(v);
      if (w !== v) (copy ??= [...value])[i] = w;
    });
    return copy ?? value;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const w = integersAsIntegers(v);
      if (w !== v) {
        copy ??= Object.defineProperties({}, Object.getOwnPropertyDescriptors(value));
        Object.defineProperty(copy, k, { value: w, enumerable: true, writable: true, configurable: true });
      }
    }
    return copy ?? value;
  }
  if (value instanceof Tag) {
    const inner = integersAsIntegers(value.value);
    return inner === value.value ? value : new Tag(inner, value.tag);
  }
  return value;
}

/** Encodes one value as one CBOR data item. */
export function cborEncode(value: unknown): Uint8Array {
  return encoder.encode(integersAsIntegers(value));
}

/** Decodes exactly one CBOR data item; throws on malformed input or trailing bytes. */
export function cborDecode(bytes: Uint8Array): unknown {
  return decoder.decode(bytes);
}
