/**
 * Generates the fixture files derived from spec/: one valid frame per catalog example and encoding,
 * an invalid frame for every framing and validation rule, ndarray vectors for every dtype in both
 * byte orders, and fixtures/index.json. Hand-written fixture files (fixtures/cbor/) are indexed too.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_DIR } from './load.js';
import type { SpecModel, MessageSpec } from './model.js';
import { encodeMessageFrame, payloadFromFixture, payloadToFixture, NDArray } from '../../reference/codec/index.js';
import { lookupMessage, messageByName } from '../../reference/codec/catalog.js';
import type { MessageInfo } from '../generated/catalog.js';
import { MessageType, NDARRAY_LAYOUT } from '../generated/catalog.js';
import { ndarrayToFixture } from '../../reference/codec/transform.js';
import { cborEncode, Tag } from '../../reference/codec/cbor.js';
import { hex, utf8, concat, u32be, u64le, rawFrame, rawNdarray, packed } from './fixture-bytes.js';
import { edgeValidFrames, edgeInvalidFrames, type EdgeVector } from './gen-edge-fixtures.js';

/** One fixture vector as written to fixtures/ (the shape the edge vectors share). */
type Vector = EdgeVector;

const slug = (name: string): string => name.toLowerCase().replace(/_/g, '-');
const uniq = (ids: string[]): string[] => [...new Set(ids)];

// ---- The statements each vector exercises (its `spec` field), one by one. ----

/** The schema keywords that mark a field the codec treats specially, found through $refs. */
function schemaMarks(spec: SpecModel, schema: unknown): { ndarray: boolean; int64: boolean; float32: boolean } {
  const defs = spec.defsFile.$defs;
  const seen = new Set<string>();
  const marks = { ndarray: false, int64: false, float32: false };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o['ndarray']) marks.ndarray = true;
    if (o['int64']) marks.int64 = true;
    if (o['float32'] === true) marks.float32 = true;
    const ref = typeof o['$ref'] === 'string' ? (o['$ref'] as string).replace('#/$defs/', '') : undefined;
    if (ref && !seen.has(ref)) {
      seen.add(ref);
      visit(defs[ref]);
    }
    for (const [k, v] of Object.entries(o)) if (k !== '$ref') visit(v);
  };
  visit(schema);
  return marks;
}

/** A valid frame: framing, a valid header, a payload decoded and compared as a value. */
function validStatements(spec: SpecModel, m: MessageSpec, encoding: 'json' | 'cbor', extra: string[] = []): string[] {
  const marks = schemaMarks(spec, m.payload);
  return uniq([
    'FRM-1', 'BODY-4', 'BODY-5', m.level === 'required' ? 'CONV-2' : 'CONV-3',
    ...(encoding === 'json' ? ['ENC-1'] : []),
    ...(marks.ndarray ? ['ARR-1', encoding === 'json' ? 'ARR-4' : 'ARR-5'] : []),
    ...(marks.int64 ? ['ENC-12'] : []),
    ...(marks.float32 ? ['ENC-15', 'ENC-16'] : []),
    ...extra, 'ENC-17', 'FIX-2',
  ]);
}

/** Whether a frame's header parses as an object with a valid id (ERR-3: the ERROR then carries `re`). */
function readableId(frame: Uint8Array): boolean {
  if (frame.length < 8) return false;
  const body = frame.subarray(4);
  const hlen = (body[2]! << 8) | body[3]!;
  if (hlen === 0 || hlen > body.length - 4 || (body[1]! & 0xfc) !== 0) return false;
  try {
    const h = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body.subarray(4, 4 + hlen))) as unknown;
    if (h === null || typeof h !== 'object' || Array.isArray(h)) return false;
    const id = (h as Record<string, unknown>)['id'];
    const n = typeof id === 'string' ? Buffer.byteLength(id) : 0;
    return n >= 1 && n <= 128 && body[4] !== 0xef;
  } catch {
    return false;
  }
}

function headerStatements(path: string, header: string | Uint8Array): string[] {
  const key = path.replace('/header/', '');
  const text = typeof header === 'string' ? header : '';
  const long = /"(id|re)":"[^"]{129,}"/.test(text);
  const longName = /"(src|dst)":"[^"]{129,}"/.test(text);
  return uniq([
    'BODY-2', 'BODY-3',
    ...(key === 'id' ? ['BODY-4'] : []),
    ...(['ts', 're', 'src', 'dst'].includes(key) ? ['BODY-5'] : []),
    ...(long || (key === 'id' && Buffer.byteLength(text) > 140) ? ['LIM-5', 'LIM-2'] : []),
    ...(longName ? ['LIM-6', 'LIM-2'] : []),
  ]);
}

function payloadStatements(flags: number, payload: Uint8Array | string, path: string): string[] {
  if (payload.length === 0) return ['ENC-5'];
  if ((flags & 3) === 0) return ['ENC-6'];
  return path === '' ? ['ENC-8'] : ['ENC-11'];
}

function schemaStatements(rule: string): string[] {
  if (rule === 'empty') return ['ENC-4', 'ERR-9'];
  if (rule === 'int64') return ['ENC-13', 'ERR-9'];
  return ['ERR-9'];
}

