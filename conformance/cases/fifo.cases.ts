/**
 * FIFO pair (section transport-fifo), against a broker serving `--fifo-dir DIR` (`--target fifo:DIR`):
 * the directory's modes, pairs that are not FIFOs left untouched, frames far above PIPE_BUF carried
 * whole, a reader gone mid-write (EPIPE) survived, and a pair removed once its connection ends. The
 * `fifo` suite runs these and then the whole core suite over FIFO pairs.
 */
import { promises as fsp, constants, openSync, closeSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NDArray } from '../../reference/codec/ndarray.js';
import { decodeMessage, encodeMessageFrame } from '../../reference/codec/message.js';
import { FrameDecoder } from '../../reference/codec/frame.js';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, createPairIn, mkfifo, openReadEnd, removePairDir } from '../../reference/transport/fifo-fs.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext } from './context.js';
import { fifoDirOf } from '../wire/peer-target.js';
import type { MessageName } from '../../spec/generated/catalog.js';

/** How long a broker gets to notice a new pair directory (an inotify event, a directory read). */
const NOTICE_MS = 500;

/** A delay of `ms`, cut to a third of the broker's handshake_timeout_ms so that LIM-10 never ends the pair first. */
const lateMs = (ctx: CaseContext, ms: number): number => Math.min(ms, Math.floor(ctx.limits.handshake_timeout_ms / 3));

function brokerDir(ctx: CaseContext): string {
  const fifo = fifoDirOf(ctx.options.target);
  if (fifo === undefined) throw new CaseSkipped('needs a broker over FIFO pairs (--target fifo:DIR)');
  return fifo;
}

/** Puts a directory of our making into the broker's directory, complete, by rename. */
async function placeDir(parent: string, fill: (dir: string) => Promise<void>): Promise<string> {
  const staging = join(parent, `.case-${randomBytes(4).toString('hex')}`);
  await fsp.mkdir(staging, { mode: 0o700 });
  await fill(staging);
  const final = join(parent, `case-${randomBytes(4).toString('hex')}`);
  await fsp.rename(staging, final);
  return final;
}

async function listPairs(parent: string): Promise<string[]> {
  return (await fsp.readdir(parent)).filter((n) => !n.startsWith('.'));
}

/** Polls a non-blocking write open of `path` until it succeeds (a reader is there) or `ms` pass; ENXIO means no reader yet. */
async function writeOpenWithin(path: string, ms: number): Promise<number | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() >= deadline) return undefined;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** INIT over the harness's own ends of a pair (write fd, read path opened now); resolves with the broker's answer or a reason. */
async function handshakeOver(ctx: CaseContext, pair: string, writeFd: number): Promise<string> {
  let readFd: number;
  try {
    readFd = await openReadEnd(join(pair, BROKER_TO_CLIENT), false);
  } catch (e) {
    return `broker-to-client cannot be opened: ${(e as Error).message}`; // the broker gave the pair up
  }
  const socket = new Socket({ fd: readFd, readable: true, writable: false });
  const decoder = new FrameDecoder();
  try {
    const answer = new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve(`nothing within ${ctx.timeoutMs} ms`), ctx.timeoutMs);
      socket.on('data', (c: Buffer) => {
        for (const body of decoder.push(c)) {
          const m = decodeMessage(body);
          if (m.header.re === 'init') { clearTimeout(timer); resolve(m.name); }
        }
      });
      socket.on('end', () => { clearTimeout(timer); resolve('end of file on broker-to-client'); });
    });
    try {
      writeSync(writeFd, encodeMessageFrame({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(ctx.uniqueId()) }));
    } catch (e) {
      return `INIT could not be written: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`; // EPIPE: no reader any more
    }
    return await answer;
  } finally {
    socket.destroy();
  }
}

const big = (n: number, seed: number): NDArray => NDArray.from('<f4', [n], Float32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 1000));

