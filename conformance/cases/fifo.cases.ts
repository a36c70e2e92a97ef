/**
 * FIFO pair (section transport-fifo), against a broker serving `--fifo-dir DIR` (`--target fifo:DIR`):
 * the directory's modes, pairs that are not FIFOs or not private refused and left untouched, frames far
 * above PIPE_BUF carried whole, a reader gone mid-write (EPIPE) survived, and a pair removed once its
 * connection ends, with nothing else (a foreign file in it, other pairs, files beside them). The
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

/** A client of the harness's own making on `pair`, kept open after its handshake and answering PINGs. */
interface OwnClient {
  /** The broker's answer to INIT (`INIT_ACK`), or why there is none. */
  answer: string;
  close(): void;
}

/**
 * Opens `pair` as its client (broker-to-client read first, then client-to-broker retried on ENXIO for
 * `openMs`) and sends INIT. A broker that never opens client-to-broker for reading gives no client.
 */
async function ownClient(ctx: CaseContext, pair: string, openMs: number): Promise<OwnClient> {
  let readFd: number;
  try {
    readFd = await openReadEnd(join(pair, BROKER_TO_CLIENT), false);
  } catch (e) {
    return { answer: `broker-to-client cannot be opened: ${(e as Error).message}`, close: () => undefined };
  }
  const writeFd = await writeOpenWithin(join(pair, CLIENT_TO_BROKER), openMs);
  const socket = new Socket({ fd: readFd, readable: true, writable: false });
  socket.on('error', () => undefined);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    socket.destroy();
    if (writeFd !== undefined) closeSync(writeFd);
  };
  if (writeFd === undefined) {
    close();
    return { answer: `client-to-broker was not opened for reading within ${openMs} ms`, close };
  }
  const send = (frame: Uint8Array): string | undefined => {
    if (closed) return 'closed';
    try {
      writeSync(writeFd, frame);
      return undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? (e as Error).message; // EPIPE: no reader any more
    }
  };
  const decoder = new FrameDecoder();
  const answer = new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(`nothing within ${ctx.timeoutMs} ms`), ctx.timeoutMs);
    socket.on('data', (c: Buffer) => {
      try {
        for (const body of decoder.push(c)) {
          const m = decodeMessage(body);
          if (m.header.re === 'init') { clearTimeout(timer); resolve(m.name); }
          // Heartbeats answered, so that a broker with a short heartbeat keeps the connection.
          if (m.name === ('PING' satisfies MessageName)) send(encodeMessageFrame({ type: 'PONG', header: { id: `pong-${m.header.id}`, re: m.header.id } }));
        }
      } catch (e) {
        // A frame that breaks the spec is the broker's answer, reported as such (never a fault of the harness).
        clearTimeout(timer);
        resolve(`a frame that breaks the spec: ${(e as Error).message}`);
        socket.pause();
      }
    });
    socket.on('end', () => { clearTimeout(timer); resolve('end of file on broker-to-client'); });
  });
  const failed = send(encodeMessageFrame({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(ctx.uniqueId()) }));
  if (failed !== undefined) {
    close();
    return { answer: `INIT could not be written: ${failed}`, close };
  }
  return { answer: await answer, close };
}

/** Every entry of a directory and the directory itself: type, mode, inode and (regular files) content. */
async function snapshot(dir: string): Promise<string> {
  const describe = async (path: string): Promise<string> => {
    const st = await fsp.lstat(path).catch(() => undefined);
    if (!st) return 'absent';
    const type = st.isFIFO() ? 'fifo' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    // A broker may remove the file between the two calls: that shows as a change, never as a fault of the case.
    const content = st.isFile() ? ` ${JSON.stringify((await fsp.readFile(path, 'utf8').catch(() => '(removed while read)')).slice(0, 80))}` : '';
    return `${type} ${(st.mode & 0o777).toString(8)} ino ${st.ino} uid ${st.uid}${content}`;
  };
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const parts = [`. ${await describe(dir)}`];
  for (const n of names.sort()) parts.push(`${n} ${await describe(join(dir, n))}`);
  return parts.join('; ');
}