function arrayStatements(rule: string): string[] {
  return uniq(['ARR-7', ...(rule === 'wrapper' ? ['ARR-6', 'ARR-4'] : ['ARR-1']), ...(rule === 'ndim-range' ? ['LIM-8', 'LIM-2'] : [])]);
}
const TS = '1700000000123456789';

function headerFor(m: MessageSpec, i: number): { id: string } & Record<string, string> {
  const n = i === 0 ? '' : `-${i + 1}`;
  const h: { id: string } & Record<string, string> = { id: `${m.kind === 'request' ? 'req' : m.kind === 'response' ? 'rsp' : 'msg'}-${slug(m.name)}${n}`, ts: TS };
  if (m.kind === 'response' || m.kind === 'error') h['re'] = `req-${m.code}${n}`;
  if (m.directions.includes('routed')) {
    h['src'] = 'py-client';
    h['dst'] = 'cpp-teacher-1';
  }
  return h;
}

/** The generated catalog's entry of a message of the spec model (the catalog is generated first). */
function catalogEntry(m: MessageSpec): MessageInfo {
  const info = lookupMessage(m.name);
  if (!info) throw new Error(`${m.name} is not in spec/generated/catalog.ts: generate the catalog first`);
  return info;
}

function validFrames(spec: SpecModel): Vector[] {
  const out: Vector[] = [];
  for (const m of spec.messages) {
    m.examples.forEach((example, i) => {
      for (const encoding of ['json', 'cbor'] as const) {
        const info = catalogEntry(m);
        const payload = payloadFromFixture(info, example);
        const header = headerFor(m, i);
        const frame = encodeMessageFrame({ type: info.name, header, payload, encoding });
        out.push({
          id: `frame/valid/${slug(m.name)}/encoding:${encoding}${m.examples.length > 1 ? `/example:${i + 1}` : ''}`,
          description: `${m.name} (0x${m.code.toString(16).padStart(2, '0')}) with its catalog example, ${encoding} payload`,
          spec: validStatements(spec, m, encoding),
          kind: 'frame',
          result: 'valid',
          message: m.name,
          hex: hex(frame),
          decoded: { type: m.code, name: m.name, encoding, header, payload: payloadToFixture(info, payload) },
        });
      }
    });
  }
  // Optional fields are optional: each type whose example has some also travels with its required fields only.
  for (const m of spec.messages) {
    const schema = m.payload as { properties?: Record<string, unknown>; required?: string[] } | null;
    const example = m.examples[0] as Record<string, unknown> | undefined;
    if (!schema?.properties || !example || typeof example !== 'object') continue;
    const required = new Set(schema.required ?? []);
    const dropped = Object.keys(example).filter((k) => !required.has(k));
    if (dropped.length === 0) continue;
    const minimal = Object.fromEntries(Object.entries(example).filter(([k]) => required.has(k)));
    const info = catalogEntry(m);
    const payload = payloadFromFixture(info, minimal);
    const header = headerFor(m, 0);
    out.push({
      id: `frame/valid/${slug(m.name)}/required-fields-only`,
      description: `${m.name} with its required fields only (${dropped.join(', ')} left out)`,
      spec: validStatements(spec, m, 'json'),
      kind: 'frame',
      result: 'valid',
      message: m.name,
      hex: hex(encodeMessageFrame({ type: info.name, header, payload, encoding: 'json' })),
      decoded: { type: m.code, name: m.name, encoding: 'json', header, payload: payloadToFixture(info, payload) },
    });
  }
  out.push(...depthVectors(spec));
  return out;
}

/** A value nested `levels` deep: arrays inside arrays, the innermost one empty. */
function nested(levels: number): unknown {
  let v: unknown = [];
  for (let i = 1; i < levels; i++) v = [v];
  return v;
}

/** LIM-15: a BUS_PUBLISH whose payload reaches max_payload_depth exactly (the object is level 1). */
function depthVectors(spec: SpecModel): Vector[] {
  const maxDepth = spec.limitFile.limits.find((l) => l.name === 'max_payload_depth')!.default;
  const out: Vector[] = [];
  for (const encoding of ['json', 'cbor'] as const) {
    const info = messageByName('BUS_PUBLISH');
    const payload = { event_type: 'deep', payload: nested(maxDepth - 1) };
    const header = { id: 'req-deep', ts: TS };
    const frame = encodeMessageFrame({ type: 'BUS_PUBLISH', header, payload, encoding });
    out.push({
      id: `frame/valid/limits/depth-at-max:${encoding}`,
      description: `BUS_PUBLISH nested exactly max_payload_depth (${maxDepth}) levels deep, ${encoding} payload`,
      spec: ['LIM-15', 'ENC-1'],
      kind: 'frame',
      result: 'valid',
      message: 'BUS_PUBLISH',
      hex: hex(frame),
      decoded: { type: info.code, name: info.name, encoding, header, payload: payloadToFixture(info, payload) },
    });
  }
  return out;
}

const PING = MessageType.PING;
const INIT = MessageType.INIT;
const OK_HEADER = '{"id":"bad-1"}';
const initPayload = '{"client_id":"c","language":"python","role":"client","protocol_version":"1.0","encodings":["json"],"max_frame":65536}';
const REASONING_REQUEST = MessageType.REASONING_REQUEST;
const STATS_RESPONSE = MessageType.STATS_RESPONSE;

