/**
 * The FIFO-pair transport (section 10.4) with real FIFOs: layout and modes, no regular file ever used
 * or created, the ENXIO retry, EPIPE as a disconnect, frames far above PIPE_BUF through the broker
 * between two FIFO clients, and the pair removed afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../broker/index.js';
import { ConcordClient } from '../../client/index.js';
import { NDArray } from '../../codec/index.js';
import { FifoStream } from '../fifo-stream.js';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, FifoError, createPairDir, createPairIn, openReadEnd, openWriteEnd, removePairDir } from '../fifo-fs.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-fifo-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function connected(stream: FifoStream): Promise<FifoStream> {
  return new Promise((resolve, reject) => {
    stream.once('connect', () => resolve(stream));
    stream.once('error', reject);
  });
}

function until(stream: FifoStream, event: string): Promise<void> {
  return new Promise((resolve) => stream.once(event, () => resolve()));
}

describe('FIFO files', () => {
  it('FIFO-1: a pair directory is 0700 and its two FIFOs 0600, whatever the umask', async () => {
    const previous = process.umask(0o000);
    const dir = join(scratch(), 'pair');
    try {
      await createPairDir(dir);
    } finally {
      process.umask(previous);
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of [CLIENT_TO_BROKER, BROKER_TO_CLIENT]) {
      const st = statSync(join(dir, name));
      expect(st.isFIFO()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
    }
    expect(readdirSync(dir).sort()).toEqual([BROKER_TO_CLIENT, CLIENT_TO_BROKER]);
  });

  it('FIFO-2: a missing FIFO is never created by an open, and a regular file in its place is refused untouched', async () => {
    const dir = join(scratch(), 'pair');
    mkdirSync(dir, { mode: 0o700 });
    const missing = join(dir, CLIENT_TO_BROKER);
    await expect(openWriteEnd(missing, 100)).rejects.toMatchObject({ code: 'MISSING' });
    await expect(openReadEnd(missing)).rejects.toMatchObject({ code: 'MISSING' });
    expect(existsSync(missing)).toBe(false);
    writeFileSync(missing, 'keep me', { mode: 0o600 });
    await expect(openReadEnd(missing)).rejects.toMatchObject({ code: 'NOT_FIFO' });
    await expect(openWriteEnd(missing, 100)).rejects.toBeInstanceOf(FifoError);
    expect(readFileSync(missing, 'utf8')).toBe('keep me');
  });

  it('FIFO-7: a pair directory open to group or others is refused', async () => {
    const dir = join(scratch(), 'pair');
    await createPairDir(dir);
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o755);
    const stream = FifoStream.connect(dir, 'client', { timeoutMs: 200 });
    const error = await new Promise<Error>((resolve) => stream.once('error', resolve));
    expect(error).toMatchObject({ code: 'INSECURE' });
  });

  it('FIFO-3: the writing open is retried on ENXIO until the other side opens, and times out when it never does', async () => {
    const dir = join(scratch(), 'pair');
    await createPairDir(dir);
    await expect(openWriteEnd(join(dir, CLIENT_TO_BROKER), 150)).rejects.toMatchObject({ code: 'TIMEOUT' });
    const client = FifoStream.connect(dir, 'client', { timeoutMs: 5000 });
    cleanups.push(() => void client.destroy());
    await new Promise((r) => setTimeout(r, 300)); // the client retries meanwhile
    expect(client.connecting).toBe(true);
    const broker = await connected(FifoStream.connect(dir, 'broker', { timeoutMs: 5000 }));
    cleanups.push(() => void broker.destroy());
    await connected(client);
    client.write('hello');
    const got = await new Promise<Buffer>((resolve) => broker.once('data', resolve));
    expect(got.toString()).toBe('hello');
  }, 30_000);

  it('FIFO-5, FIFO-6: a peer that goes away ends the stream (end of file, EPIPE) without killing the process', async () => {
    const dir = join(scratch(), 'pair');
    await createPairDir(dir);
    const [client, broker] = await Promise.all([connected(FifoStream.connect(dir, 'client', { timeoutMs: 5000 })), connected(FifoStream.connect(dir, 'broker', { timeoutMs: 5000 }))]);
    const closed = until(client, 'close');
    broker.destroy();
    // Writing into a FIFO whose reader is gone gets EPIPE: the stream closes, no SIGPIPE death.
    client.write(Buffer.alloc(100_000));
    await closed;
    expect(client.destroyed).toBe(true);
    await removePairDir(dir);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('broker --fifo-dir with the TypeScript client', () => {
  it('routes requests of 256 KiB (64 x PIPE_BUF) both ways between two FIFO clients, then removes each pair', async () => {
    const parent = join(scratch(), 'broker');
    const broker = new Broker({ tcp: false, fifoDir: parent, logLevel: 'error' });
    cleanups.push(() => broker.close());
    const address = await broker.listen();
    expect(address.fifoDir).toBe(parent);
    expect(statSync(parent).mode & 0o777).toBe(0o700);

    const engine = await ConcordClient.connect({ fifoDir: parent, clientId: 'engine-1', role: 'engine', encodings: ['cbor', 'json'] });
    const caller = await ConcordClient.connect({ fifoDir: parent, clientId: 'caller', encodings: ['cbor', 'json'] });
    cleanups.push(() => caller.close(), () => engine.close());
    const n = 65_536; // 256 KiB of float32 (the field's largest), 4 times the pipe's 64 KiB capacity
    engine.on('REASONING_REQUEST', (req) => {
      const values = req.encoding.data as Float32Array;
      return { engine: 'echo', spike_count: values.length, confidence: 0.5, latency_ms: 1, firing_pattern: NDArray.from('|u1', [1], [1]), activations: NDArray.from('<f4', [n], values) };
    });
    const values = Float32Array.from({ length: n }, (_, i) => i);
    const answers = await Promise.all([1, 2, 3].map(() => caller.request('REASONING_REQUEST', { encoding: NDArray.from('<f4', [n], values), context: 'big', source: 'typescript' }, { dst: 'engine-1' })));
    for (const a of answers) {
      expect(a.spike_count).toBe(n);
      const back = a.activations!.data as Float32Array;
      expect(back.length).toBe(n);
      expect(back[n - 1]).toBe(n - 1);
      expect(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(Buffer.from(values.buffer))).toBe(true);
    }
    expect(readdirSync(parent).length).toBe(2);
    await caller.close();
    await engine.close();
    for (let i = 0; i < 100 && readdirSync(parent).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(parent)).toEqual([]);
  });

  it('refuses to serve a directory open to others, and ignores a pair that is not FIFOs', async () => {
    const open = join(scratch(), 'open');
    mkdirSync(open, { mode: 0o777 });
    const { chmodSync } = await import('node:fs');
    chmodSync(open, 0o777);
    await expect(new Broker({ tcp: false, fifoDir: open, logLevel: 'error' }).listen()).rejects.toThrow(/group or others/);

    const parent = join(scratch(), 'broker');
    const warnings: string[] = [];
    const broker = new Broker({ tcp: false, fifoDir: parent, logLevel: 'warn', logSink: (line) => void warnings.push(line) });
    cleanups.push(() => broker.close());
    await broker.listen();
    const fake = join(parent, 'fake');
    mkdirSync(fake, { mode: 0o700 });
    writeFileSync(join(fake, CLIENT_TO_BROKER), '');
    writeFileSync(join(fake, BROKER_TO_CLIENT), '');
    for (let i = 0; i < 100 && !warnings.some((w) => w.includes('not a FIFO')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(warnings.some((w) => w.includes('not a FIFO'))).toBe(true);
    expect(readFileSync(join(fake, CLIENT_TO_BROKER), 'utf8')).toBe('');
    // A real pair next to it is still served.
    const client = await ConcordClient.connect({ fifoDir: parent, clientId: 'after-fake' });
    cleanups.push(() => client.close());
    expect(client.session.client_id).toBe('after-fake');
    await createPairIn(parent); // a pair no client ever opens: the broker gives up on it after its open timeout
  });
});
