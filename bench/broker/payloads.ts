/**
 * The payloads of the broker benchmark, encoded once with the codec: a small REASONING_REQUEST (4
 * float32), one carrying 768 float32, and the worker's fixed REASONING_RESPONSE. The load generator
 * gets them as hex on its command line or stdin and only writes headers per request.
 */
import { decodeEnvelope, encodeMessage, NDArray } from '../../reference/codec/index.js';
import type { MessageName } from '../../spec/generated/catalog.js';

function payloadBytes(type: MessageName, payload: unknown): Uint8Array {
  return decodeEnvelope(encodeMessage({ type, header: { id: 'x' }, payload, encoding: 'json' })).payload.slice();
}

const floats = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i + 1)));

export const SMALL_REQUEST = payloadBytes('REASONING_REQUEST', { encoding: NDArray.from('<f4', [4], floats(4)), context: 'bench', source: 'typescript' });
export const LARGE_REQUEST = payloadBytes('REASONING_REQUEST', { encoding: NDArray.from('<f4', [768], floats(768)), context: 'bench', source: 'typescript' });
export const RESPONSE = payloadBytes('REASONING_RESPONSE', {
  spike_count: 3,
  confidence: 0.5,
  firing_pattern: NDArray.from('|u1', [8], [1, 0, 0, 1, 1, 0, 1, 0]),
  engine: 'bench-worker',
  latency_ms: 0,
});

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
