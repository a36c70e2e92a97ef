/**
 * Vectors at every edge (issue 12): for each limit a codec enforces, a valid frame at the limit and an
 * invalid one just past it; every latitude the spec grants a sender (optional and unknown header keys,
 * `2.0` for an integer, whitespace and key order, indefinite-length CBOR, other float widths,
 * big-endian and empty arrays) in a valid frame, so an over-strict peer fails; and an invalid frame for
 * each further way a check-table step can fail. Valid frames are assembled byte by byte and decoded by
 * the reference codec, which must accept them (the generator stops otherwise).
 */
import { decodeMessage, payloadToFixture, messageByCode } from '../../reference/codec/index.js';
import { cborEncode, Tag } from '../../reference/codec/cbor.js';
import { MessageType, NDARRAY_LAYOUT } from '../generated/catalog.js';
import type { FixtureVector } from '../generated/fixture.js';
import { hex, utf8, concat, rawFrame, rawNdarray, packed, u64le } from './fixture-bytes.js';

/** A generated vector: the shape of fixtures/fixture.schema.json (spec/generated/fixture.ts). */
export type EdgeVector = FixtureVector;

const PING = MessageType.PING;
const PONG = MessageType.PONG;
const INIT = MessageType.INIT;
const SHUTDOWN_ACK = MessageType.SHUTDOWN_ACK;
const ACK = MessageType.ACK;
const PARAMETER_SYNC = MessageType.PARAMETER_SYNC;
const REASONING_REQUEST = MessageType.REASONING_REQUEST;
const REASONING_RESPONSE = MessageType.REASONING_RESPONSE;
const TS = '1700000000123456789';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const uniq = (ids: string[]): string[] => [...new Set(ids)];

/** A valid frame from raw bytes; `decoded` is what the reference codec reads from it. */
function valid(id: string, description: string, statements: string[], frame: Uint8Array, extra: Partial<EdgeVector> = {}): EdgeVector {
  const m = decodeMessage(frame.subarray(4));
  const info = messageByCode(m.type)!;
  const cbor = (frame[5]! & 3) === 1;
  return {
    id: `frame/valid/edge/${id}`, description,
    spec: uniq(['FRM-1', 'BODY-4', ...statements, ...(cbor ? [] : ['ENC-1']), 'ENC-17', 'FIX-2']),
    kind: 'frame', result: 'valid', message: info.name, hex: hex(frame),
    decoded: { type: m.type, name: m.name, encoding: m.encoding, header: m.header, payload: payloadToFixture(info, m.payload) },
    ...extra,
  };
}

const initJson = (clientId: string): string => `{"client_id":${JSON.stringify(clientId)},"language":"python","role":"client","protocol_version":"1.0","encodings":["json"],"max_frame":65536}`;

