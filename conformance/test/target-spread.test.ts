/** `--target HOST:PORT,HOST:PORT,...`: several entry points, and a case's k-th connection on entry k mod N (issue 17). */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTarget, TargetError } from '../target.js';
import { CaseContext } from '../cases/context.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A loopback server that records, in `log`, its index for each connection it accepts. */
async function entry(index: number, log: number[]): Promise<number> {
  const server = createServer((socket) => {
    log.push(index);
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as { port: number }).port;
}

describe('several --target entry points', () => {
  it('parses host:port entries, and refuses a list that mixes in another kind of address', () => {
    const a = parseTarget('127.0.0.1:7001,[::1]:7002,localhost:7003');
    expect(a.kind).toBe('cluster');
    expect(a.kind === 'cluster' ? a.entries.map((e) => [e.kind, e.host, e.port]) : []).toEqual([['tcp', '127.0.0.1', 7001], ['tcp', '::1', 7002], ['tcp', 'localhost', 7003]]);
    expect(a.describe()).toBe('127.0.0.1:7001,::1:7002,localhost:7003');
    expect(() => parseTarget('127.0.0.1:7001,unix:/tmp/x.sock')).toThrow(TargetError);
    expect(() => parseTarget('127.0.0.1:7001,nonsense')).toThrow(TargetError);
    expect(parseTarget('127.0.0.1:7001').kind).toBe('tcp');
    expect(parseTarget('[::1]:7001').kind).toBe('tcp');
    expect(parseTarget('unix:/tmp/x.sock').kind).toBe('unix');
    expect(parseTarget('fifo:/tmp/d').kind).toBe('fifo');
  });

  it("sends a case's k-th connection to entry k mod N, in the order they are asked for", async () => {
    const accepted: number[] = [];
    const ports = [await entry(0, accepted), await entry(1, accepted), await entry(2, accepted)];
    const ctx = new CaseContext({ target: parseTarget(ports.map((p) => `127.0.0.1:${p}`).join(',')), timeoutMs: 5000, seed: 1, runId: 'spread' });
    try {
      for (let k = 0; k < 5; k++) await ctx.open();
      for (let i = 0; i < 100 && accepted.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
      expect(accepted).toEqual([0, 1, 2, 0, 1]);
    } finally {
      ctx.close();
    }
  });

  it('opens a connection beside an earlier one on that one\'s entry, and goes on spreading the others', async () => {
    const accepted: number[] = [];
    const ports = [await entry(0, accepted), await entry(1, accepted), await entry(2, accepted)];
    const ctx = new CaseContext({ target: parseTarget(ports.map((p) => `127.0.0.1:${p}`).join(',')), timeoutMs: 5000, seed: 1, runId: 'beside' });
    try {
      await ctx.open();
      const second = await ctx.open();
      await ctx.openBeside(second);
      await ctx.open();
      for (let i = 0; i < 100 && accepted.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
      // Sorted: accept events of different servers may reach the loop in either order; without openBeside it would be [0, 0, 1, 2].
      expect([...accepted].sort()).toEqual([0, 1, 1, 2]);
    } finally {
      ctx.close();
    }
  });
});
