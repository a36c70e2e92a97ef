/**
 * The legacy `lines` profile (section transport-lines): the harness plays the other side of an
 * existing line-based pipe pair (`--target lines:REQUEST_PIPE,REPLY_PIPE --role requester|responder
 * -- CMD`) and checks framing, byte transparency, timeouts, start order, missing and substituted
 * pipes, permissions (as another uid), concurrent writers, early close, stale data and the log format.
 * The pipe paths belong to the test: before each case the harness replaces whatever FIFO or regular
 * file is there with fresh FIFOs of mode 0600.
 */
import { promises as fsp, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { mkfifo } from '../../reference/transport/fifo-fs.js';
import { printedReply, readLine, readPipe, startPeer, stopPeer, writeLine, type LinesRole, type LinesTarget, type PeerRun } from '../wire/lines.js';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext } from './context.js';

const PIPE_BUF = 4096;
const LF = Buffer.from('\n');

function target(ctx: CaseContext): LinesTarget {
  const t = ctx.options.target;
  if (t.kind !== 'lines') throw new CaseSkipped('needs a lines target (--target lines:REQUEST_PIPE,REPLY_PIPE --role ROLE -- CMD)');
  return t.lines;
}

/** How long the harness waits for one phase of the peer: its own timeout and a margin for its start. */
const waitMs = (t: LinesTarget): number => (t.timeoutS + 3) * 1000;

async function removeAt(path: string): Promise<void> {
  const st = await fsp.lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isFIFO() && !st.isFile()) throw new Error(`${path} is neither a FIFO nor a regular file; the harness will not remove it`);
  await fsp.unlink(path);
}

/** Fresh FIFOs 0600 at both paths (what a correct setup leaves). */
async function freshPipes(t: LinesTarget): Promise<void> {
  await removeAt(t.request);
  await removeAt(t.reply);
  await mkfifo([t.request, t.reply]);
}

/** Runs `body` with the peers it starts killed (by PID) at the end, whatever happens. */
async function withPeers<T>(body: (started: PeerRun[]) => Promise<T>): Promise<T> {
  const started: PeerRun[] = [];
  try {
    return await body(started);
  } finally {
    for (const p of started) stopPeer(p);
  }
}

async function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new CaseFailure(`${what}: nothing within ${ms} ms`)), ms); });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

const show = (b: Buffer): string => JSON.stringify(b.subarray(0, 60).toString('latin1')) + (b.length > 60 ? `... (${b.length} bytes)` : '');

/** Requester under test: one exchange, the harness answering `reply` (raw bytes, LF included or not). */
async function requesterExchange(t: LinesTarget, started: PeerRun[], message: Buffer, reply: Buffer | undefined, log?: string): Promise<{ request: Buffer; run: Awaited<PeerRun['exit']> }> {
  const run = startPeer(t, { stdin: Buffer.concat([message, LF]), ...(log ? { log } : {}) });
  started.push(run);
  const got = await readLine(t.request, waitMs(t));
  if (got.kind === 'timeout') throw new CaseFailure('the requester wrote no request line', show(message), got.partial.length ? show(got.partial) : 'nothing');
  if (!got.sawLf) throw new CaseFailure('the request did not end with LF (LINES-2)', 'LF', 'end of file');
  if (got.rest !== 0) throw new CaseFailure('the requester wrote bytes after the LF (LINES-2)', '0', String(got.rest));
  if (reply) await writeLine(t.reply, reply, waitMs(t));
  return { request: got.bytes, run: await bounded(run.exit, waitMs(t), 'the requester to exit') };
}

const running = (p: PeerRun): boolean => p.child.exitCode === null && p.child.signalCode === null;

/**
 * Responder under test: one exchange; the raw request bytes are written in one open/write/close. A
 * responder is started (after `startAfterMs`) unless one is running; a one-shot responder (--one-shot)
 * serves this exchange only, so the next exchange starts a new one.
 */
