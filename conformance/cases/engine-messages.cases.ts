/**
 * The per-message rules of sections 9.2-9.5 as an engine on stdio shows them (RSN, LRN, MTL, MEM),
 * and the unified engine's answer, failover and timeout rules (ENG-9, ENG-12, ENG-13) with the peer
 * as one of its engines. The engine answering MTL_COORDINATE is the coordinator of MTL-1 and MTL-2
 * (ENG-8). The unified engine's cache key (ENG-14), its redundant pairs (ENG-11) and concurrent calls
 * (ENG-9, ENG-10) are held against the peer's answers too: a miss, each member of a pair and each of
 * many calls in flight at once must get the result of its own encoding. MEMORY_UPDATE and ENCODING_REQ are `recommended` types: an engine may answer them with
 * exactly one ERROR UNSUPPORTED (ERR-8); the MEM cases check the rule when the engine implements them.
 */
import { NDArray } from '../../reference/codec/ndarray.js';
import { messageByName } from '../../reference/codec/catalog.js';
import { encodePayload } from '../../reference/codec/payload.js';
import { ReferenceEngine, encodingOf as elementsOf, layerWeights, LocalBackend, UnifiedEngine, Xorshift32, type ReasonResult, type StateAck, type MtlResult, type EngineBackend, type EngineLanguage, type TeacherConfidence } from '../oracle.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import type { CaseContext, TesteeSession } from './context.js';
import { ask, engineSession } from './engine.cases.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import { ProtocolError } from '../../reference/codec/errors.js';
import { receivedCode, registryName } from '../../reference/codec/catalog.js';

type Answer = { name: MessageName; payload: unknown };
const payloadOf = (a: Answer): Record<string, unknown> => (a.payload ?? {}) as Record<string, unknown>;
const showAnswer = (a: Answer): string => (a.name === 'ERROR' ? `ERROR ${String(payloadOf(a)['code'])}` : a.name);
const vec = (values: number[]): NDArray => NDArray.from('<f4', [values.length], values);
/** A float32 encoding of `length` seeded elements (as the engine fixtures draw them). */
const encodingOf = (seed: number, length: number): NDArray => vec(elementsOf(seed, length));

/** Nothing more from the peer about earlier requests: the next frame answers a PING sent now. */
async function expectNoMoreAnswers(ctx: CaseContext, s: TesteeSession, what: string): Promise<void> {
  const id = `quiet-${Math.random().toString(36).slice(2, 8)}`;
  s.conn.send({ type: 'PING', header: { id } });
  const m = await ctx.expectMessage(s.conn, `PONG with re=${id}`, () => true);
  if (m.name !== 'PONG' || m.header.re !== id) throw new CaseFailure(`${what}: a further answer arrived`, `PONG re=${id}`, `${m.name} re=${String(m.header.re)}`);
}

/** The peer's reasoning result for an encoding, as the reference computes it on a fresh engine. */
const referenceSpikes = (encodings: NDArray[]): number[] => { const r = new ReferenceEngine('reference'); return encodings.map((e) => r.reason(e).spike_count); };

function batchResults(a: Answer, what: string): { ok: boolean; result?: { spike_count?: number }; error?: unknown }[] {
  const results = payloadOf(a)['results'];
  if (a.name !== 'BATCH_REASONING_RSP' || !Array.isArray(results)) throw new CaseFailure(`${what}: no BATCH_REASONING_RSP`, 'BATCH_REASONING_RSP', showAnswer(a));
  return results as never;
}

/** A batch payload as JSON text with item `index` replaced (for faults the codec would not encode). */
function batchJsonWith(items: NDArray[], index: number, replacement: unknown): string {
  const text = new TextDecoder().decode(encodePayload(messageByName('BATCH_REASONING_REQ'), 'json', { items: items.map((encoding) => ({ encoding })), source: 'conformance' }));
  const p = JSON.parse(text) as { items: unknown[] };
  p.items[index] = replacement;
  return JSON.stringify(p);
}

/** The unified engine's view of the peer, counting its calls and bounding each by the unified engine's timeout. */
class TimedPeer implements EngineBackend {
  calls = 0;
  private n = 0;
  constructor(private readonly ctx: CaseContext, private readonly s: TesteeSession, readonly name: string, readonly language: EngineLanguage) {}
  live(): boolean {
    return true;
  }
  markFailed(): void {}
  private async call<T>(type: MessageName, payload: unknown, timeoutMs: number): Promise<T> {
    this.calls++;
    const id = `t${++this.n}`;
    this.s.conn.send({ type, header: { id }, payload });
    const want = messageByName(type).response!;
    // Calls are sequential: anything else that arrives is a late answer to a call already timed out (REQ-16).
    const deadline = Date.now() + timeoutMs;
    let r: Answer | undefined;
    while (r === undefined) {
      const x = await this.s.conn.next(Math.max(1, deadline - Date.now()));
      if (x.kind === 'timeout') throw new ProtocolError('TIMEOUT', `no answer within ${timeoutMs} ms`);
      if (x.kind !== 'message') throw new CaseFailure(`the peer ${x.kind === 'closed' ? 'closed the connection' : 'sent an invalid frame'} instead of answering ${type}`);
      if ((x.message.name === want || x.message.name === 'ERROR') && x.message.header.re === id) r = x.message;
    }
    if (r.name === 'ERROR') throw Object.assign(new Error((r.payload as { message: string }).message), { code: receivedCode((r.payload as { code: string }).code) });
    return r.payload as T;
  }
  reason(encoding: NDArray, context: string, timeoutMs: number): Promise<ReasonResult> {
    return this.call('REASONING_REQUEST', { encoding, context, source: 'conformance' }, timeoutMs);
  }
  feedback(encoding: NDArray, reward: number, _lr: number | undefined, timeoutMs: number): Promise<StateAck> {
    return this.call('FEEDBACK', { encoding, reward }, timeoutMs);
  }
  parameterSync(parameters: Record<string, number>, timeoutMs: number): Promise<StateAck> {
    return this.call('PARAMETER_SYNC', { parameters }, timeoutMs);
  }
  mtlCoordinate(id: string, teachers: TeacherConfidence[], encoding: NDArray | undefined, timeoutMs: number): Promise<MtlResult> {
    return this.call('MTL_COORDINATE', { coordination_id: id, teacher_outputs: teachers.map((t) => ({ ...t, spike_count: 0 })), ...(encoding ? { encoding } : {}) }, timeoutMs);
  }
}

