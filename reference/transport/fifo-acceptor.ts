/**
 * The broker side of `--fifo-dir DIR` (section 10.4): DIR is a private directory (0700) in which each
 * client puts its own pair directory (moved in by rename, so it is complete when seen). The acceptor
 * watches DIR, connects to each new pair as the broker side, and removes the pair once that
 * connection has ended.
 */
import { watch, promises as fsp, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { FifoStream } from './fifo-stream.js';
import { ensurePrivateDir, removePairDir } from './fifo-fs.js';

export interface FifoAcceptorOptions {
  /** How long a new pair's client may take to open its reading end (FIFO-3). */
  openTimeoutMs: number;
  onConnection(stream: FifoStream): void;
  onError(dir: string, error: Error): void;
}

export class FifoAcceptor {
  private watcher: FSWatcher | undefined;
  /** Pair directories being served or refused, by name and inode (a new pair with an old name is new). */
  private readonly seen = new Map<string, number>();
  private readonly live = new Set<FifoStream>();
  private closed = false;

  constructor(readonly dir: string, private readonly options: FifoAcceptorOptions) {}

  /** Creates or checks DIR (FIFO-7), then serves the pairs already there and every new one. */
  async start(): Promise<void> {
    await ensurePrivateDir(this.dir);
    this.watcher = watch(this.dir, () => void this.scan());
    this.watcher.on('error', (e) => this.options.onError(this.dir, e));
    await this.scan();
  }

  private async scan(): Promise<void> {
    if (this.closed) return;
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (e) {
      this.options.onError(this.dir, e as Error);
      return;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue; // staging directories of clients still creating their pair
      const path = join(this.dir, name);
      const st = await fsp.lstat(path).catch(() => undefined);
      if (!st?.isDirectory() || this.seen.get(name) === st.ino || this.closed) continue;
      this.seen.set(name, st.ino);
      this.serve(name, path, st.ino);
    }
  }

  private serve(name: string, path: string, ino: number): void {
    const stream = FifoStream.connect(path, 'broker', { timeoutMs: this.options.openTimeoutMs });
    this.live.add(stream);
    let connected = false;
    stream.once('connect', () => {
      connected = true;
      this.options.onConnection(stream);
    });
    stream.once('error', (e) => {
      if (!connected) this.options.onError(path, e);
    });
    stream.once('close', () => {
      this.live.delete(stream);
      // A served pair is removed when its connection ends; a refused one (not a FIFO pair, not
      // private, no client) is left as found and stays ignored until replaced.
      if (connected) {
        void removePairDir(path).then(() => {
          if (this.seen.get(name) === ino) this.seen.delete(name);
        });
      }
    });
  }

  /** Stops watching and destroys every connection still open. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    for (const s of this.live) s.destroy();
  }
}