async function responderExchange(t: LinesTarget, started: PeerRun[], raw: Buffer, options: { log?: string; startAfterMs?: number } = {}): Promise<Buffer> {
  let current = started.find(running);
  if (!current) {
    if (options.startAfterMs) setTimeout(() => { current = startResponder(t, started, options.log); }, options.startAfterMs);
    else current = startResponder(t, started, options.log);
  }
  await writeLine(t.request, raw, waitMs(t));
  const got = await readLine(t.reply, waitMs(t));
  if (got.kind === 'timeout') throw new CaseFailure('the responder wrote no reply line', 'a reply line', got.partial.length ? show(got.partial) : 'nothing');
  if (t.oneShot && current) {
    // Its exchange is over: one still running after a phase is stopped, so that two never share the pipes.
    await Promise.race([current.exit, new Promise((r) => setTimeout(r, waitMs(t)))]);
    stopPeer(current);
  }
  return got.bytes;
}

function startResponder(t: LinesTarget, started: PeerRun[], log?: string): PeerRun {
  const run = startPeer(t, log ? { log } : {});
  started.push(run);
  return run;
}

function expectBytes(what: string, got: Buffer, want: Buffer): void {
  if (!got.equals(want)) throw new CaseFailure(what, show(want), show(got));
}

/** A responder's reply: the echo of the request, or with --reply-pattern the fixed text an existing peer gives. */
function expectReply(t: LinesTarget, what: string, got: Buffer, echo: Buffer): void {
  if (!t.replyPattern) return expectBytes(what, got, echo);
  if (!t.replyPattern.test(got.toString('latin1'))) throw new CaseFailure(`${what} (--reply-pattern)`, t.replyPattern.source, show(got));
}

/** What a requester printed: the reply, with or without a final LF, or inside --output-pattern. */
function expectPrinted(t: LinesTarget, what: string, stdout: Buffer, reply: Buffer): void {
  const got = printedReply(t, stdout);
  if (got === undefined) throw new CaseFailure(`${what}: the output does not match --output-pattern`, t.outputPattern!.source, show(stdout));
  expectBytes(what, got, reply);
}

/** A normal exchange in the peer's role, checked end to end. */
async function normalExchange(t: LinesTarget, started: PeerRun[], text: string, log?: string): Promise<void> {
  const msg = Buffer.from(text);
  if (t.role === 'requester') {
    const reply = Buffer.from(`reply to ${text}`);
    const { request, run } = await requesterExchange(t, started, msg, Buffer.concat([reply, LF]), log);
    expectBytes('the request differs from the message given', request, msg);
    expectPrinted(t, 'the requester printed another reply', run.stdout, reply);
  } else {
    expectReply(t, 'the reply is not the echo of the request', await responderExchange(t, started, Buffer.concat([msg, LF]), log ? { log } : {}), msg);
  }
}

const allBytes = (): Buffer => Buffer.from(Array.from({ length: 4 * 256 }, (_, i) => i % 256).filter((b) => b !== 10));

/** What a case for one role does, its pipes fresh and every peer it starts stopped afterwards. */
type RoleRun = (t: LinesTarget, started: PeerRun[]) => Promise<void>;

/**
 * The cases for one rule that a requester and a responder show differently: `<id>/requester` and
 * `<id>/responder`, each skipped for a peer of the other role. Until issue 19 each was one case
 * `<id>` that forked on the role; that id still selects both (--run and known-failing lists match by
 * prefix).
 */
function roleCases(id: string, statements: string[], runs: Record<LinesRole, RoleRun>): Case[] {
  return (['requester', 'responder'] as const).map((role) => defineCase({
    id: `${id}/${role}`,
    statements,
    async run(ctx) {
      const t = target(ctx);
      if (t.role !== role) throw new CaseSkipped(`checks a ${role}; the peer under test is a ${t.role}`);
      await freshPipes(t);
      await withPeers((started) => runs[role](t, started));
    },
  }));
}

/** After a missing pipe: the peer must not have created anything at `path` (LINES-9). */
async function expectNothingCreated(path: string): Promise<void> {
  const st = await fsp.lstat(path).catch(() => undefined);
  if (st) throw new CaseFailure(`the peer created ${st.isFIFO() ? 'a FIFO' : 'a regular file'} at ${path} where the pipe was missing`, 'nothing created', st.isFIFO() ? 'FIFO' : 'regular file');
}

/** Puts a regular file where the pipe the peer reads should be. */
async function plantFile(path: string): Promise<void> {
  await removeAt(path);
  await fsp.writeFile(path, 'planted\n', { mode: 0o600 });
}

