/**
 * The stdio transport (spec section 10.3) as a child process meets it, for every suite that starts one
 * speaking frames (testee, engine, instrument worker): its first frame is INIT (STDIO-1), its standard
 * output carries frames and nothing else (STDIO-2), it exits at end of input and, where the peer's role
 * has an initialisation that can fail, with a non-zero status when it does (STDIO-3), and when its parent
 * dies while its input stays open (STDIO-3; the instrument suite checks that for workers, INS-16). The
 * harness starts the child itself (or under an intermediate parent it can kill) so that it sees every
 * byte of its standard output, and kills it by PID and process group at the end.
 */
import { harnessInitAck } from './init-ack.js';
import type { ChildProcess } from 'node:child_process';
import { startPeerProcess } from '../wire/peer-process.js';
import { alive, gone, startUnderParent } from '../wire/intermediate-parent.js';
import { decodeMessage, type Message } from '../../reference/codec/message.js';
import { ProtocolError } from '../../reference/codec/errors.js';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { WireConnection } from '../wire/connection.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext } from './context.js';
import { commandOf } from '../wire/peer-target.js';

interface Child {
  /** The process the harness started: the child, or its intermediate parent (option `underParent`). */
  proc: ChildProcess;
  conn: WireConnection;
  /** The child's PID. */
  pid: number;
  /** Every byte the child wrote to its standard output so far. */
  stdout(): Buffer;
}

async function withChild(ctx: CaseContext, body: (c: Child) => Promise<void>, options: { underParent?: boolean } = {}): Promise<void> {
  const given = commandOf(ctx.options.target);
  if (!given) throw new CaseSkipped('needs a peer command: --exec -- CMD');
  const exec = [...given];
  if (exec.some((a) => /\{(broker|fifo|unix|port|host)\}/.test(a))) throw new CaseSkipped('the peer does not run on stdio (its command names a placeholder)');
  // Started like every peer (its own process group, ended whole), but by the case: it watches the exit.
  // Under an intermediate parent, the harness holds the child's input through the parent's fd 4.
  const started = options.underParent ? startUnderParent(exec) : undefined;
  const peer = started?.peer ?? startPeerProcess(exec, { stdio: ['pipe', 'pipe', 'pipe'] });
  const proc = peer.child;
  const chunks: Buffer[] = [];
  proc.stdout!.on('data', (d: Buffer) => chunks.push(d));
  // The connection before the PID: frames the child sends meanwhile must not be lost.
  const conn = WireConnection.fromPeer(peer, 'stdio-child', started?.input);
  let pid = -1;
  try {
    pid = started ? await started.childPid : proc.pid ?? -1;
    if (pid <= 0) throw new CaseFailure(`the child could not be started (${peer.status ?? 'no PID reported'})${peer.stderrTail() ? `; stderr: ${peer.stderrTail()}` : ''}`);
    await body({ proc, conn, pid, stdout: () => Buffer.concat(chunks) });
  } finally {
    conn.destroy();
    peer.stop();
    // A child under an intermediate parent the case killed: ended by its PID too.
    if (started && alive(pid)) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
}

/** The child's INIT: the first thing on its standard output (STDIO-1). */
async function firstFrame(ctx: CaseContext, c: Child): Promise<Message> {
  return ctx.expectMessage(c.conn, 'INIT as the child\'s first frame on standard output (STDIO-1)', (m) => m.name === 'INIT', ctx.startTimeoutMs);
}

function acknowledge(c: Child, init: Message): void {
  c.conn.send(harnessInitAck(init));
}

/** Sends a PING and waits for the frame answering it (a testee's echo, a worker's PONG), skipping events. */
async function pingAnswered(ctx: CaseContext, c: Child): Promise<void> {
  c.conn.send({ type: 'PING', header: { id: 'stdio-ping' } });
  for (let i = 0; i < 8; i++) {
    const m = await ctx.expectMessage(c.conn, 'the answer to PING stdio-ping', () => true);
    if (m.header.re === 'stdio-ping') return;
  }
  throw new CaseFailure('no answer to PING among the first 8 frames after the handshake');
}

/** The exit status once the child has exited, or 'running' after `ms`. */
function exitWithin(proc: ChildProcess, ms: number): Promise<number | string> {
  const status = (): number | string => proc.exitCode ?? `signal ${String(proc.signalCode)}`;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(status());
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('running'), ms);
    proc.once('exit', () => { clearTimeout(timer); resolve(status()); });
  });
}

/** Splits `out` into frames; returns what is wrong with the first byte that is not part of a decodable frame. */
export function notFrames(out: Buffer, maxFrame: number): string | null {
  let at = 0;
  const show = (from: number): string => JSON.stringify(out.subarray(from, from + 60).toString('latin1'));
  while (at < out.length) {
    if (out.length - at < 4) return `standard output ends with ${out.length - at} byte(s) that are no frame at offset ${at}: ${show(at)}`;
    const n = out.readUInt32BE(at);
    if (n === 0 || n > maxFrame) return `the bytes at offset ${at} are no frame (length ${n}): ${show(at)}`;
    if (at + 4 + n > out.length) return `standard output ends inside a frame of ${n} bytes at offset ${at}, or what is there is no frame: ${show(at)}`;
    try {
      decodeMessage(out.subarray(at + 4, at + 4 + n));
    } catch (e) {
      return `the frame at offset ${at} does not decode (${(e as Error).message}): ${show(at)}`;
    }
    at += 4 + n;
  }
  return null;
}

