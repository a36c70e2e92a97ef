/**
 * A deliberately broken testee for the harness's own tests: the reference testee with one defect
 * applied to its output. Run as `tsx broken-testee.ts <defect>`.
 *   lose-re          echoes and ERRORs carry no `re`
 *   error-lose-re    ERRORs carry no `re` (echoes keep it; ERR-3)
 *   accept-all       a refused frame is echoed as PING instead of answered with its ERROR
 *   invert-definite  ERRORs carry `definite` inverted (ERR-2)
 *   wrong-path       ERRORs name `details.path` with "/x" appended (BODY-3, ARR-7, ERR-9)
 *   wrong-rule       ERRORs name another `details.rule` (ARR-7, ERR-9)
 *   no-close         after a closing ERROR the testee stays silent but keeps its output open (ERR-4)
 *   ignore-ping      PINGs (the open-connection probe) are never echoed (TST-4, ERR-5)
 *   indefinite-cbor  CBOR echoes are written with an indefinite-length top-level map (ENC-9)
 *   cbor-echo        every echo with a payload is written in CBOR, negotiated or not (ENC-2)
 *   trailing-output  a log line is written to standard output after the INIT (TST-1)
 *   silent-tail      the end of input (a partial frame included) is answered with MALFORMED_FRAME (FRM-7)
 *   no-name          the INIT carries no `name` (TST-2)
 *   dup-header-key   echoes are written with the `id` key twice in their header (BODY-8)
 *   tagged-cbor      CBOR echoes wrap their payload in tag 55799 (ENC-10)
 *   rounds-float32   float32 fields are echoed rounded to two decimals (ENC-16)
 *   float32-ties-away  float32 fields are rounded to binary32 by adding half an ulp and cutting: a tie goes
 *                    away from zero instead of to the even neighbour (ENC-16)
 * Defects of what the testee accepts (applied to its input before the reference testee reads it):
 *   refuse-unknown-header  a header key it does not know is refused with INVALID_HEADER (BODY-6)
 *   count-chars            src and dst are measured in characters, not bytes of UTF-8 (LIM-6)
 *   integer-strict         an integer written with a fraction or exponent is refused (ENC-14)
 *   no-indefinite-cbor     an indefinite-length CBOR payload is refused with INVALID_PAYLOAD (ENC-18)
 *   refuse-unknown-code    an ERROR with a code outside the registry is refused (ERR-10)
 *   decode-null-payload    a payload on a type without one is decoded first (INVALID_PAYLOAD, ENC-4)
 *   empty-as-object        an empty payload is read as `{}` (ENC-5)
 *   uint64-as-double       64-bit integers go through a binary64 number (ENC-12)
 *   whole-chunks-only      bytes of a frame split across reads are dropped (FRM-5)
 *   one-read-one-frame     after the handshake, every read is taken as exactly one frame: a frame split across
 *                          reads is lost, and of several frames in one read only the first is answered (FRM-5).
 *                          The harness writes one frame per read unless --faults cuts or coalesces its writes.
 *   escaped-length         id, re, src and dst are measured in bytes of their JSON spelling, escapes and all,
 *                          before they are decoded (LIM-5, LIM-6)
 *   dims-product-wraps     an ndarray's element count is multiplied in u64 and wraps: a layout whose data_len
 *                          equals product(dims) x itemsize mod 2^64 is taken as valid and echoed as it came (ARR-7)
 *   half-subnormal-as-normal  a CBOR half float with exponent 0 is read as a normal one, with the implicit leading
 *                          bit (ENC-17)
 *   answer-after-close     a frame with a reserved flag bit gets its MALFORMED_FRAME, but later frames are still answered (TST-8)
 * Defects of how the testee ends:
 *   exit-at-eof-only       after a closing ERROR the output closes, but the process runs on until its input ends (TST-9)
 */
import { createWriteStream } from 'node:fs';
import { PassThrough, Transform } from 'node:stream';
import { runTestee } from '../../reference/testee/testee.js';
import { FrameDecoder, encodeFrame } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessageFrame, type Message } from '../../reference/codec/message.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeHeader } from '../../reference/codec/header.js';
import { messageByName } from '../../reference/codec/catalog.js';

