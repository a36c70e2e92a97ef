/**
 * Harness connections over FIFO pairs (section 10.4). Against a broker's `--fifo-dir`, the harness is
 * the client: it puts a new pair in the directory and opens it as the client side. With a peer
 * command (`--exec`), the harness is the broker side: it creates the pair, starts the peer with
 * `{fifo}` replaced by the pair's path, and opens its own ends.
 */
import { FifoStream, type FifoSide } from '../../reference/transport/fifo-stream.js';
import { createPairIn, ensurePrivateDir, removePairDir } from '../../reference/transport/fifo-fs.js';
import type { Io } from './connection.js';
import { ConnectError } from './connection.js';
import { startPeerProcess } from './peer-process.js';

/** How long a started peer may take to open its FIFOs (a process start, not a reply). */
const PEER_START_MS = 15_000;

function connectStream(pair: string, side: FifoSide, timeoutMs: number): Promise<FifoStream> {
  return new Promise((resolve, reject) => {
    const stream = FifoStream.connect(pair, side, { timeoutMs });
    stream.once('connect', () => resolve(stream));
    stream.once('error', (e) => reject(new ConnectError(`cannot open the FIFO pair ${pair}: ${e.message}`)));
  });
}

/** A new pair in `dir`: opened as a broker's client without `command`, or as the broker side of `command` started on it. */
export async function openFifo(dir: string, command: string[] | undefined, timeoutMs: number): Promise<Io> {
  let pair: string;
  try {
    if (command) await ensurePrivateDir(dir); // the harness owns the directory of the peers it starts
    pair = await createPairIn(dir);
  } catch (e) {
    throw new ConnectError(`cannot create a FIFO pair in ${dir}: ${(e as Error).message}`);
  }
  if (!command) {
    const stream = await connectStream(pair, 'client', timeoutMs).catch(async (e: unknown) => {
      await removePairDir(pair);
      throw e;
    });
    return { input: stream, output: stream, destroy: () => { stream.destroy(); void removePairDir(pair); } };
  }
  const [cmd, ...args] = command.map((a) => a.replaceAll('{fifo}', pair));
  const peer = startPeerProcess([cmd!, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const kill = (): void => peer.stop();
  try {
    // A peer that exits (or never starts) before opening its FIFOs ends the wait at once.
    const exited = peer.exited.then(() => { throw new ConnectError(`the peer ended before opening its FIFO pair (${peer.status})${peer.stderrTail() ? `; stderr: ${peer.stderrTail()}` : ''}`); });
    const stream = await Promise.race([connectStream(pair, 'broker', Math.max(timeoutMs, PEER_START_MS)), exited]);
    peer.spoke = true;
    return { input: stream, output: stream, child: peer.child, peer, destroy: () => { stream.destroy(); kill(); void removePairDir(pair); } };
  } catch (e) {
    kill();
    await removePairDir(pair);
    throw e;
  }
}