function invalid(id: string, description: string, statements: string[], bytes: Uint8Array, error: string, closes: boolean, extra: Partial<Vector> = {}): Vector {
  // Every refusal is judged in check-table order (ERR-1) with the registry's code and definite (ERR-2),
  // answers `re` when the id was readable (ERR-3), and closes or stays open as the registry says.
  const spec = uniq([...statements, 'ERR-1', 'ERR-2', ...(readableId(bytes) ? ['ERR-3'] : []), closes ? 'ERR-4' : 'ERR-5', 'FIX-3']);
  return { id: `frame/invalid/${id}`, description, spec, kind: 'frame', result: 'invalid', hex: hex(bytes), error, closes, ...extra };
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** A REASONING_REQUEST whose encoding field is `encodingJson` (raw JSON text). */
function reasoningWith(encodingJson: string): Uint8Array {
  return rawFrame(REASONING_REQUEST, 0, OK_HEADER, `{"encoding":${encodingJson},"context":"c","source":"python"}`);
}

function invalidFrames(spec: SpecModel): Vector[] {
  const maxFrame = spec.limitFile.limits.find((l) => l.name === 'max_frame')!.default;
  const maxHeader = spec.limitFile.limits.find((l) => l.name === 'max_header')!.default;
  const v: Vector[] = [];
  // Framing (closes).
  v.push(invalid('framing/zero-length', 'length prefix 0', ['FRM-2', 'FRM-1'], u32be(0), 'MALFORMED_FRAME', true));
  v.push(invalid('framing/length-above-max-frame', `length max_frame + 1 (${maxFrame + 1}); no body byte may be read`, ['FRM-3', 'LIM-3', 'LIM-2'], concat(u32be(maxFrame + 1), [3, 0, 0, 2]), 'FRAME_TOO_LARGE', true));
  v.push(invalid('framing/length-4gib', 'length 0xFFFFFFFF (4 GiB) with no body: refused on the prefix alone', ['FRM-3', 'LIM-3', 'LIM-2'], u32be(0xffffffff), 'FRAME_TOO_LARGE', true));
  v.push(invalid('framing/length-above-small-max-frame', 'length 70000 against a receiver whose max_frame is 65536', ['FRM-3', 'LIM-3', 'LIM-2'], concat(u32be(70000), [3, 0]), 'FRAME_TOO_LARGE', true, { max_frame: 65536 }));
  v.push(invalid('body/shorter-than-prefix', 'a 3-byte body cannot hold the 4-byte prefix', ['BODY-1'], concat(u32be(3), [3, 0, 0]), 'MALFORMED_FRAME', true));
  for (let bit = 2; bit < 8; bit++) {
    v.push(invalid(`body/reserved-flag-bit:${bit}`, `flags bit ${bit} set`, ['BODY-1'], rawFrame(PING, 1 << bit, OK_HEADER), 'MALFORMED_FRAME', true));
  }
  v.push(invalid('body/hlen-overruns-body', 'hlen is 200 but the body has 14 bytes after the prefix', ['BODY-1'], rawFrame(PING, 0, OK_HEADER, '', 200), 'MALFORMED_FRAME', true));
  // Header (stays open).
  const header = (id: string, h: string | Uint8Array, what: string, path = '/header'): Vector =>
    invalid(`header/${id}`, what, headerStatements(path, h), rawFrame(PING, 0, h), 'INVALID_HEADER', false, { path });
  v.push(header('empty', '', 'hlen 0: no header, so no id'));
  v.push(header('not-json', '{id:1}', 'header is not JSON'));
  v.push(header('not-object', '["id"]', 'header is a JSON array'));
  v.push(header('not-utf8', concat(utf8('{"id":"'), [0xff, 0xfe], utf8('"}')), 'header bytes are not UTF-8'));
  v.push(header('id-missing', '{"ts":"1"}', 'no id', '/header/id'));
  v.push(header('id-empty', '{"id":""}', 'empty id', '/header/id'));
  v.push(header('id-129-bytes', `{"id":"${'x'.repeat(129)}"}`, 'id of 129 bytes', '/header/id'));
  v.push(header('id-number', '{"id":7}', 'id is a number', '/header/id'));
  v.push(header('re-empty', '{"id":"a","re":""}', 'empty re', '/header/re'));
  v.push(header('src-control-char', '{"id":"a","src":"a\\u0001b"}', 'src holds a control character', '/header/src'));
  v.push(header('dst-129-bytes', `{"id":"a","dst":"${'d'.repeat(129)}"}`, 'dst of 129 bytes', '/header/dst'));
  v.push(header('ts-number', '{"id":"a","ts":1700000000}', 'ts is a JSON number, not a decimal string', '/header/ts'));
  v.push(header('ts-leading-zero', '{"id":"a","ts":"01"}', 'ts has a leading zero', '/header/ts'));
  v.push(header('ts-above-u64', '{"id":"a","ts":"18446744073709551616"}', 'ts is 2^64', '/header/ts'));
  v.push(invalid('header/above-max-header', `a valid JSON header of ${maxHeader + 1} bytes`, ['BODY-2', 'BODY-3', 'LIM-4', 'LIM-2'], rawFrame(PING, 0, `{"id":"a","pad":"${'p'.repeat(maxHeader + 1 - '{"id":"a","pad":""}'.length)}"}`), 'INVALID_HEADER', false, { path: '/header' }));
  // Type and encoding.
  for (const code of [0x00, 0x0a, 0xfe]) {
    v.push(invalid(`type/unknown:0x${code.toString(16).padStart(2, '0')}`, `type code 0x${code.toString(16).padStart(2, '0')} is not in the catalog`, ['ERR-7'], rawFrame(code, 0, OK_HEADER), 'UNKNOWN_TYPE', false));
  }
  for (const bits of [2, 3]) {
    v.push(invalid(`encoding/reserved:${bits}`, `encoding bits ${bits} are reserved`, ['ENC-3'], rawFrame(PING, bits, OK_HEADER), 'UNSUPPORTED_ENCODING', false));
  }
  // Payload well-formedness.
  const payload = (id: string, type: number, flags: number, p: Uint8Array | string, what: string, path = ''): Vector =>
    invalid(`payload/${id}`, what, payloadStatements(flags, p, path), rawFrame(type, flags, OK_HEADER, p), 'INVALID_PAYLOAD', false, { path });
  v.push(payload('json-empty', INIT, 0, '', 'INIT with an empty payload'));
  v.push(payload('json-syntax', INIT, 0, '{"client_id":', 'truncated JSON'));
  v.push(payload('json-trailing', INIT, 0, `${initPayload} x`, 'bytes after the JSON value'));
  v.push(payload('json-bom', INIT, 0, concat([0xef, 0xbb, 0xbf], utf8(initPayload)), 'JSON preceded by a UTF-8 byte order mark'));
  v.push(payload('json-not-utf8', INIT, 0, concat(utf8('{"client_id":"'), [0xc3, 0x28], utf8('"}')), 'invalid UTF-8 inside a JSON string'));
  v.push(payload('json-number-overflow', MessageType.PARAMETER_SYNC, 0, '{"parameters":{"rate":1e400}}', 'a JSON number beyond the binary64 range'));
  const cborInit = cborEncode(JSON.parse(initPayload));
  v.push(payload('cbor-trailing', INIT, 1, concat(cborInit, [0x00]), 'a second CBOR item after the payload'));
  v.push(payload('cbor-truncated', INIT, 1, cborInit.subarray(0, cborInit.length - 3), 'CBOR map cut short'));
  v.push(payload('cbor-int-key', INIT, 1, Uint8Array.from([0xa1, 0x01, 0x02]), 'a CBOR map with an integer key'));
  v.push(payload('cbor-undefined', MessageType.MTL_COORDINATE, 1, concat([0xa2], cborEncode('coordination_id'), cborEncode('m'), cborEncode('teacher_outputs'), [0xf7]), 'undefined is not in the payload data model', '/teacher_outputs'));
  v.push(payload('cbor-bytes-outside-ndarray', MessageType.ENCODING_REQ, 1, concat([0xa1], cborEncode('text'), [0x42, 0x68, 0x69]), 'a byte string where a text field is expected', '/text'));
  v.push(payload('cbor-date-tag', MessageType.ENCODING_REQ, 1, concat([0xa1], cborEncode('text'), [0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0]), 'tag 1 (epoch date) is not allowed', '/text'));
  v.push(payload('cbor-nan', MessageType.PARAMETER_SYNC, 1, concat([0xa1], cborEncode('parameters'), [0xa1], cborEncode('rate'), [0xf9, 0x7e, 0x00]), 'NaN is not a JSON number', '/parameters/rate'));
  v.push(payload('cbor-undefined-in-int64', MessageType.ACK, 1, concat([0xa1], cborEncode('state_version'), [0xf7]), 'undefined in a 64-bit field: a data-model fault (step 6) before the int64 rule (step 8)', '/state_version'));
  v.push(payload('cbor-nan-in-int64', MessageType.ACK, 1, concat([0xa1], cborEncode('state_version'), [0xf9, 0x7e, 0x00]), 'NaN in a 64-bit field: a data-model fault (step 6) before the int64 rule (step 8)', '/state_version'));
  v.push(payload('cbor-data-model-before-array', REASONING_REQUEST, 1,
    concat([0xa3], cborEncode('encoding'), cborEncode(new Tag(Uint8Array.from([1, 0, 0]), NDARRAY_LAYOUT.cbor_tag)), cborEncode('context'), [0xf7], cborEncode('source'), cborEncode('python')),
    'a truncated ndarray, then undefined later in the document: step 6 applies to the whole payload before step 7', '/context'));
  // LIM-15: one level past max_payload_depth, in both encodings; refused before any value is built.
  const maxDepth = spec.limitFile.limits.find((l) => l.name === 'max_payload_depth')!.default;
  const tooDeep = `{"event_type":"deep","payload":${'['.repeat(maxDepth)}${']'.repeat(maxDepth)}}`;
  v.push(invalid('payload/depth-above-max:json', `a BUS_PUBLISH payload nested max_payload_depth + 1 (${maxDepth + 1}) levels deep`, ['LIM-15'], rawFrame(MessageType.BUS_PUBLISH, 0, OK_HEADER, tooDeep), 'INVALID_PAYLOAD', false, { path: '', rule: 'max-depth' }));
  v.push(invalid('payload/depth-above-max:cbor', `a BUS_PUBLISH CBOR payload nested max_payload_depth + 1 (${maxDepth + 1}) levels deep`, ['LIM-15'], rawFrame(MessageType.BUS_PUBLISH, 1, OK_HEADER, cborEncode(JSON.parse(tooDeep))), 'INVALID_PAYLOAD', false, { path: '', rule: 'max-depth' }));
  // Schema.
  const schema = (id: string, type: number, p: string, path: string, rule: string, what: string): Vector =>
    invalid(`schema/${id}`, what, schemaStatements(rule), rawFrame(type, 0, OK_HEADER, p), 'SCHEMA_VIOLATION', false, { path, rule });
  v.push(schema('payload-on-ping', PING, '{}', '', 'empty', 'PING carries no payload'));
  v.push(schema('init-missing-client-id', INIT, initPayload.replace('"client_id":"c",', ''), '/client_id', 'required', 'INIT without client_id'));
  v.push(schema('init-unknown-field', INIT, initPayload.replace('}', ',"colour":"red"}'), '/colour', 'additionalProperties', 'INIT with a field the schema does not have'));
  v.push(schema('init-bad-enum', INIT, initPayload.replace('"python"', '"cobol"'), '/language', 'enum', 'INIT with a language outside the enum'));
  v.push(schema('init-encodings-empty', INIT, initPayload.replace('["json"]', '[]'), '/encodings', 'minItems', 'INIT listing no encoding'));
  const stats = (uptime: string): string => `{"broker_id":"b","uptime_ms":${uptime},"clients":[]}`;
  v.push(schema('uint64-as-json-number', STATS_RESPONSE, stats('5'), '/uptime_ms', 'int64', 'a 64-bit field written as a JSON number'));
  v.push(schema('uint64-leading-zero', STATS_RESPONSE, stats('"05"'), '/uptime_ms', 'int64', 'a 64-bit decimal string with a leading zero'));
  v.push(schema('uint64-above-max', STATS_RESPONSE, stats('"18446744073709551616"'), '/uptime_ms', 'int64', 'a uint64 field holding 2^64'));
  v.push(schema('uint64-negative', STATS_RESPONSE, stats('"-1"'), '/uptime_ms', 'int64', 'a uint64 field holding -1'));
  v.push(invalid('schema/uint64-as-cbor-string', 'a 64-bit field written as a text string in CBOR', ['ENC-13', 'ERR-9'], rawFrame(MessageType.ACK, 1, OK_HEADER, cborEncode({ state_version: '5' })), 'SCHEMA_VIOLATION', false, { path: '/state_version', rule: 'int64' }));
  const f4 = (values: number[]): string => `{"$ndarray":"${b64(packed('<f4', [values.length], values))}"}`;
  v.push(schema('confidence-above-one', MessageType.REASONING_RESPONSE, `{"spike_count":1,"confidence":1.5,"firing_pattern":{"$ndarray":"${b64(packed('|u1', [1], [1]))}"},"engine":"e","latency_ms":0}`, '/confidence', 'maximum', 'confidence 1.5 is outside [0, 1]'));
  v.push(schema('reasoning-context-number', REASONING_REQUEST, `{"encoding":${f4([1])},"context":5,"source":"python"}`, '/context', 'type', 'context must be a string'));
  // Arrays.
  const array = (id: string, bytesOrJson: Uint8Array | string, rule: string, what: string): Vector =>
    invalid(`ndarray/${id}`, what, arrayStatements(rule), reasoningWith(typeof bytesOrJson === 'string' ? bytesOrJson : `{"$ndarray":"${b64(bytesOrJson)}"}`), 'INVALID_ARRAY', false, { path: '/encoding', rule });
  const f4data = Uint8Array.from([0, 0, 128, 63]);
  v.push(array('wrapper-number-array', '[0.5,0.25]', 'wrapper', 'a plain JSON number array is not accepted for an ndarray field'));
  v.push(array('wrapper-extra-key', `{"$ndarray":"${b64(packed('<f4', [1], [1]))}","dtype":"<f4"}`, 'wrapper', 'the wrapper object has a second key'));
  v.push(array('wrapper-base64url', `{"$ndarray":"${b64(packed('<f4', [1], [1])).replace(/\+/g, '-').replace(/\//g, '_')}_-"}`, 'wrapper', 'base64url alphabet instead of standard base64'));
  v.push(array('truncated', rawNdarray({ dims: [1], dtype: '<f4', data: f4data }).subarray(0, 30), 'truncated', 'the layout ends inside the dtype'));
  v.push(array('trailing-bytes', rawNdarray({ dims: [1], dtype: '<f4', data: f4data, trailing: [0] }), 'trailing-bytes', 'a byte after the meta block'));
  v.push(array('ndim-33', rawNdarray({ dims: Array(33).fill(1), dtype: '<f4', data: f4data }), 'ndim-range', '33 dimensions'));
  v.push(array('dtype-native-order', rawNdarray({ dims: [1], dtype: '=f4', data: f4data }), 'dtype-unknown', 'native byte order "=" does not say the order'));
  v.push(array('dtype-float16', rawNdarray({ dims: [2], dtype: '<f2', data: f4data }), 'dtype-unknown', 'float16 is not a listed dtype'));
  v.push(array('data-length-mismatch', rawNdarray({ dims: [2], dtype: '<f4', data: f4data }), 'data-length', 'shape [2] of float32 needs 8 data bytes, has 4'));
  v.push(array('meta-not-object', rawNdarray({ dims: [1], dtype: '<f4', data: f4data, meta: '[]' }), 'meta-json', 'meta is a JSON array'));
  v.push(array('meta-not-json', rawNdarray({ dims: [1], dtype: '<f4', data: f4data, meta: '{' }), 'meta-json', 'meta is not JSON'));
  v.push(array('field-dtype', packed('<f8', [1], [1]), 'field-dtype', 'float64 where the field allows float32 only'));
  v.push(array('field-shape-2d', packed('<f4', [1, 1], [1]), 'field-shape', 'a 2-D array where the field needs 1-D'));
  v.push(array('field-shape-empty', packed('<f4', [0], []), 'field-shape', 'an empty vector where the field needs at least 1 element'));
  v.push(invalid('ndarray/bool-value', 'a bool element of 2', arrayStatements('bool-value'),
    rawFrame(MessageType.REASONING_RESPONSE, 0, OK_HEADER, `{"spike_count":1,"confidence":0.5,"firing_pattern":{"$ndarray":"${b64(rawNdarray({ dims: [2], dtype: '|b1', data: Uint8Array.from([1, 2]) }))}"},"engine":"e","latency_ms":0}`),
    'INVALID_ARRAY', false, { path: '/firing_pattern', rule: 'bool-value' }));
  v.push(invalid('ndarray/cbor-untagged-bytes', 'in CBOR an ndarray field is a byte string without the ndarray tag', arrayStatements('wrapper'),
    rawFrame(REASONING_REQUEST, 1, OK_HEADER, concat([0xa3], cborEncode('encoding'), cborEncode(packed('<f4', [1], [1])), cborEncode('context'), cborEncode('c'), cborEncode('source'), cborEncode('python'))),
    'INVALID_ARRAY', false, { path: '/encoding', rule: 'wrapper' }));
  v.push(invalid('ndarray/cbor-wrong-tag', 'in CBOR an ndarray under tag 64 (RFC 8746 uint8 typed array) instead of the ndarray tag', arrayStatements('wrapper'),
    rawFrame(REASONING_REQUEST, 1, OK_HEADER, cborEncode({ encoding: new Tag(packed('<f4', [1], [1]), 64), context: 'c', source: 'python' })),
    'INVALID_ARRAY', false, { path: '/encoding', rule: 'wrapper' }));
  for (const e of edgeInvalidFrames(spec.limitFile.limits.find((l) => l.name === 'max_frame')!.min)) {
    const { id, description, spec: statements, hex: bytes, error, closes, ...extra } = e;
    v.push(invalid(id.replace('frame/invalid/', ''), description, statements, Uint8Array.from(Buffer.from(bytes, 'hex')), error!, closes!, extra));
  }
  return v;
}

const EXTREMES: Record<string, (number | bigint | boolean)[]> = {
  bool: [true, false, true],
  int8: [-128, 0, 127],
  uint8: [0, 1, 255],
  int16: [-32768, 258, 32767],
  uint16: [0, 258, 65535],
  int32: [-2147483648, 16909060, 2147483647],
  uint32: [0, 16909060, 4294967295],
  int64: [-(1n << 63n), 72623859790382856n, (1n << 63n) - 1n],
  uint64: [0n, 72623859790382856n, (1n << 64n) - 1n],
  float32: [-1.5, 0.10000000149011612, 3.4028234663852886e38],
  float64: [-1.5, 0.1, 1.7976931348623157e308],
};

function ndarrayVectors(spec: SpecModel): Vector[] {
  const v: Vector[] = [];
  const valid = (id: string, array: NDArray, what: string): void => {
    const statements = ['ARR-1', 'ARR-2', ...(/^shape\/(0-d|empty)/.test(id) ? ['ARR-3'] : []), ...(id === 'shape/32-dims' ? ['LIM-8'] : []), 'FIX-2'];
    v.push({ id: `ndarray/valid/${id}`, description: what, spec: statements, kind: 'ndarray', result: 'valid', hex: hex(concat(packedOf(array))), decoded: (ndarrayToFixture(array) as Record<string, unknown>)['$ndarray'] });
  };
  const packedOf = (a: NDArray): Uint8Array => packed(a.dtype, [...a.shape], Array.from(a.data as ArrayLike<number | bigint>), a.meta);
  for (const d of spec.ndarray.dtypes) {
    for (const code of d.codes) {
      const order = code[0] === '<' ? 'little' : code[0] === '>' ? 'big' : 'none';
      valid(`${d.name}/order:${order}`, NDArray.from(code, [3], EXTREMES[d.name]!), `${d.name} ${code}: three values including the type's extremes`);
    }
  }
  valid('special/float32-non-finite', NDArray.from('<f4', [4], [NaN, Infinity, -Infinity, -0]), 'float32 NaN, +Inf, -Inf and -0 (bit patterns preserved)');
  valid('special/float64-big-endian-non-finite', NDArray.from('>f8', [3], [NaN, -Infinity, -0]), 'float64 big-endian NaN, -Inf and -0');
  valid('shape/0-d', NDArray.from('<f8', [], [2.5]), '0-d array: ndim 0, one element');
  valid('shape/empty-1d', NDArray.from('<f4', [0], []), 'empty 1-D array: shape [0], no data');
  valid('shape/empty-inner', NDArray.from('<i4', [2, 0, 3], []), 'empty 3-D array with a zero inner dimension');
  valid('shape/32-dims', NDArray.from('|u1', Array(32).fill(1), [7]), 'the most dimensions allowed: 32, each of size 1');
  valid('shape/c-order-2x3', NDArray.from('>i2', [2, 3], [1, 2, 3, 4, 5, 6]), '2x3 big-endian int16 in C order');
  valid('meta/object', NDArray.from('<f4', [2], [1, 2], { unit: 'V', dt: 8e-9 }), 'meta carries a JSON object');
  valid('size/768-float32', NDArray.from('<f4', [768], Array.from({ length: 768 }, (_, i) => Math.fround(Math.sin(i) / 8))), 'a 768-element float32 encoding vector');
  const bad = (id: string, bytes: Uint8Array, rule: string, what: string): void => {
    v.push({ id: `ndarray/invalid/${id}`, description: what, spec: [...arrayStatements(rule), 'FIX-3'], kind: 'ndarray', result: 'invalid', hex: hex(bytes), error: 'INVALID_ARRAY', rule });
  };
  const one = Uint8Array.from([0, 0, 128, 63]);
  const good = rawNdarray({ dims: [1], dtype: '<f4', data: one });
  bad('empty-input', new Uint8Array(0), 'truncated', 'no bytes at all');
  bad('truncated-data', good.subarray(0, good.length - 12), 'truncated', 'ends inside the data');
  bad('data-len-beyond-input', rawNdarray({ dims: [1], dtype: '<f4', data: one, dataLen: 2 ** 40 }), 'data-length', 'data_len announces 1 TiB for one float32: rule 9 comes before the truncation of rule 10');
  bad('meta-json-before-trailing', rawNdarray({ dims: [1], dtype: '<f4', data: one, meta: '[1]', trailing: [0] }), 'meta-json', 'meta is an array and a byte follows it: rule 11 comes before rule 12');
  bad('dtype-before-truncation', rawNdarray({ dims: [1], dtype: '<c8', data: one }).subarray(0, 8 + 8 + 8 + 3 + 4), 'dtype-unknown', 'an unlisted dtype, then the bytes end: rule 7 comes before rule 8');
  bad('trailing-bytes', rawNdarray({ dims: [1], dtype: '<f4', data: one, trailing: [0, 0] }), 'trailing-bytes', 'two bytes after meta');
  bad('ndim-33', rawNdarray({ dims: Array(33).fill(1), dtype: '<f4', data: one }), 'ndim-range', '33 dimensions');
  bad('ndim-huge', concat(rawNdarray({ dims: [], ndim: 2n ** 63n, dtype: '<f4', data: one })), 'ndim-range', 'ndim 2^63');
  bad('dtype-unknown', rawNdarray({ dims: [1], dtype: '<c8', data: concat(one, one) }), 'dtype-unknown', 'complex64 is not listed');
  bad('dtype-wrong-order-char', rawNdarray({ dims: [1], dtype: '|f4', data: one }), 'dtype-unknown', '"|" is only for 1-byte types');
  bad('data-length', rawNdarray({ dims: [3], dtype: '<f4', data: one }), 'data-length', '3 float32 need 12 bytes, 4 given');
  bad('dims-overflow', rawNdarray({ dims: [2n ** 62n, 4n], dtype: '|u1', data: one }), 'data-length', 'dims whose product overflows 64 bits');
  bad('bool-value', rawNdarray({ dims: [1], dtype: '|b1', data: Uint8Array.from([2]) }), 'bool-value', 'a bool element of 2');
  bad('meta-array', rawNdarray({ dims: [1], dtype: '<f4', data: one, meta: '[1]' }), 'meta-json', 'meta is an array');
  bad('meta-bom', rawNdarray({ dims: [1], dtype: '<f4', data: one, meta: '\ufeff{}' }), 'meta-json', 'meta starts with a byte order mark, which section 4 refuses');
  // Every step of the check table that can fail, at its edge (the `truncated` steps at each field).
  const dtypeBytes = utf8('<f4');
  bad('truncated-in-ndim', u64le(1).subarray(0, 7), 'truncated', 'seven bytes: ndim is cut short (step 2)');
  bad('truncated-in-dims', concat(u64le(2), u64le(1), u64le(1).subarray(0, 4)), 'truncated', 'the second dim is cut short (step 4)');
  bad('truncated-before-dtype-len', concat(u64le(1), u64le(1)), 'truncated', 'dtype_len is missing (step 4)');
  bad('dtype-len-17', concat(u64le(1), u64le(1), u64le(17), utf8('<f4'.padEnd(17, ' ')), u64le(4), one, u64le(2), utf8('{}')), 'dtype-unknown', 'dtype_len 17, one past the 16 allowed (step 5)');
  bad('truncated-in-dtype', concat(u64le(1), u64le(1), u64le(3), dtypeBytes.subarray(0, 2)), 'truncated', 'the dtype bytes are cut short (step 6)');
  bad('dtype-native-order', rawNdarray({ dims: [1], dtype: '=f4', data: one }), 'dtype-unknown', 'native order "=" does not say the byte order (step 7)');
  bad('dtype-bool-big-endian', rawNdarray({ dims: [1], dtype: '>b1', data: Uint8Array.from([1]) }), 'dtype-unknown', 'a byte order on a 1-byte type: bool is written |b1 only (step 7)');
  bad('truncated-in-data-len', concat(u64le(1), u64le(1), u64le(3), dtypeBytes, u64le(4).subarray(0, 5)), 'truncated', 'data_len is cut short (step 8)');
  bad('truncated-before-meta-len', concat(u64le(1), u64le(1), u64le(3), dtypeBytes, u64le(4), one), 'truncated', 'meta_len is missing (step 10)');
  bad('truncated-in-meta', concat(u64le(1), u64le(1), u64le(3), dtypeBytes, u64le(4), one, u64le(2), utf8('{')), 'truncated', 'meta_len says 2, one byte follows (step 10)');
  bad('meta-empty', rawNdarray({ dims: [1], dtype: '<f4', data: one, meta: '' }), 'meta-json', 'meta_len 0: an empty meta is not a JSON object (step 11)');
  bad('meta-two-objects', rawNdarray({ dims: [1], dtype: '<f4', data: one, meta: '{}{}' }), 'meta-json', 'two JSON objects in meta (step 11)');
  bad('trailing-one-byte', rawNdarray({ dims: [1], dtype: '<f4', data: one, trailing: [0x7b] }), 'trailing-bytes', 'one byte after meta (step 12)');
  bad('bool-value-255', rawNdarray({ dims: [3], dtype: '|b1', data: Uint8Array.from([0, 1, 255]) }), 'bool-value', 'a bool element of 255 after valid ones (step 13)');
  bad('meta-not-utf8', rawNdarray({ dims: [1], dtype: '<f4', data: one, meta: '\u0000' }).map((b, i, a) => (i === a.length - 1 ? 0xff : b)), 'meta-json', 'meta is not UTF-8');
  return v;
}

function fileOf(description: string, vectors: Vector[]): string {
  return `${JSON.stringify({ $schema: '../fixture.schema.json', description, generated: true, vectors }, null, 2)}\n`;
}

/** Hand-written fixture files (not generated) under fixtures/. */
function handWritten(root: string): Map<string, { vectors: Vector[]; description: string }> {
  const out = new Map<string, { vectors: Vector[]; description: string }>();
  const walk = (dir: string): void => {
    if (!existsSync(join(root, dir))) return;
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.json') && entry.name !== 'fixture.schema.json' && entry.name !== 'index.json') {
        const data = JSON.parse(readFileSync(join(root, rel), 'utf8')) as { vectors?: Vector[]; description: string; generated?: boolean };
        if (data.vectors && !data.generated) out.set(rel, { vectors: data.vectors, description: data.description });
      }
    }
  };
  walk('fixtures');
  return out;
}