const defect = process.argv[2];
const BUS_PUBLISH = messageByName('BUS_PUBLISH').code;
const decoder = new FrameDecoder();
/** one-read-one-frame: the reads up to the INIT_ACK are decoded properly (a handshake read in a loop, as such peers do). */
let handshaken = false;

function reencode(m: Message): Uint8Array {
  return encodeMessageFrame({ type: m.name, header: m.header, payload: m.payload, encoding: m.encoding });
}

/** The same frame with its CBOR payload's top-level map header made indefinite (0xbf ... 0xff). */
function indefinite(m: Message, frame: Uint8Array): Uint8Array {
  const body = frame.subarray(4);
  const hlen = (body[2]! << 8) | body[3]!;
  const payload = body.subarray(4 + hlen);
  const first = payload[0];
  if (first === undefined || first >> 5 !== 5) return frame;
  const info = first & 0x1f;
  const skip = info < 24 ? 1 : 1 + 2 ** (info - 24);
  const changed = Buffer.concat([Buffer.from([0xbf]), payload.subarray(skip), Buffer.from([0xff])]);
  return encodeFrame(encodeEnvelope(m.type, 'cbor', encodeHeader(m.header), changed));
}

/** Binary32 rounding done by hand, half an ulp added to the magnitude and the rest cut: ties go away from zero. */
function tiesAway(x: number): number {
  const f = Math.fround(x);
  if (!Number.isFinite(x) || f === x) return x;
  const bits = new Uint32Array(new Float32Array([Math.abs(f)]).buffer)[0]!;
  const neighbour = new Float32Array(new Uint32Array([Math.abs(f) > Math.abs(x) ? bits - 1 : bits + 1]).buffer)[0]! * Math.sign(x);
  const [near, far] = Math.abs(f) < Math.abs(neighbour) ? [f, neighbour] : [neighbour, f];
  return Math.abs(x - near) === Math.abs(far - x) ? far : f;
}

/** product(dims) x itemsize of an ndarray layout as a u64 that wraps, and exactly; undefined when the layout ends first. */
function elementBytes(layout: Buffer): { wrapped: bigint; exact: bigint; dataLen: bigint; rest: number } | undefined {
  try {
    let off = 0;
    const u64 = (): bigint => { const v = layout.readBigUInt64LE(off); off += 8; return v; };
    const ndim = Number(u64());
    if (ndim > 32) return undefined;
    const dims = Array.from({ length: ndim }, u64);
    const dtypeLen = Number(u64());
    if (dtypeLen > 16) return undefined;
    const itemsize = BigInt(Number(layout.subarray(off, off + dtypeLen).toString('latin1').slice(2)) || 0);
    off += dtypeLen;
    const dataLen = u64();
    const exact = dims.reduce((a, d) => a * d, 1n) * itemsize;
    return { wrapped: BigInt.asUintN(64, exact), exact, dataLen, rest: layout.length - off };
  } catch {
    return undefined;
  }
}

/** A CBOR payload with each half float of exponent 0 (a subnormal) replaced by the double a decoder gets when it adds the implicit bit. */
function halfSubnormalsAsNormal(payload: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < payload.length; i++) {
    const b = payload[i]!;
    if (b === 0xf9 && i + 2 < payload.length && (payload[i + 1]! & 0x7c) === 0 && ((payload[i + 1]! & 0x03) !== 0 || payload[i + 2]! !== 0)) {
      const mant = ((payload[i + 1]! & 0x03) << 8) | payload[i + 2]!;
      const wrong = (1024 + mant) * 2 ** -25 * (payload[i + 1]! & 0x80 ? -1 : 1);
      const d = Buffer.alloc(9);
      d[0] = 0xfb;
      d.writeDoubleBE(wrong, 1);
      out.push(...d);
      i += 2;
    } else {
      out.push(b);
    }
  }
  return Uint8Array.from(out);
}