export function edgeValidFrames(maxHeader: number, minMaxFrame: number): EdgeVector[] {
  const v: EdgeVector[] = [];
  // Limits: at the limit is accepted.
  const headerAt = (n: number): string => {
    const base = '{"id":"h-max","pad":""}';
    return `{"id":"h-max","pad":"${'p'.repeat(n - base.length)}"}`;
  };
  v.push(valid('header-at-max-header', `a header of exactly max_header (${maxHeader}) bytes, padded by a key the receiver does not know`, ['BODY-2', 'BODY-6', 'LIM-4'], rawFrame(PING, 0, headerAt(maxHeader))));
  v.push(valid('id-128-bytes', 'an id of exactly 128 ASCII bytes', ['BODY-2', 'LIM-5'], rawFrame(PING, 0, `{"id":"${'i'.repeat(128)}"}`)));
  v.push(valid('id-128-bytes-two-byte-chars', 'an id of 64 two-byte characters: 128 bytes of UTF-8, so a limit counted in bytes accepts it', ['BODY-2', 'LIM-5'], rawFrame(PING, 0, `{"id":"${'é'.repeat(64)}"}`)));
  v.push(valid('re-128-bytes', 'a PONG whose re is exactly 128 bytes', ['BODY-5', 'LIM-5'], rawFrame(PONG, 0, `{"id":"p","re":"${'r'.repeat(128)}"}`)));
  v.push(valid('src-dst-128-bytes', 'src and dst of exactly max_name_bytes (128 bytes)', ['BODY-5', 'LIM-6'], rawFrame(PING, 0, `{"id":"n","src":"${'s'.repeat(128)}","dst":"${'d'.repeat(128)}"}`)));
  v.push(valid('ts-max-u64', 'ts 2^64-1, the largest allowed', ['BODY-5'], rawFrame(PING, 0, '{"id":"t","ts":"18446744073709551615"}')));
  v.push(valid('ts-zero', 'ts "0"', ['BODY-5'], rawFrame(PING, 0, '{"id":"t0","ts":"0"}')));
  v.push(valid('client-id-128-bytes', 'INIT whose client_id is exactly max_name_bytes (128 bytes)', ['LIM-6', 'CONV-2'], rawFrame(INIT, 0, '{"id":"i"}', initJson('c'.repeat(128)))));
  v.push(valid('client-id-128-bytes-two-byte-chars', 'INIT whose client_id is 64 two-byte characters: 128 bytes of UTF-8, at max_name_bytes', ['LIM-6', 'CONV-2'], rawFrame(INIT, 0, '{"id":"i2"}', initJson('é'.repeat(64)))));
  // A body of exactly the smallest max_frame a receiver may announce.
  const head = '{"id":"big"}';
  const fixed = `{"encoding":{"$ndarray":"${b64(packed('<f4', [1], [1]))}"},"context":"","source":"python"}`;
  const context = 'c'.repeat(minMaxFrame - 4 - head.length - fixed.length);
  v.push(valid('body-at-max-frame', `a REASONING_REQUEST whose body is exactly ${minMaxFrame} bytes, the smallest max_frame a peer may announce`, ['FRM-3', 'LIM-3', 'ARR-4', 'CONV-2'],
    rawFrame(REASONING_REQUEST, 0, head, fixed.replace('"context":""', `"context":"${context}"`)), { max_frame: minMaxFrame }));
  // Latitude of the header.
  v.push(valid('header-id-only', 'a header holding nothing but id (ts, re, src and dst are optional)', ['BODY-4'], rawFrame(PING, 0, '{"id":"only"}')));
  v.push(valid('header-unknown-keys', 'header keys the receiver does not know, of several JSON types, are ignored', ['BODY-6', 'BODY-5'], rawFrame(PING, 0, `{"x-trace":{"span":[1,2.5,null]},"id":"u","colour":"red","ts":"${TS}","flag":true}`)));
  v.push(valid('header-whitespace', 'JSON whitespace around and inside the header object', ['BODY-2'], rawFrame(PING, 0, ' {\n\t"id" : "ws" ,\r\n "ts":"1" } ')));
  // Latitude of JSON payloads.
  v.push(valid('json-integer-as-2.0', 'an integer field written 2.0', ['ENC-14'], rawFrame(SHUTDOWN_ACK, 0, '{"id":"f"}', '{"drained":2.0}')));
  v.push(valid('json-integer-as-2e0', 'an integer field written 2e0', ['ENC-14'], rawFrame(SHUTDOWN_ACK, 0, '{"id":"e"}', '{"drained":2e0,"timed_out":0.0}')));
  v.push(valid('json-whitespace-key-order', 'a payload with whitespace everywhere JSON allows it and keys in another order', ['ENC-6'],
    rawFrame(INIT, 0, '{"id":"w"}', ' {\n  "max_frame" : 65536 ,\t"encodings" : [ "json" ] , "protocol_version":"1.0","role":"client",\r\n"language":"python","client_id":"c" }\n')));
  v.push(valid('json-escapes', 'strings written with \\u escapes, an escaped solidus and a surrogate pair', ['ENC-6'],
    rawFrame(INIT, 0, '{"id":"\\u0065sc"}', initJson('c').replace('"client_id":"c"', '"client_id":"\\u00e9\\/\\ud83d\\ude00"'))));
  v.push(valid('json-float-exponent', 'a float field written with an exponent and a float32 value spelled by its shortest binary64 form', ['ENC-15', 'ENC-16', 'ARR-4'],
    rawFrame(REASONING_RESPONSE, 0, '{"id":"x","re":"r"}', `{"spike_count":1,"confidence":8.500000238418579e-1,"firing_pattern":{"$ndarray":"${b64(packed('|u1', [1], [1]))}"},"engine":"e","latency_ms":1E1}`)));
  // Latitude of arrays.
  v.push(valid('ndarray-big-endian', 'an encoding vector in big-endian float32 (>f4)', ['ARR-2', 'ARR-4'],
    rawFrame(REASONING_REQUEST, 0, '{"id":"be"}', `{"encoding":{"$ndarray":"${b64(packed('>f4', [3], [1, -2.5, 0.125]))}"},"context":"c","source":"python"}`)));
  v.push(valid('ndarray-empty', 'an empty activations array (shape [0], data_len 0) where the field has no minimum size', ['ARR-3', 'ARR-4'],
    rawFrame(REASONING_RESPONSE, 0, '{"id":"em","re":"r"}', `{"spike_count":0,"confidence":0,"firing_pattern":{"$ndarray":"${b64(packed('|b1', [2], [true, false]))}"},"activations":{"$ndarray":"${b64(packed('<f4', [0], []))}"},"engine":"e","latency_ms":0}`)));
  v.push(valid('ndarray-meta', 'an ndarray whose meta carries an annotation', ['ARR-1', 'ARR-4'],
    rawFrame(REASONING_REQUEST, 0, '{"id":"me"}', `{"encoding":{"$ndarray":"${b64(packed('<f4', [2], [1, 2], { unit: 'V', note: 'é' }))}"},"context":"c","source":"python"}`)));
  // Latitude of CBOR payloads.
  const indefMap = (entries: [string, Uint8Array][]): Uint8Array => concat([0xbf], ...entries.flatMap(([k, x]) => [cborEncode(k), x]), [0xff]);
  v.push(valid('cbor-indefinite-map', 'a CBOR payload that is an indefinite-length map', ['ENC-18'], rawFrame(SHUTDOWN_ACK, 1, '{"id":"im"}', indefMap([['drained', cborEncode(3)]]))));
  v.push(valid('cbor-indefinite-array', 'INIT whose encodings list is an indefinite-length CBOR array', ['ENC-18', 'CONV-2'],
    rawFrame(INIT, 1, '{"id":"ia"}', indefMap([['client_id', cborEncode('c')], ['language', cborEncode('python')], ['role', cborEncode('client')], ['protocol_version', cborEncode('1.0')],
      ['encodings', concat([0x9f], cborEncode('json'), cborEncode('cbor'), [0xff])], ['max_frame', cborEncode(65536)]]))));
  v.push(valid('cbor-float-widths', 'parameters written as half, single and double floats, and an integer where a number is expected', ['ENC-17'],
    rawFrame(PARAMETER_SYNC, 1, '{"id":"fw"}', concat([0xa1], cborEncode('parameters'), [0xa4], cborEncode('a'), [0xf9, 0x38, 0x00], cborEncode('b'), [0xfa, 0x3e, 0x80, 0x00, 0x00], cborEncode('c'), [0xfb, 0x3f, 0xd0, 0, 0, 0, 0, 0, 0], cborEncode('d'), [0x01]))));
  v.push(valid('cbor-integer-not-shortest', 'an integer written in a longer head than needed (0x19 0x00 0x02 for 2): well-formed CBOR', ['ENC-8', 'ENC-14'], rawFrame(SHUTDOWN_ACK, 1, '{"id":"ns"}', concat([0xa1], cborEncode('drained'), [0x19, 0x00, 0x02]))));
  v.push(valid('cbor-integer-as-float', 'an integer field written as the CBOR float 2.0', ['ENC-14'], rawFrame(SHUTDOWN_ACK, 1, '{"id":"if"}', concat([0xa1], cborEncode('drained'), [0xf9, 0x40, 0x00]))));
  v.push(valid('cbor-ndarray-big-endian', 'a CBOR payload whose ndarray (tag 49344) is big-endian float32', ['ARR-2', 'ARR-5'],
    rawFrame(REASONING_REQUEST, 1, '{"id":"cb"}', cborEncode({ encoding: new Tag(packed('>f4', [2], [0.5, -1]), NDARRAY_LAYOUT.cbor_tag), context: 'c', source: 'python' }))));
  // 64-bit integers at the ends of their range, in both encodings.
  v.push(valid('uint64-max-json', 'a uint64 field holding 2^64-1 as a decimal string', ['ENC-12'], rawFrame(ACK, 0, '{"id":"u","re":"r"}', '{"state_version":"18446744073709551615"}')));
  v.push(valid('uint64-max-cbor', 'a uint64 field holding 2^64-1 as a CBOR unsigned integer', ['ENC-12'], rawFrame(ACK, 1, '{"id":"uc","re":"r"}', concat([0xa1], cborEncode('state_version'), [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))));
  v.push(valid('uint64-zero-json', 'a uint64 field holding "0"', ['ENC-12'], rawFrame(ACK, 0, '{"id":"z","re":"r"}', '{"state_version":"0"}')));
  return v;
}

function invalid(id: string, description: string, statements: string[], bytes: Uint8Array, error: string, closes: boolean, extra: Partial<EdgeVector> = {}): EdgeVector {
  return { id: `frame/invalid/${id}`, description, spec: statements, kind: 'frame', result: 'invalid', hex: hex(bytes), error, closes, ...extra };
}

/** Invalid frames beyond the base set: one past each limit, and each further way a step can fail. `statements` is completed by the caller. */
export function edgeInvalidFrames(minMaxFrame: number): EdgeVector[] {
  const v: EdgeVector[] = [];
  const OK = '{"id":"bad-1"}';
  // Step 1: one byte past the smallest max_frame.
  v.push(invalid('framing/length-one-past-small-max-frame', `length ${minMaxFrame + 1} against a receiver whose max_frame is ${minMaxFrame}`, ['FRM-3', 'LIM-3', 'LIM-2'], concat(u32(minMaxFrame + 1), [3, 0]), 'FRAME_TOO_LARGE', true, { max_frame: minMaxFrame }));
  // Step 2.
  v.push(invalid('body/hlen-one-past-body', 'hlen is one more than the bytes after the prefix', ['BODY-1'], rawFrame(PING, 0, OK, '', OK.length + 1), 'MALFORMED_FRAME', true));
  v.push(invalid('body/empty-after-length-4', 'a 4-byte body whose hlen is 1: the header byte is missing', ['BODY-1'], concat(u32(4), [PING, 0, 0, 1]), 'MALFORMED_FRAME', true));
  // Step 3: header.
  const header = (id: string, h: string | Uint8Array, what: string, path: string, statements: string[]): EdgeVector =>
    invalid(`header/${id}`, what, ['BODY-2', 'BODY-3', ...statements], rawFrame(PING, 0, h), 'INVALID_HEADER', false, { path });
  v.push(header('bom', concat([0xef, 0xbb, 0xbf], utf8('{"id":"a"}')), 'a header preceded by a UTF-8 byte order mark', '/header', []));
  v.push(header('null', 'null', 'the header is JSON null', '/header', []));
  v.push(header('trailing-bytes', '{"id":"a"} {}', 'a second JSON value after the header object', '/header', []));
  v.push(header('id-129-bytes-three-byte-chars', `{"id":"${'€'.repeat(43)}"}`, 'an id of 43 three-byte characters: 129 bytes of UTF-8, though only 43 characters', '/header/id', ['BODY-4', 'LIM-5', 'LIM-2']));
  v.push(header('id-null', '{"id":null}', 'id is null', '/header/id', ['BODY-4']));
  v.push(header('re-129-bytes', `{"id":"a","re":"${'r'.repeat(129)}"}`, 're of 129 bytes', '/header/re', ['BODY-5', 'LIM-5', 'LIM-2']));
  v.push(header('re-number', '{"id":"a","re":5}', 're is a number', '/header/re', ['BODY-5']));
  v.push(header('src-129-bytes', `{"id":"a","src":"${'s'.repeat(129)}"}`, 'src of 129 bytes', '/header/src', ['BODY-5', 'LIM-6', 'LIM-2']));
  v.push(header('src-number', '{"id":"a","src":1}', 'src is a number', '/header/src', ['BODY-5']));
  v.push(header('dst-empty', '{"id":"a","dst":""}', 'an empty dst', '/header/dst', ['BODY-5']));
  v.push(header('ts-empty', '{"id":"a","ts":""}', 'an empty ts', '/header/ts', ['BODY-5']));
  v.push(header('ts-negative', '{"id":"a","ts":"-1"}', 'a negative ts', '/header/ts', ['BODY-5']));
  v.push(header('ts-fraction', '{"id":"a","ts":"1.5"}', 'a ts with a fraction', '/header/ts', ['BODY-5']));
  // Step 6: payload presence and well-formedness.
  const payload = (id: string, type: number, flags: number, p: Uint8Array | string, what: string, statements: string[], path = ''): EdgeVector =>
    invalid(`payload/${id}`, what, statements, rawFrame(type, flags, OK, p), 'INVALID_PAYLOAD', false, { path });
  v.push(payload('cbor-empty', INIT, 1, '', 'INIT with an empty CBOR payload', ['ENC-5']));
  v.push(payload('json-whitespace-only', INIT, 0, ' \n', 'a JSON payload of whitespace only: no value', ['ENC-6']));
  v.push(payload('json-two-values', SHUTDOWN_ACK, 0, '{"drained":1}{"drained":2}', 'two JSON values one after the other', ['ENC-6']));
  v.push(payload('json-utf16', SHUTDOWN_ACK, 0, Buffer.from('{"drained":1}', 'utf16le'), 'a JSON payload in UTF-16', ['ENC-6']));
  v.push(payload('cbor-infinity', PARAMETER_SYNC, 1, concat([0xa1], cborEncode('parameters'), [0xa1], cborEncode('rate'), [0xf9, 0x7c, 0x00]), 'Infinity is not a JSON number', ['ENC-11'], '/parameters/rate'));
  v.push(payload('cbor-break-outside-indefinite', SHUTDOWN_ACK, 1, Uint8Array.from([0xff]), 'a lone break byte is not a data item', ['ENC-8']));
  v.push(payload('cbor-reserved-additional-info', SHUTDOWN_ACK, 1, Uint8Array.from([0x1c]), 'additional information 28 is reserved: not well-formed', ['ENC-8']));
  v.push(payload('cbor-text-key-in-indefinite-map-missing-value', SHUTDOWN_ACK, 1, concat([0xbf], cborEncode('drained'), [0xff]), 'an indefinite map that ends after a key', ['ENC-8', 'ENC-18']));
  // Step 6: a payload on a type without one is refused whatever its bytes, without decoding them.
  v.push(invalid('schema/payload-on-ping-not-json', 'PING with a payload that is not even JSON: refused as non-empty without decoding', ['ENC-4', 'ERR-9'], rawFrame(PING, 0, OK, Uint8Array.from([0xff, 0x00])), 'SCHEMA_VIOLATION', false, { path: '', rule: 'empty' }));
  v.push(invalid('schema/payload-on-ping-cbor', 'PING with an empty CBOR map as payload', ['ENC-4', 'ERR-9'], rawFrame(PING, 1, OK, Uint8Array.from([0xa0])), 'SCHEMA_VIOLATION', false, { path: '', rule: 'empty' }));
  // Step 7: the ndarray wrapper and layout.
  const f1 = packed('<f4', [1], [1]);
  const reasoning = (array: string): Uint8Array => rawFrame(REASONING_REQUEST, 0, OK, `{"encoding":${array},"context":"c","source":"python"}`);
  const array = (id: string, json: string, rule: string, what: string): EdgeVector =>
    invalid(`ndarray/${id}`, what, uniq(['ARR-7', ...(rule === 'wrapper' ? ['ARR-6', 'ARR-4'] : ['ARR-1']), ...(rule === 'ndim-range' ? ['LIM-8', 'LIM-2'] : [])]), reasoning(json), 'INVALID_ARRAY', false, { path: '/encoding', rule });
  const canonical = b64(f1);
  v.push(array('wrapper-no-padding', `{"$ndarray":"${canonical.replace(/=+$/, '')}"}`, 'wrapper', 'base64 without its padding'));
  v.push(array('wrapper-line-break', `{"$ndarray":"${canonical.slice(0, 20)}\\n${canonical.slice(20)}"}`, 'wrapper', 'base64 with a line break'));
  v.push(array('wrapper-nonzero-pad-bits', `{"$ndarray":"${nonZeroPadBits(canonical)}"}`, 'wrapper', 'base64 whose unused pad bits are not zero'));
  v.push(array('wrapper-string', `"${canonical}"`, 'wrapper', 'the base64 text alone, without the wrapper object'));
  v.push(array('wrapper-typed-json', '{"$ndarray":{"dtype":"<f4","shape":[1],"data":[1],"meta":{}}}', 'wrapper', 'the expanded typed-JSON notation of fixtures is not a wire form'));
  v.push(array('dtype-len-17', `{"$ndarray":"${b64(concat(u64le(1), u64le(1), u64le(17), utf8('<f4'.padEnd(17, ' ')), u64le(4), [0, 0, 128, 63], u64le(2), utf8('{}')))}"}`, 'dtype-unknown', 'dtype_len 17, one past the 16 allowed'));
  v.push(array('meta-empty', `{"$ndarray":"${b64(rawNdarray({ dims: [1], dtype: '<f4', data: Uint8Array.from([0, 0, 128, 63]), meta: '' }))}"}`, 'meta-json', 'meta_len 0: an empty meta is not a JSON object'));
  v.push(invalid('ndarray/cbor-tag-on-text', 'in CBOR tag 49344 wraps a text string instead of a byte string', ['ARR-7', 'ARR-6', 'ARR-5'],
    rawFrame(REASONING_REQUEST, 1, OK, cborEncode({ encoding: new Tag(canonical, NDARRAY_LAYOUT.cbor_tag), context: 'c', source: 'python' })), 'INVALID_ARRAY', false, { path: '/encoding', rule: 'wrapper' }));
  // The same steps in CBOR payloads.
  v.push(invalid('schema/init-missing-client-id-cbor', 'INIT in CBOR without client_id', ['ERR-9'], rawFrame(INIT, 1, OK, cborEncode({ language: 'python', role: 'client', protocol_version: '1.0', encodings: ['json'], max_frame: 65536 })), 'SCHEMA_VIOLATION', false, { path: '/client_id', rule: 'required' }));
  v.push(invalid('schema/uint64-negative-cbor', 'a uint64 field holding the CBOR negative integer -1', ['ENC-13', 'ERR-9'], rawFrame(ACK, 1, OK, concat([0xa1], cborEncode('state_version'), [0x20])), 'SCHEMA_VIOLATION', false, { path: '/state_version', rule: 'int64' }));
  v.push(invalid('ndarray/cbor-truncated', 'in CBOR a tag 49344 layout cut inside the dtype', ['ARR-7', 'ARR-1', 'ARR-5'],
    rawFrame(REASONING_REQUEST, 1, OK, cborEncode({ encoding: new Tag(f1.subarray(0, 26), NDARRAY_LAYOUT.cbor_tag), context: 'c', source: 'python' })), 'INVALID_ARRAY', false, { path: '/encoding', rule: 'truncated' }));
  v.push(invalid('ndarray/cbor-field-dtype', 'in CBOR a float64 array where the field allows float32 only', ['ARR-7', 'ARR-1', 'ARR-5'],
    rawFrame(REASONING_REQUEST, 1, OK, cborEncode({ encoding: new Tag(packed('<f8', [1], [1]), NDARRAY_LAYOUT.cbor_tag), context: 'c', source: 'python' })), 'INVALID_ARRAY', false, { path: '/encoding', rule: 'field-dtype' }));
  // Step 8: a Name one byte past max_name_bytes in a payload.
  v.push(invalid('schema/init-client-id-129-bytes', 'INIT whose client_id is 129 bytes, one past max_name_bytes', ['LIM-6', 'LIM-2', 'ERR-9'], rawFrame(INIT, 0, OK, initJson('c'.repeat(129))), 'SCHEMA_VIOLATION', false, { path: '/client_id', rule: 'maxBytes' }));
  return v;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

/** The same base64 text with the last significant character's unused low bits set. */
function nonZeroPadBits(b64text: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const pad = b64text.length - b64text.replace(/=+$/, '').length;
  if (pad === 0) throw new Error('nonZeroPadBits: the layout length is a multiple of 3, so there are no pad bits');
  const i = b64text.length - pad - 1;
  const value = alphabet.indexOf(b64text[i]!) | (pad === 1 ? 0b11 : 0b1111);
  return b64text.slice(0, i) + alphabet[value]! + b64text.slice(i + 1);
}
