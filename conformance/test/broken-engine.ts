/**
 * A deliberately broken engine for the engine suite's own tests: the reference TypeScript engine on
 * stdio with one defect applied to what it reads or writes. Run as `tsx broken-engine.ts <defect> [ms]`.
 *   batch-drop-last      BATCH_REASONING_RSP loses its last entry (RSN-1)
 *   batch-fail-all       one failing item fails every entry of the batch (RSN-2)
 *   batch-per-item-fault a batch refused by the checks of section 8 is answered per item (RSN-3)
 *   ack-without-digest   the ACKs of STATE_UPDATE and PARAMETER_SYNC carry no digest and version (LRN-1)
 *   reorder-updates      a FEEDBACK is applied after the request that follows it (LRN-2)
 *   mtl-sample-stddev    TEACHER_SYNC gives the sample, not the population, standard deviation (MTL-1)
 *   mtl-drop-rate        TEACHER_SYNC lacks the learning rate of one teacher (MTL-2)
 *   mem-internal         MEMORY_UPDATE is answered with ERROR INTERNAL (MEM-1)
 *   mem-two-answers      MEMORY_UPDATE is answered twice, ACK and UNSUPPORTED (MEM-1)
 *   encoding-right-dim   ENCODING_REQ is answered with `dim` elements (a correct encoder: MEM-2 passes)
 *   encoding-wrong-dim   ENCODING_REQ is answered with `dim` + 1 elements (MEM-2)
 *   no-activations       REASONING_RESPONSE carries no `activations` (ENG-18)
 *   memory-keeps-first   a MEMORY_UPDATE of a key already stored is ACKed but not applied (ENG-19, MEM-1)
 *   encoding-hash-only   ENCODING_REQ ignores the memory: always the hash encoder (ENG-20)
 *   nonfinite-internal   a non-finite encoding is refused with INTERNAL, not INVALID_ARRAY (ENG-9, ENG-12)
 *   double-answer        every REASONING_RESPONSE is sent twice (ENG-9)
 *   slow-reason          every REASONING_RESPONSE is held back [ms] milliseconds (ENG-13)
 *   responses-dropped    a response it never asked for (a stray PONG) is dropped unanswered (REQ-5)
 *   error-details-dropped its ERRORs lose `details` (BODY-3: INVALID_HEADER's path)
 *   v1.0                 its INIT offers protocol 1.0 (a sound engine of 1.0: VER-2 gives it 1.0)
 *   v1.0-cached          the same, and every REASONING_RESPONSE carries `cached`, a field of 1.1 (VER-3)
 *   state-update-clamps  a STATE_UPDATE weight outside [-1048576, 1048576] is clamped and applied, not refused (ENG-5)
 *   state-update-count-only a STATE_UPDATE is checked for the layer's element count, not its shape: a transposed matrix is applied (ENG-5)
 *   lr-q-zero            a FEEDBACK learning_rate below 1/65536 gives l_q = floor(l x 65536) = 0, not max(1, 0): the update changes no weight (ENG-3)
 *   mtl-default-rate     TEACHER_SYNC rates use the default lr_q 655, not the learning rate PARAMETER_SYNC set (ENG-8)
 *   cache-ignores-mtl    reasoning results are cached by encoding and context, emptied by FEEDBACK, STATE_UPDATE and PARAMETER_SYNC but not by MTL_COORDINATE (ENG-2, ENG-8)
 *   nonfinite-learned-as-zero the learning path skips the finiteness check: a FEEDBACK or MTL_COORDINATE encoding's non-finite elements are read as 0 and the update applied (ENG-3, ENG-8)
 *   failed-feedback-counts a FEEDBACK refused for a non-finite element still adds 1 to the version (ENG-3)
 *   cache-key-prefix     reasoning results are cached by the encoding's first 64 elements and the context, emptied by every state change (ENG-14, ENG-1)
 *   input-truncated      an encoding longer than 4096 elements is read as its first 4096, in every request that carries one (ENG-1, ENG-11)
 *   pipelined-shared-buffer REASONING_REQUESTs that wait together for the engine share one input buffer: each is computed on the encoding of the last to arrive (ENG-9)
 */
import { PassThrough, Transform } from 'node:stream';
import { serveStdio } from '../../reference/engine/stdio.js';
import { ReferenceEngine } from '../../reference/engine/engine.js';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { decodeEnvelope } from '../../reference/codec/body.js';
import { messageByCode } from '../../reference/codec/catalog.js';
import { ProtocolError } from '../../reference/codec/errors.js';
import { NDArray } from '../../reference/codec/ndarray.js';
import { hashEncode } from '../../reference/engine/encoder.js';
import { coordinate, type TeacherConfidence } from '../../reference/engine/mtl.js';
import { decodeMessage, encodeMessageFrame, type Message, type OutgoingMessage } from '../../reference/codec/message.js';
import type { MessageName } from '../../spec/generated/catalog.js';