let errorCount = 0;
const corrupt = new Transform({
  transform(chunk: Buffer, _enc, done) {
    for (const body of decoder.push(chunk)) {
      let m: Message;
      try {
        m = decodeMessage(body);
      } catch {
        this.push(encodeFrame(body)); // an echo the defect wrote as it came (dims-product-wraps)
        continue;
      }
      const payload = m.payload as Record<string, unknown> & { details?: Record<string, unknown> };
      if (defect === 'lose-re' && m.name !== 'INIT') {
        const { re: _re, ...header } = m.header;
        this.push(encodeMessageFrame({ type: m.name, header, payload: m.payload, encoding: m.encoding }));
      } else if (defect === 'error-lose-re' && m.name === 'ERROR') {
        const { re: _re, ...header } = m.header;
        this.push(encodeMessageFrame({ type: m.name, header, payload: m.payload, encoding: m.encoding }));
      } else if (defect === 'accept-all' && m.name === 'ERROR') {
        this.push(encodeMessageFrame({ type: 'PING', header: { id: m.header.id, ...(m.header.re !== undefined ? { re: m.header.re } : {}) } }));
      } else if (defect === 'invert-definite' && m.name === 'ERROR') {
        this.push(encodeMessageFrame({ type: 'ERROR', header: m.header, payload: { ...payload, definite: !payload['definite'] } }));
      } else if (defect === 'wrong-path' && m.name === 'ERROR' && typeof payload.details?.['path'] === 'string') {
        this.push(encodeMessageFrame({ type: 'ERROR', header: m.header, payload: { ...payload, details: { ...payload.details, path: `${String(payload.details['path'])}/x` } } }));
      } else if (defect === 'wrong-rule' && m.name === 'ERROR' && typeof payload.details?.['rule'] === 'string') {
        this.push(encodeMessageFrame({ type: 'ERROR', header: m.header, payload: { ...payload, details: { ...payload.details, rule: `${String(payload.details['rule'])}-other` } } }));
      } else if (defect === 'no-name' && m.name === 'INIT') {
        const { name: _name, ...rest } = payload;
        this.push(encodeMessageFrame({ type: 'INIT', header: m.header, payload: rest }));
      } else if (defect === 'rounds-float32' && m.name === 'TEACHER_SYNC') {
        this.push(encodeMessageFrame({ type: m.name, header: m.header, payload: { ...payload, disagreement: Math.round(Number(payload['disagreement']) * 100) / 100 }, encoding: m.encoding }));
      } else if (defect === 'float32-ties-away' && m.name === 'TEACHER_SYNC') {
        this.push(encodeMessageFrame({ type: m.name, header: m.header, payload: { ...payload, disagreement: tiesAway(Number(payload['disagreement'])) }, encoding: m.encoding }));
      } else if (defect === 'dup-header-key' && m.header.re !== undefined && m.name !== 'ERROR') {
        const header = `{"id":${JSON.stringify(m.header.id)},${JSON.stringify('id')}:${JSON.stringify(m.header.id)},"re":${JSON.stringify(m.header.re)}}`;
        const framed = reencode(m);
        const hlen = (framed[6]! << 8) | framed[7]!;
        this.push(encodeFrame(encodeEnvelope(m.type, m.encoding, Buffer.from(header), framed.subarray(8 + hlen))));
      } else if (defect === 'tagged-cbor' && m.encoding === 'cbor' && m.header.re !== undefined) {
        const framed = reencode(m);
        const hlen = (framed[6]! << 8) | framed[7]!;
        this.push(encodeFrame(encodeEnvelope(m.type, 'cbor', encodeHeader(m.header), Buffer.concat([Buffer.from([0xd9, 0xd9, 0xf7]), framed.subarray(8 + hlen)]))));
      } else if (defect === 'ignore-ping' && m.name === 'PING') {
        // dropped
      } else if (defect === 'indefinite-cbor' && m.encoding === 'cbor') {
        this.push(indefinite(m, reencode(m)));
      } else if (defect === 'cbor-echo' && m.header.re !== undefined && m.name !== 'ERROR' && m.payload !== null && m.payload !== undefined) {
        this.push(encodeMessageFrame({ type: m.name, header: m.header, payload: m.payload, encoding: 'cbor' }));
      } else {
        this.push(reencode(m));
        if (defect === 'trailing-output' && m.name === 'INIT') this.push(Buffer.from('testee ready\n'));
      }
      if (m.name === 'ERROR') errorCount++;
    }
    done();
  },
  flush(done) {
    // silent-tail: the end of input is answered with an ERROR instead of a quiet exit.
    if (defect === 'silent-tail') this.push(encodeMessageFrame({ type: 'ERROR', header: { id: `tail-${errorCount}` }, payload: { code: 'MALFORMED_FRAME', message: 'the stream ended inside a frame', definite: true } }));
    done();
  },
});
const out = new PassThrough();

