/** Sections 2, 8 and 12: framing faults, payload faults, in-flight limit and back-pressure. */
import { describe, expect, it } from 'vitest';
import { useHarness } from './fixture.js';
import { encodingReq } from './payloads.js';
import type { WireClient } from './wire-client.js';
import { socketPath } from './fixture.js';

const h = useHarness();

async function expectQuiet(c: WireClient): Promise<void> {
  const id = c.send('PING');
  const m = await c.next();
  expect(m.name).toBe('PONG');
  expect(m.header.re).toBe(id);
}

/** Polls `condition` every 10 ms, at most `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return condition();
}

describe('limits and faults', () => {
  it('refuses the request beyond max_in_flight with OVERLOADED, never silently (LIM-7)', async () => {
    const { address } = await h.broker({ maxInFlight: 2 });
    const a = await h.client(address, 'a');
    const b = await h.client(address, 'b');
    for (const id of ['o1', 'o2', 'o3']) a.send('ENCODING_REQ', { id, dst: 'b' }, encodingReq(id));
    const m = await a.next();
    expect(m.header.re).toBe('o3');
    expect(m.payload).toMatchObject({ code: 'OVERLOADED', definite: true, details: { limit: 2 } });
    const forwarded = await b.take(2);
    expect(forwarded.map((f) => (f.payload as { text: string }).text)).toEqual(['o1', 'o2']);
    await expectQuiet(b);
  });

  it('answers a frame announcing 4 GiB with FRAME_TOO_LARGE and closes (FRM-3)', async () => {
    const { address } = await h.broker({ maxFrame: 65536 });
    const a = await h.client(address, 'a');
    a.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x03, 0x00]));
    const m = await a.next();
    expect(m.header.re).toBeUndefined();
    expect(m.payload).toMatchObject({ code: 'FRAME_TOO_LARGE', definite: true, details: { limit: 65536 } });
    await a.waitClosed();
  });

  it('answers a zero length with MALFORMED_FRAME and closes (FRM-2)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    a.sendRaw(Buffer.from([0, 0, 0, 0]));
    expect((await a.next()).payload).toMatchObject({ code: 'MALFORMED_FRAME' });
    await a.waitClosed();
  });

  it('answers reserved flag bits with MALFORMED_FRAME and closes (BODY-1)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    const header = Buffer.from('{"id":"f"}');
    const body = Buffer.concat([Buffer.from([0x03, 0x04, 0, header.length]), header]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    a.sendRaw(Buffer.concat([len, body]));
    expect((await a.next()).payload).toMatchObject({ code: 'MALFORMED_FRAME' });
    await a.waitClosed();
  });

  it('answers an invalid JSON payload to the broker with INVALID_PAYLOAD and stays open (ENC-6, ERR-5)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    a.sendBody(0x08, { id: 'bad-json' }, '{"client_id": ');
    const m = await a.next();
    expect(m.header.re).toBe('bad-json');
    expect(m.payload).toMatchObject({ code: 'INVALID_PAYLOAD', definite: true });
    await expectQuiet(a);
  });

  it('answers an invalid header with INVALID_HEADER and stays open (BODY-2)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    a.sendBody(0x03, { id: '' }, '');
    const m = await a.next();
    expect(m.header.re).toBeUndefined();
    expect(m.payload).toMatchObject({ code: 'INVALID_HEADER', details: { path: '/header/id' } });
    await expectQuiet(a);
  });

  it('answers an unknown type with UNKNOWN_TYPE and stays open (ERR-7)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    a.sendBody(0x77, { id: 'u' }, '{}');
    const m = await a.next();
    expect(m.header.re).toBe('u');
    expect(m.payload).toMatchObject({ code: 'UNKNOWN_TYPE' });
    await expectQuiet(a);
  });

  it('answers a known type it does not implement with UNSUPPORTED (ERR-8)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    // INSTRUMENT_COMMAND without dst is addressed to the broker, which has no instrument.
    a.send('INSTRUMENT_COMMAND', { id: 's' }, { command: 'scope_acquire', params: { decimation: 64 } });
    const m = await a.next();
    expect(m.header.re).toBe('s');
    expect(m.payload).toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('never answers a faulty ERROR with an ERROR (ERR-6)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    a.sendBody(0xff, { id: 'e' }, '{not json');
    a.send('ERROR', { id: 'e2', re: 'unknown' }, { code: 'INTERNAL', message: 'x', definite: false });
    await expectQuiet(a);
  });

  it('refuses a routed frame above the destination\'s max_frame with OVERLOADED (REQ-11)', async () => {
    const { address } = await h.broker();
    const a = await h.client(address, 'a');
    await h.client(address, 'small', { max_frame: 65536 });
    a.send('ENCODING_REQ', { id: 'big', dst: 'small' }, encodingReq('x'.repeat(70_000)));
    const m = await a.next();
    expect(m.header.re).toBe('big');
    expect(m.payload).toMatchObject({ code: 'OVERLOADED', details: { limit: 65536 } });
  });

  it('pauses the source of a slow reader instead of buffering without bound, and drops nothing (LIM-14)', async () => {
    // Over a Unix socket the kernel buffers only some 200 KiB per direction, so the broker's own
    // queueing is what the test sees (TCP loopback buffers can grow to tens of MiB).
    const maxWriteBuffer = 65536;
    const { address, broker } = await h.broker({ tcp: false, unixPath: socketPath('bp'), maxWriteBuffer });
    const reader = await h.client(address, 'reader');
    const writer = await h.client(address, 'writer');
    reader.socket.pause(); // the slow reader: reads nothing until told to
    const snap = (id: string) => broker.stats().clients.find((c) => c.clientId === id)!;

    // 16 KiB notifications; the broker forwards them unread, so padding is enough of a payload.
    const padding = `{"pad":"${'p'.repeat(16 * 1024)}"}`;
    const count = 512; // 8 MiB, far beyond the limit and the kernel's buffers
    for (let i = 0; i < count; i++) writer.sendBody(0x32, { id: `n${i}`, dst: 'reader' }, padding);
    const total = count * padding.length; // a lower bound of the bytes sent

    // Steady state: the writer is paused and the broker has stopped reading from it.
    let last = -1;
    let stable = 0;
    for (let i = 0; i < 500 && stable < 5; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const w = snap('writer');
      stable = w.readPaused && w.bytesIn === last ? stable + 1 : 0;
      last = w.bytesIn;
    }
    expect(stable).toBe(5);
    expect(snap('writer').readPauses).toBeGreaterThan(0);
    expect(snap('writer').bytesIn).toBeLessThan(total / 2); // the rest waits on the writer's side
    // What waits for the reader stays within the limit plus the one read being handled when it was hit.
    expect(snap('reader').maxQueuedBytes).toBeGreaterThan(maxWriteBuffer);
    expect(snap('reader').maxQueuedBytes).toBeLessThan(maxWriteBuffer + 256 * 1024);

    reader.socket.resume();
    // Every accepted frame arrives, nothing dropped (framesReceived counts the INIT_ACK as well: waiting
    // for `count` alone returned one frame early whenever the last one came in a read of its own).
    await reader.waitForFrames(count + 1, 20_000);
    expect(reader.received.filter((m) => m.name === 'DISAGREEMENT_SIGNAL').length).toBe(count);
    expect(broker.stats().readResumes).toBeGreaterThan(0);
    expect(snap('reader').maxQueuedBytes).toBeLessThan(maxWriteBuffer + 256 * 1024);
  });
});
