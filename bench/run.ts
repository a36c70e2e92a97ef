/**
 * `npm run bench`: codec costs measured side by side in one run, reported as ratios against a
 * baseline measured in the same rounds (raw byte copy), never as absolute targets. Rounds are
 * interleaved so machine noise hits every variant alike; the run is bounded in count and time.
 * Then the broker benchmark (bench/broker.ts: the reference broker against the minimal Node router and
 * the C++ relay, and the harness's own speed), merged into the same report, and a table of the ratios
 * against their targets. Writes reports/bench/<UTC timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NDArray, packNDArray, unpackNDArray } from '../reference/codec/ndarray.js';
import { encodeMessage, decodeMessage } from '../reference/codec/message.js';
import { FrameDecoder, encodeFrame } from '../reference/codec/frame.js';
import { ROOT_DIR } from '../spec/tools/load.js';
import { runBrokerBench, type BrokerBenchResult } from './broker.js';
import { targetsTable, TARGETS_TEXT } from './broker/report.js';
import { runBusBench, type BusBenchResult } from './bus.js';
import { runFifoBench, type FifoBenchResult } from './fifo.js';
import { runEngineBench, type EngineBenchResult } from './engine.js';
import { runInstrumentBench, type InstrumentBenchResult } from './instrument.js';
import { runClusterBench, type ClusterBenchResult } from './cluster.js';

const ROUNDS = 15;
const ITERATIONS = 2_000;
const TIME_BUDGET_MS = 60_000;

type Variant = { name: string; run: () => unknown };

const vector = NDArray.from('<f4', [768], Array.from({ length: 768 }, (_, i) => Math.fround(Math.sin(i))));
const vectorBytes = packNDArray(vector);
const rawFloats = new Uint8Array(vector.data.buffer, vector.data.byteOffset, vector.data.byteLength);
const request = { encoding: vector, context: 'benchmark', source: 'typescript', priority: 'normal' as const };
const jsonBody = encodeMessage({ type: 'REASONING_REQUEST', header: { id: 'b1' }, payload: request, encoding: 'json' });
const cborBody = encodeMessage({ type: 'REASONING_REQUEST', header: { id: 'b1' }, payload: request, encoding: 'cbor' });
const pingFrames = Buffer.concat(Array.from({ length: 64 }, (_, i) => encodeFrame(encodeMessage({ type: 'PING', header: { id: `p${i}` } }))));
let sink = 0;

const variants: Variant[] = [
  { name: 'raw_copy_768_f32', run: () => { const c = new Uint8Array(rawFloats.length); c.set(rawFloats); const d = new Float32Array(c.buffer); sink += d[0]!; } },
  // Issue 15's baseline: the same floats copied into a new buffer and back out into a new array, no header.
  { name: 'raw_binary_768_f32_encode_decode', run: () => { const enc = new Uint8Array(rawFloats.length); enc.set(rawFloats); const dec = new Float32Array(rawFloats.length / 4); new Uint8Array(dec.buffer).set(enc); sink += dec[0]!; } },
  { name: 'ndarray_768_f32_pack_unpack', run: () => { sink += unpackNDArray(packNDArray(vector)).size; } },
  { name: 'ndarray_768_f32_unpack', run: () => { sink += unpackNDArray(vectorBytes).size; } },
  { name: 'json_number_array_768', run: () => { sink += (JSON.parse(JSON.stringify(Array.from(vector.data as Float32Array))) as number[]).length; } },
  { name: 'reasoning_request_json_encode_decode', run: () => { sink += decodeMessage(encodeMessage({ type: 'REASONING_REQUEST', header: { id: 'b1' }, payload: request, encoding: 'json' })).type; } },
  { name: 'reasoning_request_cbor_encode_decode', run: () => { sink += decodeMessage(encodeMessage({ type: 'REASONING_REQUEST', header: { id: 'b1' }, payload: request, encoding: 'cbor' })).type; } },
  { name: 'reasoning_request_json_decode', run: () => { sink += decodeMessage(jsonBody).type; } },
  { name: 'reasoning_request_cbor_decode', run: () => { sink += decodeMessage(cborBody).type; } },
  { name: 'frame_decode_64_pings_per_chunk', run: () => { sink += new FrameDecoder().push(pingFrames).length; } },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Issue 15's ndarray ratio, measured in its own paired rounds before the other variants run: the JSON
 * variants leave garbage whose collection otherwise lands on whichever variant runs next, and short
 * rounds let the raw baseline finish before its own allocations are collected.
 */
function pairedRatio(a: Variant, b: Variant, rounds: number, iterations: number): { ratio: number; range: [number, number]; aUs: number; bUs: number } {
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [v, out] of (r % 2 === 0 ? [[a, as], [b, bs]] : [[b, bs], [a, as]]) as [Variant, number[]][]) {
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) v.run();
      out.push(((performance.now() - t0) * 1000) / iterations);
    }
  }
  const ratios = as.map((x, i) => x / bs[i]!);
  return { ratio: median(as) / median(bs), range: [Math.min(...ratios), Math.max(...ratios)], aUs: median(as), bUs: median(bs) };
}
const byName = (n: string): Variant => variants.find((v) => v.name === n)!;
for (let i = 0; i < 2_000; i++) { byName('ndarray_768_f32_pack_unpack').run(); byName('raw_binary_768_f32_encode_decode').run(); }
const ndarrayPaired = pairedRatio(byName('ndarray_768_f32_pack_unpack'), byName('raw_binary_768_f32_encode_decode'), 11, 20_000);

