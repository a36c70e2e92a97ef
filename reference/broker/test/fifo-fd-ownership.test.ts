/**
 * `concord broker --fifo-dir` as a process, over many FIFO pairs opened and closed one after the other:
 * the broker thread opens each FIFO with fs.open() and hands the descriptor to a libuv pipe handle
 * (net.Socket), which closes it. Node's tracking of fs.open() descriptors in a worker thread must not
 * count those as still open: when the number came back for the next pair it warned "File descriptor N
 * opened in unmanaged mode twice", and at the thread's exit it would close every such number, by then
 * possibly another file of the process. Pairs end every way a served pair ends: closed by the client with
 * BYE, without it, in the middle of a frame, and by the broker (a frame above its limit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConcordClient } from '../../client/index.js';
import { FifoStream } from '../../transport/fifo-stream.js';
import { createPairIn } from '../../transport/fifo-fs.js';
import { tsProgram } from '../../test/programs.js';
import { encodeEnvelope, encodeFrame, messageByName, PROTOCOL_VERSION } from '../../codec/index.js';

/** A hang guard, not a measurement: start-up through tsx takes a few seconds on a loaded machine. */
const WITHIN_MS = 30_000;
/** Rounds of the four ways a pair ends; the warning came from the second pair on. */
const ROUNDS = 6;

const scratch = mkdtempSync(join(tmpdir(), 'concord-fifo-fds-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  /** Everything the process wrote on stderr: its JSON log lines and any warning of Node's. */
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `concord broker --fifo-dir DIR` (the broker in its worker thread) and resolves once it listens. */
function startBroker(dir: string): Promise<Started> {
  const [node, ...args] = tsProgram('reference/cli.ts', 'broker', '--fifo-dir', dir, '--log-level', 'info');
  const env = { ...process.env };
  delete env['CONCORD_BROKER_MAIN_THREAD'];
  const child = spawn(node!, ['--trace-warnings', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no listening record within ${WITHIN_MS} ms; stderr:\n${text}`));
    }, WITHIN_MS);
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (/"msg":"listening"/.test(text)) {
        clearTimeout(timer);
        resolve({ child, stderr: () => text, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the broker exited (${code}) before listening; stderr:\n${text}`));
    });
  });
}

/** Waits until the broker has removed every pair it served (it removes one once its connection closed). */
async function pairsRemoved(dir: string): Promise<void> {
  const deadline = Date.now() + WITHIN_MS;
  while (readdirSync(dir).length > 0) {
    if (Date.now() > deadline) throw new Error(`pairs still in ${dir} after ${WITHIN_MS} ms: ${readdirSync(dir).join(', ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A raw client end of a new pair in `dir` after its INIT has been answered: the broker has both ends of
 * the pair open then (a client that leaves before the broker opened its writing end leaves a refused pair,
 * which is another story: FIFO-3's open timeout).
 */
async function rawPair(dir: string, clientId: string): Promise<FifoStream> {
  const stream = FifoStream.connect(await createPairIn(dir), 'client', { timeoutMs: WITHIN_MS });
  stream.on('error', () => undefined); // EPIPE once the broker is gone is a disconnect, nothing more
  const init = { client_id: clientId, language: 'typescript', role: 'client', protocol_version: PROTOCOL_VERSION, encodings: ['json'], max_frame: 1 << 20 };
  stream.write(encodeFrame(encodeEnvelope(messageByName('INIT').code, 'json', { id: 'i1' }, Buffer.from(JSON.stringify(init)))));
  await new Promise<void>((resolve, reject) => {
    stream.once('data', () => resolve());
    stream.once('close', () => reject(new Error(`the pair of ${clientId} closed before the broker answered its INIT`)));
  });
  return stream;
}

function closed(stream: FifoStream): Promise<void> {
  return new Promise((resolve) => (stream.closed ? resolve() : stream.once('close', () => resolve())));
}

/** 4-byte big-endian length prefix, then `body` bytes of it (fewer than announced: a frame cut short). */
function prefix(length: number, body = 0): Buffer {
  const b = Buffer.alloc(4 + body);
  b.writeUInt32BE(length, 0);
  return b;
}

describe('concord broker --fifo-dir, pair after pair', () => {
  it('leaves no FIFO descriptor to Node\'s fs.open() tracking: no "unmanaged" warning when numbers come back', async () => {
    const dir = join(scratch, 'pairs');
    const broker = await startBroker(dir);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        // Closed by the client after the handshake, with BYE.
        const client = await ConcordClient.connect({ fifoDir: dir, clientId: `fd-${round}` });
        expect(client.session.client_id).toBe(`fd-${round}`);
        await client.close();
        await pairsRemoved(dir);

        // Closed by the client after the handshake, without BYE.
        (await rawPair(dir, `raw-${round}`)).destroy();
        await pairsRemoved(dir);

        // Closed by the client in the middle of a frame (10 of the 64 bytes it announced).
        const cut = await rawPair(dir, `cut-${round}`);
        await new Promise<void>((resolve) => cut.write(prefix(64, 10), () => resolve()));
        cut.destroy();
        await pairsRemoved(dir);

        // Closed by the broker: a frame announced far above its limit.
        const big = await rawPair(dir, `big-${round}`);
        big.resume();
        const bigClosed = closed(big);
        big.write(prefix(0xffff_fff0));
        await bigClosed;
        await pairsRemoved(dir);
      }
      broker.child.kill('SIGTERM');
      const guard = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), WITHIN_MS).unref());
      expect(await Promise.race([broker.exited, guard])).toBe(0);
    } finally {
      if (broker.child.exitCode === null && broker.child.signalCode === null) broker.child.kill('SIGKILL');
    }
    const warnings = broker.stderr().split('\n').filter((l) => /unmanaged|file descriptor/i.test(l));
    expect(warnings).toEqual([]);
    // The broker ran in its worker thread (the command's default), where Node tracks fs.open() descriptors.
    expect(broker.stderr()).toMatch(/"msg":"broker thread"/);
    expect(broker.stderr()).toMatch(/"msg":"shutting down"/);
  }, 4 * WITHIN_MS);
});
