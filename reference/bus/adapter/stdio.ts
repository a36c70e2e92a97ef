/**
 * The bus adapter on standard input and output (section bus-adapter): one JSON request per line in,
 * one reply per line out, each request handled as soon as it arrives (BUSA-2), exit 0 at end of input
 * (BUSA-4). Logs go to standard error only (BUSA-1).
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { AdapterSession } from './session.js';
import type { Reply, Request, WireErr } from './protocol.js';

export async function runBusAdapter(session: AdapterSession, input: Readable, output: Writable): Promise<number> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  const open = new Set<Promise<void>>();
  const write = (o: Reply | { seq: null; ok: false; error: WireErr }): void => void output.write(`${JSON.stringify(o)}\n`);
  for await (const line of rl) {
    if (line.trim() === '') continue;
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
      if (typeof req !== 'object' || req === null || typeof req.seq !== 'number' || typeof req.op !== 'string') throw new Error('a request is {"seq": number, "op": string, ...}');
    } catch (e) {
      write({ seq: null, ok: false, error: { code: 'INVALID_PAYLOAD', message: `not a request line: ${(e as Error).message}` } });
      continue;
    }
    const p: Promise<void> = session.handle(req).then(write).finally(() => open.delete(p));
    open.add(p);
  }
  // End of input: what is gated forever is released, then the bus is closed.
  await session.close();
  await Promise.race([Promise.allSettled([...open]), new Promise((r) => setTimeout(r, 1000).unref())]);
  return 0;
}