/** Answers a frame directly (in order with the testee's own output) instead of letting the testee see it. */
function answerError(id: string | undefined, code: string, path: string, definite = true): void {
  out.write(encodeMessageFrame({ type: 'ERROR', header: { id: `bad-${++errorCount}`, ...(id !== undefined ? { re: id } : {}) }, payload: { code, message: `broken testee (${defect})`, definite, details: { path } } }));
}

/** The input-side defects: each gets a frame body and returns the body to pass on, or null when it answered itself. */
function filterInput(body: Uint8Array): Uint8Array | null {
  const hlen = (body[2]! << 8) | body[3]!;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(body.subarray(4, 4 + hlen)).toString('utf8')) as Record<string, unknown>;
  } catch {
    return body;
  }
  if (typeof header !== 'object' || header === null) return body;
  const id = typeof header['id'] === 'string' ? header['id'] : undefined;
  const payload = body.subarray(4 + hlen);
  const text = Buffer.from(payload).toString('utf8');
  const rebuild = (h: Record<string, unknown>, p: Uint8Array): Uint8Array => encodeEnvelope(body[0]!, (body[1]! & 3) === 1 ? 'cbor' : 'json', Buffer.from(JSON.stringify(h)), p);
  switch (defect) {
    case 'refuse-unknown-header': {
      const unknown = Object.keys(header).find((k) => !['id', 're', 'src', 'dst', 'ts'].includes(k));
      if (unknown !== undefined) { answerError(id, 'INVALID_HEADER', `/header/${unknown}`); return null; }
      return body;
    }
    case 'count-chars': {
      const h = { ...header };
      for (const k of ['src', 'dst']) if (typeof h[k] === 'string' && [...(h[k] as string)].length <= 128) h[k] = 'ok';
      return rebuild(h, payload);
    }
    case 'integer-strict':
      if ((body[1]! & 3) === 0 && /"teacher_count":\s*-?[0-9]+[.eE]/.test(text)) { answerError(id, 'SCHEMA_VIOLATION', '/teacher_count'); return null; }
      return body;
    case 'no-indefinite-cbor':
      if ((body[1]! & 3) === 1 && payload.some((b) => b === 0x9f || b === 0xbf)) { answerError(id, 'INVALID_PAYLOAD', ''); return null; }
      return body;
    case 'refuse-unknown-code':
      if (body[0] === 0xff && /"code":"CODE_FROM/.test(text)) { answerError(id, 'SCHEMA_VIOLATION', '/code'); return null; }
      return body;
    case 'decode-null-payload':
      if (body[0] === 0x03 && payload.length > 0) {
        try { JSON.parse(text); } catch { answerError(id, 'INVALID_PAYLOAD', ''); return null; }
      }
      return body;
    case 'empty-as-object':
      return payload.length === 0 && body[0] !== 0x03 && body[0] !== 0x04 ? rebuild(header, Buffer.from('{}')) : body;
    case 'answer-after-close':
      // Step 2's fault answered without closing: the reference testee never sees it and reads on.
      if ((body[1]! & 0xfc) !== 0) { answerError(undefined, 'MALFORMED_FRAME', ''); return null; }
      return body;
    case 'escaped-length': {
      // The raw text between the quotes of each string value, escapes undecoded.
      const raw = Buffer.from(body.subarray(4, 4 + hlen)).toString('utf8');
      for (const [, key, spelled] of raw.matchAll(/"(id|re|src|dst)"\s*:\s*"((?:[^"\\]|\\.)*)"/g)) {
        if (Buffer.byteLength(spelled!) > 128) { answerError(key === 'id' ? undefined : id, 'INVALID_HEADER', `/header/${key!}`); return null; }
      }
      return body;
    }
    case 'dims-product-wraps': {
      if ((body[1]! & 3) !== 0 || body[0] !== BUS_PUBLISH) return body;
      for (const [, b64] of text.matchAll(/"\$ndarray":"([A-Za-z0-9+/=]*)"/g)) {
        const n = elementBytes(Buffer.from(b64!, 'base64'));
        if (n && n.exact !== n.dataLen && n.wrapped === n.dataLen && n.rest >= Number(n.dataLen)) {
          // Taken as valid: echoed as it came, the array the harness cannot read.
          out.write(encodeFrame(encodeEnvelope(body[0]!, 'json', Buffer.from(JSON.stringify({ id: `bad-${++errorCount}`, ...(id !== undefined ? { re: id } : {}) })), payload)));
          return null;
        }
      }
      return body;
    }
    case 'half-subnormal-as-normal':
      return (body[1]! & 3) === 1 && body[0] === BUS_PUBLISH ? rebuild(header, halfSubnormalsAsNormal(payload)) : body;
    case 'uint64-as-double':
      return rebuild(header, Buffer.from(text.replace(/"state_version":"([0-9]+)"/g, (_m, n: string) => `"state_version":"${BigInt(Number(n)).toString()}"`)));
    default:
      return body;
  }
}

