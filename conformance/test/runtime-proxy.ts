/**
 * A proxy in front of the reference broker for the broker-runtime variants: like mutant-proxy.ts, each
 * client connection gets its own upstream connection and every frame passes a rewrite, but a variant
 * may also write to either side itself (answer PINGs for its client, inject ERRORs), keep per-link
 * state, delay the upstream connection until a whole frame arrived (no handshake timer runs before
 * that), and see every raw chunk from the client.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { FrameDecoder, encodeFrame } from '../../reference/codec/frame.js';
import { decodeEnvelope, encodeEnvelope, ENCODINGS } from '../../reference/codec/body.js';
import { messageByCode } from '../../reference/codec/catalog.js';
import type { ProtocolError } from '../../reference/codec/errors.js';
import type { Header } from '../../reference/codec/header.js';

export interface RFrame {
  code: number;
  /** The catalog name, or undefined for a code outside the catalog. */
  name: string | undefined;
  header: Header;
  encoding: (typeof ENCODINGS)[number];
  payload: Uint8Array;
}

export interface RLink {
  readonly client: Socket;
  /** Every link of the proxy, for variants that deliver elsewhere. */
  readonly all: RLink[];
  /** Per-connection memory of the variant. */
  readonly state: Record<string, unknown>;
  /** Writes a frame to the client, or (once connected) to the broker. */
  toClient(f: RFrame): void;
  toBroker(f: RFrame): void;
}

export type RRewrite = (frame: RFrame, link: RLink) => RFrame | null | 'handled';

export interface RuntimeVariant {
  name: string;
  /** The cases that must catch the defect. */
  caughtBy: string[];
  /** Runs against a broker of its own that the test makes shut down (HS-17). */
  shutsDown?: boolean;
  /** Connect upstream only when the client's first whole frame arrives. */
  lazyUpstream?: boolean;
  /** Keep the broker's connection open when the client closes (a broker that misses the close). */
  keepsUpstream?: boolean;
  /** Whether to keep the client's connection open when the broker closes this link's (a broker that leaves it open). */
  keepsClient?: (link: RLink) => boolean;
  onConnect?: (link: RLink) => void;
  toBroker?: RRewrite;
  toClient?: RRewrite;
  /** Client bytes before framing; `forward` hands them on to the framing and rewrite stage. */
  rawToBroker?: (chunk: Buffer, link: RLink, forward: (b: Buffer) => void) => void;
}

export function rframeBytes(f: RFrame): Uint8Array {
  return encodeFrame(encodeEnvelope(f.code, f.encoding, f.header, f.payload));
}

function parse(body: Uint8Array): RFrame | null {
  try {
    const e = decodeEnvelope(body);
    const encoding = ENCODINGS[e.encodingBits];
    if (!encoding) return null;
    return { code: e.type, name: messageByCode(e.type)?.name, header: e.header, encoding, payload: e.payload };
  } catch {
    return null;
  }
}

const text = new TextDecoder();
const bytes = new TextEncoder();

export function jsonOf(f: RFrame): Record<string, unknown> {
  return JSON.parse(text.decode(f.payload)) as Record<string, unknown>;
}

export function withJson(f: RFrame, edit: (p: Record<string, unknown>) => void): RFrame {
  const p = jsonOf(f);
  edit(p);
  return { ...f, payload: bytes.encode(JSON.stringify(p)) };
}

export function frame(name: string, code: number, header: Header, payload: unknown): RFrame {
  return { code, name, header, encoding: 'json', payload: payload === undefined ? new Uint8Array(0) : bytes.encode(JSON.stringify(payload)) };
}

export interface RProxy {
  port: number;
  close(): Promise<void>;
}

export async function startRuntimeProxy(variant: RuntimeVariant, brokerPort: number): Promise<RProxy> {
  const links: RLink[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    let upstream: Socket | undefined;
    const pending: Uint8Array[] = [];
    const link: RLink = {
      client, all: links, state: {},
      toClient: (f) => { if (!client.destroyed) client.write(rframeBytes(f)); },
      toBroker: (f) => writeUp(rframeBytes(f)),
    };
    const forget = (): void => {
      const i = links.indexOf(link);
      if (i >= 0) links.splice(i, 1);
    };
    const drop = (): void => {
      forget();
      client.destroy();
      upstream?.destroy();
    };
    const ensureUpstream = (): Socket => {
      if (upstream) return upstream;
      const up = connect({ host: '127.0.0.1', port: brokerPort });
      upstream = up;
      sockets.add(up);
      up.on('error', () => undefined);
      up.on('close', () => (variant.keepsClient?.(link) ? undefined : drop()));
      const decoder = new FrameDecoder({ maxFrame: 2 ** 32 - 1 });
      up.on('data', (chunk: Buffer) => {
        let bodies: Uint8Array[];
        try {
          bodies = decoder.push(chunk);
        } catch {
          client.write(chunk);
          return;
        }
        for (const body of bodies) {
          const f = parse(body);
          const out = f && variant.toClient ? variant.toClient(f, link) : f;
          if (!f) client.write(encodeFrame(body));
          else if (out && out !== 'handled' && !client.destroyed) client.write(rframeBytes(out));
        }
      });
      for (const b of pending.splice(0)) up.write(b);
      return up;
    };
    function writeUp(b: Uint8Array): void {
      if (upstream || !variant.lazyUpstream) ensureUpstream().write(b);
      else pending.push(b);
    }
    links.push(link);
    if (!variant.lazyUpstream) ensureUpstream();
    // Client to broker: framed and rewritten; once unframeable, passed on as it comes.
    const decoder = new FrameDecoder({ maxFrame: 2 ** 32 - 1 });
    let raw = false;
    const emit = (body: Uint8Array): void => {
      if (variant.lazyUpstream) ensureUpstream();
      const f = parse(body);
      const out = f && variant.toBroker ? variant.toBroker(f, link) : f;
      if (!f) writeUp(encodeFrame(body));
      else if (out && out !== 'handled') writeUp(rframeBytes(out));
    };
    const framed = (chunk: Buffer): void => {
      if (raw) { writeUp(chunk); return; }
      try {
        for (const body of decoder.push(chunk)) emit(body);
      } catch (e) {
        const before = (e as ProtocolError).framesBefore ?? [];
        before.forEach(emit);
        raw = true;
        writeUp(chunk.subarray(before.reduce((n, b) => n + 4 + b.length, 0)));
      }
    };
    client.on('data', (chunk: Buffer) => (variant.rawToBroker ? variant.rawToBroker(chunk, link, framed) : framed(chunk)));
    client.on('close', variant.keepsUpstream ? forget : drop);
    client.on('error', () => undefined);
    variant.onConnect?.(link);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
