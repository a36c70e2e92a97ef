/** Handshake and lifecycle (section handshake) and the token check (section security). */
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { messageByCode, registryName } from '../../reference/codec/catalog.js';
import type { CaseContext } from './context.js';
import type { ErrorNames, MessageNames } from '../../spec/generated/catalog.js';

/** The smallest type code the catalog does not hold. */
const UNASSIGNED_TYPE = Array.from({ length: 255 }, (_, i) => i + 1).find((code) => messageByCode(code) === undefined)!;

/** A first frame in JSON with one payload fault, and the ERROR (with its close, HS-3) that must answer it. */
interface FaultyFirstFrame {
  id: string;
  statements: string[];
  type: MessageNames<'INIT' | 'STATS_REQUEST' | 'INSTRUMENT_COMMAND'>;
  payload(ctx: CaseContext): string;
  code: ErrorNames<'INVALID_PAYLOAD' | 'SCHEMA_VIOLATION'>;
  /** The statement the code comes from. */
  statement: string;
  path?: string;
  rule?: string;
}

/**
 * The payload steps (6-8) come before the lifecycle (step 9, HS-2) for frames the broker receives
 * itself: a client-to-broker type, or one that is also routed sent without `dst` (REQ-8). For INIT,
 * only the schema step comes after the version check (VER-1).
 */
const FAULTY_FIRST_FRAMES: FaultyFirstFrame[] = [
  { id: 'handshake/first-frame-schema-fault/type:STATS_REQUEST', statements: ['HS-2', 'ERR-1', 'HS-3', 'ERR-9'], type: 'STATS_REQUEST', payload: () => '{"client_id": 5}', code: 'SCHEMA_VIOLATION', statement: 'ERR-1', path: '/client_id', rule: 'type' },
  { id: 'handshake/first-frame-schema-fault/type:INSTRUMENT_COMMAND', statements: ['HS-2', 'ERR-1', 'HS-3', 'ERR-9'], type: 'INSTRUMENT_COMMAND', payload: () => '{"command": 5}', code: 'SCHEMA_VIOLATION', statement: 'ERR-1', path: '/command', rule: 'type' },
  { id: 'handshake/init-payload-not-json', statements: ['HS-3', 'ENC-6', 'ERR-1'], type: 'INIT', payload: () => '{"client_id": ', code: 'INVALID_PAYLOAD', statement: 'ENC-6' },
  { id: 'handshake/init-payload-null', statements: ['HS-4', 'HS-3', 'ERR-9'], type: 'INIT', payload: () => 'null', code: 'SCHEMA_VIOLATION', statement: 'HS-4', path: '', rule: 'type' },
  // A version that is not a MAJOR.MINOR string has no major version (section 13), however its digits read.
  { id: 'handshake/init-version-not-a-string', statements: ['HS-4', 'VER-1', 'HS-3', 'ERR-9'], type: 'INIT', payload: (ctx) => JSON.stringify(initWithoutToken(ctx, { protocol_version: 2.5 })), code: 'SCHEMA_VIOLATION', statement: 'VER-1', path: '/protocol_version', rule: 'type' },
];

/** First frames in CBOR: INIT, and a routed type (with `dst`) that the broker also receives without one. */
const CBOR_FIRST_FRAMES: { type: MessageNames<'INIT' | 'INSTRUMENT_COMMAND'>; dst?: string }[] = [{ type: 'INIT' }, { type: 'INSTRUMENT_COMMAND', dst: 'first-cbor-dst' }];

/** An INIT payload of this run without its token: every fault these cases send comes before the token step (HS-4), and the secret stays out of bundles. */
function initWithoutToken(ctx: CaseContext, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { token: _token, ...init } = ctx.initPayload(ctx.uniqueId(), overrides);
  return init;
}

