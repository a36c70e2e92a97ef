/**
 * A deliberately broken FIFO broker for the fifo suite's own tests: the reference broker on TCP behind a
 * front end serving `--fifo-dir`-style pair directories. Without a defect that matters to a case it
 * serves pairs as section 10.4 asks (private pairs only, FIFOs only, a refused pair left as found, a
 * served pair's two FIFOs and directory removed once its connection ends); each defect breaks one thing.
 *   write-first          opens its writing FIFO (broker-to-client) first, waiting for a reader, then its reading one (FIFO-3)
 *   no-retry             opens its reading FIFO, then tries its writing FIFO once and gives the pair up on ENXIO (FIFO-3)
 *   eof-disconnect       treats end of file on its reading FIFO as a disconnect even before any writer came (FIFO-6)
 *   rm-recursive         removes an ended pair's directory with everything in it, foreign files too (FIFO-8)
 *   all-pairs            on a connection's end removes the FIFOs and directories of every pair in the parent, served ones too (FIFO-8)
 *   stray-files          on a connection's end removes every file of the parent that is not a directory, as stray (FIFO-8)
 *   remove-refused       removes the FIFOs and directory of a pair it refused (FIFO-8)
 *   lax-modes            refuses a pair directory or FIFO only when group or others may write it, and checks no owner (FIFO-7)
 *   unchecked-write-end  checks its writing FIFO's owner and mode but not that it is a FIFO, writing to a regular file there (FIFO-2)
 */
import { closeSync, createWriteStream, fstatSync, openSync, constants, readdirSync, readSync, promises as fsp, type Stats } from 'node:fs';
import { connect, Socket } from 'node:net';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { Broker } from '../../reference/broker/index.js';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, checkPrivate, ensurePrivateDir, openReadEnd, openWriteEnd, removePairDir } from '../../reference/transport/fifo-fs.js';

export type FifoDefect = 'write-first' | 'no-retry' | 'eof-disconnect' | 'rm-recursive' | 'all-pairs' | 'stray-files' | 'remove-refused' | 'lax-modes' | 'unchecked-write-end';

const OPEN_TIMEOUT_MS = 60_000;

export async function startBrokenFifoBroker(parent: string, defect: FifoDefect): Promise<{ close(): Promise<void> }> {
  await ensurePrivateDir(parent);
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
  const { port } = await broker.listen();
  const seen = new Set<string>();
  const sockets: { destroy(): void }[] = [];
  // FIFO-7, or with lax-modes only the write bits for group and others.
  const privateOrRefused = (path: string, st: Stats): void => {
    if (defect !== 'lax-modes') checkPrivate(path, st);
    else if ((st.mode & 0o022) !== 0) throw new Error(`${path}: writable by group or others`);
  };
  const checked = (fd: number, path: string): number => {
    try {
      const st = fstatSync(fd);
      if (!st.isFIFO()) throw new Error(`${path}: not a FIFO`);
      privateOrRefused(path, st);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return fd;
  };
  /** The defect unchecked-write-end: a non-blocking open retried on ENXIO, never asking whether it is a FIFO. */
  const openUnchecked = async (path: string): Promise<number> => {
    const deadline = Date.now() + OPEN_TIMEOUT_MS;
    for (;;) {
      try {
        return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() >= deadline) throw e;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** Removal once a served pair's connection has ended. */
  const removeServed = async (pair: string): Promise<void> => {
    if (defect === 'rm-recursive') return fsp.rm(pair, { recursive: true, force: true });
    if (defect === 'stray-files') {
      for (const name of await fsp.readdir(parent).catch(() => [] as string[])) {
        const path = join(parent, name);
        if (!(await fsp.lstat(path).catch(() => undefined))?.isDirectory()) await fsp.rm(path, { force: true });
      }
    }
    if (defect === 'all-pairs') {
      for (const name of await fsp.readdir(parent).catch(() => [] as string[])) {
        if (!name.startsWith('.') && join(parent, name) !== pair) await removePairDir(join(parent, name));
      }
    }
    return removePairDir(pair);
  };
  const serve = async (pair: string): Promise<void> => {
    const c2b = join(pair, CLIENT_TO_BROKER);
    const b2c = join(pair, BROKER_TO_CLIENT);
    const opened: number[] = [];
    let readFd: number;
    let writeFd: number;
    try {
      const st = await fsp.lstat(pair);
      if (!st.isDirectory()) throw new Error(`${pair}: not a directory`);
      privateOrRefused(pair, st);
      if (defect === 'write-first') {
        writeFd = checked(await openWriteEnd(b2c, OPEN_TIMEOUT_MS, false), b2c);
        opened.push(writeFd);
        readFd = checked(await openReadEnd(c2b, false), c2b);
        opened.push(readFd);
      } else {
        readFd = checked(await openReadEnd(c2b, false), c2b);
        opened.push(readFd);
        if (defect === 'no-retry') writeFd = checked(openSync(b2c, constants.O_WRONLY | constants.O_NONBLOCK), b2c);
        else if (defect === 'unchecked-write-end') {
          writeFd = await openUnchecked(b2c);
          opened.push(writeFd);
          privateOrRefused(b2c, fstatSync(writeFd)); // its owner and mode, never its type
        }
        else writeFd = checked(await openWriteEnd(b2c, OPEN_TIMEOUT_MS, false), b2c);
        if (!opened.includes(writeFd)) opened.push(writeFd);
      }
    } catch {
      // Refused: left as found, unless the defect is to remove it.
      for (const fd of opened) closeSync(fd);
      if (defect === 'remove-refused') await removePairDir(pair);
      return;
    }
    let early = Buffer.alloc(0);
    if (defect === 'eof-disconnect') {
      // A read 300 ms in (an ordinary client has its writer open by then): with no writer yet it returns 0,
      // end of file, taken here for a disconnect.
      await new Promise((r) => setTimeout(r, 300));
      const buf = Buffer.alloc(65536);
      let n = -1;
      try { n = readSync(readFd, buf); } catch { /* EAGAIN: a writer is there, nothing written yet */ }
      if (n > 0) early = buf.subarray(0, n);
      if (n === 0) {
        closeSync(readFd);
        closeSync(writeFd);
        await removeServed(pair);
        return;
      }
    }
    const input = new Socket({ fd: readFd, readable: true, writable: false });
    // Only unchecked-write-end ever holds something other than a FIFO here (net.Socket refuses a file).
    const output: Writable & { destroy(): void } = fstatSync(writeFd).isFIFO() ? new Socket({ fd: writeFd, readable: false, writable: true }) : createWriteStream('', { fd: writeFd });
    const tcp = connect({ host: '127.0.0.1', port: port! });
    sockets.push(input, output, tcp);
    let wrote = early.length > 0;
    if (wrote) tcp.write(early);
    input.on('data', (c: Buffer) => { wrote = true; tcp.write(c); });
    tcp.on('data', (c: Buffer) => output.write(c));
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      input.destroy(); output.destroy(); tcp.destroy();
      void removeServed(pair).catch(() => undefined);
    };
    input.on('end', () => { if (wrote) end(); });
    tcp.on('close', end);
    output.on('error', end);
  };
  const timer = setInterval(() => {
    let names: string[];
    try {
      names = readdirSync(parent);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.') || seen.has(name)) continue;
      seen.add(name);
      void serve(join(parent, name)).catch(() => undefined);
    }
  }, 50);
  return {
    async close() {
      clearInterval(timer);
      for (const s of sockets) s.destroy();
      await broker.close();
    },
  };
}
