/** Section 6 (handshake) and section 11 (security): INIT, INIT_ACK and every refusal. */
import { describe, expect, it } from 'vitest';
import { useHarness } from './fixture.js';
import { DEFAULT_LIMITS } from '../../../spec/generated/catalog.js';
import { PROTOCOL_VERSION } from '../../../spec/generated/catalog.js';

const h = useHarness();

function errorOf(m: { name: string; payload: unknown }): { code: string; definite: boolean; details?: Record<string, unknown> } {
  expect(m.name).toBe('ERROR');
  return m.payload as { code: string; definite: boolean; details?: Record<string, unknown> };
}

describe('handshake', () => {
  it('answers INIT with INIT_ACK carrying ids, version, the first supported encoding and limits (HS-6)', async () => {
    const { address } = await h.broker({ brokerId: 'test-broker', maxInFlight: 7, heartbeatMs: 1000, maxFrame: 100_000 });
    const c = await h.raw(address);
    const initId = c.send('INIT', { id: 'init-1' }, { client_id: 'alpha', language: 'typescript', role: 'client', protocol_version: '1.3', encodings: ['cbor', 'json'], max_frame: 65536 });
    const ack = await c.next();
    expect(ack.name).toBe('INIT_ACK');
    expect(ack.header.re).toBe(initId);
    expect(ack.encoding).toBe('json');
    expect(ack.payload).toEqual({ broker_id: 'test-broker', client_id: 'alpha', protocol_version: PROTOCOL_VERSION, encoding: 'cbor', max_frame: 100_000, max_in_flight: 7, heartbeat_ms: 1000, max_subscriptions: DEFAULT_LIMITS.max_subscriptions });
  });

  it('chooses json when the client lists it first', async () => {
    const { address } = await h.broker();
    const c = await h.raw(address);
    const ack = await c.init('beta', { encodings: ['json', 'cbor'] });
    expect((ack.payload as { encoding: string }).encoding).toBe('json');
  });

  it('refuses a first frame other than INIT with PROTOCOL_VIOLATION and closes (HS-2)', async () => {
    const { address } = await h.broker();
    const c = await h.raw(address);
    const id = c.send('PING');
    const m = await c.next();
    expect(errorOf(m).code).toBe('PROTOCOL_VIOLATION');
    expect(m.header.re).toBe(id);
    await c.waitClosed();
  });

  it('refuses a second INIT with PROTOCOL_VIOLATION and closes (HS-2)', async () => {
    const { address } = await h.broker();
    const c = await h.client(address, 'twice');
    c.send('INIT', {}, { client_id: 'twice2', language: 'typescript', role: 'client', protocol_version: '1.0', encodings: ['json'], max_frame: 65536 });
    expect(errorOf(await c.next()).code).toBe('PROTOCOL_VIOLATION');
    await c.waitClosed();
  });

  it('refuses another major version with VERSION_MISMATCH before the schema (VER-1)', async () => {
    const { address } = await h.broker();
    const c = await h.raw(address);
    // An unknown field would be a SCHEMA_VIOLATION in 1.0; the version check comes first.
    const ack = await c.init('future', { protocol_version: '2.0', hologram: true });
    expect(errorOf(ack).code).toBe('VERSION_MISMATCH');
    expect(errorOf(ack).definite).toBe(true);
    await c.waitClosed();
  });

  it('refuses INIT without json among the encodings with SCHEMA_VIOLATION (rule contains) and closes (HS-3, HS-4)', async () => {
    const { address } = await h.broker();
    const c = await h.raw(address);
    const e = errorOf(await c.init('nojson', { encodings: ['cbor'] }));
    expect(e.code).toBe('SCHEMA_VIOLATION');
    expect(e.details).toMatchObject({ path: '/encodings', rule: 'contains' });
    await c.waitClosed();
  });

  it('refuses a duplicate client id and leaves the first connection untouched (HS-5)', async () => {
    const { address } = await h.broker();
    const first = await h.client(address, 'same');
    const second = await h.raw(address);
    expect(errorOf(await second.init('same')).code).toBe('DUPLICATE_CLIENT_ID');
    await second.waitClosed();
    const ping = first.send('PING');
    const pong = await first.next();
    expect(pong.name).toBe('PONG');
    expect(pong.header.re).toBe(ping);
  });

  it('releases a client id when its connection closes (HS-19)', async () => {
    const { address } = await h.broker();
    const first = await h.client(address, 'reuse');
    await first.close();
    let accepted = false;
    for (let attempt = 0; attempt < 50 && !accepted; attempt++) {
      const c = await h.raw(address);
      accepted = (await c.init('reuse')).name === 'INIT_ACK';
      if (!accepted) await new Promise((r) => setTimeout(r, 20));
    }
    expect(accepted).toBe(true);
  });

  it('refuses a missing or wrong token with UNAUTHORIZED and closes; accepts the right one (SEC-2)', async () => {
    const { address } = await h.broker({ token: 's3cret' });
    const none = await h.raw(address);
    const e1 = errorOf(await none.init('t1'));
    expect(e1.code).toBe('UNAUTHORIZED');
    expect(e1.definite).toBe(true);
    await none.waitClosed();
    const wrong = await h.raw(address);
    const e2 = await wrong.init('t2', { token: 's3cres' });
    expect(errorOf(e2).code).toBe('UNAUTHORIZED');
    expect(JSON.stringify(e2.payload)).not.toContain('s3cre'); // SEC-4: never echoed
    await wrong.waitClosed();
    const right = await h.raw(address);
    expect((await right.init('t3', { token: 's3cret' })).name).toBe('INIT_ACK');
  });

  it('checks the token before the client id (HS-4)', async () => {
    const { address } = await h.broker({ token: 'tok' });
    await h.client(address, 'taken', { token: 'tok' });
    const c = await h.raw(address);
    expect(errorOf(await c.init('taken', { token: 'nope' })).code).toBe('UNAUTHORIZED');
  });

  it('refuses the broker\'s own id as a client id', async () => {
    const { address } = await h.broker({ brokerId: 'the-broker' });
    const c = await h.raw(address);
    expect(errorOf(await c.init('the-broker')).code).toBe('DUPLICATE_CLIENT_ID');
  });

  it('closes without an ERROR a connection that sends no INIT in time (LIM-10)', async () => {
    const { address } = await h.broker({ handshakeTimeoutMs: 100 });
    const c = await h.raw(address);
    await c.waitClosed();
    expect(c.framesReceived).toBe(0);
  });

  it('closes after any error answering the first frame, even one that keeps connections open (HS-3)', async () => {
    const { address } = await h.broker();
    const c = await h.raw(address);
    c.sendBody(0x77, { id: 'x' }, '');
    const m = await c.next();
    expect(errorOf(m).code).toBe('UNKNOWN_TYPE');
    expect(m.header.re).toBe('x');
    await c.waitClosed();
  });
});
