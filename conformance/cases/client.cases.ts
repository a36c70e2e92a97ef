/**
 * Client-role cases (conformance --listen): the harness plays the broker and checks what every
 * client must do whatever its purpose: INIT first and alone until INIT_ACK, PINGs answered, faulty
 * frames answered with the right ERROR, ERRORs never answered, SHUTDOWN acknowledged after what came
 * before it, with its counts.
 */
import { encodeEnvelope } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import { messageByName } from '../../reference/codec/catalog.js';
import { isLaterVersion } from '../../reference/codec/versions.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import type { MessageMatch } from '../replay/script.js';

/** INIT's fields in version 1.0: the catalog's INIT payload properties without a later `since`. */
const INIT_1_0_FIELDS = new Set(Object.entries((messageByName('INIT').payload as { properties: Record<string, { since?: string }> }).properties)
  .filter(([, s]) => s.since === undefined || !isLaterVersion(s.since, '1.0')).map(([k]) => k));

export const clientCases: Case[] = [
  defineCase({
    id: 'handshake/client-first-frame-is-json-init',
    statements: ['HS-1'],
    async run(ctx) {
      const { init } = await ctx.client();
      if (init.encoding !== 'json') throw new CaseFailure('the INIT is not JSON-encoded', 'json', init.encoding);
    },
  }),
  defineCase({
    id: 'handshake/client-waits-for-init-ack',
    statements: ['HS-8'],
    async run(ctx) {
      const { conn, init } = await ctx.client({ ack: false });
      const early = await conn.next(Math.min(ctx.timeoutMs, 1000));
      if (early.kind === 'message') throw new CaseFailure(`the client sent ${early.message.name} before INIT_ACK`, 'nothing until INIT_ACK', early.message.name);
      ctx.ackClient(conn, init);
      await ctx.expectOpen(conn, 'the client answering after INIT_ACK');
    },
  }),
  ...['0', ' ', 'ünïcødé', 'z'.repeat(128)].map((id, i) => defineCase({
    id: `handshake/client-answers-ping/id:${['zero', 'space', 'unicode', '128-bytes'][i]}`,
    statements: ['HS-9', 'REQ-4'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'PING', header: { id } });
      await ctx.expectMessage(conn, `PONG with re=${JSON.stringify(id)}`, (m) => m.name === 'PONG' && m.header.re === id);
    },
  })),
  defineCase({
    id: 'errors/client-unknown-type',
    statements: ['ERR-7'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(encodeFrame(encodeEnvelope(0x0a, 'json', { id: 'odd-type' }, new Uint8Array(0))), 'type 0x0a');
      await ctx.expectError(conn, 'UNKNOWN_TYPE', { re: 'odd-type', closes: false });
    },
  }),
  defineCase({
    id: 'errors/client-does-not-answer-error',
    statements: ['ERR-6'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'ERROR', header: { id: 'stray-error', re: 'never-sent' }, payload: { code: 'INTERNAL' satisfies ErrorName, message: 'harness test', definite: false } });
      // The next thing the client sends must be the PONG to this PING, not an answer to the ERROR.
      await ctx.expectOpen(conn, 'no answer to the ERROR, then PONG');
    },
  }),
  defineCase({
    id: 'framing/client-refuses-oversized-length',
    statements: ['FRM-3'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 'length prefix 0xFFFFFFFF');
      await ctx.expectError(conn, 'FRAME_TOO_LARGE', { closes: true });
    },
  }),
  defineCase({
    id: 'handshake/client-acknowledges-shutdown',
    statements: ['HS-15'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.send({ type: 'SHUTDOWN', header: { id: 'broker-bye' }, payload: { reason: 'conformance test', drain_ms: 1000 } });
      const ack = await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=broker-bye', (m) => m.name === 'SHUTDOWN_ACK' && m.header.re === 'broker-bye');
      // The harness sent the client no request: nothing was drained, nothing timed out.
      const p = ack.payload as { drained?: unknown; timed_out?: unknown };
      if (p.drained !== 0 || (p.timed_out ?? 0) !== 0) {
        throw new CaseFailure(`SHUTDOWN_ACK counts drained=${JSON.stringify(p.drained)} timed_out=${JSON.stringify(p.timed_out ?? 0)}, though the client had received no request (HS-15)`, 'drained=0 timed_out=0', `drained=${JSON.stringify(p.drained)} timed_out=${JSON.stringify(p.timed_out ?? 0)}`);
      }
      await ctx.expectClosed(conn, 'the client to close after SHUTDOWN_ACK');
    },
  }),
  // A client that looks for SHUTDOWN first in what it read, or acknowledges before it answers.
  defineCase({
    id: 'handshake/client-answers-before-shutdown-ack',
    statements: ['HS-14', 'HS-15', 'HS-9'],
    async run(ctx) {
      const { conn } = await ctx.client();
      conn.sendRaw(Buffer.concat([
        encodeMessageFrame({ type: 'PING', header: { id: 'before-bye' } }),
        encodeMessageFrame({ type: 'SHUTDOWN', header: { id: 'broker-bye' }, payload: { reason: 'conformance test', drain_ms: 1000 } }),
      ]), 'PING, then SHUTDOWN, in one write');
      await ctx.expectMessage(conn, 'PONG with re=before-bye: the PING came before the SHUTDOWN (HS-14)', { name: 'PONG', re: 'before-bye' } satisfies MessageMatch);
      await ctx.expectMessage(conn, 'SHUTDOWN_ACK with re=broker-bye once the PING is answered (HS-15)', { name: 'SHUTDOWN_ACK', re: 'broker-bye' } satisfies MessageMatch);
      await ctx.expectClosed(conn, 'the client to close after SHUTDOWN_ACK');
    },
  }),
  defineCase({
    id: 'versioning/client-init-of-version-1-0',
    statements: ['VER-4', 'VER-3'],
    async run(ctx) {
      // A field 1.0 does not know also makes the INIT undecodable for a 1.0 receiver (payload objects are
      // closed), which fails this case too; the names are checked for an INIT that decodes.
      const { init } = await ctx.client({ ack: false });
      const fields = Object.keys((init.payload ?? {}) as Record<string, unknown>);
      const later = fields.filter((f) => !INIT_1_0_FIELDS.has(f));
      if (later.length > 0) throw new CaseFailure(`the client's INIT has fields that are not of version 1.0: ${later.join(', ')}; later capabilities go in \`features\``, `only ${[...INIT_1_0_FIELDS].join(', ')}`, later.join(', '));
    },
  }),
];