/**
 * The STDIO cases under `transport-stdio/<role>/`; `initCanFail` adds the refused-handshake case, and every
 * role but the instrument worker's (INS-16 covers it) the parent-death case.
 */
export function stdioCases(role: string, initCanFail: boolean): Case[] {
  const exitMs = (ctx: CaseContext): number => Math.max(ctx.timeoutMs, 5000);
  const cases: Case[] = [
    defineCase({
      id: `transport-stdio/${role}/first-frame-init`,
      statements: ['STDIO-1'],
      async run(ctx) {
        // Anything else first (a frame, a log line, an early close) fails in firstFrame.
        await withChild(ctx, async (c) => { await firstFrame(ctx, c); });
      },
    }),
    defineCase({
      id: `transport-stdio/${role}/stdout-frames-only`,
      statements: ['STDIO-2'],
      async run(ctx) {
        await withChild(ctx, async (c) => {
          acknowledge(c, await firstFrame(ctx, c));
          // Stray text read as a frame length can swallow the answer: the bytes decide, then the answer.
          const answered = await pingAnswered(ctx, c).then(() => null, (e: unknown) => e);
          c.conn.end();
          // Whatever the child writes up to its exit (a goodbye line is a common slip) counts.
          await exitWithin(c.proc, exitMs(ctx));
          await new Promise((r) => setTimeout(r, 50));
          const wrong = notFrames(c.stdout(), DEFAULT_LIMITS.max_frame);
          if (wrong) throw new CaseFailure(`the child wrote something other than frames to standard output: ${wrong}`, 'frames only', wrong);
          if (answered) throw answered;
        });
      },
    }),
    defineCase({
      id: `transport-stdio/${role}/exits-at-end-of-input`,
      statements: ['STDIO-3'],
      async run(ctx) {
        await withChild(ctx, async (c) => {
          acknowledge(c, await firstFrame(ctx, c));
          await pingAnswered(ctx, c);
          c.conn.end();
          const status = await exitWithin(c.proc, exitMs(ctx));
          if (status === 'running') throw new CaseFailure(`the child still runs ${exitMs(ctx)} ms after its standard input reached end of file`, 'exited', 'running');
        });
      },
    }),
  ];
  // Workers: instrument-worker/parent-killed-exits (INS-16) already checks this, descendants included.
  if (role !== 'instrument') cases.push(defineCase({
    id: `transport-stdio/${role}/exits-when-parent-dies`,
    statements: ['STDIO-3'],
    async run(ctx) {
      await withChild(ctx, async (c) => {
        acknowledge(c, await firstFrame(ctx, c));
        await pingAnswered(ctx, c);
        const parentPid = c.proc.pid;
        if (parentPid === undefined || parentPid <= 0) throw new CaseFailure('the child\'s intermediate parent has no PID');
        // Only the parent dies: the child's input stays open (the harness holds it), so only
        // parent-death detection can end the child.
        process.kill(parentPid, 'SIGKILL');
        if (!(await gone(c.pid, exitMs(ctx)))) {
          // The harness judges the process it started: a launcher in front of the peer (npx, tsx, a shell) must end too.
          throw new CaseFailure(`the child (PID ${c.pid}) still runs ${exitMs(ctx)} ms after its parent was killed, its standard input still open; when the command is a launcher (npx, tsx, a shell script), it is the launcher that must exit: exec the peer, or start it directly`, 'exited', 'running');
        }
      }, { underParent: true });
    },
  }));
  if (initCanFail) cases.push(defineCase({
    id: `transport-stdio/${role}/nonzero-exit-when-handshake-refused`,
    statements: ['STDIO-3'],
    async run(ctx) {
      await withChild(ctx, async (c) => {
        const init = await firstFrame(ctx, c);
        // The parent refuses the handshake with a closing ERROR and closes: the child failed to initialise.
        c.conn.send({ type: 'ERROR', header: { id: 'harness-refusal', re: init.header.id }, payload: new ProtocolError('VERSION_MISMATCH', 'the conformance harness refuses this handshake').toPayload() });
        c.conn.end();
        const status = await exitWithin(c.proc, exitMs(ctx));
        if (status === 'running') throw new CaseFailure(`the child still runs ${exitMs(ctx)} ms after its handshake was refused and its input closed`, 'a non-zero exit', 'running');
        if (status === 0) throw new CaseFailure('the child exited with status 0 after its handshake was refused', 'a non-zero exit status', '0');
      });
    },
  }));
  return cases;
}
