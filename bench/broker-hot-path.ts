/**
 * The broker's per-request JavaScript, two builds side by side in one process (issue 15): what a routed
 * request and its answer cost in the pieces the router runs for them (frame decoding, decodeEnvelope,
 * forwardFrame, the in-flight table's track and answered), without sockets. CPU time (process.cpuUsage)
 * in interleaved rounds, so load on a shared machine hits both builds alike; the network benchmark
 * (bench/broker.ts) is what the ratios come from, this one says what a change of the hot path did.
 *
 *   npm run build && npx tsx bench/broker-hot-path.ts OTHER_ROOT
 *
 * OTHER_ROOT is another checkout (a git worktree of the commit to compare with) whose dist/ is built.
 * Prints CPU microseconds per request for each build and this build / other per round (median, range).
 */
import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT_DIR } from '../spec/tools/load.js';
import { DEFAULT_LIMITS, MessageType } from '../spec/generated/catalog.js';
import type * as BodyModule from '../reference/codec/body.js';
import type * as FrameModule from '../reference/codec/frame.js';
import type * as CatalogModule from '../reference/codec/catalog.js';
import type * as FramesModule from '../reference/broker/frames.js';
import type * as InflightModule from '../reference/broker/inflight.js';
import type { Connection } from '../reference/broker/connection.js';
import type { Logger } from '../reference/broker/logger.js';

const ROUNDS = 15;
const BATCHES_PER_ROUND = 300;
/** Frames per read, as a pipelined client sends them. */
const FRAMES_PER_READ = 64;
const PAYLOAD_BYTES = 180;
const TIME_BUDGET_MS = 120_000;

interface Build {
  label: string;
  body: typeof BodyModule;
  frame: typeof FrameModule;
  catalog: typeof CatalogModule;
  frames: typeof FramesModule;
  inflight: typeof InflightModule;
}

async function load(label: string, root: string): Promise<Build> {
  const from = <T>(path: string): Promise<T> => import(pathToFileURL(join(root, 'dist', path)).href) as Promise<T>;
  return {
    label,
    body: await from('reference/codec/body.js'),
    frame: await from('reference/codec/frame.js'),
    catalog: await from('reference/codec/catalog.js'),
    frames: await from('reference/broker/frames.js'),
    inflight: await from('reference/broker/inflight.js'),
  };
}

/** One frame: prefix, a JSON header, a payload of PAYLOAD_BYTES (never decoded on the routed path). */
function frameBytes(type: number, header: string): Buffer {
  const h = Buffer.from(header);
  const out = Buffer.alloc(8 + h.length + PAYLOAD_BYTES, 0x61);
  out.writeUInt32BE(4 + h.length + PAYLOAD_BYTES, 0);
  out[4] = type;
  out[5] = 0;
  out.writeUInt16BE(h.length, 6);
  h.copy(out, 8);
  return out;
}

const REQUEST = MessageType.REASONING_REQUEST;
const RESPONSE = MessageType.REASONING_RESPONSE;
const requests = Buffer.concat(Array.from({ length: FRAMES_PER_READ }, (_, i) => frameBytes(REQUEST, `{"id":"${i + 1000}","dst":"worker","src":"c0"}`)));
const answers = Buffer.concat(Array.from({ length: FRAMES_PER_READ }, (_, i) => frameBytes(RESPONSE, `{"id":"w${i}","re":"${(i + 1).toString(36)}","dst":"c0"}`)));

/** The part of a Connection the in-flight table touches. */
function connection(clientId: string): Connection {
  const ignore = (): void => undefined;
  return { clientId, requested: new Set(), served: new Map(), expired: { add: ignore }, stats: { latency: { add: ignore } } } as unknown as Connection;
}

/** CPU microseconds per request: both frames decoded, forwarded with a new header, tracked and settled. */
function measure(b: Build, batches: number): number {
  const silent = { info: (): void => undefined } as unknown as Logger;
  const inflight = new b.inflight.Inflight({ fail: () => undefined, settled: () => undefined }, silent);
  const info = b.catalog.messageByCode(REQUEST)!;
  const client = connection('c0');
  const worker = connection('worker');
  const options = { maxHeader: DEFAULT_LIMITS.max_header };
  let seq = 0;
  let bytes = 0;
  const t0 = process.cpuUsage();
  for (let n = 0; n < batches; n++) {
    const open: InflightModule.PendingRequest[] = [];
    for (const body of new b.frame.FrameDecoder().push(requests)) {
      const env = b.body.decodeEnvelope(body, options);
      const header = { id: (++seq).toString(36), src: client.clientId!, dst: env.header.dst! };
      bytes += b.frames.forwardFrame(env.type, env.flags, header, env.payload).bodyLength;
      open.push(inflight.track(client, worker, env.header.id, header.id, info, RESPONSE, DEFAULT_LIMITS.request_timeout_ms));
    }
    for (const body of new b.frame.FrameDecoder().push(answers)) {
      const env = b.body.decodeEnvelope(body, options);
      const p = open.shift()!;
      bytes += b.frames.forwardFrame(env.type, env.flags, { id: (++seq).toString(36), re: p.origId, src: worker.clientId! }, env.payload).bodyLength;
      inflight.answered(p);
    }
  }
  const used = process.cpuUsage(t0);
  // Builds before the deadline lists took the connections whose timers to stop (none here).
  (inflight.clear as (connections?: Iterable<unknown>) => void).call(inflight, []);
  if (bytes === 0) throw new Error('nothing was forwarded');
  return (used.user + used.system) / (batches * FRAMES_PER_READ);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const other = process.argv[2];
  if (other === undefined) throw new Error('usage: npx tsx bench/broker-hot-path.ts OTHER_ROOT (a checkout with dist/ built)');
  const builds = [await load('this', ROOT_DIR), await load('other', resolve(other))];
  for (const b of builds) measure(b, BATCHES_PER_ROUND); // warm-up: JIT
  const us: Record<string, number[]> = { this: [], other: [] };
  const began = performance.now();
  for (let r = 0; r < ROUNDS && performance.now() - began < TIME_BUDGET_MS; r++) {
    for (const b of r % 2 === 0 ? builds : [...builds].reverse()) us[b.label]!.push(measure(b, BATCHES_PER_ROUND));
  }
  const ratios = us['this']!.map((x, i) => x / us['other']![i]!);
  process.stdout.write(
    `broker hot path, CPU us per request (${us['this']!.length} interleaved rounds, median): this ${median(us['this']!).toFixed(2)}, other ${median(us['other']!).toFixed(2)}; ` +
      `this / other ${median(ratios).toFixed(3)} (rounds ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})\n`,
  );
}

await main();