const defect = process.argv[2] ?? '';
const delayMs = Number(process.argv[3] ?? 3000);
let n = 0;
const frame = (type: MessageName, re: string, payload: unknown): Uint8Array => encodeMessageFrame({ type, header: { id: `broken-${++n}`, re }, payload });
const again = (m: Message, payload: unknown = m.payload): Uint8Array => encodeMessageFrame({ type: m.name, header: m.header, payload, encoding: m.encoding } as OutgoingMessage);

const toEngine = new PassThrough();
const fromEngine = new PassThrough();
const out = (bytes: Uint8Array): void => void process.stdout.write(bytes);

// What the harness sends, on its way to the engine.
const inDecoder = new FrameDecoder();
let held: Uint8Array | undefined;
/** The type of each request by id, so that an answer's defect can depend on what it answers. */
const asked = new Map<string, string>();
/** Memory keys the engine was given (memory-keeps-first). */
const stored = new Set<string>();
/** cache-ignores-mtl: results by encoding and context, and the key of each request on its way. */
const cache = new Map<string, unknown>();
const cacheKeyOf = new Map<string, string>();
/** mtl-default-rate: the teachers of each MTL_COORDINATE by request id. */
const teachersOf = new Map<string, TeacherConfidence[]>();
/** failed-feedback-counts: refused FEEDBACKs the version counted, since the last version set outright. */
let uncounted = 0n;
/** nonfinite-learned-as-zero: the encoding with its non-finite elements as 0 (itself when it has none). */
const zeroed = (e: unknown): unknown => {
  if (!(e instanceof NDArray) || Array.from(e.data as ArrayLike<number>).every(Number.isFinite)) return e;
  return NDArray.from('<f4', e.shape, Array.from(e.data as ArrayLike<number>, (v) => (Number.isFinite(v) ? v : 0)));
};
/** input-truncated: the encoding cut to its first 4096 elements (itself when it is not longer). */
const truncated = (e: unknown): unknown => (e instanceof NDArray && e.size > 4096 ? NDArray.from('<f4', [4096], Array.from(e.data as ArrayLike<number>).slice(0, 4096)) : e);
/** pipelined-shared-buffer: the REASONING_REQUESTs waiting for the engine, handed over together shortly after the first arrived. */
let waiting: Message[] = [];
let handOver: NodeJS.Timeout | undefined;
function handOverWaiting(): void {
  if (handOver !== undefined) clearTimeout(handOver);
  handOver = undefined;
  const shared = (waiting.at(-1)?.payload as { encoding?: unknown } | undefined)?.encoding;
  for (const w of waiting) toEngine.write(again(w, { ...(w.payload as Record<string, unknown>), encoding: shared }));
  waiting = [];
}
/** The inbound defects that rewrite or answer a request; true when the request was dealt with. */
function rewritten(m: Message): boolean {
  const p = (m.payload ?? {}) as Record<string, unknown>;
  const forward = (payload: Record<string, unknown>): true => { toEngine.write(again(m, payload)); return true; };
  if (defect === 'state-update-clamps' && m.name === 'STATE_UPDATE') {
    const w = p['weights'] as NDArray;
    const values = Array.from(w.data as ArrayLike<number>);
    if (w.dtype.endsWith('i4') && values.some((x) => Math.abs(x) > 1048576)) return forward({ ...p, weights: NDArray.from('<i4', w.shape, values.map((x) => Math.max(-1048576, Math.min(1048576, x)))) });
  }
  if (defect === 'state-update-count-only' && m.name === 'STATE_UPDATE') {
    const w = p['weights'] as NDArray;
    const layer = p['layer'] as number;
    const shape = [[512, 64], [256, 512], [128, 256]][layer];
    if (shape && w.shape.length === 2 && w.shape[0]! * w.shape[1]! === shape[0]! * shape[1]! && w.shape[0] !== shape[0]) return forward({ ...p, weights: new NDArray(w.dtype, shape, w.data) });
  }
  if (defect === 'lr-q-zero' && m.name === 'FEEDBACK' && typeof p['learning_rate'] === 'number' && Math.floor(p['learning_rate'] * 65536) === 0) return forward({ ...p, reward: 0 });
  if (defect === 'mtl-default-rate' && m.name === 'MTL_COORDINATE') teachersOf.set(m.header.id, p['teacher_outputs'] as TeacherConfidence[]);
  if (defect === 'cache-ignores-mtl' || defect === 'cache-key-prefix') {
    if (['FEEDBACK', 'STATE_UPDATE', 'PARAMETER_SYNC'].includes(m.name) || (defect === 'cache-key-prefix' && m.name === 'MTL_COORDINATE')) cache.clear();
    if (m.name === 'REASONING_REQUEST') {
      const e = p['encoding'] as NDArray;
      const key = `${Array.from(e.data as ArrayLike<number>).slice(0, defect === 'cache-key-prefix' ? 64 : undefined).join(',')}|${String(p['context'])}`;
      const hit = cache.get(key);
      if (hit !== undefined) { out(frame('REASONING_RESPONSE', m.header.id, hit)); return true; }
      cacheKeyOf.set(m.header.id, key);
    }
  }
  if (defect === 'nonfinite-learned-as-zero' && (m.name === 'FEEDBACK' || m.name === 'MTL_COORDINATE') && zeroed(p['encoding']) !== p['encoding']) return forward({ ...p, encoding: zeroed(p['encoding']) });
  if (defect === 'input-truncated') {
    if ((m.name === 'REASONING_REQUEST' || m.name === 'FEEDBACK' || m.name === 'MTL_COORDINATE') && truncated(p['encoding']) !== p['encoding']) return forward({ ...p, encoding: truncated(p['encoding']) });
    const items = p['items'] as { encoding?: unknown }[] | undefined;
    if (m.name === 'BATCH_REASONING_REQ' && items?.some((x) => truncated(x.encoding) !== x.encoding)) return forward({ ...p, items: items.map((x) => ({ ...x, encoding: truncated(x.encoding) })) });
  }
  if (defect === 'failed-feedback-counts' && (m.name === 'STATE_UPDATE' || (m.name === 'PARAMETER_SYNC' && p['state_version'] !== undefined))) uncounted = 0n;
  return false;
}
process.stdin.on('data', (chunk: Buffer) => {
  for (const body of inDecoder.push(chunk)) {
    let m: Message;
    try {
      m = decodeMessage(body);
    } catch (e) {
      const env = (() => { try { return decodeEnvelope(body); } catch { return undefined; } })();
      if (defect === 'batch-per-item-fault' && e instanceof ProtocolError && env && messageByCode(env.type)?.name === 'BATCH_REASONING_REQ') {
        out(frame('BATCH_REASONING_RSP', env.header.id, { results: [{ ok: false, error: { code: e.code, message: e.message } }] }));
        continue;
      }
      if (waiting.length > 0) handOverWaiting();
      toEngine.write(frameOf(body)); // the engine refuses it itself
      continue;
    }
    asked.set(m.header.id, m.name);
    if (defect === 'pipelined-shared-buffer') {
      // Requests keep their order: anything else first hands over the waiting REASONING_REQUESTs.
      if (m.name === 'REASONING_REQUEST') { waiting.push(m); handOver ??= setTimeout(handOverWaiting, 30); continue; }
      if (waiting.length > 0) handOverWaiting();
    }
    if (defect === 'responses-dropped' && messageByCode(body[0]!)?.kind === 'response' && m.name !== 'INIT_ACK') continue;
    if (rewritten(m)) continue;
    if (m.name === 'MEMORY_UPDATE' && defect === 'mem-internal') { out(frame('ERROR', m.header.id, { code: 'INTERNAL', message: 'memory is broken', definite: false })); continue; }
    if (m.name === 'MEMORY_UPDATE' && defect === 'mem-two-answers') {
      out(frame('ACK', m.header.id, {}));
      out(frame('ERROR', m.header.id, { code: 'UNSUPPORTED', message: 'no memory', definite: true }));
      continue;
    }
    if (m.name === 'MEMORY_UPDATE' && defect === 'memory-keeps-first') {
      const key = (m.payload as { key: string }).key;
      if (stored.has(key)) { out(frame('ACK', m.header.id, {})); continue; }
      stored.add(key);
    }
    if (m.name === 'ENCODING_REQ' && defect === 'encoding-hash-only') {
      const { text, dim } = m.payload as { text: string; dim?: number };
      out(frame('ENCODING_RSP', m.header.id, { encoding: new NDArray('<f4', [dim ?? 64], hashEncode(text, dim ?? 64)), model: 'concord-hash-encoder' }));
      continue;
    }
    if (m.name === 'ENCODING_REQ' && defect.startsWith('encoding-')) {
      const dim = ((m.payload as { dim?: number }).dim ?? 8) + (defect === 'encoding-wrong-dim' ? 1 : 0);
      out(frame('ENCODING_RSP', m.header.id, { encoding: NDArray.from('<f4', [dim], Array.from({ length: dim }, (_, i) => i / dim)), model: 'broken-encoder' }));
      continue;
    }
    if (defect === 'reorder-updates' && held !== undefined) {
      toEngine.write(frameOf(body));
      toEngine.write(held);
      held = undefined;
      continue;
    }
    if (m.name === 'FEEDBACK' && defect === 'reorder-updates') { held = frameOf(body); continue; }
    toEngine.write(frameOf(body));
  }
});
process.stdin.on('end', () => {
  if (waiting.length > 0) handOverWaiting();
  toEngine.end();
});