/** After a substituted pipe: the regular file must be as planted. */
async function expectPlantedUnchanged(path: string): Promise<void> {
  const text = await fsp.readFile(path, 'utf8').catch(() => '(gone)');
  if (text !== 'planted\n') throw new CaseFailure('the peer changed the regular file in place of its pipe', '"planted\\n"', JSON.stringify(text.slice(0, 60)));
}

export const linesCases: Case[] = [
  ...roleCases('transport-lines/byte-transparency', ['LINES-2', 'LINES-3'], {
    // Every byte value but LF, NUL included, 1020 bytes.
    async requester(t, started) {
      const msg = allBytes();
      const reply = Buffer.from(msg).reverse();
      const { request, run } = await requesterExchange(t, started, msg, Buffer.concat([reply, LF]));
      expectBytes('the request is not the message byte for byte', request, msg);
      expectPrinted(t, 'the printed reply is not the reply byte for byte', run.stdout, reply);
    },
    async responder(t, started) {
      const msg = allBytes();
      expectReply(t, 'the echoed reply is not the request byte for byte', await responderExchange(t, started, Buffer.concat([msg, LF])), msg);
    },
  }),
  ...roleCases('transport-lines/lf-and-eof-framing', ['LINES-3'], {
    async requester(t, started) {
      const { run } = await requesterExchange(t, started, Buffer.from('frame me'), Buffer.from('first\nsecond line, to be discarded\n'));
      expectPrinted(t, 'the requester did not stop at the first LF', run.stdout, Buffer.from('first'));
      const eof = await requesterExchange(t, started, Buffer.from('again'), Buffer.from('no-lf-at-eof'));
      expectPrinted(t, 'a reply ended by end of file instead of LF was not taken whole', eof.run.stdout, Buffer.from('no-lf-at-eof'));
    },
    async responder(t, started) {
      expectReply(t, 'the responder did not stop at the first LF', await responderExchange(t, started, Buffer.from('first\nTAIL that must be discarded')), Buffer.from('first'));
      expectReply(t, 'a request ended by end of file was not taken whole', await responderExchange(t, started, Buffer.from('no-lf-at-eof')), Buffer.from('no-lf-at-eof'));
    },
  }),
  ...roleCases('transport-lines/phase-timeout', ['LINES-7'], {
    async requester(t, started) {
      const { run } = await requesterExchange(t, started, Buffer.from('nobody answers'), undefined);
      if (run.signal !== null || run.code === 0) throw new CaseFailure('a requester without a reply must give up after its timeout with a failure status', 'non-zero exit', run.signal ?? `exit ${run.code}`);
    },
    async responder(t, started) {
      const server = startResponder(t, started);
      // A requester that opens the request pipe and stalls mid-line for longer than the timeout.
      await writeLine(t.request, Buffer.from('stalled, no LF'), waitMs(t)).catch(() => undefined);
      const { openWriteEnd } = await import('../../reference/transport/fifo-fs.js');
      const fd = await openWriteEnd(t.request, waitMs(t), false).catch(() => undefined);
      await new Promise((r) => setTimeout(r, (t.timeoutS + 1) * 1000));
      if (fd !== undefined) (await import('node:fs')).closeSync(fd);
      const drained = await readLine(t.reply, 500); // the reply to the stalled request, if any
      void drained;
      if (server.child.signalCode !== null) throw new CaseFailure(`the responder was killed by ${server.child.signalCode} after a stalled request`, 'running', server.child.signalCode);
      // A one-shot responder may end with its dropped exchange; the next exchange then starts a new one.
      if (server.child.exitCode !== null && !t.oneShot) throw new CaseFailure('the responder exited after a stalled request instead of serving on', 'running', `exit ${server.child.exitCode}`);
      expectReply(t, 'after a timed-out exchange the responder does not serve the next one', await responderExchange(t, started, Buffer.from('after the stall\n')), Buffer.from('after the stall'));
    },
  }),
  ...roleCases('transport-lines/start-order', ['LINES-8'], {
    async requester(t, started) {
      // The requester first; the harness opens the pipes 500 ms later.
      const run = startPeer(t, { stdin: Buffer.from('early bird\n') });
      started.push(run);
      await new Promise((r) => setTimeout(r, 500));
      const got = await readLine(t.request, waitMs(t));
      if (got.kind !== 'line') throw new CaseFailure('started before its responder, the requester sent nothing');
      await writeLine(t.reply, Buffer.from('late reply\n'), waitMs(t));
      expectPrinted(t, 'started first, the requester did not get the reply', (await bounded(run.exit, waitMs(t), 'the requester to exit')).stdout, Buffer.from('late reply'));
      await normalExchange(t, started, 'harness first'); // the usual order: the harness reads first
    },
    async responder(t, started) {
      // The harness first: its request waits (ENXIO retries) until the responder starts 500 ms later.
      const pending = responderExchange(t, started, Buffer.from('before you\n'), { startAfterMs: 500 });
      expectReply(t, 'started after its requester, the responder did not answer', await pending, Buffer.from('before you'));
    },
  }),
  // The pipe the peer writes is missing: it must fail, and create nothing there.
  ...roleCases('transport-lines/missing-pipe-never-created', ['LINES-9', 'FIFO-2'], {
    async requester(t, started) {
      await removeAt(t.request);
      const run = startPeer(t, { stdin: Buffer.from('where does this go?\n') });
      started.push(run);
      const r = await bounded(run.exit, waitMs(t), 'the requester to exit');
      if (r.code === 0) throw new CaseFailure('the requester reported success with its request pipe missing', 'non-zero exit', 'exit 0');
      await expectNothingCreated(t.request);
    },
    async responder(t, started) {
      await removeAt(t.reply);
      startResponder(t, started);
      await writeLine(t.request, Buffer.from('reply to nowhere\n'), waitMs(t));
      await new Promise((r) => setTimeout(r, 1000));
      await expectNothingCreated(t.reply);
    },
  }),
  // A regular file where the pipe the peer reads should be: it must refuse it and leave it as it is.
  ...roleCases('transport-lines/substituted-pipe-refused', ['LINES-9', 'FIFO-2'], {
    async requester(t, started) {
      await plantFile(t.reply);
      const run = startPeer(t, { stdin: Buffer.from('substituted\n') });
      started.push(run);
      await readLine(t.request, waitMs(t));
      const r = await bounded(run.exit, waitMs(t), 'the requester to exit');
      if (r.stdout.includes('planted')) throw new CaseFailure('the requester took a regular file for its reply pipe', 'refused', show(r.stdout));
      if (r.code === 0) throw new CaseFailure('the requester reported success with a regular file as its reply pipe', 'non-zero exit', 'exit 0');
      await expectPlantedUnchanged(t.reply);
    },
    async responder(t, started) {
      await plantFile(t.request);
      startResponder(t, started);
      const reply = await readLine(t.reply, 1500);
      if (reply.kind === 'line') throw new CaseFailure('the responder served a regular file as its request pipe', 'no reply', show(reply.bytes));
      await expectPlantedUnchanged(t.request);
    },
  }),
  defineCase({
    id: 'transport-lines/pipes-not-world-writable',
    statements: ['LINES-5'],
    async run(ctx) {
      const t = target(ctx);
      await freshPipes(t);
      await withPeers(async (started) => {
        await normalExchange(t, started, 'permissions');
      });
      for (const p of [t.request, t.reply]) {
        const st = await fsp.stat(p);
        if ((st.mode & 0o022) !== 0) throw new CaseFailure(`${p} is writable by group or others after the peer ran`, 'mode 0600', `mode ${(st.mode & 0o777).toString(8)}`);
      }
    },
  }),
  defineCase({
    id: 'transport-lines/other-user-cannot-write',
    statements: ['LINES-5'],
    async run(ctx) {
      const t = target(ctx);
      if (process.getuid?.() !== 0) throw new CaseSkipped('needs root to run a probe as uid 65534 (setpriv); as a normal user run the probe by hand');
      if (spawnSync('setpriv', ['--version']).status !== 0) throw new CaseSkipped('setpriv (util-linux) is not installed');
      await freshPipes(t);
      await withPeers(async (started) => {
        if (t.role === 'responder') startResponder(t, started);
        await normalExchange(t, started, 'before the probe');
        // The pipe the peer reads: another user must not be able to put a message into it.
        const target_ = t.role === 'requester' ? t.reply : t.request;
        const probe = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e',
          `const fs=require('fs');try{fs.closeSync(fs.openSync(process.argv[1],fs.constants.O_WRONLY|fs.constants.O_NONBLOCK));console.log('OPEN')}catch(e){console.log(e.code)}`, target_], { encoding: 'utf8', timeout: 10_000 });
        const outcome = probe.stdout.trim();
        if (outcome !== 'EACCES') throw new CaseFailure(`uid 65534 can open ${target_} for writing (${outcome || probe.stderr.trim()})`, 'EACCES', outcome || 'probe failed');
      });
    },
  }),
  defineCase({
    id: 'transport-lines/concurrent-writers-below-pipe-buf',
    statements: ['LINES-2', 'LINES-10'],
    async run(ctx) {
      const t = target(ctx);
      if (t.role !== 'requester') throw new CaseSkipped('concurrent writers are requesters; a responder reads one message per open');
      await freshPipes(t);
      const n = 8;
      const messages = Array.from({ length: n }, (_, i) => Buffer.alloc(PIPE_BUF - 1, 65 + i)); // 4095 bytes + LF = PIPE_BUF
      await withPeers(async (started) => {
        const collected = readPipe(t.request, waitMs(t), { untilLines: n, holdWriter: true });
        for (const m of messages) started.push(startPeer(t, { stdin: Buffer.concat([m, LF]) }));
        const { data } = await collected;
        const lines = data.toString('latin1').split('\n').filter((l) => l.length > 0);
        const wanted = new Set(messages.map((m) => m.toString('latin1')));
        const broken = lines.filter((l) => !wanted.has(l));
        if (broken.length > 0 || lines.length !== n) throw new CaseFailure(`${n} concurrent requests of PIPE_BUF bytes did not arrive whole`, `${n} intact lines`, `${lines.length - broken.length} intact, ${broken.length} mixed or cut`);
      });
    },
  }),
  defineCase({
    id: 'transport-lines/concurrent-writers-above-pipe-buf',
    statements: ['LINES-10'],
    async run(ctx) {
      const t = target(ctx);
      if (t.role !== 'requester') throw new CaseSkipped('concurrent writers are requesters; a responder reads one message per open');
      await freshPipes(t);
      // 6 x 100 KB: more than the pipe's 64 KiB capacity, so writers block mid-message and resume in turn.
      const n = 6;
      const messages = Array.from({ length: n }, (_, i) => Buffer.alloc(100_000, 97 + i));
      await withPeers(async (started) => {
        for (const m of messages) started.push(startPeer(t, { stdin: Buffer.concat([m, LF]) }));
        const exits = Promise.all(started.map((p) => p.exit));
        const { data } = await readPipe(t.request, waitMs(t), { holdWriter: true, until: exits, untilLines: n });
        if (data.length === 0) return; // every requester refused a message it cannot write atomically
        const lines = data.toString('latin1').split('\n').filter((l) => l.length > 0);
        const wanted = new Set(messages.map((m) => m.toString('latin1')));
        const mixed = lines.filter((l) => !wanted.has(l)).length;
        throw new CaseFailure(`requesters wrote messages above PIPE_BUF concurrently: ${mixed > 0 ? `${mixed} of ${lines.length} lines arrived interleaved or cut` : 'they happened to arrive whole, but nothing keeps them so'}`,
          'no message above PIPE_BUF written', `${data.length} bytes in ${lines.length} lines`);
      });
    },
  }),
  defineCase({
    id: 'transport-lines/message-at-pipe-buf',
    statements: ['LINES-10', 'LINES-2'],
    async run(ctx) {
      const t = target(ctx);
      if (t.role !== 'requester') throw new CaseSkipped('checks what a requester writes; a responder\'s reply depends on its application');
      await freshPipes(t);
      await withPeers(async (started) => {
        // At the limit: 4,095 bytes and the LF fill PIPE_BUF exactly, and must be written.
        const atLimit = Buffer.alloc(PIPE_BUF - 1, 0x61);
        const { request, run } = await requesterExchange(t, started, atLimit, Buffer.from('at the limit\n'));
        expectBytes('a request of PIPE_BUF bytes (LF included) did not arrive whole', request, atLimit);
        if (run.code !== 0) throw new CaseFailure('a requester whose request of PIPE_BUF bytes (LF included) was answered did not exit 0', 'exit 0', run.signal ?? `exit ${run.code}`);
      });
      await freshPipes(t);
      await withPeers(async (started) => {
        // One past it: 4,096 bytes and the LF. A writer that counts the message without its LF writes it.
        const past = startPeer(t, { stdin: Buffer.concat([Buffer.alloc(PIPE_BUF, 0x62), LF]) });
        started.push(past);
        const { data } = await readPipe(t.request, waitMs(t), { holdWriter: true, until: past.exit, untilLines: 1 });
        if (data.length > 0) throw new CaseFailure(`a requester wrote a message of ${data.length} bytes, above PIPE_BUF (LINES-10: ${PIPE_BUF} bytes, LF included)`, 'refused, nothing written', `${data.length} bytes written`);
        const r = await bounded(past.exit, waitMs(t), 'the requester to exit');
        if (r.signal !== null || r.code === 0) throw new CaseFailure('a requester that refused a message above PIPE_BUF reported success', 'non-zero exit', r.signal ?? `exit ${r.code}`);
      });
    },
  }),
  ...roleCases('transport-lines/early-close-survived', ['LINES-7', 'FIFO-5'], {
    async requester(t, started) {
      // The harness's reader goes away at once: the request is lost or the write gets EPIPE.
      const run = startPeer(t, { stdin: Buffer.from(`${'x'.repeat(3000)}\n`) });
      started.push(run);
      await readPipe(t.request, 50);
      const r = await bounded(run.exit, waitMs(t) * 2, 'the requester to exit');
      if (r.signal !== null) throw new CaseFailure(`the requester was killed by ${r.signal} when its reader went away`, 'an exit status', r.signal);
      if (r.code === 0) throw new CaseFailure('the requester reported success although its request was never answered', 'non-zero exit', 'exit 0');
    },
    async responder(t, started) {
      const server = startResponder(t, started);
      await writeLine(t.request, Buffer.from('reader leaves early\n'), waitMs(t));
      await readPipe(t.reply, 1); // open and close the reply pipe before the reply is read
      await new Promise((r) => setTimeout(r, (t.timeoutS + 1) * 1000));
      if (server.child.signalCode !== null) throw new CaseFailure(`the responder was killed by ${server.child.signalCode} when its reader went away`, 'running', server.child.signalCode);
      if (server.child.exitCode !== null && !t.oneShot) throw new CaseFailure('the responder exited when its reader went away', 'running', `exit ${server.child.exitCode}`);
      expectReply(t, 'after an early close the responder does not serve the next exchange', await responderExchange(t, started, Buffer.from('next\n')), Buffer.from('next'));
    },
  }),
  ...roleCases('transport-lines/no-stale-data', ['LINES-4'], {
    async requester(t, started) {
      const aborted = await requesterExchange(t, started, Buffer.from('old request'), undefined);
      if (aborted.run.code === 0) throw new CaseFailure('the requester reported success for an exchange never answered', 'non-zero exit', 'exit 0');
      await normalExchange(t, started, 'new request');
    },
    async responder(t, started) {
      startResponder(t, started);
      await writeLine(t.request, Buffer.from('old request\n'), waitMs(t)); // its reply is never read
      await new Promise((r) => setTimeout(r, (t.timeoutS + 1.5) * 1000));
      expectReply(t, 'the reply belongs to an earlier, aborted exchange', await responderExchange(t, started, Buffer.from('new request\n')), Buffer.from('new request'));
    },
  }),
  defineCase({
    id: 'transport-lines/log-line-format',
    statements: ['LINES-11'],
    async run(ctx) {
      const t = target(ctx);
      if (!t.command.some((a) => a.includes('{log}'))) throw new CaseSkipped('the peer command has no {log} placeholder');
      await freshPipes(t);
      const dir = await fsp.mkdtemp(join(tmpdir(), 'concord-lines-log-'));
      const log = join(dir, 'peer.log');
      try {
        await withPeers(async (started) => {
          if (t.role === 'responder') startResponder(t, started, log);
          await normalExchange(t, started, 'log me', log);
        });
        if (!existsSync(log)) throw new CaseFailure('the peer wrote no log file although one was named', 'a log file', 'none');
        const lines = (await fsp.readFile(log, 'utf8')).split('\n').filter((l) => l.length > 0);
        const bad = lines.filter((l) => !/^\[[^\]]+\] \[(DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\] \S/.test(l));
        if (lines.length === 0 || bad.length > 0) throw new CaseFailure('log lines are not [TIMESTAMP] [LEVEL] MESSAGE', '[TIMESTAMP] [LEVEL] MESSAGE', lines.length === 0 ? 'an empty log' : bad[0]!);
      } finally {
        await fsp.rm(dir, { recursive: true, force: true });
      }
    },
  }),
];
