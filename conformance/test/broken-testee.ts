/**
 * A deliberately broken testee for the harness's own tests: the reference testee with one defect
 * applied to its output. Run as `tsx broken-testee.ts <defect>`.
 *   lose-re        echoes carry no `re`
 *   accept-all     a refused frame is echoed as PING instead of answered with its ERROR
 */
import { PassThrough, Transform } from 'node:stream';
import { runTestee } from '../../reference/testee/testee.js';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { decodeMessage, encodeMessageFrame } from '../../reference/codec/message.js';

const defect = process.argv[2];
const decoder = new FrameDecoder();
const corrupt = new Transform({
  transform(chunk: Buffer, _enc, done) {
    for (const body of decoder.push(chunk)) {
      const m = decodeMessage(body);
      if (defect === 'lose-re' && m.name !== 'INIT') {
        const { re: _re, ...header } = m.header;
        this.push(encodeMessageFrame({ type: m.name, header, payload: m.payload, encoding: m.encoding }));
      } else if (defect === 'accept-all' && m.name === 'ERROR') {
        this.push(encodeMessageFrame({ type: 'PING', header: { id: m.header.id, ...(m.header.re !== undefined ? { re: m.header.re } : {}) } }));
      } else {
        this.push(encodeMessageFrame({ type: m.name, header: m.header, payload: m.payload, encoding: m.encoding }));
      }
    }
    done();
  },
});
const out = new PassThrough();
out.pipe(corrupt).pipe(process.stdout);
void runTestee(process.stdin, out);
