/**
 * A frame-level proxy in front of the reference broker that injects one defect: each client
 * connection gets its own upstream connection, every frame is decoded in both directions and
 * passed through the mutant's rewrite. The harness must catch each mutant with the case named for
 * it (the suite's adequacy, principle 5), without a single test hook in the broker itself.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { FrameDecoder, encodeFrame } from '../../reference/codec/frame.js';
import { decodeEnvelope, encodeEnvelope, ENCODINGS } from '../../reference/codec/body.js';
import { messageByCode } from '../../reference/codec/catalog.js';
import type { ProtocolError } from '../../reference/codec/errors.js';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import type { Header } from '../../reference/codec/header.js';

export interface Frame {
  code: number;
  header: Header;
  encoding: (typeof ENCODINGS)[number];
  payload: Uint8Array;
}

export interface Link {
  /** The client side of this connection pair. */
  client: Socket;
  /** Every client link of the proxy, for defects that misroute. */
  all: Link[];
}

/** What to do with one frame: forward it (maybe changed), drop it, or hand it elsewhere. */
export type Rewrite = (frame: Frame, link: Link) => Frame | null | 'handled';

export interface Mutant {
  name: string;
  /** The case that must catch the defect. */
  caughtBy: string;
  /** Rewrites of frames going to the broker and coming from it. */
  toBroker?: Rewrite;
  toClient?: Rewrite;
  /** Raw interception of client bytes before framing (for length-prefix defects). */
  rawToBroker?: (chunk: Buffer, link: Link, forward: (b: Buffer) => void) => void;
  /** A fault of a client's socket (its reset), which the proxy otherwise ignores. */
  clientError?: (error: Error, link: Link) => void;
}

export function frameBytes(f: Frame): Uint8Array {
  return encodeFrame(encodeEnvelope(f.code, f.encoding, f.header, f.payload));
}

function parse(body: Uint8Array): Frame | null {
  try {
    const e = decodeEnvelope(body);
    const encoding = ENCODINGS[e.encodingBits];
    if (!messageByCode(e.type) || !encoding) return null;
    return { code: e.type, header: e.header, encoding, payload: e.payload };
  } catch {
    return null;
  }
}

/** The catalog name of a parsed frame. */
export function nameOf(f: Frame): string {
  return messageByCode(f.code)!.name;
}

export interface ProxyHandle {
  port: number;
  close(): Promise<void>;
}

export async function startMutantProxy(mutant: Mutant, brokerPort: number): Promise<ProxyHandle> {
  const links: Link[] = [];
  const sockets = new Set<Socket>();
  /**
   * Passes frames through `rewrite`. Once the stream cannot be framed (a zero or oversized length),
   * the rest goes through untouched, so the broker sees the very bytes the harness sent.
   */
  const pipe = (to: Socket, link: Link, rewrite: Rewrite | undefined): ((chunk: Buffer) => void) => {
    const decoder = new FrameDecoder({ maxFrame: DEFAULT_LIMITS.max_frame });
    let raw = !rewrite;
    const emit = (body: Uint8Array): void => {
      const f = parse(body);
      const out = f ? rewrite!(f, link) : null;
      if (!f) to.write(encodeFrame(body));
      else if (out && out !== 'handled') to.write(frameBytes(out));
    };
    return (chunk) => {
      if (raw) { to.write(chunk); return; }
      try {
        for (const body of decoder.push(chunk)) emit(body);
      } catch (e) {
        const before = (e as ProtocolError).framesBefore ?? [];
        before.forEach(emit);
        raw = true;
        // The faulty length prefix starts in this chunk for every case that sends one (a test-proxy
        // simplification): forward it and everything after it as they came.
        to.write(chunk.subarray(before.reduce((n, b) => n + 4 + b.length, 0)));
      }
    };
  };
  const server: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: brokerPort });
    sockets.add(client);
    sockets.add(upstream);
    const link: Link = { client, all: links };
    links.push(link);
    const toBroker = pipe(upstream, link, mutant.toBroker);
    client.on('data', (chunk: Buffer) => (mutant.rawToBroker ? mutant.rawToBroker(chunk, link, toBroker) : toBroker(chunk)));
    upstream.on('data', pipe(client, link, mutant.toClient));
    const drop = (): void => {
      links.splice(links.indexOf(link), 1);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', (e) => mutant.clientError?.(e, link));
    upstream.on('error', () => undefined);
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