/** Polls until `done` holds or `ms` pass; whether it held. */
async function within(ms: number, done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const gone = async (path: string): Promise<boolean> => (await fsp.lstat(path).catch(() => undefined)) === undefined;

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
        if (writeFd === undefined) throw new CaseFailure('the broker did not open its reading FIFO (client-to-broker), or not for long, while the harness had not opened broker-to-client: it opens its writing FIFO first, blocks, or gives the pair up on ENXIO instead of retrying', 'client-to-broker open for reading', 'ENXIO');
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
  defineCase({
    id: 'transport-fifo/pair-removal-removes-nothing-else',
    statements: ['FIFO-8'],
    async run(ctx) {
      // Two pairs of the harness's own, A and B, both served; a file of someone else's put in A while it is
      // served, a file beside the pairs and a client's staging directory still being filled. Once A's
      // connection ends, its two FIFOs go and everything else stays: the foreign file (and so A's
      // directory), B while it is served, the file and the staging directory.
      const parent = brokerDir(ctx);
      const tag = randomBytes(4).toString('hex');
      const note = join(parent, `note-${tag}`);
      const staging = join(parent, `.staging-${tag}`);
      const pairs: string[] = [];
      const clients: OwnClient[] = [];
      // What must stay, as it was when made: [what, state then, state now].
      const kept: [string, string, () => Promise<string>][] = [];
      const problems: string[] = [];
      const keep = async (what: string, get: () => Promise<string>): Promise<void> => {
        const now = await get();
        // Gone the moment it was made: another connection's end (the harness's probe, say) took it.
        if (now.startsWith('. absent')) problems.push(`${what} was removed as soon as it was made`);
        else kept.push([what, now, get]);
      };
      try {
        await fsp.writeFile(note, 'not a pair\n', { mode: 0o600 });
        await keep(`the file ${note} beside the pairs`, () => snapshot(note));
        await fsp.mkdir(staging, { mode: 0o700 });
        await mkfifo([join(staging, CLIENT_TO_BROKER)]);
        await keep(`the staging directory ${staging}`, () => snapshot(staging));
        for (const name of ['A', 'B']) {
          const pair = await createPairIn(parent);
          pairs.push(pair);
          const client = await ownClient(ctx, pair, NOTICE_MS + ctx.timeoutMs);
          clients.push(client);
          if (client.answer !== ('INIT_ACK' satisfies MessageName)) throw new CaseFailure(`the broker did not serve the new pair ${name} (${pair})`, 'INIT_ACK', client.answer);
        }
        const [a, b] = pairs as [string, string];
        const foreign = join(a, 'foreign');
        await fsp.writeFile(foreign, 'not the broker\'s\n', { mode: 0o600 });
        await keep(`the other client's pair ${b}, still served`, () => snapshot(b));
        await keep(`the file ${foreign} in the ended pair`, () => snapshot(foreign));
        clients[0]!.close(); // A's connection ends
        await within(ctx.timeoutMs, async () => (await gone(join(a, CLIENT_TO_BROKER))) && (await gone(join(a, BROKER_TO_CLIENT))));
        await new Promise((r) => setTimeout(r, 250));
        if (await gone(parent)) problems.push(`the parent directory ${parent} was removed`);
        for (const [what, before, get] of kept) {
          const after = await get();
          if (after !== before) problems.push(`${what} was ${after.includes('absent') ? 'removed' : 'changed'} (${before} -> ${after})`);
        }
        if (problems.length) throw new CaseFailure(`once a connection ended (that of ${a}), the broker removed or changed more than the ended pair's two FIFOs and its directory: ${problems.join('; ')}`, 'only the two FIFOs (and the directory once empty) removed', problems[0]);
      } finally {
        for (const c of clients) c.close();
        for (const pair of pairs) {
          await fsp.rm(join(pair, 'foreign'), { force: true });
          await removePairDir(pair).catch(() => undefined);
        }
        await fsp.rm(note, { force: true });
        await fsp.rm(staging, { recursive: true, force: true });
      }
    },
  }),
  defineCase({
    id: 'transport-fifo/refused-pair-left-untouched',
    statements: ['FIFO-8'],
    async run(ctx) {
      // Pairs a broker must refuse: one FIFO missing, one a regular file, the directory or a FIFO open to
      // group or others. Each is left as it was put there: no entry removed, replaced or re-moded.
      const parent = brokerDir(ctx);
      const variants: [string, (d: string) => Promise<void>][] = [
        ['broker-to-client missing', (d) => mkfifo([join(d, CLIENT_TO_BROKER)])],
        ['broker-to-client a regular file', async (d) => { await mkfifo([join(d, CLIENT_TO_BROKER)]); await fsp.writeFile(join(d, BROKER_TO_CLIENT), 'not a fifo\n', { mode: 0o600 }); }],
        ['the directory of mode 0750', async (d) => { await mkfifo([join(d, CLIENT_TO_BROKER), join(d, BROKER_TO_CLIENT)]); await fsp.chmod(d, 0o750); }],
        ['client-to-broker of mode 0640', async (d) => { await mkfifo([join(d, CLIENT_TO_BROKER), join(d, BROKER_TO_CLIENT)]); await fsp.chmod(join(d, CLIENT_TO_BROKER), 0o640); }],
      ];
      const placed: [string, string, string][] = [];
      try {
        for (const [what, fill] of variants) {
          let before = '';
          const dir = await placeDir(parent, async (d) => { await fill(d); before = await snapshot(d); });
          placed.push([what, dir, before]);
        }
        await new Promise((r) => setTimeout(r, 2 * NOTICE_MS));
        const problems: string[] = [];
        for (const [what, dir, before] of placed) {
          const after = await snapshot(dir);
          if (after !== before) problems.push(`the pair with ${what} (${before} -> ${after})`);
        }
        if (problems.length) throw new CaseFailure(`the broker did not leave a pair it must refuse as it was: ${problems.join('; ')}`, 'refused pairs untouched', problems[0]);
        await ctx.session(); // and a real pair beside them is still served
      } finally {
        for (const [, dir] of placed) await fsp.rm(dir, { recursive: true, force: true });
      }
    },
  }),
  defineCase({
    id: 'transport-fifo/insecure-pair-refused',
    statements: ['FIFO-7'],
    async run(ctx) {
      // Complete pairs but for their permissions: the directory, or one FIFO, readable or searchable by
      // group or others (no write bit anywhere), or as root a directory of another user's. None is served:
      // an INIT written into one gets no INIT_ACK.
      const parent = brokerDir(ctx);
      const both = (d: string): Promise<void> => mkfifo([join(d, CLIENT_TO_BROKER), join(d, BROKER_TO_CLIENT)]);
      const variants: [string, (d: string) => Promise<void>][] = [
        ['the directory of mode 0750', async (d) => { await both(d); await fsp.chmod(d, 0o750); }],
        ['the directory of mode 0701', async (d) => { await both(d); await fsp.chmod(d, 0o701); }],
        ['client-to-broker of mode 0640', async (d) => { await both(d); await fsp.chmod(join(d, CLIENT_TO_BROKER), 0o640); }],
        ['broker-to-client of mode 0604', async (d) => { await both(d); await fsp.chmod(join(d, BROKER_TO_CLIENT), 0o604); }],
      ];
      if (process.getuid?.() === 0) variants.push(['the directory owned by uid 65534', async (d) => { await both(d); await fsp.chown(d, 65534, 65534); }]);
      const placed: string[] = [];
      try {
        const served = await Promise.all(variants.map(async ([what, fill]) => {
          const dir = await placeDir(parent, fill);
          placed.push(dir);
          const client = await ownClient(ctx, dir, 2 * NOTICE_MS);
          client.close();
          return client.answer === ('INIT_ACK' satisfies MessageName) ? what : undefined;
        }));
        const problems = served.filter((w): w is string => w !== undefined);
        if (problems.length) throw new CaseFailure(`the broker served a pair that grants access to group or others or is not its user's: ${problems.join('; ')}`, 'no INIT_ACK', `INIT_ACK over ${problems[0]}`);
      } finally {
        for (const dir of placed) await fsp.rm(dir, { recursive: true, force: true });
      }
    },
  }),
  defineCase({
    id: 'transport-fifo/regular-write-end-never-used',
    statements: ['FIFO-2'],
    async run(ctx) {
      // client-to-broker a FIFO, broker-to-client a regular file: a broker that checks only its reading end
      // opens the file as its writing end and writes its INIT_ACK into it. The file stays as it was.
      const parent = brokerDir(ctx);
      const dir = await placeDir(parent, async (d) => {
        await mkfifo([join(d, CLIENT_TO_BROKER)]);
        await fsp.writeFile(join(d, BROKER_TO_CLIENT), 'not a fifo\n', { mode: 0o600 });
      });
      let writeFd: number | undefined;
      try {
        writeFd = await writeOpenWithin(join(dir, CLIENT_TO_BROKER), 2 * NOTICE_MS);
        if (writeFd !== undefined) {
          try {
            writeSync(writeFd, encodeMessageFrame({ type: 'INIT', header: { id: 'init' }, payload: ctx.initPayload(ctx.uniqueId()) }));
          } catch {
            // EPIPE: the broker let client-to-broker go, as it should
          }
        }
        await new Promise((r) => setTimeout(r, 2 * NOTICE_MS));
        const st = await fsp.lstat(join(dir, BROKER_TO_CLIENT)).catch(() => undefined);
        const text = st?.isFile() ? await fsp.readFile(join(dir, BROKER_TO_CLIENT)) : undefined;
        if (text === undefined || text.toString('latin1') !== 'not a fifo\n') {
          const actual = !st ? '(gone)' : text === undefined ? (st.isFIFO() ? 'a FIFO' : 'not a regular file') : JSON.stringify(text.toString('latin1').slice(0, 80));
          throw new CaseFailure(`the broker used or replaced the regular file ${BROKER_TO_CLIENT} as its writing end (client-to-broker being a FIFO)`, 'the file untouched', actual);
        }
        await ctx.session(); // and a real pair beside it is still served
      } finally {
        if (writeFd !== undefined) closeSync(writeFd);
        await fsp.rm(dir, { recursive: true, force: true });
      }
    },
  }),
];
