/**
 * The `cut` fault: a mid-frame disconnect and reconnect, where the spec defines the outcome. Before
 * a broker session's INIT, another connection with the same client id completes its handshake,
 * sends part of a frame and ends its stream there. The broker must discard the partial frame and
 * treat the end as a disconnect (FRM-7): it answers nothing and closes, and releases the client id
 * (HS-19), so that the session then reconnects with that id and the case goes on as without faults.
 */
import { encodeMessageFrame } from '../../reference/codec/message.js';
import type { Message } from '../../reference/codec/message.js';
import type { Received, WireConnection } from '../wire/connection.js';
import { CaseFailure, CaseTimeout } from '../cases/model.js';

/** The frame whose first bytes the dropped connection sends: a PING, which would be answered if it survived whole. */
export function cutFrame(): Uint8Array {
  return encodeMessageFrame({ type: 'PING', header: { id: 'cut' } });
}

export interface CutOptions {
  /** Opens the connection to drop (to the same broker, outside the case's own connections). */
  open: () => Promise<WireConnection>;
  /** The INIT payload of the session that will reconnect (its client id). */
  init: Record<string, unknown>;
  /** How many bytes of `cutFrame()` go out before the stream ends. */
  bytes: number;
  timeoutMs: number;
  /** The reconnecting session's connection: the dropped connection's wire log is copied into its log. */
  log: WireConnection;
}

function shown(r: Received): string {
  if (r.kind === 'message') return `${r.message.name}${r.message.name === 'ERROR' ? ` ${String((r.message.payload as { code?: unknown }).code)}` : ''}`;
  return r.kind === 'invalid' ? 'an undecodable frame' : r.kind;
}

/** Runs the disconnect; throws a CaseFailure naming FRM-7 when the broker does not treat it as one. */
export async function dropMidFrame(o: CutOptions): Promise<void> {
  const conn = await o.open();
  try {
    conn.send({ type: 'INIT', header: { id: 'init' }, payload: o.init });
    for (;;) {
      const r = await conn.next(o.timeoutMs);
      if (r.kind === 'timeout') throw new CaseTimeout(`no INIT_ACK on the connection to drop mid-frame within ${o.timeoutMs} ms`);
      if (r.kind === 'message' && r.message.name === 'INIT_ACK' && r.message.header.re === 'init') break;
      if (!(r.kind === 'message' && r.message.name === 'PING')) throw new CaseFailure(`the connection to drop mid-frame got ${shown(r)} instead of INIT_ACK (HS-6)`, 'INIT_ACK', shown(r));
    }
    const frame = cutFrame();
    conn.sendRaw(frame.subarray(0, o.bytes), `the first ${o.bytes} of the ${frame.length} bytes of PING id="cut"`);
    conn.end();
    for (;;) {
      const r = await conn.next(o.timeoutMs);
      if (r.kind === 'closed') return;
      // A heartbeat sent before the broker saw the end is not an answer to the partial frame.
      if (r.kind === 'message' && r.message.name === 'PING' && (r.message as Message).header.re === undefined) continue;
      if (r.kind === 'timeout') throw new CaseFailure(`the broker kept open, for ${o.timeoutMs} ms, a connection whose stream ended inside a frame, instead of treating the end as a disconnect (FRM-7)`, 'close', 'open');
      throw new CaseFailure(`the broker answered a partial frame with ${shown(r)}; it must discard it and treat the end as a disconnect (FRM-7)`, 'close', shown(r));
    }
  } finally {
    conn.destroy();
    for (const e of conn.log) o.log.noteEvent(`connection dropped by the cut, +${e.t} ms: ${e.dir} ${e.note}${e.hex !== undefined ? ` ${e.hex}` : ''}`);
  }
}
