/**
 * Requests, responses and routing (section requests), played with two harness clients through the
 * broker: A asks, B answers.
 */
import { NDArray, packNDArray } from '../../reference/codec/ndarray.js';
import { decodeEnvelope } from '../../reference/codec/body.js';
import { encodeMessageFrame, type Message, type OutgoingMessage } from '../../reference/codec/message.js';
import { MIN_LIMITS, MessageType, type MessageNames } from '../../spec/generated/catalog.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { inFlightLimitToReach } from './in-flight-limit.js';
import type { CaseContext, Session } from './context.js';
import { registryName } from '../../reference/codec/catalog.js';
import { disagreementSignal, rawFrame } from './runtime-helpers.js';
import type { MessageMatch } from '../replay/script.js';

const encoding = NDArray.from('<f4', [4], [0.5, -0.25, 0.125, 1]);
const request = { encoding, context: 'conformance', source: 'harness' };
const answer = (spikes: number): Record<string, unknown> => ({
  spike_count: spikes, confidence: 0.5, firing_pattern: NDArray.from('|u1', [2], [1, 0]), engine: 'harness', latency_ms: 0,
});

async function pair(ctx: CaseContext): Promise<{ a: Session; b: Session }> {
  return { a: await ctx.session('A'), b: await ctx.session('B') };
}

/** The frame with encoding bits 2, reserved (ENC-3). */
function reserved(frame: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(frame);
  copy[5] = (copy[5]! & ~3) | 2;
  return copy;
}

/** B takes the next frame, which must be the routed REASONING_REQUEST with src set to the sender (a declarative match: replay bundles carry it). */
/**
 * Client ids for A and B made of `char` alone (unique only by their lengths, 1 to 101, drawn from a
 * client id unique to the run), and a notification id of it.
 */
function oneKind(char: string, ctx: CaseContext): { a: string; b: string; signal: string } {
  let h = 0;
  for (const c of ctx.uniqueId()) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const n = 1 + (h % 100);
  return { a: char.repeat(n), b: char.repeat(n + 1), signal: char };
}

/** `ascii` with each character moved to U+0100 + its code: still unique, no character ASCII, 2 UTF-8 bytes each. */
function nonAscii(ascii: string): string {
  return [...ascii.slice(-(MIN_LIMITS.max_name_bytes / 2))].map((c) => String.fromCharCode(0x100 + c.charCodeAt(0))).join('');
}

function receiveAtB(ctx: CaseContext, b: Session, from: Session): Promise<Message> {
  return ctx.expectMessage(b.conn, `REASONING_REQUEST routed to ${b.clientId} with src=${JSON.stringify(from.clientId)} (the broker sets src to the sender)`, { name: 'REASONING_REQUEST', src: from.clientId } satisfies MessageMatch);
}

/** A's broadcast DISAGREEMENT_SIGNAL reaches `taker`, not `skipped` (REQ-18), and A gets no answer (REQ-2). */
async function expectBroadcastSkips(ctx: CaseContext, a: Session, taker: { at: Session; what: string }, skipped: { at: Session; what: string }): Promise<void> {
  await ctx.expectMessage(taker.at.conn, taker.what, (m) => m.name === 'DISAGREEMENT_SIGNAL' && m.header.src === a.clientId);
  await ctx.expectOpen(skipped.at.conn, `${skipped.what} (the next frame is the PONG)`);
  await ctx.expectOpen(a.conn, 'no answer to the broadcast, whoever it skipped (REQ-2; the next frame is the PONG)');
}

/** REQ-21: each frame arrived with the ts its sender wrote (what it was, that ts, the frame as received). */
function expectTsKept(frames: [what: string, sent: string, received: Message][]): void {
  const lost = frames.filter(([, sent, m]) => m.header.ts !== sent)
    .map(([what, sent, m]) => `${what} sent with ts ${sent} arrived with ${m.header.ts === undefined ? 'none' : `ts ${m.header.ts}`}`);
  if (lost.length > 0) throw new CaseFailure(`ts not forwarded unchanged: ${lost.join('; ')}`, 'the sender\'s ts', lost[0]);
}