/** A harness engine that fails every call with `code` (INTERNAL: a failure that must lead to failover). */
class FailingBackend extends LocalBackend {
  calls = 0;
  constructor(name: string, private readonly code: ErrorName) {
    super(name);
  }
  override reason(): Promise<ReasonResult> {
    this.calls++;
    return Promise.reject(Object.assign(new Error(`${this.name} is out of order`), { code: this.code }));
  }
}

/** The in-process reference engine, counting its calls. */
class CountingLocal extends LocalBackend {
  calls = 0;
  override reason(encoding: NDArray): Promise<ReasonResult> {
    this.calls++;
    return super.reason(encoding);
  }
}

const NAN_ENCODING = (): NDArray => vec([0.5, Number.NaN, 0.25]);

/** Where a result differs from the reference's in the fields redundant mode compares (ENG-11), or null. */
export function resultMismatch(got: ReasonResult | null | undefined, want: ReasonResult): string | null {
  if (!got) return 'no result';
  if (got.state_digest !== want.state_digest) return `/state_digest ${String(got.state_digest)}, expected ${want.state_digest}`;
  if (got.spike_count !== want.spike_count) return `/spike_count ${String(got.spike_count)}, expected ${want.spike_count}`;
  if (got.confidence !== want.confidence) return `/confidence ${String(got.confidence)}, expected ${want.confidence}`;
  const g = got.firing_pattern instanceof NDArray ? Array.from(got.firing_pattern.data as ArrayLike<number | boolean>, Number) : [];
  const w = Array.from(want.firing_pattern.data as ArrayLike<number>);
  const at = w.findIndex((x, i) => g[i] !== x);
  if (at >= 0 || g.length !== w.length) return `/firing_pattern differs from neuron ${at < 0 ? Math.min(g.length, w.length) : at}`;
  return null;
}

/**
 * The peer as an engine the unified engine may call many times at once (reasonBatch runs up to 32
 * calls concurrently, as a unified service does for BATCH_REASONING_REQ): requests are sent as the
 * calls start and one reader hands each answer to the call whose id it names. An answer to no open
 * call (a second answer, a wrong `re`) or a closed connection is kept in `problems`.
 */
class PipelinedPeer implements EngineBackend {
  calls = 0;
  readonly problems: string[] = [];
  private n = 0;
  private reading = false;
  private readonly open = new Map<string, { type: MessageName; deadline: number; resolve: (p: unknown) => void; reject: (e: unknown) => void }>();
  constructor(private readonly s: TesteeSession, readonly name: string, readonly language: EngineLanguage) {}
  live(): boolean {
    return true;
  }
  markFailed(): void {}
  private call<T>(type: MessageName, payload: unknown, timeoutMs: number): Promise<T> {
    this.calls++;
    const id = `p${++this.n}`;
    const answer = new Promise<T>((resolve, reject) => this.open.set(id, { type, deadline: Date.now() + timeoutMs, resolve: resolve as (p: unknown) => void, reject }));
    this.s.conn.send({ type, header: { id }, payload } as never);
    void this.read();
    return answer;
  }
  /** One reader while calls are open; an open call past its deadline fails TIMEOUT (the unified engine's timeout, ENG-13). */
  private async read(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (this.open.size > 0) {
        const deadline = Math.min(...[...this.open.values()].map((o) => o.deadline));
        const x = await this.s.conn.next(Math.max(1, deadline - Date.now()));
        if (x.kind === 'timeout') {
          for (const [id, o] of this.open) if (o.deadline <= Date.now()) { this.open.delete(id); o.reject(new ProtocolError('TIMEOUT', `no answer to ${id} in time`)); }
          continue;
        }
        if (x.kind !== 'message') {
          this.problems.push(x.kind === 'closed' ? `the peer closed the connection with ${this.open.size} requests unanswered` : `the peer sent an invalid frame: ${x.error.message}`);
          for (const o of this.open.values()) o.reject(new ProtocolError('PEER_GONE', 'the connection failed'));
          this.open.clear();
          break;
        }
        const m = x.message;
        const re = m.header.re;
        const o = re === undefined ? undefined : this.open.get(re);
        if (o === undefined) { this.problems.push(`${m.name} with re=${String(re)} answers no open request (a second answer, or the wrong re)`); continue; }
        this.open.delete(re!);
        if (m.name === 'ERROR') o.reject(Object.assign(new Error((m.payload as { message: string }).message), { code: receivedCode((m.payload as { code: string }).code) }));
        else if (m.name === messageByName(o.type).response) o.resolve(m.payload);
        else { this.problems.push(`${o.type} ${re} was answered with ${m.name}`); o.reject(new ProtocolError('INTERNAL', `answered with ${m.name}`)); }
      }
    } finally {
      this.reading = false;
    }
  }
  reason(encoding: NDArray, context: string, timeoutMs: number): Promise<ReasonResult> {
    return this.call('REASONING_REQUEST', { encoding, context, source: 'conformance' }, timeoutMs);
  }
  feedback(encoding: NDArray, reward: number, lr: number | undefined, timeoutMs: number): Promise<StateAck> {
    return this.call('FEEDBACK', { encoding, reward, ...(lr !== undefined ? { learning_rate: lr } : {}) }, timeoutMs);
  }
  parameterSync(parameters: Record<string, number>, timeoutMs: number): Promise<StateAck> {
    return this.call('PARAMETER_SYNC', { parameters }, timeoutMs);
  }
  mtlCoordinate(id: string, teachers: TeacherConfidence[], encoding: NDArray | undefined, timeoutMs: number): Promise<MtlResult> {
    return this.call('MTL_COORDINATE', { coordination_id: id, teacher_outputs: teachers.map((t) => ({ ...t, spike_count: 0 })), ...(encoding ? { encoding } : {}) }, timeoutMs);
  }
}