const started = performance.now();
const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (const v of variants) for (let i = 0; i < 200; i++) v.run(); // warm-up
let rounds = 0;
for (; rounds < ROUNDS && performance.now() - started < TIME_BUDGET_MS; rounds++) {
  for (const v of variants) {
    const t0 = performance.now();
    for (let i = 0; i < ITERATIONS; i++) v.run();
    samples.get(v.name)!.push(((performance.now() - t0) * 1000) / ITERATIONS);
  }
  process.stderr.write(`\rbench: round ${rounds + 1}/${ROUNDS}`);
}
process.stderr.write('\n');

const us = Object.fromEntries([...samples].map(([k, v]) => [k, median(v)]));
const base = us['raw_copy_768_f32']!;
const ratios = {
  ndarray_pack_unpack_vs_raw_binary_ratio: ndarrayPaired.ratio,
  ndarray_pack_unpack_vs_raw_copy_ratio: us['ndarray_768_f32_pack_unpack']! / base,
  ndarray_unpack_vs_raw_copy_ratio: us['ndarray_768_f32_unpack']! / base,
  json_number_array_vs_ndarray_ratio: us['json_number_array_768']! / us['ndarray_768_f32_pack_unpack']!,
  cbor_vs_json_message_ratio: us['reasoning_request_cbor_encode_decode']! / us['reasoning_request_json_encode_decode']!,
};
let broker: BrokerBenchResult | undefined;
let brokerError: string | undefined;
try {
  broker = await runBrokerBench();
} catch (e) {
  brokerError = (e as Error).stack ?? String(e);
  process.exitCode = 1;
}
let bus: BusBenchResult | undefined;
let busError: string | undefined;
try {
  bus = await runBusBench();
} catch (e) {
  busError = (e as Error).stack ?? String(e);
  process.exitCode = 1;
}
let fifo: FifoBenchResult | undefined;
try {
  fifo = await runFifoBench();
} catch (e) {
  console.error(`fifo benchmark failed: ${(e as Error).message}`);
  process.exitCode = 1;
}
let engine: EngineBenchResult | undefined;
let engineError: string | undefined;
try {
  engine = await runEngineBench();
} catch (e) {
  engineError = (e as Error).stack ?? String(e);
  process.exitCode = 1;
}
let instrument: InstrumentBenchResult | undefined;
let instrumentError: string | undefined;
try {
  instrument = await runInstrumentBench();
} catch (e) {
  instrumentError = (e as Error).stack ?? String(e);
  process.exitCode = 1;
}
let cluster: ClusterBenchResult | undefined;
let clusterError: string | undefined;
try {
  cluster = await runClusterBench();
} catch (e) {
  clusterError = (e as Error).stack ?? String(e);
  process.exitCode = 1;
}
const report = {
  kind: 'codec+broker',
  node: process.version,
  rounds,
  iterations_per_round: ITERATIONS,
  median_us_per_op: us,
  ndarray_vs_raw_binary_paired: { rounds: 11, iterations: 20_000, ndarray_us: ndarrayPaired.aUs, raw_binary_us: ndarrayPaired.bUs, ratio_range: ndarrayPaired.range },
  bytes: { ndarray_768_f32: vectorBytes.length, json_body: jsonBody.length, cbor_body: cborBody.length },
  ...ratios,
  targets: TARGETS_TEXT,
  sink,
  ...(broker?.report ?? { broker_bench_error: brokerError }),
  ...(bus?.report ?? { bus_bench_error: busError }),
  ...(fifo?.report ?? {}),
  ...(engine?.report ?? { engine_bench_error: engineError }),
  ...(instrument?.report ?? { instrument_bench_error: instrumentError }),
  ...(cluster?.report ?? { cluster_bench_error: clusterError }),
};
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const dir = join(ROOT_DIR, 'reports', 'bench');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);

for (const [k, v] of Object.entries(us)) console.log(`${k.padEnd(40)} ${v.toFixed(2).padStart(9)} us/op`);
console.log('');
for (const [k, v] of Object.entries(ratios)) console.log(`${k.padEnd(40)} ${v.toFixed(2).padStart(9)}x`);
console.log('');
if (broker) console.log(broker.table);
else console.log(`broker benchmark failed: ${brokerError}`);
console.log('');
console.log(bus ? bus.table : `bus benchmark failed: ${busError}`);
if (fifo) console.log(`\n${fifo.table}`);
console.log(engine ? engine.table : `engine benchmark failed: ${engineError}`);
console.log(instrument ? `\n${instrument.table}` : `\ninstrument benchmark failed: ${instrumentError}`);
console.log(cluster ? `\n${cluster.table}` : `\ncluster benchmark failed: ${clusterError}`);
console.log(`\nratios against the targets of issue 15 (rounds range: broker / baseline per interleaved round)\n${targetsTable(report, { ...broker?.ranges, ndarray_pack_unpack_vs_raw_binary_ratio: ndarrayPaired.range })}`);
console.log(`\nwritten reports/bench/${stamp}.json`);
