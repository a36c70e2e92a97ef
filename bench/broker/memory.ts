/**
 * Idle per-connection memory: the target's RSS grows by this much for each connection that has done
 * its handshake and then sends nothing. IDLE_CONNECTIONS connections are opened at once (before any
 * load, so the growth is not hidden in a heap already sized by it), the RSS is read after they all got
 * INIT_ACK and a short settle, then they are closed. Bounded: START_TIMEOUT_MS for the whole batch.
 */
import { createConnection, type Socket } from 'node:net';
import { encodeMessageFrame } from '../../reference/codec/index.js';
import { rssKb } from './procfs.js';
import { START_TIMEOUT_MS } from './processes.js';
import { PROTOCOL_VERSION, MIN_LIMITS } from '../../spec/generated/catalog.js';

export const IDLE_CONNECTIONS = 200;
const SETTLE_MS = 300;

function openIdle(port: number, clientId: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${clientId}: no INIT_ACK within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.once('connect', () => {
      const init = { client_id: clientId, language: 'typescript', role: 'client', protocol_version: PROTOCOL_VERSION, encodings: ['json'], max_frame: MIN_LIMITS.max_frame, name: 'concord-bench-idle' };
      socket.write(encodeMessageFrame({ type: 'INIT', header: { id: 'i' }, payload: init }));
    });
    // Any answer ends the wait: INIT_ACK (the 5th byte is its type code, checked by the caller's count).
    socket.once('data', (d: Buffer) => {
      clearTimeout(timer);
      if (d.length >= 5 && d[4] === 0x05) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`${clientId}: the handshake was not answered with INIT_ACK`));
      }
    });
  });
}

/** kB of RSS per idle connection, and the RSS before and with them. */
export async function idleConnectionKb(pid: number, port: number): Promise<{ perConnectionKb: number; rssBeforeKb: number; rssWithKb: number }> {
  const rssBeforeKb = rssKb(pid);
  const sockets = await Promise.all(Array.from({ length: IDLE_CONNECTIONS }, (_, i) => openIdle(port, `idle-${i}`)));
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const rssWithKb = rssKb(pid);
  await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
    s.once('close', () => resolve());
    s.destroy();
  })));
  return { perConnectionKb: (rssWithKb - rssBeforeKb) / IDLE_CONNECTIONS, rssBeforeKb, rssWithKb };
}