export const fifoCases: Case[] = [
  defineCase({
    id: 'transport-fifo/broker-dir-private',
    statements: ['FIFO-7', 'FIFO-1'],
    async run(ctx) {
      const parent = brokerDir(ctx);
      const st = await fsp.stat(parent);
      if ((st.mode & 0o077) !== 0) throw new CaseFailure(`${parent} grants access to group or others`, 'mode 0700', `mode ${(st.mode & 0o777).toString(8)}`);
      if (st.uid !== process.getuid?.()) throw new CaseFailure(`${parent} is not owned by the harness's user`, `uid ${process.getuid?.()}`, `uid ${st.uid}`);
      await ctx.session();
    },
  }),
  defineCase({
    id: 'transport-fifo/regular-files-never-used',
    statements: ['FIFO-2'],
    async run(ctx) {
      const parent = brokerDir(ctx);
      const dir = await placeDir(parent, async (d) => {
        await fsp.writeFile(join(d, CLIENT_TO_BROKER), 'not a fifo\n', { mode: 0o600 });
        await fsp.writeFile(join(d, BROKER_TO_CLIENT), 'not a fifo\n', { mode: 0o600 });
      });
      try {
        await new Promise((r) => setTimeout(r, NOTICE_MS));
        for (const name of [CLIENT_TO_BROKER, BROKER_TO_CLIENT]) {
          const text = await fsp.readFile(join(dir, name), 'utf8').catch(() => '(gone)');
          if (text !== 'not a fifo\n') throw new CaseFailure(`the broker used or replaced the regular file ${name}`, 'the file untouched', JSON.stringify(text.slice(0, 80)));
        }
        await ctx.session(); // and a real pair beside it is still served
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    },
  }),
  defineCase({
    id: 'transport-fifo/missing-fifo-never-created',
    statements: ['FIFO-2'],
    async run(ctx) {
      const parent = brokerDir(ctx);
      const dir = await placeDir(parent, (d) => mkfifo([join(d, CLIENT_TO_BROKER)]));
      try {
        // Hold the broker's writing end open a while, as a client would: a broker that opened
        // broker-to-client with O_CREAT now has a regular file there.
        const fd = await fsp.open(join(dir, CLIENT_TO_BROKER), constants.O_RDWR | constants.O_NONBLOCK);
        await new Promise((r) => setTimeout(r, NOTICE_MS));
        await fd.close();
        const st = await fsp.lstat(join(dir, BROKER_TO_CLIENT)).catch(() => undefined);
        if (st) throw new CaseFailure(`the broker created ${BROKER_TO_CLIENT} where it was missing (${st.isFIFO() ? 'a FIFO' : 'a regular file'})`, 'no file', st.isFIFO() ? 'FIFO' : 'regular file');
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    },
  }),
  defineCase({
    id: 'transport-fifo/large-frames-whole',
    statements: ['FIFO-4'],
    async run(ctx) {
      brokerDir(ctx);
      const a = await ctx.session('A', { encodings: ['cbor', 'json'] });
      const b = await ctx.session('B', { encodings: ['cbor', 'json'] });
      const n = 65_536; // 256 KiB of float32: 64 x PIPE_BUF, 4 x the default pipe capacity
      const ids = ['big-1', 'big-2', 'big-3'];
      ids.forEach((id, i) => a.conn.send({ type: 'REASONING_REQUEST', encoding: 'cbor', header: { id, dst: b.clientId }, payload: { encoding: big(n, i), context: id, source: 'harness' } }));
      for (const [i, id] of ids.entries()) {
        const m = await ctx.expectMessage(b.conn, `REASONING_REQUEST ${id} whole`, (x) => x.name === 'REASONING_REQUEST' && (x.payload as { context: string }).context === id);
        const got = (m.payload as { encoding: NDArray }).encoding.data as Float32Array;
        const want = big(n, i).data as Float32Array;
        if (got.length !== n || !Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer))) {
          throw new CaseFailure(`the 256 KiB array of ${id} arrived altered`, `${n} values`, `${got.length} values`);
        }
        b.conn.send({ type: 'REASONING_RESPONSE', encoding: 'cbor', header: { id: `ans-${id}`, re: m.header.id }, payload: {
          spike_count: i, confidence: 0.5, firing_pattern: NDArray.from('|u1', [1], [1]), activations: big(n, i + 10), engine: 'harness', latency_ms: 0,
        } });
      }
      for (const [i, id] of ids.entries()) {
        const m = await ctx.expectMessage(a.conn, `REASONING_RESPONSE to ${id}`, (x) => x.name === 'REASONING_RESPONSE' && x.header.re === id);
        const got = (m.payload as { activations: NDArray }).activations.data as Float32Array;
        const want = big(n, i + 10).data as Float32Array;
        if (!Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer))) throw new CaseFailure(`the answer to ${id} arrived altered`);
      }
    },
  }),
  defineCase({
    id: 'transport-fifo/reader-gone-mid-write',
    statements: ['FIFO-5'],
    async run(ctx) {
      brokerDir(ctx);
      const a = await ctx.session('A');
      const b = await ctx.session('B');
      // 2,000 PINGs whose PONGs (about 60 KiB) the broker is still writing when B's FIFOs close: EPIPE.
      b.conn.sendRaw(Buffer.concat(Array.from({ length: 2000 }, (_, i) => encodeMessageFrame({ type: 'PING', header: { id: `p${i}` } }))), '2,000 PINGs');
      b.conn.destroy();
      await new Promise((r) => setTimeout(r, 200));
      await ctx.expectOpen(a.conn, 'the broker still serving A after B vanished mid-write');
      await ctx.session('C');
    },
  }),
  defineCase({
    id: 'transport-fifo/pair-removed-after-close',
    statements: ['FIFO-8'],
    async run(ctx) {
      const parent = brokerDir(ctx);
      const before = new Set(await listPairs(parent));
      const s = await ctx.session();
      const mine = (await listPairs(parent)).filter((n) => !before.has(n));
      if (mine.length !== 1) throw new CaseSkipped(`cannot tell this session's pair apart (${mine.length} new entries)`);
      s.conn.send({ type: 'SHUTDOWN', header: { id: 'bye' }, payload: { drain_ms: 1000 } });
      await ctx.expectMessage(s.conn, 'SHUTDOWN_ACK', (m) => m.name === 'SHUTDOWN_ACK');
      s.conn.end();
      const deadline = Date.now() + ctx.timeoutMs;
      while (Date.now() < deadline) {
        if (!(await listPairs(parent)).includes(mine[0]!)) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new CaseFailure(`the pair ${mine[0]} is still in ${parent} after its connection ended`, 'removed', 'present');
    },
  }),
  defineCase({
    id: 'transport-fifo/open-order-non-blocking',
    statements: ['FIFO-3'],
    async run(ctx) {
      // The harness opens nothing of a new pair: the broker must open its reading FIFO (client-to-broker)
      // at once, serve others meanwhile, and keep retrying its writing open until the harness reads, 1 s late.
      const parent = brokerDir(ctx);
      const pair = await createPairIn(parent);
      let writeFd: number | undefined;
      try {
        writeFd = await writeOpenWithin(join(pair, CLIENT_TO_BROKER), NOTICE_MS + ctx.timeoutMs);
        if (writeFd === undefined) throw new CaseFailure('the broker did not open its reading FIFO (client-to-broker) while the harness had not opened broker-to-client: it opens its writing FIFO first, or blocks', 'client-to-broker open for reading', 'ENXIO');
        await ctx.session(); // a pair waiting for its reader blocks nothing else
        // Late, but well inside the broker's handshake timeout (LIM-10), which would otherwise close the pair.
        await new Promise((r) => setTimeout(r, lateMs(ctx, 1000)));
        const answer = await handshakeOver(ctx, pair, writeFd);
        if (answer !== ('INIT_ACK' satisfies MessageName)) throw new CaseFailure('with the harness reading broker-to-client 1 s late, the broker did not complete the handshake (its writing open must be retried on ENXIO until its connect timeout)', 'INIT_ACK', answer);
      } finally {
        if (writeFd !== undefined) closeSync(writeFd);
        await removePairDir(pair).catch(() => undefined);
      }
    },
  }),
  defineCase({
    id: 'transport-fifo/eof-before-writer-not-disconnect',
    statements: ['FIFO-6'],
    async run(ctx) {
      // The harness reads broker-to-client but writes nothing for 1.5 s: the broker's read end sees end of
      // file with no writer yet, which is no disconnect; the harness's late INIT must still be answered.
      const parent = brokerDir(ctx);
      const pair = await createPairIn(parent);
      const readFd = await openReadEnd(join(pair, BROKER_TO_CLIENT), false);
      let writeFd: number | undefined;
      try {
        await new Promise((r) => setTimeout(r, lateMs(ctx, 3 * NOTICE_MS)));
        writeFd = await writeOpenWithin(join(pair, CLIENT_TO_BROKER), ctx.timeoutMs);
        if (writeFd === undefined) throw new CaseFailure('after end of file on client-to-broker before any writer, the broker gave up the pair', 'client-to-broker still read', (await fsp.stat(pair).catch(() => undefined)) ? 'no reader (ENXIO)' : 'the pair was removed');
        const answer = await handshakeOver(ctx, pair, writeFd);
        if (answer !== ('INIT_ACK' satisfies MessageName)) throw new CaseFailure('a writer coming after end of file was not served', 'INIT_ACK', answer);
      } finally {
        closeSync(readFd);
        if (writeFd !== undefined) closeSync(writeFd);
        await removePairDir(pair).catch(() => undefined);
      }
    },
  }),
];