function frameOf(body: Uint8Array): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

// What the engine answers, on its way to the harness.
const outDecoder = new FrameDecoder();
fromEngine.pipe(new Transform({
  transform(chunk: Buffer, _enc, done) {
    for (const body of outDecoder.push(chunk)) {
      const m = decodeMessage(body);
      const p = m.payload as Record<string, unknown>;
      if (m.name === 'INIT' && defect.startsWith('v1.0')) {
        this.push(again(m, { ...p, protocol_version: '1.0' }));
        continue;
      }
      if (m.name === 'REASONING_RESPONSE' && defect === 'v1.0-cached') {
        this.push(again(m, { ...p, cached: false }));
        continue;
      }
      if (m.name === 'ERROR' && defect === 'error-details-dropped') {
        const { details: _dropped, ...rest } = p;
        this.push(again(m, rest));
        continue;
      }
      if (m.name === 'REASONING_RESPONSE' && (defect === 'cache-ignores-mtl' || defect === 'cache-key-prefix') && cacheKeyOf.has(m.header.re ?? '')) cache.set(cacheKeyOf.get(m.header.re!)!, p);
      if (m.name === 'ERROR' && defect === 'failed-feedback-counts' && asked.get(m.header.re ?? '') === 'FEEDBACK' && p['code'] === 'INVALID_ARRAY') uncounted += 1n;
      if ((m.name === 'ACK' || m.name === 'TEACHER_SYNC') && defect === 'failed-feedback-counts' && uncounted > 0n && p['state_version'] !== undefined) {
        this.push(again(m, { ...p, state_version: BigInt(p['state_version'] as bigint) + uncounted }));
        continue;
      }
      if (m.name === 'TEACHER_SYNC' && defect === 'mtl-default-rate' && teachersOf.has(m.header.re ?? '')) {
        this.push(again(m, { ...p, learning_rates: coordinate(teachersOf.get(m.header.re!)!, 655).learningRates }));
        continue;
      }
      if (m.name === 'BATCH_REASONING_RSP' && defect === 'batch-drop-last') this.push(again(m, { results: (p['results'] as unknown[]).slice(0, -1) }));
      else if (m.name === 'BATCH_REASONING_RSP' && defect === 'batch-fail-all') {
        const results = p['results'] as { ok: boolean; error?: unknown }[];
        const bad = results.find((r) => !r.ok);
        this.push(again(m, { results: bad ? results.map(() => ({ ok: false, error: bad.error })) : results }));
      } else if (m.name === 'ACK' && defect === 'ack-without-digest' && ['STATE_UPDATE', 'PARAMETER_SYNC'].includes(asked.get(m.header.re ?? '') ?? '')) this.push(again(m, {}));
      else if (m.name === 'TEACHER_SYNC' && defect === 'mtl-sample-stddev') {
        const k = p['teacher_count'] as number;
        this.push(again(m, { ...p, disagreement: Math.fround((p['disagreement'] as number) * Math.sqrt(k / (k - 1))) }));
      } else if (m.name === 'TEACHER_SYNC' && defect === 'mtl-drop-rate') {
        const rates = { ...(p['learning_rates'] as Record<string, number>) };
        delete rates[Object.keys(rates)[0]!];
        this.push(again(m, { ...p, learning_rates: rates }));
      } else if (m.name === 'ERROR' && defect === 'nonfinite-internal' && p['code'] === 'INVALID_ARRAY') this.push(again(m, { ...p, code: 'INTERNAL', definite: false }));
      else if (m.name === 'REASONING_RESPONSE' && defect === 'no-activations') {
        const { activations: _dropped, ...rest } = p;
        this.push(again(m, rest));
      } else if (m.name === 'REASONING_RESPONSE' && defect === 'double-answer') {
        this.push(again(m));
        this.push(again({ ...m, header: { ...m.header, id: `${m.header.id}-again` } }));
      } else if (m.name === 'REASONING_RESPONSE' && defect === 'slow-reason') {
        const bytes = again(m);
        setTimeout(() => out(bytes), delayMs);
      } else this.push(again(m));
    }
    done();
  },
})).pipe(process.stdout);

void serveStdio(new ReferenceEngine('typescript'), toEngine, fromEngine);
