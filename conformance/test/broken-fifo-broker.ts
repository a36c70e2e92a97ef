/**
 * A deliberately broken FIFO broker for the fifo suite's own tests: the reference broker on TCP behind a
 * front end serving `--fifo-dir`-style pair directories that opens them wrongly.
 *   write-first     opens its writing FIFO (broker-to-client) first, waiting for a reader, then its reading one (FIFO-3)
 *   no-retry        opens its reading FIFO, then tries its writing FIFO once and gives the pair up on ENXIO (FIFO-3)
 *   eof-disconnect  treats end of file on its reading FIFO as a disconnect even before any writer came (FIFO-6)
 */
import { closeSync, openSync, constants, readdirSync, readSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, ensurePrivateDir, openReadEnd, openWriteEnd, removePairDir } from '../../reference/transport/fifo-fs.js';

export type FifoDefect = 'write-first' | 'no-retry' | 'eof-disconnect';

export async function startBrokenFifoBroker(parent: string, defect: FifoDefect): Promise<{ close(): Promise<void> }> {
  await ensurePrivateDir(parent);
  const broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
  const { port } = await broker.listen();
  const seen = new Set<string>();
  const sockets: Socket[] = [];
  const serve = async (pair: string): Promise<void> => {
    const c2b = join(pair, CLIENT_TO_BROKER);
    const b2c = join(pair, BROKER_TO_CLIENT);
    let readFd: number;
    let writeFd: number;
    if (defect === 'write-first') {
      writeFd = await openWriteEnd(b2c, 60_000, false);
      readFd = await openReadEnd(c2b, false);
    } else {
      readFd = await openReadEnd(c2b, false);
      try {
        writeFd = defect === 'no-retry' ? openSync(b2c, constants.O_WRONLY | constants.O_NONBLOCK) : await openWriteEnd(b2c, 60_000, false);
      } catch {
        closeSync(readFd);
        await removePairDir(pair);
        return;
      }
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
        await removePairDir(pair);
        return;
      }
    }
    const input = new Socket({ fd: readFd, readable: true, writable: false });
    const output = new Socket({ fd: writeFd, readable: false, writable: true });
    const tcp = connect({ host: '127.0.0.1', port: port! });
    sockets.push(input, output, tcp);
    let wrote = early.length > 0;
    if (wrote) tcp.write(early);
    input.on('data', (c: Buffer) => { wrote = true; tcp.write(c); });
    tcp.on('data', (c: Buffer) => output.write(c));
    const end = (): void => { input.destroy(); output.destroy(); tcp.destroy(); void removePairDir(pair); };
    input.on('end', () => { if (wrote) end(); });
    tcp.on('close', end);
    output.on('error', end);
  };
  const timer = setInterval(() => {
    for (const name of readdirSync(parent)) {
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