export function engineMessageCases(): Case[] {
  return [
    defineCase({
      id: 'msg-reasoning/batch-entry-per-item',
      statements: ['RSN-1'],
      async run(ctx) {
        const s = await engineSession(ctx);
        for (const size of [1, 2, 7]) {
          const items = Array.from({ length: size }, (_, i) => encodingOf(100 + i * 7, 32 + i * 13));
          const results = batchResults(await ask(ctx, s, 'BATCH_REASONING_REQ', { items: items.map((encoding) => ({ encoding })), source: 'conformance' }, `batch-${size}`), `a batch of ${size}`);
          if (results.length !== size) throw new CaseFailure(`a batch of ${size} items got ${results.length} entries`, String(size), String(results.length));
          const want = referenceSpikes(items);
          const got = results.map((r) => r.result?.spike_count);
          const at = got.findIndex((g, i) => g !== want[i]);
          if (at >= 0) throw new CaseFailure(`entry ${at} of a batch of ${size} is not the result of item ${at} (/results/${at}/result/spike_count)`, String(want[at]), String(got[at]));
        }
      },
    }),
    defineCase({
      id: 'msg-reasoning/batch-item-failure-isolated',
      statements: ['RSN-2'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const items = [encodingOf(5, 16), NAN_ENCODING(), encodingOf(6, 16)];
        const results = batchResults(await ask(ctx, s, 'BATCH_REASONING_REQ', { items: items.map((encoding) => ({ encoding })), source: 'conformance' }, 'batch-nan'), 'a batch with a non-finite item');
        const problems: string[] = [];
        results.forEach((r, i) => {
          const failing = i === 1;
          if (r.ok !== !failing) problems.push(`/results/${i}/ok is ${String(r.ok)}`);
          if (failing && (r.error === undefined || r.result !== undefined)) problems.push(`/results/${i} must carry error and no result`);
          if (!failing && (r.result === undefined || r.error !== undefined)) problems.push(`/results/${i} must carry result and no error`);
        });
        if (results.length !== 3) problems.push(`${results.length} entries for 3 items`);
        if (problems.length) throw new CaseFailure(`the failure of item 1 (NaN) is not confined to its entry: ${problems.join('; ')}`, 'ok true, false, true', JSON.stringify(results.map((r) => r.ok)));
      },
    }),
    defineCase({
      id: 'msg-reasoning/batch-fault-refuses-whole',
      statements: ['RSN-3'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const items = [encodingOf(7, 16), encodingOf(8, 16)];
        const faults: [string, unknown, ErrorName][] = [
          ['an item without encoding', { context: 'no encoding' }, 'SCHEMA_VIOLATION'],
          ['an item whose encoding is a plain number array', { encoding: [0.5, 0.25] }, 'INVALID_ARRAY'],
        ];
        const problems: string[] = [];
        for (const [i, [what, item, code]] of faults.entries()) {
          const id = `fault-${i}`;
          ctx.sendUnchecked(s.conn, 'BATCH_REASONING_REQ', { id }, batchJsonWith(items, 1, item));
          const m = await ctx.expectMessage(s.conn, `ERROR ${code} with re=${id}`, (x) => x.header.re === id);
          const got = m.name === 'ERROR' ? (m.payload as { code: string }).code : m.name;
          if (got !== code) problems.push(`${what}: ${got} instead of ERROR ${code}`);
        }
        if (problems.length) throw new CaseFailure(`a batch with a faulty item must be refused whole: ${problems.join('; ')}`, faults.map((f) => `ERROR ${f[2]}`).join(', '), problems.join('; '));
      },
    }),
    defineCase({
      id: 'msg-learning/ack-once-applied',
      statements: ['LRN-1'],
      async run(ctx) {
        // Each state change is answered ACK with the digest and version after it, which a REASONING_RESPONSE then confirms.
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const steps: [MessageName, Record<string, unknown>, () => StateAck][] = [
          ['FEEDBACK', { encoding: encodingOf(11, 64), reward: 0.5 }, () => ref.feedback(encodingOf(11, 64), 0.5)],
          ['PARAMETER_SYNC', { parameters: { learning_rate: 0.25 } }, () => ref.parameterSync({ learning_rate: 0.25 })],
          ['STATE_UPDATE', { layer: 2, weights: layerWeights(2, 9), state_version: 40n }, () => ref.stateUpdate(2, layerWeights(2, 9), 40n)],
        ];
        const problems: string[] = [];
        for (const [i, [type, payload, apply]] of steps.entries()) {
          const want = apply();
          const a = await ask(ctx, s, type, payload, `lrn-${i}`);
          const p = payloadOf(a);
          if (a.name !== 'ACK') { problems.push(`${type}: ${showAnswer(a)} instead of ACK`); continue; }
          if (p['state_digest'] !== want.state_digest) problems.push(`${type}: /state_digest is ${String(p['state_digest'])}, not the digest after the update`);
          if (p['state_version'] === undefined || BigInt(p['state_version'] as bigint) !== want.state_version) problems.push(`${type}: /state_version is ${String(p['state_version'])}, want ${want.state_version}`);
          const r = await ask(ctx, s, 'REASONING_REQUEST', { encoding: encodingOf(3, 8), context: '', source: 'conformance' }, `lrn-check-${i}`);
          if (payloadOf(r)['state_digest'] !== want.state_digest) problems.push(`after the ACK of ${type} the engine reasons with another state`);
        }
        if (problems.length) throw new CaseFailure(problems.join('; '), 'ACK with the digest and version after each update', problems[0]);
      },
    }),
    defineCase({
      id: 'msg-learning/updates-in-order-once',
      statements: ['LRN-2'],
      async run(ctx) {
        // Eight state changes sent back to back, without awaiting: each ACK names the state after exactly its prefix.
        const s = await engineSession(ctx);
        const ref = new ReferenceEngine('reference');
        const wants: StateAck[] = [];
        const ids: string[] = [];
        for (let i = 0; i < 8; i++) {
          const id = `seq-${i}`;
          ids.push(id);
          if (i === 5) {
            s.conn.send({ type: 'PARAMETER_SYNC', header: { id }, payload: { parameters: { learning_rate: 0.125 } } });
            wants.push(ref.parameterSync({ learning_rate: 0.125 }));
          } else {
            const e = encodingOf(200 + i, 48);
            const reward = i % 2 === 0 ? 0.75 : -0.5;
            s.conn.send({ type: 'FEEDBACK', header: { id }, payload: { encoding: e, reward } });
            wants.push(ref.feedback(e, reward));
          }
        }
        const got = new Map<string, Record<string, unknown>>();
        while (got.size < ids.length) {
          const m = await ctx.expectMessage(s.conn, 'ACK of a pipelined update', (x) => (x.name === 'ACK' || x.name === 'ERROR') && ids.includes(String(x.header.re)));
          if (got.has(String(m.header.re))) throw new CaseFailure(`update ${m.header.re} was answered twice`);
          got.set(String(m.header.re), { name: m.name, ...(m.payload as object) });
        }
        const wrong = ids.filter((id, i) => got.get(id)!['state_digest'] !== wants[i]!.state_digest);
        if (wrong.length) throw new CaseFailure(`ACKs of ${wrong.join(', ')} do not carry the state after the updates up to and including their own, once each, in the order sent`, wants[ids.indexOf(wrong[0]!)]!.state_digest, String(got.get(wrong[0]!)!['state_digest'] ?? got.get(wrong[0]!)!['name']));
        const r = await ask(ctx, s, 'REASONING_REQUEST', { encoding: encodingOf(3, 8), context: '', source: 'conformance' }, 'seq-final');
        if (payloadOf(r)['state_digest'] !== wants.at(-1)!.state_digest) throw new CaseFailure('after eight updates the engine is not in the state of each applied once, in order', wants.at(-1)!.state_digest, String(payloadOf(r)['state_digest']));
      },
    }),
    defineCase({
      id: 'msg-mtl/disagreement-population-stddev',
      statements: ['MTL-1'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const rounds: number[][] = [[0.25, 0.75], [0.1, 0.9, 0.5], [0.2, 0.2, 0.2, 0.8, 0.6]];
        for (const [k, confidences] of rounds.entries()) {
          const mean = confidences.reduce((a, b) => a + b, 0) / confidences.length;
          const want = Math.fround(Math.sqrt(confidences.reduce((a, c) => a + (c - mean) ** 2, 0) / confidences.length));
          const teachers = confidences.map((c, i) => ({ teacher_id: `t${i}`, confidence: c, spike_count: 1 }));
          const a = await ask(ctx, s, 'MTL_COORDINATE', { coordination_id: `round-${k}`, teacher_outputs: teachers, disagreement_score: 0.4375 }, `mtl-${k}`);
          const got = payloadOf(a)['disagreement'];
          // ENC-16: both rounded to binary32, then compared exactly.
          if (a.name !== 'TEACHER_SYNC' || typeof got !== 'number' || Math.fround(got) !== want) {
            throw new CaseFailure(`confidences ${JSON.stringify(confidences)} (sender's disagreement_score 0.4375): /disagreement is not their population standard deviation`, String(want), a.name === 'TEACHER_SYNC' ? String(got) : showAnswer(a));
          }
        }
      },
    }),
    defineCase({
      id: 'msg-mtl/teacher-sync-counts',
      statements: ['MTL-2'],
      async run(ctx) {
        const s = await engineSession(ctx);
        for (const n of [2, 5]) {
          const ids = Array.from({ length: n }, (_, i) => `teacher-${n}-${i}`);
          const a = await ask(ctx, s, 'MTL_COORDINATE', { coordination_id: `count-${n}`, teacher_outputs: ids.map((teacher_id, i) => ({ teacher_id, confidence: (i + 1) / (n + 1), spike_count: i })) }, `count-${n}`);
          const p = payloadOf(a);
          const keys = Object.keys((p['learning_rates'] ?? {}) as object).sort();
          if (a.name !== 'TEACHER_SYNC' || p['teacher_count'] !== n || JSON.stringify(keys) !== JSON.stringify([...ids].sort())) {
            throw new CaseFailure(`a round of ${n} teachers: /teacher_count and /learning_rates must name each teacher once`, `teacher_count ${n}, rates for ${ids.join(', ')}`, a.name === 'TEACHER_SYNC' ? `teacher_count ${String(p['teacher_count'])}, rates for ${keys.join(', ')}` : showAnswer(a));
          }
        }
      },
    }),
    defineCase({
      id: 'msg-memory/memory-update-ack-or-unsupported',
      statements: ['MEM-1', 'ERR-8'],
      async run(ctx) {
        // MEMORY_UPDATE is recommended: exactly one ERROR UNSUPPORTED passes (ERR-8); otherwise ACK, also for a replacement.
        const s = await engineSession(ctx);
        const first = await ask(ctx, s, 'MEMORY_UPDATE', { key: 'fact:1', encoding: vec([0.5, 0.25]), content: 'first' }, 'mem-1');
        if (first.name === 'ERROR' && registryName(payloadOf(first)['code']) === 'UNSUPPORTED') return expectNoMoreAnswers(ctx, s, 'after ERROR UNSUPPORTED to MEMORY_UPDATE');
        const problems: string[] = [];
        if (first.name !== 'ACK') problems.push(`a new key: ${showAnswer(first)}`);
        const replace = await ask(ctx, s, 'MEMORY_UPDATE', { key: 'fact:1', encoding: vec([1, 2, 3]), content: 'replaced' }, 'mem-2');
        if (replace.name !== 'ACK') problems.push(`the same key again (a replacement): ${showAnswer(replace)}`);
        const other = await ask(ctx, s, 'MEMORY_UPDATE', { key: 'fact:2', encoding: vec([0]) }, 'mem-3');
        if (other.name !== 'ACK') problems.push(`another key: ${showAnswer(other)}`);
        if (problems.length) throw new CaseFailure(`MEMORY_UPDATE must be answered ACK (or, not implemented, UNSUPPORTED): ${problems.join('; ')}`, 'ACK', problems[0]);
        await expectNoMoreAnswers(ctx, s, 'after the ACKs of MEMORY_UPDATE');
      },
    }),
    defineCase({
      id: 'msg-memory/encoding-exact-dim',
      statements: ['MEM-2', 'ERR-8'],
      async run(ctx) {
        // ENCODING_REQ is recommended: exactly one ERROR UNSUPPORTED passes (ERR-8); otherwise `dim` elements at dims 1, 3 and 768.
        const s = await engineSession(ctx);
        for (const dim of [1, 3, 768]) {
          const a = await ask(ctx, s, 'ENCODING_REQ', { text: `encode me at ${dim}`, dim }, `enc-${dim}`);
          if (a.name === 'ERROR' && registryName(payloadOf(a)['code']) === 'UNSUPPORTED' && dim === 1) return expectNoMoreAnswers(ctx, s, 'after ERROR UNSUPPORTED to ENCODING_REQ');
          const e = payloadOf(a)['encoding'];
          const size = e instanceof NDArray ? e.shape.reduce((x, y) => x * y, 1) : undefined;
          if (a.name !== 'ENCODING_RSP' || size !== dim) throw new CaseFailure(`ENCODING_REQ with dim ${dim}: /encoding must hold exactly ${dim} elements`, `${dim} elements`, a.name === 'ENCODING_RSP' ? `${String(size)} elements` : showAnswer(a));
        }
      },
    }),
    defineCase({
      id: 'engine/unified-one-answer-naming-engines',
      statements: ['ENG-9'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const peer = new TimedPeer(ctx, s, 'peer', 'typescript');
        const u = new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0, timeoutMs: ctx.timeoutMs }).attach(peer);
        for (let i = 0; i < 4; i++) {
          const r = await u.reason(encodingOf(300 + i, 32), 'once');
          if (!r.success) throw new CaseFailure(`call ${i} through the unified engine failed: ${r.error?.code} ${r.error?.message}`);
        }
        await expectNoMoreAnswers(ctx, s, 'four reason() calls were answered more than once');
        // Every engine failing: a harness engine with INTERNAL, then the peer refusing NaN (INVALID_ARRAY).
        const failing = new FailingBackend('harness-failing', 'INTERNAL');
        const both = new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0, timeoutMs: ctx.timeoutMs }).attach(failing).attach(peer);
        const r = await both.reason(NAN_ENCODING(), 'fails');
        const attempts = (r.error?.attempts ?? []).map((a) => `${a.engine}: ${a.code}`);
        if (r.success || JSON.stringify(attempts) !== JSON.stringify(['harness-failing: INTERNAL', 'peer: INVALID_ARRAY'])) {
          throw new CaseFailure('a call every engine fails must end in one error naming each engine tried and its error', 'harness-failing: INTERNAL, peer: INVALID_ARRAY', r.success ? 'success' : attempts.join(', '));
        }
        await expectNoMoreAnswers(ctx, s, 'the refused call was answered more than once');
      },
    }),
    defineCase({
      id: 'engine/unified-failover-order',
      statements: ['ENG-12'],
      async run(ctx) {
        const s = await engineSession(ctx);
        const peer = new TimedPeer(ctx, s, 'peer', 'typescript');
        const failing = new FailingBackend('harness-failing', 'INTERNAL');
        const local = new CountingLocal('harness-local');
        const u = new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0, timeoutMs: ctx.timeoutMs }).attach(failing).attach(peer).attach(local);
        const r = await u.reason(encodingOf(400, 32), 'failover');
        if (!r.success || peer.calls !== 1 || local.calls !== 0 || u.getMetrics()['failovers'] !== 1) {
          throw new CaseFailure('after harness-failing failed with INTERNAL the call must go to the next engine in order, the peer, once, counting one failover', 'peer answers, 1 failover', `success ${r.success}, peer ${peer.calls}, local ${local.calls}, failovers ${u.getMetrics()['failovers']}`);
        }
        // An input refusal by the peer ends the call: no failover to the in-process engine.
        const refusal = new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0, timeoutMs: ctx.timeoutMs }).attach(peer).attach(local);
        const before = peer.calls;
        const x = await refusal.reason(NAN_ENCODING(), 'refused');
        if (x.success || registryName(x.error?.code) !== 'INVALID_ARRAY' || local.calls !== 0 || peer.calls !== before + 1 || refusal.getMetrics()['failovers'] !== 0) {
          throw new CaseFailure('the peer\'s refusal of a non-finite encoding must be an input refusal (INVALID_ARRAY) that ends the call without failover', 'INVALID_ARRAY from the peer, 0 failovers', `${x.error?.code ?? 'success'}, failovers ${refusal.getMetrics()['failovers']}, the in-process engine asked ${local.calls} times`);
        }
      },
    }),
    defineCase({
      id: 'engine/unified-timeout-retryable',
      statements: ['ENG-13'],
      async run(ctx) {
        // engine_timeout_ms is the harness's --timeout here: the peer must answer within it, or the call fails TIMEOUT, retryable, without failover.
        const s = await engineSession(ctx);
        const peer = new TimedPeer(ctx, s, 'peer', 'typescript');
        const local = new CountingLocal('harness-local');
        const u = new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0, timeoutMs: ctx.timeoutMs }).attach(peer).attach(local);
        const r = await u.reason(encodingOf(500, 32), 'timely');
        if (!r.success) {
          const timedOut = registryName(r.error?.code) === 'TIMEOUT';
          throw new CaseFailure(timedOut ? `the peer did not answer within engine_timeout_ms (${ctx.timeoutMs} ms): the call failed TIMEOUT${r.error?.retryable ? ', retryable' : ''}` : `the call failed: ${r.error?.code} ${r.error?.message}`,
            'an answer within engine_timeout_ms', `${r.error?.code}${local.calls ? `, failed over to the in-process engine ${local.calls} times` : ''}`);
        }
      },
    }),
    defineCase({
      id: 'engine/unified-cache-key',
      statements: ['ENG-14', 'ENG-1'],
      async run(ctx) {
        // The unified engine (its cache on) over the peer alone. The key is the encoding's float32 bytes,
        // the context and the state digest: what it tells apart is a miss the peer answers, and the answer
        // must be the result of that very encoding (a cache keyed on less, such as the first 64 elements,
        // answers an earlier encoding's result); what it does not tell apart is a hit the peer never sees.
        const s = await engineSession(ctx);
        const peer = new TimedPeer(ctx, s, 'peer', 'typescript');
        const u = new UnifiedEngine({ strategy: 'round_robin', timeoutMs: ctx.timeoutMs }).attach(peer);
        const ref = new ReferenceEngine('reference');
        const v = ctx.verdict();
        const zero = u.getMetrics();
        const counters = ['total_reasoning', 'cache_hits', 'cache_misses', 'cache_invalidations', 'failovers'];
        v.check(counters.every((k) => zero[k] === 0) && u.getStatus()['cache_size'] === 0, 'ENG-14', 'before the first call every counter and the cache are empty', '0 each', JSON.stringify(counters.map((k) => zero[k])));
        const base = elementsOf(1201, 96);
        const changed = (i: number, x: number): number[] => base.map((y, j) => (j === i ? x : y));
        const steps: [string, NDArray | number[], string, boolean][] = [
          ['the first call (no state digest learned yet)', vec(base), 'a', false],
          ['the same encoding and context again', vec(base), 'a', true],
          ['the same encoding in another context', vec(base), 'b', false],
          ['element 90 set to 100 (past the first 64)', vec(changed(90, 100)), 'a', false],
          ['its first 64 elements only', vec(base.slice(0, 64)), 'a', false],
          ['its elements rotated by one (other sums x_j)', vec([...base.slice(1), base[0]!]), 'a', false],
          ['element 3 one quantum (1/256) higher', vec(changed(3, base[3]! + 1 / 256)), 'a', false],
          ['its values as float64 numbers 1e-12 off (the same float32 bytes)', base.map((x) => x + x * 1e-12), 'a', true],
          ['[0, 0.5]', vec([0, 0.5]), 'z', false],
          ['[-0, 0.5] (other float32 bytes, the same result)', vec([-0, 0.5]), 'z', false],
          ['[0, 0.5] again', vec([0, 0.5]), 'z', true],
          ['the first encoding and context once more', vec(base), 'a', true],
        ];
        let hits = 0;
        let misses = 0;
        const ask1 = async (what: string, enc: NDArray | number[], context: string, hit: boolean): Promise<void> => {
          const before = peer.calls;
          const r = await u.reason(enc, context);
          const asked = peer.calls - before;
          if (hit) hits++;
          else misses++;
          if (!r.success) { v.fail('ENG-14', `${what}, context ${context}: the call failed: ${r.error?.code} ${r.error?.message}`); return; }
          v.check(r.cached === hit && asked === (hit ? 0 : 1), 'ENG-14', `${what}, context ${context}: must be a cache ${hit ? 'hit the peer is not asked for' : 'miss the peer answers'}`,
            hit ? 'cached, the peer not asked' : 'not cached, the peer asked once', `${r.cached ? 'cached' : 'not cached'}, the peer asked ${asked} times`);
          const d = resultMismatch(r.result, ref.reason(vec(Array.from(enc instanceof NDArray ? (enc.data as ArrayLike<number>) : enc))));
          v.check(d === null, hit ? 'ENG-14' : 'ENG-1', `${what}, context ${context}: the answer is not the result of this encoding on the current state (${d})`);
        };
        for (const [what, enc, context, hit] of steps) await ask1(what, enc, context, hit);
        const cachedBefore = misses;
        const sync = await u.feedback(vec(base), 0.5);
        const wantAck = ref.feedback(vec(base), 0.5);
        v.check(sync.acks['peer']?.state_digest === wantAck.state_digest, 'ENG-3', 'the ACK of FEEDBACK through the unified engine does not carry the digest after it', wantAck.state_digest, String(sync.acks['peer']?.state_digest));
        await ask1('the first encoding after a FEEDBACK through the unified engine (another state digest)', vec(base), 'a', false);
        await ask1('the same, again', vec(base), 'a', true);
        await ask1('[0, 0.5] after the FEEDBACK', vec([0, 0.5]), 'z', false);
        const m = u.getMetrics();
        const want = { total_reasoning: hits + misses, cache_hits: hits, cache_misses: misses, cache_invalidations: cachedBefore };
        const got = Object.fromEntries(Object.keys(want).map((k) => [k, m[k]]));
        v.check(JSON.stringify(got) === JSON.stringify(want), 'ENG-14', `getMetrics() must count ${hits} hits, ${misses} misses and the ${cachedBefore} entries the FEEDBACK emptied`, JSON.stringify(want), JSON.stringify(got));
        v.done();
      },
    }),
    defineCase({
      id: 'engine/unified-redundant-pairs',
      statements: ['ENG-11', 'ENG-1'],
      async run(ctx) {
        // Redundant mode over the peer and the in-process engine, in both orders, on long encodings (up
        // to the 65,536 elements of a Vector; some drawn from the run's seed, replay with --seed): both
        // answer, so engine_results holds both in the pair's order and agreement is true exactly when
        // the peer's result equals the reference's; on a tie the first of the pair answers. Then one
        // member failing, one engine alone and a pair whose states differ.
        const s = await engineSession(ctx);
        const peer = new TimedPeer(ctx, s, 'peer', 'typescript');
        const local = new CountingLocal('harness-local');
        const ref = new ReferenceEngine('reference');
        const v = ctx.verdict();
        const rng = new Xorshift32(ctx.seed >>> 0 || 1);
        const encodings: [string, NDArray][] = [
          ['4096 zeros, then 61,440 elements of 100', vec([...new Array<number>(4096).fill(0), ...new Array<number>(61440).fill(100)])],
          ['4097 seeded elements', encodingOf(4097, 4097)],
          ['65,536 seeded elements', encodingOf(65536, 65536)],
        ];
        for (let i = 0; i < 4; i++) {
          const n = 4097 + (rng.next() % 61440);
          const seed = rng.next();
          encodings.push([`${n} elements drawn from seed ${seed} (run seed ${ctx.seed})`, encodingOf(seed, n)]);
        }
        const pairs: [string, UnifiedEngine, number][] = [
          ['the peer, then the in-process engine', new UnifiedEngine({ strategy: 'redundant', timeoutMs: ctx.timeoutMs }).attach(peer).attach(local), 0],
          ['the in-process engine, then the peer', new UnifiedEngine({ strategy: 'redundant', timeoutMs: ctx.timeoutMs }).attach(local).attach(peer), 1],
        ];
        for (const [what, e] of encodings) {
          const want = ref.reason(e);
          for (const [order, u, at] of pairs) {
            const r = await u.reason(e, 'pair');
            if (!r.success || !r.redundant) { v.fail('ENG-11', `${what} over ${order}: both engines must answer, with engine_results and agreement`, 'both results', r.success ? 'one result' : `${r.error?.code} ${r.error?.message}`); continue; }
            const results = r.redundant.results;
            const d = resultMismatch(results[at], want);
            v.check(d === null, 'ENG-1', `${what} over ${order}: the peer's result differs from the reference's, so the pair disagrees (${d})`);
            v.check(results.length === 2 && resultMismatch(results[1 - at], want) === null, 'ENG-11', `${what} over ${order}: engine_results must hold both answers in the pair's order`);
            if (d === null) {
              v.check(r.redundant.agreement, 'ENG-11', `${what} over ${order}: equal results must report agreement true`, 'true', String(r.redundant.agreement));
              v.check(r.result === results[0], 'ENG-11', `${what} over ${order}: on equal confidences the first of the pair answers`);
            }
          }
        }
        const checks = pairs.map(([, u]) => u.getMetrics());
        v.check(checks.every((m) => m['redundant_checks'] === encodings.length && m['failovers'] === 0), 'ENG-11', 'every call compared both answers, with no failover', `${encodings.length} checks, 0 failovers each`, JSON.stringify(checks.map((m) => [m['redundant_checks'], m['failovers']])));
        // One member failing, then the peer alone: the answer of the one that answered, no comparison, one failover.
        const e = encodingOf(1300, 256);
        const want = ref.reason(e);
        for (const [what, u] of [
          ['a harness engine failing with INTERNAL, then the peer', new UnifiedEngine({ strategy: 'redundant', timeoutMs: ctx.timeoutMs }).attach(new FailingBackend('harness-failing', 'INTERNAL')).attach(peer)],
          ['the peer alone', new UnifiedEngine({ strategy: 'redundant', timeoutMs: ctx.timeoutMs }).attach(peer)],
        ] as const) {
          const r = await u.reason(e, 'single');
          const d = resultMismatch(r.result, want);
          v.check(r.success && r.redundant === undefined && u.getMetrics()['failovers'] === 1 && d === null, 'ENG-11', `redundant mode over ${what} must answer with the peer's result, without engine_results or agreement, counting one failover`,
            'the peer\'s result, 1 failover', r.success ? `${d ?? 'the result'}${r.redundant ? ', with engine_results' : ''}, ${u.getMetrics()['failovers']} failovers` : `${r.error?.code} ${r.error?.message}`);
        }
        // The in-process engine learns alone: the pair now disagrees and the more confident answers (the first on a tie).
        const other = new ReferenceEngine('reference-other');
        local.engine.feedback(e, 1);
        other.feedback(e, 1);
        const wantLocal = other.reason(e);
        const [, u] = pairs[0]!;
        const r = await u.reason(e, 'desync');
        if (!r.success || !r.redundant) v.fail('ENG-11', 'two engines in different states must both answer in redundant mode', 'both results', r.success ? 'one result' : `${r.error?.code} ${r.error?.message}`);
        else {
          const pick = wantLocal.confidence > want.confidence ? 1 : 0;
          v.check(!r.redundant.agreement && r.result === r.redundant.results[pick] && resultMismatch(r.redundant.results[0], want) === null, 'ENG-11', `after a FEEDBACK to the in-process engine only, the pair (peer ${want.confidence}, in-process ${wantLocal.confidence}) must disagree and answer with the ${pick ? 'in-process engine' : 'peer'}`,
            `agreement false, answer of ${pick ? 'harness-local' : 'the peer'}`, `agreement ${r.redundant.agreement}, answer of ${r.result === r.redundant.results[0] ? 'the peer' : 'harness-local'}`);
        }
        v.done();
      },
    }),
    defineCase({
      id: 'engine/unified-concurrent-calls',
      statements: ['ENG-9', 'ENG-10'],
      async run(ctx) {
        // reasonBatch starts 24 calls at once (as a unified service does for a BATCH_REASONING_REQ): the
        // REASONING_REQUESTs reach the peer back to back, before any is answered. Each call must end once,
        // with the result of its own encoding; round robin over the peer and the in-process engine gives
        // the even calls to the peer, the odd ones to the in-process engine; then the peer alone takes all.
        const s = await engineSession(ctx);
        const peer = new PipelinedPeer(s, 'peer', 'typescript');
        const local = new CountingLocal('harness-local');
        const ref = new ReferenceEngine('reference');
        const v = ctx.verdict();
        const items = Array.from({ length: 24 }, (_, i) => ({ encoding: encodingOf(1400 + i, 48 + 7 * i), context: `item-${i}` }));
        const wants = items.map((x) => ref.reason(x.encoding));
        const rounds: [string, UnifiedEngine, number][] = [
          ['the peer and the in-process engine, round robin', new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0, timeoutMs: ctx.timeoutMs }).attach(peer).attach(local), 12],
          ['the peer alone', new UnifiedEngine({ strategy: 'round_robin', cacheSize: 0, timeoutMs: ctx.timeoutMs }).attach(peer), 24],
        ];
        for (const [what, u, toPeer] of rounds) {
          const before = peer.calls;
          const localBefore = local.calls;
          const results = await u.reasonBatch(items);
          if (peer.problems.length) throw new CaseFailure(`[ENG-9] ${what}: ${peer.problems.join('; ')}`, 'one answer to each request', peer.problems[0]);
          const wrong: string[] = [];
          results.forEach((r, i) => {
            if (!r.success) { wrong.push(`call ${i} failed: ${r.error?.code} ${r.error?.message}`); return; }
            const d = resultMismatch(r.result, wants[i]!);
            if (d) wrong.push(`call ${i} (${r.engine === 'harness-local' ? 'in-process' : 'the peer'}): ${d}`);
          });
          v.check(wrong.length === 0, 'ENG-9', `${what}: 24 calls in flight at once must each end with the result of its own encoding: ${wrong.slice(0, 4).join('; ')}${wrong.length > 4 ? `; and ${wrong.length - 4} more` : ''}`,
            'the result of each call\'s encoding', `${wrong.length} of 24 wrong`);
          const byPeer = results.flatMap((r, i) => (r.success && r.engine !== 'harness-local' ? [i] : []));
          const wantByPeer = items.flatMap((_, i) => (toPeer === 24 || i % 2 === 0 ? [i] : []));
          v.check(peer.calls - before === toPeer && local.calls - localBefore === 24 - toPeer && JSON.stringify(byPeer) === JSON.stringify(wantByPeer), 'ENG-10', `${what}: round robin must give the peer ${toPeer === 24 ? 'every call' : 'the even calls'}, one request each`,
            `peer asked ${toPeer} times, calls ${JSON.stringify(wantByPeer)}`, `peer asked ${peer.calls - before} times, calls ${JSON.stringify(byPeer)}`);
          const m = u.getMetrics();
          v.check(m['total_reasoning'] === 24 && m['failovers'] === 0, 'ENG-9', `${what}: getMetrics() must count 24 calls and no failover`, '24, 0', `${m['total_reasoning']}, ${m['failovers']}`);
        }
        v.done();
        await expectNoMoreAnswers(ctx, s, 'after 48 REASONING_REQUESTs in flight at once');
      },
    }),
  ];
}
