/** The service registry and routing by service name (sections registry and requests). */
import { NDArray } from '../../reference/codec/ndarray.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import type { CaseContext, Session } from './context.js';

const request = { encoding: NDArray.from('<f4', [2], [1, 2]), context: 'registry', source: 'harness' };

function descriptor(name: string): Record<string, unknown> {
  return { name, service_type: 'engine', version: '1.0.0', capabilities: ['reason'], max_concurrent: 0, healthy: true, metadata: {} };
}

async function register(ctx: CaseContext, s: Session, name: string, id = `reg-${name}`): Promise<void> {
  s.conn.send({ type: 'SERVICE_REGISTER', header: { id }, payload: { service: descriptor(name) } });
  await ctx.expectMessage(s.conn, `ACK of SERVICE_REGISTER ${name}`, (m) => m.name === 'ACK' && m.header.re === id);
}

async function list(ctx: CaseContext, s: Session, name: string): Promise<{ name: string; current_load: number; healthy: boolean }[]> {
  const id = `list-${name}-${Date.now()}`;
  s.conn.send({ type: 'SERVICE_LIST', header: { id }, payload: { name } });
  const m = await ctx.expectMessage(s.conn, `SERVICE_LIST_RESULT for ${name}`, (x) => x.name === 'SERVICE_LIST_RESULT' && x.header.re === id);
  return (m.payload as { services: { name: string; current_load: number; healthy: boolean }[] }).services;
}

export const registryCases: Case[] = [
  defineCase({
    id: 'requests/route-to-service-name',
    statements: ['REQ-7', 'REQ-13'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, b, name);
      a.conn.send({ type: 'REASONING_REQUEST', header: { id: 'by-name', dst: name }, payload: request });
      const m = await ctx.expectMessage(b.conn, `the request routed to service ${name}`, (x) => x.name === 'REASONING_REQUEST');
      if (m.header.src !== a.clientId) throw new CaseFailure('the forwarded request does not name its sender', a.clientId, String(m.header.src));
      b.conn.send({ type: 'REASONING_RESPONSE', header: { id: 'svc-answer', re: m.header.id }, payload: { spike_count: 1, confidence: 0.5, firing_pattern: NDArray.from('|u1', [1], [1]), engine: name, latency_ms: 0 } });
      await ctx.expectMessage(a.conn, 'the service\'s REASONING_RESPONSE with re=by-name', (x) => x.name === 'REASONING_RESPONSE' && x.header.re === 'by-name');
    },
  }),
  defineCase({
    id: 'registry/list-shows-load-and-health',
    statements: ['REG-3'],
    async run(ctx) {
      const b = await ctx.session();
      const name = ctx.uniqueId('svc');
      await register(ctx, b, name);
      b.conn.send({ type: 'SERVICE_HEALTH', header: { id: 'sick' }, payload: { name, healthy: false } });
      await ctx.expectMessage(b.conn, 'ACK of SERVICE_HEALTH', (m) => m.name === 'ACK' && m.header.re === 'sick');
      const found = await list(ctx, b, name);
      if (found.length !== 1 || found[0]!.current_load !== 0 || found[0]!.healthy !== false) {
        throw new CaseFailure('SERVICE_LIST does not show the service with load 0 and its health', `[{name: ${name}, current_load: 0, healthy: false}]`, JSON.stringify(found));
      }
    },
  }),
  defineCase({
    id: 'registry/duplicate-name-refused',
    statements: ['REG-1'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, a, name);
      b.conn.send({ type: 'SERVICE_REGISTER', header: { id: 'again' }, payload: { service: descriptor(name) } });
      await ctx.expectError(b.conn, 'SERVICE_EXISTS', { re: 'again', closes: false });
    },
  }),
  defineCase({
    id: 'registry/only-the-provider-unregisters',
    statements: ['REG-2'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, a, name);
      b.conn.send({ type: 'SERVICE_UNREGISTER', header: { id: 'not-mine' }, payload: { name } });
      await ctx.expectError(b.conn, 'SERVICE_NOT_FOUND', { re: 'not-mine', closes: false });
    },
  }),
  defineCase({
    id: 'handshake/services-go-with-their-connection',
    statements: ['HS-19'],
    async run(ctx) {
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      const name = ctx.uniqueId('svc');
      await register(ctx, b, name);
      b.conn.destroy();
      // The close reaches the broker asynchronously; ask until it is gone, a bounded number of times.
      for (let attempt = 0; attempt < 20; attempt++) {
        if ((await list(ctx, a, name)).length === 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new CaseFailure(`service ${name} is still listed after its connection closed`, 'no entry', 'listed');
    },
  }),
];
