/** The reference testee (spec section 15) over a FIFO pair instead of stdio (section 10.4). */
import { runTestee, type TesteeOptions } from '../testee/testee.js';
import { FifoStream } from './fifo-stream.js';

/**
 * `concord testee --fifo PAIR_DIR`: the reference testee over a FIFO pair, as the client side (for
 * `conformance --target fifo:DIR --exec -- ... --fifo {fifo}`). Exit 1 when the pair cannot be opened.
 */
export function runFifoTestee(pair: string, options: TesteeOptions): number {
  const stream = FifoStream.connect(pair, 'client', { timeoutMs: 10_000 });
  stream.once('error', (e) => {
    process.stderr.write(`concord testee: cannot use the FIFO pair ${pair}: ${e.message}\n`);
    process.exitCode = 1;
  });
  stream.once('connect', () => void runTestee(stream, stream, options));
  return 0;
}
