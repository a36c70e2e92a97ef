/**
 * One FIFO-pair connection (section 10.4) as a Duplex stream, so the broker, the client and the
 * harness use it where they use a socket. The two descriptors are non-blocking and driven by libuv's
 * pipe handles (net.Socket over a FIFO descriptor), so no thread ever blocks on a FIFO.
 */
import { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { closeSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, FifoError, checkPrivate, openReadEnd, openWriteEnd } from './fifo-fs.js';

/** Which end of the pair this process is: it reads the other side's FIFO and writes its own. */
export type FifoSide = 'client' | 'broker';

export interface FifoConnectOptions {
  /** Bound of the open of the writing end (FIFO-3): the other side must open its reading end by then. */
  timeoutMs: number;
  /** FIFO-7: refuse a directory or FIFO not ours or open to group or others (default true). */
  requirePrivate?: boolean;
}

interface PendingWrite {
  chunk: Buffer;
  callback: (error?: Error | null) => void;
}

export class FifoStream extends Duplex {
  /** Sockets have it; a FIFO has no remote address. */
  readonly remoteAddress: string | undefined = undefined;
  /** true once both ends are open. */
  connecting = true;
  private reader: Socket | undefined;
  private writer: Socket | undefined;
  private pending: PendingWrite[] = [];
  private readonly abort = new AbortController();

  private constructor(readonly dir: string, readonly side: FifoSide) {
    super({ allowHalfOpen: false });
  }

  /**
   * Opens the pair in `dir` as `side`: the reading FIFO first, then the writing one with the ENXIO
   * retry (FIFO-3). Returns at once; emits 'connect' when both are open, or 'error' then 'close'.
   * Writes made before 'connect' wait for it.
   */
  static connect(dir: string, side: FifoSide, options: FifoConnectOptions): FifoStream {
    const stream = new FifoStream(dir, side);
    stream.open(options).then(
      () => stream.emit('connect'),
      (e: unknown) => stream.destroy(e as Error),
    );
    return stream;
  }

  /** A no-op: FIFOs have no Nagle algorithm (present so a FifoStream goes where a Socket goes). */
  setNoDelay(): this {
    return this;
  }

  private async open(options: FifoConnectOptions): Promise<void> {
    const requirePrivate = options.requirePrivate ?? true;
    const st = await fsp.lstat(this.dir).catch(() => {
      throw new FifoError('MISSING', this.dir, 'no such pair directory');
    });
    if (!st.isDirectory()) throw new FifoError('NOT_FIFO', this.dir, 'is not a directory');
    if (requirePrivate) checkPrivate(this.dir, st);
    const [readName, writeName] = this.side === 'client' ? [BROKER_TO_CLIENT, CLIENT_TO_BROKER] : [CLIENT_TO_BROKER, BROKER_TO_CLIENT];
    const readFd = await openReadEnd(join(this.dir, readName), requirePrivate);
    let writeFd: number;
    try {
      writeFd = await openWriteEnd(join(this.dir, writeName), options.timeoutMs, requirePrivate, this.abort.signal);
    } catch (e) {
      closeSync(readFd);
      throw e;
    }
    if (this.destroyed) {
      closeSync(readFd);
      closeSync(writeFd);
      return;
    }
    this.attach(readFd, writeFd);
  }

  /**
   * From here the sockets own the two descriptors: destroying them closes them (libuv), and nothing
   * else may close them (fs.close on the number could close another file once it is reused). Node's
   * tracking of fs.open() descriptors in a worker thread cannot see that hand-over: a worker that runs
   * FIFO streams is started with `trackUnmanagedFds: false` (as broker/command.ts does), or it warns
   * "File descriptor N opened in unmanaged mode twice" and closes stale numbers when it exits.
   */
  private attach(readFd: number, writeFd: number): void {
    const reader = new Socket({ fd: readFd, readable: true, writable: false });
    const writer = new Socket({ fd: writeFd, readable: false, writable: true });
    this.reader = reader;
    this.writer = writer;
    this.connecting = false;
    reader.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) reader.pause();
    });
    // FIFO-6: libuv reports end of file only after a writer has come and gone (poll gives no hang-up
    // before), so 'end' here is the peer's disconnect.
    reader.on('end', () => this.push(null));
    reader.on('error', (e) => this.destroy(e));
    // FIFO-5: EPIPE is the peer's disconnect, not a crash (Node ignores SIGPIPE).
    writer.on('error', (e: NodeJS.ErrnoException) => this.destroy(e.code === 'EPIPE' ? undefined : e));
    const waiting = this.pending;
    this.pending = [];
    for (const w of waiting) this._write(w.chunk, 'binary', w.callback);
  }

  override _read(): void {
    this.reader?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const writer = this.writer;
    if (!writer) {
      this.pending.push({ chunk, callback });
      return;
    }
    if (writer.write(chunk)) callback();
    else writer.once('drain', () => callback());
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), 'binary', callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.writer) return callback();
    this.writer.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.abort.abort(new FifoError('TIMEOUT', this.dir, 'closed before both ends were open'));
    this.reader?.destroy();
    this.writer?.destroy();
    this.pending = []; // Writable errors the writes it still holds; ours were never started
    callback(error);
  }
}