export const handshakeCases: Case[] = [
  defineCase({
    id: 'handshake/init-ack-fields',
    statements: ['HS-6'],
    async run(ctx) {
      const { ack, clientId } = await ctx.session(undefined, { encodings: ['json'] });
      if (ack['client_id'] !== clientId) throw new CaseFailure('INIT_ACK does not echo the client id', clientId, String(ack['client_id']));
      if (ack['encoding'] !== 'json') throw new CaseFailure('a client that lists only json must be given json', 'json', String(ack['encoding']));
    },
  }),
  defineCase({
    id: 'handshake/first-frame-not-init',
    statements: ['HS-2'],
    async run(ctx) {
      const conn = await ctx.open();
      conn.send({ type: 'PING', header: { id: 'early-ping' } });
      await ctx.expectError(conn, 'PROTOCOL_VIOLATION', { re: 'early-ping', closes: true });
    },
  }),
  defineCase({
    id: 'handshake/second-init',
    statements: ['HS-2'],
    async run(ctx) {
      const { conn, clientId } = await ctx.session();
      conn.send({ type: 'INIT', header: { id: 'init-again' }, payload: ctx.initPayload(clientId) });
      await ctx.expectError(conn, 'PROTOCOL_VIOLATION', { re: 'init-again', closes: true });
    },
  }),
  defineCase({
    id: 'handshake/version-mismatch',
    statements: ['HS-4'],
    async run(ctx) {
      const conn = await ctx.open();
      conn.send({ type: 'INIT', header: { id: 'init-v2' }, payload: ctx.initPayload(ctx.uniqueId(), { protocol_version: '2.0' }) });
      await ctx.expectError(conn, 'VERSION_MISMATCH', { re: 'init-v2', closes: true });
    },
  }),
  defineCase({
    id: 'handshake/duplicate-client-id',
    statements: ['HS-5'],
    async run(ctx) {
      const first = await ctx.session('first');
      const second = await ctx.open('second');
      second.send({ type: 'INIT', header: { id: 'init-dup' }, payload: ctx.initPayload(first.clientId) });
      await ctx.expectError(second, 'DUPLICATE_CLIENT_ID', { re: 'init-dup', closes: true });
      await ctx.expectOpen(first.conn, 'the first connection untouched');
    },
  }),
  defineCase({
    id: 'handshake/bad-first-frame-closes',
    statements: ['HS-3'],
    async run(ctx) {
      const conn = await ctx.open();
      ctx.sendUnchecked(conn, 'INIT', { id: 'init-bad' }, JSON.stringify({ client_id: ctx.uniqueId() }));
      await ctx.expectError(conn, 'SCHEMA_VIOLATION', { re: 'init-bad', closes: true });
    },
  }),
  defineCase({
    id: 'encodings/invalid-json-payload-keeps-connection',
    statements: ['ENC-6', 'ERR-5'],
    async run(ctx) {
      const { conn } = await ctx.session();
      ctx.sendUnchecked(conn, 'STATS_REQUEST', { id: 'bad-json' }, '{"client_id": ');
      await ctx.expectError(conn, 'INVALID_PAYLOAD', { re: 'bad-json', closes: false });
    },
  }),
  defineCase({
    id: 'errors/schema-violation-names-the-field',
    statements: ['ERR-9', 'ERR-5'],
    async run(ctx) {
      const { conn } = await ctx.session();
      ctx.sendUnchecked(conn, 'STATS_REQUEST', { id: 'bad-field' }, '{"client_id": 5}');
      const m = await ctx.expectError(conn, 'SCHEMA_VIOLATION', { re: 'bad-field', closes: false });
      const details = (m.payload as { details?: { path?: string; rule?: string } }).details;
      if (details?.path !== '/client_id' || details.rule !== 'type') throw new CaseFailure('the SCHEMA_VIOLATION does not name the field and rule', '/client_id type', `${details?.path} ${details?.rule}`);
    },
  }),
  // The report of a member 5,000 characters long can outgrow ERROR's own `message` (at most 4,096
  // characters): a broker that does not cut its text sends an ERROR that breaks ERROR's schema, or a
  // second fault about its own ERROR instead of the report (ERR-3, ERR-9).
  defineCase({
    id: 'errors/schema-violation-of-a-long-unknown-member',
    statements: ['ERR-9', 'ERR-3'],
    async run(ctx) {
      const { conn } = await ctx.session();
      const member = 'k'.repeat(5000);
      ctx.sendUnchecked(conn, 'STATS_REQUEST', { id: 'long-member' }, JSON.stringify({ [member]: 1 }));
      const m = await ctx.expectError(conn, 'SCHEMA_VIOLATION', { re: 'long-member', closes: false });
      const details = (m.payload as { details?: { path?: string; rule?: string } }).details;
      if (details?.path !== `/${member}` || details.rule !== 'additionalProperties') {
        throw new CaseFailure('the SCHEMA_VIOLATION for an unknown member of STATS_REQUEST does not name it and its rule (ERR-9)', `/k... (5,001 characters) additionalProperties`, `${details?.path === undefined ? 'no path' : `${details.path.slice(0, 40)}... (${details.path.length} characters)`} ${details?.rule}`);
      }
    },
  }),
  defineCase({
    id: 'security/wrong-token',
    statements: ['SEC-2'],
    async run(ctx) {
      if (ctx.options.token === undefined) throw new CaseSkipped('the broker runs without a token (pass --token to test it)');
      const conn = await ctx.open();
      conn.send({ type: 'INIT', header: { id: 'init-token' }, payload: ctx.initPayload(ctx.uniqueId(), { token: wrongToken(ctx.options.token) }) });
      await ctx.expectError(conn, 'UNAUTHORIZED', { re: 'init-token', closes: true });
    },
  }),
  // A broker that goes on with an INIT its schema refused (the major version being right) fails on the
  // missing fields; one that drops the schema's own error loses the path and rule of ERR-9.
  defineCase({
    id: 'handshake/init-schema-checked-before-token',
    statements: ['HS-4', 'HS-3', 'ERR-9'],
    async run(ctx) {
      const conn = await ctx.open();
      const payload: Record<string, unknown> = { ...ctx.initPayload(ctx.uniqueId()), max_frame: 1 };
      if (ctx.options.token !== undefined) payload['token'] = wrongToken(ctx.options.token);
      ctx.sendUnchecked(conn, 'INIT', { id: 'init-bad-schema' }, JSON.stringify(payload));
      await ctx.expectError(conn, 'SCHEMA_VIOLATION', { re: 'init-bad-schema', closes: true, path: '/max_frame', rule: 'minimum' });
    },
  }),
  // A broker that digests whatever the token field holds fails on an INIT without one, instead of refusing it.
  defineCase({
    id: 'security/missing-token',
    statements: ['SEC-2'],
    async run(ctx) {
      if (ctx.options.token === undefined) throw new CaseSkipped('the broker runs without a token (pass --token to test it)');
      const conn = await ctx.open();
      const { token: _token, ...init } = ctx.initPayload(ctx.uniqueId());
      conn.send({ type: 'INIT', header: { id: 'init-no-token' }, payload: init });
      await ctx.expectError(conn, 'UNAUTHORIZED', { re: 'init-no-token', closes: true });
    },
  }),
  // First frames that fail a check of section 8 before its lifecycle step (HS-2): each gets the error of
  // its own step (ERR-1), and the connection closes whatever the registry says of that error (HS-3).
  defineCase({
    id: 'handshake/first-frame-unknown-type',
    statements: ['HS-3', 'ERR-7', 'ERR-1'],
    async run(ctx) {
      const conn = await ctx.open();
      conn.sendRaw(encodeFrame(encodeEnvelope(UNASSIGNED_TYPE, 'json', { id: 'first-odd-type' }, new Uint8Array(0))), `type 0x${UNASSIGNED_TYPE.toString(16)} as the first frame`);
      await ctx.expectError(conn, 'UNKNOWN_TYPE', { re: 'first-odd-type', closes: true, statement: 'ERR-7' });
    },
  }),
  // Nothing is negotiated before INIT_ACK, so CBOR fails the encoding step (step 5), before the payload
  // steps and the lifecycle: also for a routed frame, whose payload steps are its destination's.
  ...CBOR_FIRST_FRAMES.map(({ type, dst }) =>
    defineCase({
      id: `handshake/first-frame-cbor/type:${type}`,
      statements: ['HS-3', 'ENC-3', 'ERR-1'],
      async run(ctx) {
        const conn = await ctx.open();
        const payload = type === 'INIT' ? initWithoutToken(ctx) : { command: 'ping' };
        conn.send({ type, header: { id: 'first-cbor', ...(dst ? { dst } : {}) }, payload, encoding: 'cbor' });
        await ctx.expectError(conn, 'UNSUPPORTED_ENCODING', { re: 'first-cbor', closes: true, statement: 'ENC-3' });
      },
    })),
  ...FAULTY_FIRST_FRAMES.map((f) =>
    defineCase({
      id: f.id,
      statements: f.statements,
      async run(ctx) {
        const conn = await ctx.open();
        ctx.sendUnchecked(conn, f.type, { id: 'first-bad-payload' }, f.payload(ctx));
        await ctx.expectError(conn, f.code, { re: 'first-bad-payload', closes: true, statement: f.statement, ...(f.path !== undefined ? { path: f.path, rule: f.rule } : {}) });
      },
    })),
  // Steps 6-8 belong to the final receiver: the payload of a routed frame is its destination's (section 7),
  // so the broker answers a routed first frame at the lifecycle step whatever its payload.
  defineCase({
    id: 'handshake/first-frame-routed-payload-unchecked',
    statements: ['HS-2', 'ERR-1'],
    async run(ctx) {
      const destination = await ctx.session('destination');
      const conn = await ctx.open();
      ctx.sendUnchecked(conn, 'INSTRUMENT_COMMAND', { id: 'first-routed', dst: destination.clientId }, '{"command": 5}');
      await ctx.expectError(conn, 'PROTOCOL_VIOLATION', { re: 'first-routed', closes: true, statement: 'HS-2' });
    },
  }),
  // The broker's id is learnt from a session, then claimed on a new connection to the same broker (in a
  // cluster, each broker has its own id).
  defineCase({
    id: 'handshake/client-id-of-the-broker',
    statements: ['HS-26', 'HS-3'],
    async run(ctx) {
      const { conn, ack } = await ctx.session('witness');
      const brokerId = ack['broker_id'];
      if (typeof brokerId !== 'string') throw new CaseFailure('INIT_ACK carries no broker_id (HS-6)', 'a broker_id', JSON.stringify(brokerId));
      const second = await ctx.openBeside(conn, 'impostor');
      // The INIT holds what this broker answered: a replay against another broker stops here instead of sending a stale id.
      await ctx.declare({ op: 'opaque', what: 'INIT whose client_id is the broker_id the first connection\'s INIT_ACK gave' }, () => {
        second.send({ type: 'INIT', header: { id: 'init-broker-id' }, payload: ctx.initPayload(brokerId) });
        return Promise.resolve();
      });
      await ctx.expectError(second, 'DUPLICATE_CLIENT_ID', { re: 'init-broker-id', closes: true, statement: 'HS-26' });
    },
  }),
  ...['0', ' ', 'ünïcødé ✓', 'x'.repeat(128)].map((id, i) =>
    defineCase({
      id: `handshake/pong-echoes-id/id:${['zero', 'space', 'unicode', '128-bytes'][i]}`,
      statements: ['HS-9', 'REQ-4'],
      async run(ctx) {
        const { conn } = await ctx.session();
        conn.send({ type: 'PING', header: { id } });
        await ctx.expectMessage(conn, `PONG with re=${JSON.stringify(id)} and no payload`, (m) => m.name === 'PONG' && m.header.re === id);
      },
    })),
  // A broker that closes after a refused first frame only when the error's registry entry closes keeps the
  // connection open after SCHEMA_VIOLATION, and the INIT sent after it gets INIT_ACK (HS-3). The handshake
  // timer (LIM-10) would close it later anyway, so the close alone does not show it.
  defineCase({
    id: 'handshake/refused-init-closes-before-a-retry',
    statements: ['HS-3'],
    async run(ctx) {
      const conn = await ctx.open();
      const { client_id: clientId, ...rest } = initWithoutToken(ctx);
      ctx.sendUnchecked(conn, 'INIT', { id: 'init-refused' }, JSON.stringify({ client_id: clientId }));
      const m = await ctx.expectMessage(conn, 'ERROR SCHEMA_VIOLATION with re=init-refused', (x) => x.name === 'ERROR' && x.header.re === 'init-refused');
      const code = registryName(String((m.payload as { code?: unknown }).code));
      if (code !== 'SCHEMA_VIOLATION') throw new CaseFailure(`an INIT without its required fields was refused with ${String(code)}`, 'SCHEMA_VIOLATION', String(code));
      // Sent once the ERROR arrived, before the close is awaited: a connection kept open takes it.
      conn.send({ type: 'INIT', header: { id: 'init-retry' }, payload: { client_id: clientId, ...rest, ...(ctx.options.token !== undefined ? { token: ctx.options.token } : {}) } });
      await ctx.expectClosed(conn, 'the close after the ERROR answering the first frame, and no INIT_ACK for an INIT sent after it (HS-3)');
    },
  }),
  // A broker that goes on with the frames read after a closing fault acts on frames of a connection it is
  // closing: the DISAGREEMENT_SIGNAL behind a second INIT, in the same write, reaches B (ERR-4).
  defineCase({
    id: 'errors/closing-fault-ends-the-read',
    statements: ['ERR-4', 'HS-2'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      a.conn.sendRaw(Buffer.concat([
        encodeMessageFrame({ type: 'INIT', header: { id: 'init-again' }, payload: initWithoutToken(ctx) }),
        encodeMessageFrame({ type: 'DISAGREEMENT_SIGNAL', header: { id: 'behind-the-fault', dst: b.clientId }, payload: { coordination_id: 'err-4', disagreement_score: 0.5, threshold: 0.25 } }),
      ]), 'a second INIT (PROTOCOL_VIOLATION, which closes) and a DISAGREEMENT_SIGNAL to B, in one write');
      await ctx.expectError(a.conn, 'PROTOCOL_VIOLATION', { re: 'init-again', closes: true, statement: 'HS-2' });
      // B's PONG comes after anything of A the broker forwarded: nothing may come before it.
      await ctx.expectOpen(b.conn, 'B receiving nothing of A after its closing fault (ERR-4), then its PONG');
    },
  }),
  defineCase({
    id: 'handshake/client-shutdown-acknowledged',
    statements: ['HS-15'],
    async run(ctx) {
      const { conn } = await ctx.session();
      conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { reason: 'conformance test' } });
      await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=bye', (m) => m.name === 'SHUTDOWN_ACK' && m.header.re === 'bye');
      await ctx.expectClosed(conn, 'the connection closed after SHUTDOWN_ACK');
    },
  }),
];

/**
 * A wrong token that shares nothing with the real one: the same length, built only of characters the
 * real token does not contain (so no prefix, suffix or character of the secret travels or is logged).
 */
export function wrongToken(token: string): string {
  const used = new Set(token);
  const pool = [...'ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba9876543210-_.~'].filter((c) => !used.has(c));
  for (let code = 0xa1; pool.length === 0; code++) if (!used.has(String.fromCharCode(code))) pool.push(String.fromCharCode(code));
  const length = Math.max(1, [...token].length);
  return Array.from({ length }, (_, i) => pool[i % pool.length]!).join('');
}
