/** Handshake and lifecycle (section handshake) and the token check (section security). */
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';

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