export function generate(spec: SpecModel): Map<string, string> {
  const files = new Map<string, Vector[]>();
  const descriptions = new Map<string, string>();
  const add = (path: string, description: string, vectors: Vector[]): void => {
    files.set(path, vectors);
    descriptions.set(path, description);
  };
  const limit = (name: string): { default: number; min: number } => spec.limitFile.limits.find((l) => l.name === name)!;
  add('fixtures/frames/valid.json', 'One valid frame per catalog example and payload encoding, generated from spec/messages/*.json, then frames at every limit and with every latitude the spec grants a sender (frame/valid/edge/).',
    [...validFrames(spec), ...edgeValidFrames(limit('max_header').default, limit('max_frame').min)]);
  add('fixtures/frames/invalid.json', 'An invalid frame for every framing, header, type, encoding, payload, schema and ndarray rule, each with the error code a receiver must answer and whether it must close.', invalidFrames(spec));
  add('fixtures/ndarray/arrays.json', 'The D4 array layout: every dtype in each byte order, 0-d, empty and 32-dimension arrays, and invalid layouts for every rule.', ndarrayVectors(spec));
  const out = new Map<string, string>();
  for (const [path, vectors] of files) out.set(path, fileOf(descriptions.get(path)!, vectors));
  for (const [path, f] of handWritten(ROOT_DIR)) {
    files.set(path, f.vectors);
    descriptions.set(path, f.description);
  }
  const index = [...files.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([path, vectors]) => ({
    file: path.replace(/^fixtures\//, ''),
    description: descriptions.get(path),
    generated: out.has(path),
    counts: vectors.reduce<Record<string, number>>((c, x) => ({ ...c, [x.result]: (c[x.result] ?? 0) + 1 }), {}),
    ids: vectors.map((x) => x.id),
  }));
  out.set('fixtures/index.json', `${JSON.stringify({ description: 'Every fixture file and vector id; generated by npm run gen.', total: index.reduce((n, f) => n + f.ids.length, 0), files: index }, null, 2)}\n`);
  return out;
}
