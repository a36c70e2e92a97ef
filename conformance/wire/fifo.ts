/**
 * Harness connections over FIFO pairs (section 10.4). Against a broker's `--fifo-dir`, the harness is
 * the client: it puts a new pair in the directory and opens it as the client side. With a peer
 * command (`--exec`), the harness is the broker side: it creates the pair, starts the peer with
 * `{fifo}` replaced by the pair's path, and opens its own ends.
 */
import { spawn } from 'node:child_process';
import { FifoStream, type FifoSide } from '../../reference/transport/fifo-stream.js';
import { createPairIn, ensurePrivateDir, removePairDir } from '../../reference/transport/fifo-fs.js';
import type { Address, Io } from './connection.js';
import { ConnectError } from './connection.js';

/** How long a started peer may take to open its FIFOs (a process start, not a reply). */
const PEER_START_MS = 15_000;

function connectStream(pair: string, side: FifoSide, timeoutMs: number): Promise<FifoStream> {
  return new Promise((resolve, reject) => {
    const stream = FifoStream.connect(pair, side, { timeoutMs });
    stream.once('connect', () => resolve(stream));
    stream.once('error', (e) => reject(new ConnectError(`cannot open the FIFO pair ${pair}: ${e.message}`)));
  });
}

export async function openFifo(address: Address & { fifo: string }, timeoutMs: number): Promise<Io> {
  let pair: string;
  try {
    if (address.exec) await ensurePrivateDir(address.fifo); // the harness owns the directory of the peers it starts
    pair = await createPairIn(address.fifo);
  } catch (e) {
    throw new ConnectError(`cannot create a FIFO pair in ${address.fifo}: ${(e as Error).message}`);
  }
  if (!address.exec) {
    const stream = await connectStream(pair, 'client', timeoutMs).catch(async (e: unknown) => {
      await removePairDir(pair);
      throw e;
    });
    return { input: stream, output: stream, destroy: () => { stream.destroy(); void removePairDir(pair); } };
  }
  const [cmd, ...args] = address.exec.map((a) => a.replaceAll('{fifo}', pair));
  const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.resume();
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const stream = await connectStream(pair, 'broker', Math.max(timeoutMs, PEER_START_MS));
    return { input: stream, output: stream, child, destroy: () => { stream.destroy(); kill(); void removePairDir(pair); } };
  } catch (e) {
    kill();
    await removePairDir(pair);
    throw e;
  }
}
