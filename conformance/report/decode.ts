/** Reads the bytes of a wire-log entry back as frames, for the report to show beside the hex. */
import { FrameDecoder, LENGTH_PREFIX_BYTES } from '../../reference/codec/frame.js';
import { decodeMessage } from '../../reference/codec/message.js';

const MAX_SHOWN = 1500;

/** JSON of a decoded value; CBOR's big integers and byte strings become readable stand-ins. */
function show(value: unknown): string {
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (ArrayBuffer.isView(v)) return `<${v.byteLength} bytes>`;
    if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), x]));
    return v;
  }) ?? 'undefined';
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}...` : text;
}

/**
 * One line per frame in `hex`: type, encoding, header and payload, or why the frame does not decode.
 * A log entry cut short (`... (N bytes)`) or ending inside a frame says so; no bytes, no lines.
 */
export function decodeFrames(hex: string | undefined): string[] {
  if (!hex) return [];
  const cut = hex.indexOf('...');
  const bytes = Buffer.from(cut >= 0 ? hex.slice(0, cut) : hex, 'hex');
  const decoder = new FrameDecoder({ maxFrame: 2 ** 32 - 1 });
  const lines: string[] = [];
  let bodies: Uint8Array[];
  try {
    bodies = decoder.push(bytes);
  } catch (e) {
    return [`not a frame: ${(e as Error).message}`];
  }
  for (const body of bodies) {
    try {
      const m = decodeMessage(body);
      lines.push(`${m.name} (${m.encoding}) ${show(m.header)}${m.payload !== undefined && m.payload !== null ? ` ${show(m.payload)}` : ''}`);
    } catch (e) {
      lines.push(`undecodable frame (${body.length} bytes): ${(e as Error).message}`);
    }
  }
  const rest = bytes.length - bodies.reduce((n, b) => n + LENGTH_PREFIX_BYTES + b.length, 0);
  if (decoder.midFrame) lines.push(cut >= 0 ? `(the log keeps only the first ${bytes.length} bytes)` : `(${rest} bytes of an unfinished frame)`);
  return lines;
}