function isInitAck(body: Uint8Array): boolean {
  try {
    return decodeMessage(body).name === 'INIT_ACK';
  } catch {
    return false;
  }
}

const INPUT_DEFECTS = new Set(['escaped-length', 'dims-product-wraps', 'half-subnormal-as-normal', 'answer-after-close', 'refuse-unknown-header', 'count-chars', 'integer-strict', 'no-indefinite-cbor', 'refuse-unknown-code', 'decode-null-payload', 'empty-as-object', 'uint64-as-double', 'whole-chunks-only', 'one-read-one-frame']);

/** The testee's input after the input-side defect. */
function input(): NodeJS.ReadableStream {
  if (defect === 'exit-at-eof-only') {
    // The testee reads a copy; standard input itself is read on to its end, which alone ends the process.
    const copy = new PassThrough();
    process.stdin.on('data', (chunk: Buffer) => { if (!copy.destroyed) copy.write(chunk); });
    process.stdin.on('end', () => process.exit(0));
    return copy;
  }
  if (!INPUT_DEFECTS.has(defect ?? '')) return process.stdin;
  const filtered = new PassThrough();
  const frames = new FrameDecoder();
  process.stdin.on('data', (chunk: Buffer) => {
    let bodies: Uint8Array[];
    try {
      if (defect === 'whole-chunks-only') {
        // Only frames wholly inside this read survive; a fresh decoder forgets any partial frame.
        bodies = new FrameDecoder().push(chunk);
      } else if (defect === 'one-read-one-frame' && handshaken) {
        // The first frame of the read, whole, or nothing; the rest of the read is never looked at.
        bodies = new FrameDecoder().push(chunk).slice(0, 1);
      } else {
        bodies = frames.push(chunk);
        if (defect === 'one-read-one-frame') handshaken = bodies.some(isInitAck);
      }
    } catch {
      filtered.write(chunk);
      return;
    }
    for (const body of bodies) {
      const kept = filterInput(body);
      if (kept) filtered.write(encodeFrame(kept));
    }
  });
  process.stdin.on('end', () => filtered.end());
  // The testee destroys its input when it closes after an ERROR that closes (TST-9): stop reading, so the process exits.
  filtered.on('close', () => process.stdin.destroy());
  return filtered;
}
if (defect === 'no-close') {
  // The closing ERROR is written, then output stays open: the process lingers as if still running.
  out.pipe(corrupt).pipe(process.stdout, { end: false });
  out.on('end', () => setTimeout(() => process.exit(0), 60_000));
} else if (defect === 'exit-at-eof-only') {
  // Ending process.stdout does not close descriptor 1; this stream closes it, as a testee closing its output does.
  out.pipe(corrupt).pipe(createWriteStream('', { fd: 1 }));
} else {
  out.pipe(corrupt).pipe(process.stdout);
}
void runTestee(input() as never, out);
