/** Sections 10 and 11: Unix sockets, the bind policy, and the structured log. */
import { describe, expect, it } from 'vitest';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { Broker, BrokerConfigError, ListenError } from '../index.js';
import { socketPath, useHarness } from './fixture.js';
import { encodingReq } from './payloads.js';

const h = useHarness();

describe('transports', () => {
  it('serves clients on a Unix socket created 0600, removed on close (UNIX-1)', async () => {
    const path = socketPath('unix');
    const { address, broker } = await h.broker({ tcp: false, unixPath: path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    a.send('ENCODING_REQ', { id: 'over-unix', dst: 'b' }, encodingReq('u'));
    expect((await b.next()).header.src).toBe('a');
    await broker.close();
    expect(existsSync(path)).toBe(false);
  });

  it('refuses to replace a file that is not a socket (UNIX-2)', async () => {
    const path = socketPath('taken');
    writeFileSync(path, 'keep me');
    await expect(h.broker({ tcp: false, unixPath: path })).rejects.toBeInstanceOf(ListenError);
    expect(existsSync(path)).toBe(true);
  });

  it('refuses to take over a socket another broker listens on, and listens there once it is gone (UNIX-2)', async () => {
    const path = socketPath('shared');
    const { broker } = await h.broker({ tcp: false, unixPath: path });
    await expect(h.broker({ tcp: false, unixPath: path })).rejects.toBeInstanceOf(ListenError);
    await broker.close();
    const again = await h.broker({ tcp: false, unixPath: path });
    expect(again.address).toEqual({ path });
  });

  it('listens on 127.0.0.1:9999 by default (TCP-1) and refuses a non-loopback host without a token (SEC-1)', () => {
    const b = new Broker();
    expect(b.config.host).toBe('127.0.0.1');
    expect(b.config.port).toBe(9999);
    expect(() => new Broker({ host: '0.0.0.0' })).toThrow(BrokerConfigError);
    expect(() => new Broker({ host: '192.0.2.1' })).toThrow(/SEC-1/);
    expect(new Broker({ host: '0.0.0.0', token: 't' }).config.host).toBe('0.0.0.0');
    expect(new Broker({ host: '::1' }).config.host).toBe('::1');
  });

  it('refuses limits outside the ranges of spec/limits.json', () => {
    expect(() => new Broker({ maxFrame: 1000 })).toThrow(BrokerConfigError);
    expect(() => new Broker({ maxInFlight: 0 })).toThrow(BrokerConfigError);
    expect(() => new Broker({ typeTimeoutMs: { NOT_A_TYPE: 5 } })).toThrow(BrokerConfigError);
  });
});

describe('logs', () => {
  it('writes one JSON object per line with ts, level, msg and fields, filtered by level, never the token', async () => {
    const lines: string[] = [];
    const { address } = await h.broker({ logLevel: 'info', logSink: (l) => lines.push(l), token: 'hush' });
    const a = await h.client(address, 'a', { token: 'hush' });
    a.send('PING');
    await a.next();
    const records = lines.map((l) => {
      expect(l.endsWith('\n')).toBe(true);
      return JSON.parse(l) as Record<string, unknown>;
    });
    expect(records.some((r) => r['msg'] === 'client connected' && r['client'] === 'a')).toBe(true);
    for (const r of records) {
      expect(typeof r['ts']).toBe('string');
      expect(['info', 'warn', 'error']).toContain(r['level']);
      expect(typeof r['msg']).toBe('string');
    }
    expect(lines.join('')).not.toContain('hush');
  });
});