export const requestCases: Case[] = [
  defineCase({
    id: 'requests/route-and-correlate',
    statements: ['REQ-13', 'REQ-1', 'BODY-7'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'q1', dst: b.clientId, src: 'forged-src' }, payload: request });
      const forwarded = await receiveAtB(ctx, b, a);
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'r1', re: forwarded.header.id }, payload: answer(7) });
      const back = await ctx.expectMessage(a.conn, 'REASONING_RESPONSE with re=q1', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'q1');
      if ((back.payload as { spike_count: number }).spike_count !== 7) throw new CaseFailure('the response payload changed on the way', '7', String((back.payload as { spike_count: number }).spike_count));
    },
  }),
  // Each character JSON must escape alone too: a broker that escapes one of them only when another is there fails.
  ...['0', ' ', 'ïd-ü-✓', '"quoted"\\', 'y'.repeat(128), '"', '\\', '\u0001\u001f'].map((id, i) =>
    defineCase({
      id: `requests/id-echoed-verbatim/id:${['zero', 'space', 'unicode', 'escapes', '128-bytes', 'quote', 'backslash', 'control'][i]}`,
      statements: ['REQ-4', 'REQ-13'],
      async run(ctx) {
        const { a, b } = await pair(ctx);
        a.conn.send({ type: 'REASONING_REQUEST', header: { id, dst: b.clientId }, payload: request });
        const forwarded = await receiveAtB(ctx, b, a);
        b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'resp', re: forwarded.header.id }, payload: answer(1) });
        await ctx.expectMessage(a.conn, `REASONING_RESPONSE with re=${JSON.stringify(id)}`, { name: 'REASONING_RESPONSE', re: id } satisfies MessageMatch);
      },
    })),
  // A notification keeps the sender's id on its way (only a request's may be replaced, REQ-12): the header
  // the broker writes must still be JSON, whatever characters the id holds.
  ...(['"', '\\', '\u0001', 'ïd-✓'] as const).map((id, i) =>
    defineCase({
      id: `requests/notification-forwarded-whatever-its-id/id:${['quote', 'backslash', 'control', 'unicode'][i]}`,
      statements: ['REQ-7', 'BODY-4'],
      async run(ctx) {
        const { a, b } = await pair(ctx);
        a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id, dst: b.clientId }, payload: { coordination_id: 'odd-id', disagreement_score: 0.5, threshold: 0.25 } });
        const m = await ctx.expectMessage(b.conn, `the DISAGREEMENT_SIGNAL with id ${JSON.stringify(id)} at B, its header valid JSON`, (x) => x.name === 'DISAGREEMENT_SIGNAL' && x.header.src === a.clientId);
        if (Buffer.byteLength(m.header.id) < 1 || Buffer.byteLength(m.header.id) > 128) throw new CaseFailure('the forwarded notification has no valid id', 'an id of 1-128 bytes', JSON.stringify(m.header.id));
      },
    })),
  defineCase({
    id: 'requests/ts-forwarded-unchanged',
    statements: ['REQ-21', 'BODY-5'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      // The largest ts BODY-5 allows, a small one, and one of today: each must reach the other side as sent.
      const [asked, answered, broadcast] = ['18446744073709551615', '0', String(BigInt(Date.now()) * 1_000_000n)];
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'with-ts', dst: b.clientId, ts: asked }, payload: request });
      const forwarded = await receiveAtB(ctx, b, a);
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'answer-ts', re: forwarded.header.id, ts: answered }, payload: answer(2) });
      const back = await ctx.expectMessage(a.conn, 'the answer at A', (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'with-ts');
      a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'bcast-ts', dst: '*', ts: broadcast }, payload: { coordination_id: 'ts', disagreement_score: 0.5, threshold: 0.25 } });
      const signal = await ctx.expectMessage(b.conn, 'the broadcast at B', (m) => m.name === 'DISAGREEMENT_SIGNAL' && m.header.src === a.clientId);
      expectTsKept([['the request', asked, forwarded], ['the answer', answered, back], ['the broadcast', broadcast, signal]]);
    },
  }),
  // A client id may hold any character but a control one (defs.json Name): a broker that writes the
  // headers it forwards without escaping, or that drops a key on its slow path for such headers, breaks
  // only for a client whose id needs escaping. B's id holds a quote, a backslash and non-ASCII text; A's
  // is plain, so each direction meets one odd name: dst on the way to B, src on the way back.
  // A broker that looks for one kind of such character only in a name that also holds others (the ids
  // above) misses a header whose values are all of that kind alone: quotes alone, backslashes alone or
  // non-ASCII text alone. A notification keeps its sender's id, so when A, B and the notification's id
  // are all of one kind, every value of the header B's notification reaches A with is.
  ...([
    { id: 'requests/client-id-needing-escapes-routed-both-ways', statements: ['REQ-13', 'BODY-7', 'REQ-7'], ts: false, ids: (ctx: CaseContext) => ({ b: `${ctx.uniqueId('b')}-"q\\ï-✓`, signal: 'n-odd' }) },
    { id: 'requests/ts-forwarded-unchanged-to-and-from-a-client-id-needing-escapes', statements: ['REQ-21', 'BODY-7'], ts: true, ids: (ctx: CaseContext) => ({ b: `${ctx.uniqueId('b')}-"q\\ï-✓`, signal: 'n-odd' }) },
    { id: 'requests/client-id-of-one-escaped-kind-routed-both-ways/id:quotes', statements: ['REQ-13', 'BODY-7', 'REQ-7'], ts: false, ids: (ctx: CaseContext) => oneKind('"', ctx) },
    { id: 'requests/client-id-of-one-escaped-kind-routed-both-ways/id:backslashes', statements: ['REQ-13', 'BODY-7', 'REQ-7'], ts: false, ids: (ctx: CaseContext) => oneKind('\\', ctx) },
    { id: 'requests/client-id-of-one-escaped-kind-routed-both-ways/id:non-ascii', statements: ['REQ-13', 'BODY-7', 'REQ-7'], ts: false, ids: (ctx: CaseContext) => ({ a: nonAscii(ctx.uniqueId('a')), b: nonAscii(ctx.uniqueId('b')), signal: 'ñ' }) },
  ] as const).map(({ id, statements, ts, ids }) =>
    defineCase({
      id,
      statements: [...statements],
      async run(ctx) {
        const names: { a?: string; b: string; signal: string } = ids(ctx);
        const a = await ctx.session('A', names.a !== undefined ? { client_id: names.a } : {});
        const b = await ctx.session('B', { client_id: names.b });        const stamp = (t: string): { ts?: string } => (ts ? { ts: t } : {});
        a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'q-odd', dst: b.clientId, ...stamp('1') }, payload: request });
        const forwarded = await receiveAtB(ctx, b, a);
        b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'r-odd', re: forwarded.header.id, ...stamp('2') }, payload: answer(5) });
        const back = await ctx.expectMessage(a.conn, `REASONING_RESPONSE with re=q-odd and src=${JSON.stringify(b.clientId)}`, { name: 'REASONING_RESPONSE', re: 'q-odd', src: b.clientId } satisfies MessageMatch);
        b.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: names.signal, dst: a.clientId, ...stamp('3') }, payload: disagreementSignal('odd-src') });
        const signal = await ctx.expectMessage(a.conn, `B's DISAGREEMENT_SIGNAL (id ${JSON.stringify(names.signal)}) at A with src=${JSON.stringify(b.clientId)}`, { name: 'DISAGREEMENT_SIGNAL', src: b.clientId } satisfies MessageMatch);
        if (!ts) return;
        expectTsKept([['the request', '1', forwarded], ['the answer', '2', back], ['the notification', '3', signal]]);
      },
    })),
  defineCase({
    id: 'requests/many-in-flight-no-cross-talk',
    statements: ['REQ-1', 'REQ-4', 'REQ-13'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      const n = Math.min(200, Number(a.ack['max_in_flight'] ?? 200));
      for (let i = 0; i < n; i++) a.conn.send({ type: 'REASONING_REQUEST', header: { id: `m${i}`, dst: b.clientId }, payload: { ...request, context: `item ${i}` } });
      const received: Message[] = [];
      for (let i = 0; i < n; i++) received.push(await receiveAtB(ctx, b, a));
      // Answer in reverse order, each carrying the index it was asked about.
      for (const m of received.reverse()) {
        const index = Number((m.payload as { context: string }).context.split(' ')[1]);
        b.conn.send({ type: 'REASONING_RESPONSE', header: { id: `a-${index}`, re: m.header.id }, payload: answer(index) });
      }
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const m = await ctx.expectMessage(a.conn, `REASONING_RESPONSE ${i + 1} of ${n}`, (x) => x.name === 'REASONING_RESPONSE');
        const re = String(m.header.re);
        const spikes = (m.payload as { spike_count: number }).spike_count;
        if (re !== `m${spikes}`) throw new CaseFailure(`the answer to m${spikes} arrived with re=${re}`, `re=m${spikes}`, `re=${re}`);
        if (seen.has(re)) throw new CaseFailure(`request ${re} was answered twice`, 'one answer', 'two answers');
        seen.add(re);
      }
    },
  }),
  defineCase({
    id: 'requests/payload-forwarded-byte-for-byte',
    statements: ['REQ-9'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      // Unusual but valid JSON spelling: whitespace, key order, escapes and exponent forms survive only if the payload is not re-encoded.
      const b64 = Buffer.from(packNDArray(encoding)).toString('base64');
      const payload = `{ "source" : "h\\u0061rness",  "context":"x" ,"encoding":{"$ndarray":"${b64}"} }`;
      ctx.sendUnchecked(a.conn, 'REASONING_REQUEST', { id: 'raw1', dst: b.clientId }, payload);
      const r = await b.conn.next(ctx.timeoutMs);
      if (r.kind !== 'message') throw new CaseFailure('B did not receive the request', 'REASONING_REQUEST', r.kind);
      const body = r.bytes.subarray(4);
      const got = Buffer.from(decodeEnvelope(body).payload).toString('utf8');
      if (got !== payload) throw new CaseFailure('the payload bytes changed on the way', payload, got);
    },
  }),
  defineCase({
    id: 'requests/broadcast-notification',
    statements: ['REQ-18'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const c = await ctx.session('C');
      const signal = { coordination_id: 'bcast', disagreement_score: 0.5, threshold: 0.25 };
      a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'to-all', dst: '*' }, payload: signal });
      for (const peer of [b, c]) {
        const m = await ctx.expectMessage(peer.conn, `the broadcast DISAGREEMENT_SIGNAL at ${peer.clientId}`, (x) => x.name === 'DISAGREEMENT_SIGNAL');
        if (m.header.src !== a.clientId) throw new CaseFailure('the broadcast does not name its sender in src', a.clientId, String(m.header.src));
        await ctx.expectOpen(peer.conn, 'exactly one copy (the next frame is the PONG)');
      }
      await ctx.expectOpen(a.conn, 'no copy back to the sender (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'requests/broadcast-skips-who-cannot-take-it/by:encoding',
    statements: ['REQ-18', 'REQ-2'],
    async run(ctx) {
      const a = await ctx.session('A', { encodings: ['cbor', 'json'] });
      if (a.ack['encoding'] !== 'cbor') throw new CaseSkipped('the broker does not speak CBOR');
      const b = await ctx.session('B', { encodings: ['cbor', 'json'] });
      const c = await ctx.session('C', { encodings: ['json'] });
      a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'cbor-to-all', dst: '*' }, payload: { coordination_id: 'cbor', disagreement_score: 0.5, threshold: 0.25 }, encoding: 'cbor' });
      await expectBroadcastSkips(ctx, a, { at: b, what: 'the CBOR broadcast at B, which negotiated CBOR' }, { at: c, what: 'no CBOR broadcast at C, which negotiated JSON only' });
    },
  }),
  defineCase({
    id: 'requests/broadcast-skips-who-cannot-take-it/by:max-frame',
    statements: ['REQ-18', 'REQ-2'],
    async run(ctx) {
      const small = MIN_LIMITS.max_frame;
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const d = await ctx.session('D', { max_frame: small });
      // A schema-valid payload padded with JSON whitespace past D's max_frame (a broker forwards it unread, REQ-9).
      const payload = `${JSON.stringify({ coordination_id: 'large', disagreement_score: 0.5, threshold: 0.25 })}${' '.repeat(small)}`;
      ctx.sendUnchecked(a.conn, 'DISAGREEMENT_SIGNAL', { id: 'large-to-all', dst: '*' }, payload);
      await expectBroadcastSkips(ctx, a, { at: b, what: `the broadcast of more than ${small} bytes at B (default max_frame)` }, { at: d, what: `no broadcast above D's max_frame of ${small}` });
    },
  }),
  ...([2, 3, 1] as const).map((bits) =>
    defineCase({
      id: `encodings/routed-frame-encoding-checked/bits:${bits}`,
      statements: ['ENC-3'],
      async run(ctx) {
        // Step 5 is every receiver's, the broker's included for a frame it only forwards: encoding bits
        // 2 or 3, or 1 from a connection that did not negotiate CBOR, are refused, even towards a
        // destination that negotiated CBOR, and never forwarded.
        const a = await ctx.session('A', { encodings: ['json'] });
        const b = await ctx.session('B', { encodings: ['cbor', 'json'] });
        if (bits === 1 && b.ack['encoding'] !== 'cbor') throw new CaseSkipped('the broker does not speak CBOR');
        const frame = Buffer.from(encodeMessageFrame({ type: 'REASONING_REQUEST', header: { id: `bits-${bits}`, dst: b.clientId }, payload: request, encoding: bits === 1 ? 'cbor' : 'json' }));
        frame[5] = (frame[5]! & ~3) | bits;
        a.conn.sendRaw(frame, `REASONING_REQUEST bits-${bits} to B with encoding bits ${bits}`);
        await ctx.expectError(a.conn, 'UNSUPPORTED_ENCODING', { re: `bits-${bits}`, closes: false, statement: 'ENC-3' });
        await ctx.expectOpen(b.conn, 'B did not receive the refused frame (the next frame is the PONG)');
      },
    })),
  defineCase({
    id: 'requests/request-to-everyone-refused',
    statements: ['REQ-19'],
    async run(ctx) {
      const a = await ctx.session();
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'ask-all', dst: '*' }, payload: request });
      await ctx.expectError(a.conn, 'UNKNOWN_DESTINATION', { re: 'ask-all', closes: false });
    },
  }),
  defineCase({
    id: 'requests/client-id-star-refused',
    statements: ['REQ-20'],
    async run(ctx) {
      const conn = await ctx.open();
      conn.send({ type: 'INIT', header: { id: 'init-star' }, payload: ctx.initPayload('*') });
      await ctx.expectError(conn, 'SCHEMA_VIOLATION', { re: 'init-star', closes: true, path: '/client_id', detailsStatement: 'REQ-20' });
    },
  }),
  defineCase({
    id: 'requests/unknown-destination',
    statements: ['REQ-8'],
    async run(ctx) {
      const a = await ctx.session();
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'nowhere', dst: `${ctx.uniqueId('absent')}` }, payload: request });
      await ctx.expectError(a.conn, 'UNKNOWN_DESTINATION', { re: 'nowhere', closes: false });
    },
  }),
  defineCase({
    id: 'requests/unknown-destination-of-a-notification',
    statements: ['REQ-8'],
    async run(ctx) {
      // A notification to no one is refused like a request (REQ-8 names every routed type), not broadcast.
      const { a, b } = await pair(ctx);
      a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'note-nowhere', dst: ctx.uniqueId('absent') }, payload: { coordination_id: 'nowhere', disagreement_score: 0.5, threshold: 0.25 } });
      await ctx.expectError(a.conn, 'UNKNOWN_DESTINATION', { re: 'note-nowhere', closes: false, statement: 'REQ-8' });
      await ctx.expectOpen(b.conn, 'the notification reached no other client (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'requests/notifications-to-a-client-not-counted',
    statements: ['REQ-2', 'LIM-7'],
    async run(ctx) {
      // A broker that tracks a routed notification like a request counts it against max_in_flight (LIM-7
      // counts requests only) and, since no answer ever comes (REQ-2), times it out at the sender. So:
      // max_in_flight notifications to B, then a request, whose answer must be the next frame A receives.
      const { a, b } = await pair(ctx);
      const limit = inFlightLimitToReach(a.ack, 'fail');
      for (let i = 0; i < limit; i++) {
        a.conn.send({ type: 'DISAGREEMENT_SIGNAL', header: { id: `note-${i}`, dst: b.clientId }, payload: { coordination_id: `c${i}`, disagreement_score: 0.5, threshold: 0.25 } });
      }
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'after-notes', dst: b.clientId }, payload: request });
      // B takes all of them, in whatever order they come (REQ-17 orders their handling, not a cluster's paths).
      let notes = 0;
      let answered = false;
      while (notes < limit || !answered) {
        const m = await ctx.expectMessage(b.conn, `the ${limit} DISAGREEMENT_SIGNALs (${notes} so far) and the REASONING_REQUEST`, (x) => x.name === 'DISAGREEMENT_SIGNAL' || (x.name === 'REASONING_REQUEST' && !answered));
        if (m.name === 'DISAGREEMENT_SIGNAL') {
          notes++;
        } else {
          b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'answer-after-notes', re: m.header.id }, payload: answer(1) });
          answered = true;
        }
      }
      await ctx.expectMessage(a.conn, `REASONING_RESPONSE with re=after-notes as A's first frame: no OVERLOADED and no TIMEOUT for ${limit} notifications (REQ-2, LIM-7)`, (m) => m.name === 'REASONING_RESPONSE' && m.header.re === 'after-notes');
    },
  }),
  defineCase({
    id: 'requests/routed-request-without-dst',
    statements: ['REQ-8'],
    async run(ctx) {
      // REASONING_REQUEST travels only routed (its directions lack client-to-broker): without dst it has no destination.
      const a = await ctx.session();
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'no-dst' }, payload: request });
      await ctx.expectError(a.conn, 'UNKNOWN_DESTINATION', { re: 'no-dst', closes: false, statement: 'REQ-8' });
    },
  }),
  defineCase({
    id: 'requests/dst-of-the-broker-resolves',
    statements: ['REQ-7', 'REQ-1'],
    async run(ctx) {
      // A dst equal to the broker_id of INIT_ACK resolves to the broker itself (REQ-7): whatever it answers
      // (its response, UNSUPPORTED, or UNEXPECTED_MESSAGE for a type clients do not send it), the frame had
      // a destination, so the answer is never UNKNOWN_DESTINATION.
      const a = await ctx.session();
      const brokerId = a.ack['broker_id'];
      if (typeof brokerId !== 'string') throw new CaseFailure('INIT_ACK carries no broker_id (HS-6)', 'a Name', JSON.stringify(brokerId));
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'to-broker', dst: brokerId }, payload: request });
      const m = await ctx.expectMessage(a.conn, `one answer with re=to-broker to a REASONING_REQUEST addressed to the broker_id ${JSON.stringify(brokerId)} (REQ-1)`, { re: 'to-broker' } satisfies MessageMatch);
      const code = m.name === 'ERROR' ? registryName((m.payload as { code: string }).code) : undefined;
      if (code === 'UNKNOWN_DESTINATION') throw new CaseFailure(`a dst equal to the broker_id ${JSON.stringify(brokerId)} was answered UNKNOWN_DESTINATION; REQ-7 resolves it to the broker`, 'an answer other than UNKNOWN_DESTINATION', 'ERROR UNKNOWN_DESTINATION');
      await ctx.expectOpen(a.conn, 'one answer only (the next frame is the PONG)');
    },
  }),
  defineCase({
    id: 'handshake/peer-gone-on-disconnect',
    statements: ['HS-18'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'orphan', dst: b.clientId }, payload: request });
      await receiveAtB(ctx, b, a);
      b.conn.destroy();
      const m = await ctx.expectMessage(a.conn, 'ERROR PEER_GONE with re=orphan', (x) => x.name === 'ERROR' && x.header.re === 'orphan');
      const p = m.payload as { code: string; definite: boolean };
      if (registryName(p.code) !== 'PEER_GONE' || p.definite !== false) throw new CaseFailure('expected PEER_GONE with definite=false', 'PEER_GONE definite=false', `${p.code} definite=${p.definite}`);
    },
  }),
  defineCase({
    id: 'requests/unmatched-response',
    statements: ['REQ-5'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      a.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'stray', re: 'never-asked', dst: b.clientId }, payload: answer(1) });
      await ctx.expectError(a.conn, 'UNEXPECTED_MESSAGE', { re: 'stray', closes: false });
    },
  }),
  defineCase({
    id: 'requests/wrong-response-type-refused',
    statements: ['REQ-5', 'REQ-13'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'wants-reasoning', dst: b.clientId }, payload: request });
      const forwarded = await receiveAtB(ctx, b, a);
      // ACK travels routed too, but it is not REASONING_REQUEST's response type: refused, and the request stays open.
      b.conn.send({ type: 'ACK', header: { id: 'wrong-type', re: forwarded.header.id }, payload: {} });
      await ctx.expectError(b.conn, 'UNEXPECTED_MESSAGE', { re: 'wrong-type', closes: false, statement: 'REQ-5' });
      await ctx.expectOpen(a.conn, 'A did not receive the ACK (the next frame is the PONG)');
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'right-type', re: forwarded.header.id }, payload: answer(3) });
      await ctx.expectMessage(a.conn, 'the REASONING_RESPONSE to the request still open, with re=wants-reasoning', { name: 'REASONING_RESPONSE', re: 'wants-reasoning' } satisfies MessageMatch);
    },
  }),
  defineCase({
    id: 'requests/unsolicited-pong-and-shutdown-ack-refused',
    statements: ['REQ-5'],
    async run(ctx) {
      // The broker is the final receiver of PONG and SHUTDOWN_ACK: one that answers none of its PINGs
      // or its SHUTDOWN (never sent on this connection), or has no re, is refused, not dropped.
      // Schema-valid payloads, so steps 6-8 pass and step 10 decides.
      const a = await ctx.session();
      // PONG has no payload; SHUTDOWN_ACK's needs `drained`.
      const unsolicited: (Pick<OutgoingMessage, 'payload'> & { type: MessageNames<'PONG' | 'SHUTDOWN_ACK'>; id: string; re?: string })[] = [
        { type: 'PONG', id: 'pong-stray', re: 'never-pinged' },
        { type: 'PONG', id: 'pong-no-re' },
        { type: 'SHUTDOWN_ACK', id: 'ack-stray', re: 'never-sent', payload: { drained: 0 } },
        { type: 'SHUTDOWN_ACK', id: 'ack-no-re', payload: { drained: 0 } },
      ];
      for (const { type, id, re, payload } of unsolicited) {
        a.conn.send({ type, header: re === undefined ? { id } : { id, re }, ...(payload === undefined ? {} : { payload }) });
        await ctx.expectError(a.conn, 'UNEXPECTED_MESSAGE', { re: id, closes: false, statement: 'REQ-5' });
      }
    },
  }),
  // An ERROR the broker refuses at steps 5-8 is still an ERROR: a broker that answers every refused
  // frame, without looking at its type first, sends an ERROR back (ERR-6), and two such peers loop.
  ...([
    // [name, frame builder]: each fault is one the broker answers with an ERROR in any other frame.
    ['encoding-reserved', (id: string) => reserved(rawFrame(MessageType.ERROR, 'json', { id, re: 'never-sent' }, '{"code":"INTERNAL","message":"x","definite":false}'))],
    ['cbor-not-negotiated', (id: string) => rawFrame(MessageType.ERROR, 'cbor', { id, re: 'never-sent' }, Uint8Array.of(0xa0))],
    ['payload-not-json', (id: string) => rawFrame(MessageType.ERROR, 'json', { id, re: 'never-sent' }, '{"code":')],
    ['schema', (id: string) => rawFrame(MessageType.ERROR, 'json', { id, re: 'never-sent' }, '{"code":5,"message":"x","definite":"no"}')],
  ] as const satisfies readonly (readonly [string, (id: string) => Uint8Array])[]).map(([name, build]) =>
    defineCase({
      id: `errors/faulty-error-not-answered/fault:${name}`,
      statements: ['ERR-6'],
      async run(ctx) {
        const { conn } = await ctx.session(undefined, { encodings: ['json'] });
        conn.sendRaw(build(`faulty-${name}`), `an ERROR frame with a fault (${name}) that any other frame would be answered for`);
        await ctx.expectOpen(conn, 'no answer to the faulty ERROR: the next frame is the PONG (ERR-6)');
      },
    })),
  defineCase({
    id: 'limits/in-flight-limit',
    statements: ['LIM-7', 'LIM-2'],
    async run(ctx) {
      const { a, b } = await pair(ctx);
      const limit = inFlightLimitToReach(a.ack, 'fail');
      for (let i = 0; i <= limit; i++) a.conn.send({ type: 'REASONING_REQUEST', header: { id: `p${i}`, dst: b.clientId }, payload: request });
      // The first `limit` requests reach B; the one beyond gets OVERLOADED.
      const over = await ctx.expectMessage(a.conn, `ERROR OVERLOADED for request ${limit + 1}`, (m) => m.name === 'ERROR');
      const p = over.payload as { code: string };
      if (registryName(p.code) !== 'OVERLOADED' || over.header.re !== `p${limit}`) throw new CaseFailure(`expected OVERLOADED with re=p${limit}`, `OVERLOADED re=p${limit}`, `${p.code} re=${over.header.re}`);
    },
  }),
];
