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
 */
import { PassThrough, Transform } from 'node:stream';
import { runTestee } from '../../reference/testee/testee.js';
import { FrameDecoder, encodeFrame } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessageFrame, type Message } from '../../reference/codec/message.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeHeader } from '../../reference/codec/header.js';

const defect = process.argv[2];
const decoder = new FrameDecoder();

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

let errorCount = 0;
const corrupt = new Transform({
  transform(chunk: Buffer, _enc, done) {
    for (const body of decoder.push(chunk)) {
      const m = decodeMessage(body);
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
if (defect === 'no-close') {
  // The closing ERROR is written, then output stays open: the process lingers as if still running.
  out.pipe(corrupt).pipe(process.stdout, { end: false });
  out.on('end', () => setTimeout(() => process.exit(0), 60_000));
} else {
  out.pipe(corrupt).pipe(process.stdout);
}
void runTestee(process.stdin, out);
