/** Framing (section framing): chunking, limits checked on the length prefix. */
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import { registryName } from '../../reference/codec/catalog.js';

export const framingCases: Case[] = [
  defineCase({
    id: 'framing/split-at-every-byte',
    statements: ['FRM-5'],
    async run(ctx) {
      const { conn } = await ctx.session();
      const frame = encodeMessageFrame({ type: 'PING', header: { id: 'split-ping' } });
      for (let cut = 1; cut < frame.length; cut++) {
        const id = `split-${cut}`;
        const f = encodeMessageFrame({ type: 'PING', header: { id } });
        conn.sendRaw(f.subarray(0, cut), `PING ${id}, bytes 0..${cut - 1}`);
        await new Promise((r) => setTimeout(r, 2));
        conn.sendRaw(f.subarray(cut), `PING ${id}, bytes ${cut}..${f.length - 1}`);
        await ctx.expectMessage(conn, `PONG with re=${id} after a PING split after byte ${cut}`, (m) => m.name === 'PONG' && m.header.re === id);
      }
    },
  }),
  defineCase({
    id: 'framing/several-frames-in-one-write',
    statements: ['FRM-5'],
    async run(ctx) {
      const { conn } = await ctx.session();
      const ids = Array.from({ length: 20 }, (_, i) => `batch-${i}`);
      conn.sendRaw(Buffer.concat(ids.map((id) => encodeMessageFrame({ type: 'PING', header: { id } }))), '20 PINGs in one write');
      for (const id of ids) await ctx.expectMessage(conn, `PONG with re=${id}, in order`, (m) => m.name === 'PONG' && m.header.re === id);
    },
  }),
  defineCase({
    id: 'framing/frames-before-a-fault-are-answered',
    statements: ['FRM-2', 'REQ-1'],
    async run(ctx) {
      const { conn } = await ctx.session();
      const ping = encodeMessageFrame({ type: 'PING', header: { id: 'before-fault' } });
      conn.sendRaw(Buffer.concat([ping, Buffer.from([0, 0, 0, 0])]), 'a PING and a zero length in one write');
      await ctx.expectMessage(conn, 'PONG for the PING that preceded the fault', (m) => m.name === 'PONG' && m.header.re === 'before-fault');
      await ctx.expectError(conn, 'MALFORMED_FRAME', { closes: true });
    },
  }),
  defineCase({
    id: 'framing/4gib-length-refused-on-prefix',
    statements: ['FRM-3', 'SEC-5', 'LIM-3'],
    async run(ctx) {
      const { conn } = await ctx.session();
      // Only the prefix is sent: a receiver that waits for the 4 GiB body instead of refusing times out here.
      conn.sendRaw(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 'length prefix 0xFFFFFFFF and no body');
      const m = await ctx.expectMessage(conn, 'ERROR FRAME_TOO_LARGE on the prefix alone', (x) => x.name === 'ERROR');
      const p = m.payload as { code: string; details?: { limit?: number } };
      if (registryName(p.code) !== 'FRAME_TOO_LARGE') throw new CaseFailure(`expected FRAME_TOO_LARGE, got ${p.code}`, 'FRAME_TOO_LARGE', p.code);
      if (typeof p.details?.limit !== 'number') throw new CaseFailure('FRAME_TOO_LARGE without details.limit', 'details.limit = max_frame', JSON.stringify(p.details));
      await ctx.expectClosed(conn);
    },
  }),
];
