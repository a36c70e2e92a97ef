/**
 * One peer of a diff: a command started without a shell (a testee or an engine on stdio), or a
 * broker at `tcp:HOST:PORT`. It is started once and handshaken like in the suites (the case
 * context's testee() and session()), asked one frame at a time, and started again only after it
 * closed or fell silent, so one bad answer never shifts the answers that follow.
 */
import { CaseContext } from '../cases/context.js';
import { ConnectError, type WireConnection } from '../wire/connection.js';
import { ExecPeer, TcpPeer } from '../wire/peer-target.js';
import { PeerStartError, startFailureSince, startedCount, unstartable } from '../wire/peer-process.js';
import type { Encoding } from '../../reference/codec/body.js';
import { splitCommand } from './split-command.js';
import { answerOf, type Answer } from './answer.js';
import { messageByName } from '../../reference/codec/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';

const isAnswer = (name: MessageName): boolean => name === 'ERROR' || messageByName(name).kind === 'response';

/** What a `--peer` value names. */
export interface PeerSpec {
  /** The `--peer` value as given. */
  text: string;
  /** A broker over TCP, or a command started on stdio. */
  target: TcpPeer | ExecPeer;
}

/** A peer that cannot be started or reached (exit 69). */
export class PeerUnavailable extends Error {
  override name = 'PeerUnavailable';
}

/** `tcp:HOST:PORT` (HOST may be `[v6]`) or a command line; throws CommandSplitError or a plain Error for usage faults. */
export function parsePeer(text: string): PeerSpec {
  const tcp = /^tcp:(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (tcp) {
    const port = Number(tcp[3]);
    if (port < 1 || port > 65535) throw new Error(`--peer ${text}: port ${port} is out of range 1-65535`);
    return { text, target: new TcpPeer(tcp[1] ?? tcp[2]!, port) };
  }
  if (text.startsWith('tcp:')) throw new Error(`--peer ${JSON.stringify(text)} is not tcp:HOST:PORT`);
  const exec = splitCommand(text);
  if (exec.length === 0) throw new Error('--peer takes a command line or tcp:HOST:PORT, not an empty string');
  return { text, target: new ExecPeer(exec) };
}

export interface PeerOptions {
  timeoutMs: number;
  startTimeoutMs: number;
  seed: number;
  /** Offer CBOR at INIT_ACK when the peer declares it (false: JSON only). */
  cbor: boolean;
}

/** Numbers the peers' case contexts (each its own run id, so client ids never repeat). */
let contexts = 0;

export class DiffPeer {
  private conn: WireConnection | undefined;
  /** Ids this connection was asked that it never answered: a late answer to one of them is skipped. */
  private readonly unanswered = new Set<string>();
  private broken = false;
  /** The peer's INIT (a broker: its INIT_ACK). */
  hello: Record<string, unknown> = {};
  /** The encodings agreed at the handshake. */
  encodings: Encoding[] = ['json'];
  /** Processes started for this peer (1 unless it closed or fell silent). */
  starts = 0;

  private constructor(readonly spec: PeerSpec, private readonly ctx: CaseContext, private readonly options: PeerOptions) {}

  static async start(spec: PeerSpec, options: PeerOptions): Promise<DiffPeer> {
    const ctx = new CaseContext({ target: spec.target, timeoutMs: options.timeoutMs, startTimeoutMs: options.startTimeoutMs, seed: options.seed, runId: `diff${++contexts}` });
    const peer = new DiffPeer(spec, ctx, options);
    await peer.connect();
    return peer;
  }

  get isBroker(): boolean {
    return this.spec.target.kind === 'tcp';
  }

  private async connect(): Promise<void> {
    const exec = this.spec.target.kind === 'exec' ? [...this.spec.target.command] : undefined;
    const problem = exec ? unstartable(exec) : undefined;
    if (problem) throw new PeerUnavailable(`cannot start the peer ${this.spec.text}: ${problem}`);
    const mark = startedCount();
    this.starts++;
    try {
      if (exec) {
        const t = await this.ctx.testee('diff', { json: !this.options.cbor });
        this.conn = t.conn;
        this.hello = t.init;
        this.encodings = t.encodings;
      } else {
        const s = await this.ctx.session('diff');
        this.conn = s.conn;
        this.hello = s.ack;
        this.encodings = ['json'];
      }
    } catch (e) {
      const started = await startFailureSince(mark, 2000);
      const why = started instanceof PeerStartError ? started.message : e instanceof ConnectError ? `cannot reach ${this.spec.text}: ${e.message}` : `${this.spec.text} did not complete its handshake: ${(e as Error).message}`;
      throw new PeerUnavailable(why);
    }
    this.broken = false;
    this.unanswered.clear();
  }

  /** Sends `frame` (whose header id is `id`) and returns the peer's answer; starts the peer again first when it closed or fell silent before. */
  async ask(frame: Uint8Array, id: string, note: string): Promise<Answer> {
    if (this.broken || this.conn === undefined || this.conn.closed) {
      this.conn?.destroy();
      await this.connect();
    }
    const conn = this.conn!;
    conn.sendRaw(frame, note);
    // One bound for the whole wait, however much else the peer sends meanwhile.
    const deadline = Date.now() + this.options.timeoutMs;
    for (;;) {
      const r = await conn.next(Math.max(1, deadline - Date.now()));
      if (r.kind === 'message' && r.message.header.re !== undefined && this.unanswered.has(r.message.header.re)) continue;
      // A broker also sends what other clients cause (PEER_GONE, bus traffic, their requests): only an answer (to this frame, or to none) counts.
      if (this.isBroker && r.kind === 'message' && (!isAnswer(r.message.name) || (r.message.header.re !== undefined && r.message.header.re !== id))) continue;
      const answer = answerOf(r, this.options.timeoutMs);
      if (answer.kind === 'silent') this.unanswered.add(id);
      if (answer.kind === 'silent' || answer.kind === 'closed' || answer.kind === 'undecodable') this.broken = true;
      return answer;
    }
  }

  close(): void {
    this.ctx.close();
  }
}
