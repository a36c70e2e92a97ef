/**
 * The broker process as it starts (suite broker-process, `conformance --suite broker-process -- CMD
 * ARGS`): the harness starts the broker under test in each case, `{unix}` replaced by a fresh socket
 * path, `{port}` by a free port and `{host}` by an address (127.0.0.1 unless the case says otherwise),
 * and ends it by its PID. It checks the Unix socket's mode (UNIX-1), what the broker leaves at PATH
 * (UNIX-2), the default TCP address (TCP-1: the command with every placeholder argument removed) and
 * that nothing listens beyond loopback unless configured (SEC-1), and with `{fifodir}` the parent
 * directory of FIFO pairs it creates or refuses (FIFO-9).
 */
import { launchBrokerProcess, type LaunchedBroker } from '../wire/broker-launch.js';
import { freePort } from '../wire/cluster-driver.js';
import { promises as fsp } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { constants as fsc, openSync, closeSync } from 'node:fs';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, mkfifo } from '../../reference/transport/fifo-fs.js';
import { tmpdir } from 'node:os';
import { externalIPv4 } from '../wire/external-address.js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineCase, CaseFailure, CaseSkipped, type Case } from './model.js';
import type { CaseContext } from './context.js';

function command(ctx: CaseContext): string[] {
  const t = ctx.options.target;
  if (t.kind !== 'broker-process') throw new CaseSkipped('needs the broker command: conformance --suite broker-process -- CMD ARGS');
  return [...t.command];
}

/** Starts the broker with the placeholders filled, as a process of its own unless the run was given a launcher. */
function start(ctx: CaseContext, cmd: string[], vars: Record<string, string>): LaunchedBroker {
  const args = cmd.map((a) => Object.entries(vars).reduce((x, [k, v]) => x.replaceAll(`{${k}}`, v), a));
  const t = ctx.options.target;
  return (t.kind === 'broker-process' && t.launch ? t.launch : launchBrokerProcess)(args);
}

/**
 * How long a case gives the broker, once its first listener answers, to finish starting or exit before
 * it judges its other listeners: the reference broker binds TCP first, then the Unix socket, and a
 * broker that replaced a live socket only then passed UNIX-2 while the check ran in between (as would
 * one that binds a non-loopback address after the loopback one, SEC-1).
 */
const LISTENERS_SETTLE_MS = 1500;

/** Whether a connection to the address is accepted within `ms`. */
function reachable(target: { path: string } | { host: string; port: number }, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(target as never);
    const done = (ok: boolean): void => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), ms);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Polls until the address accepts connections, the broker exits, or `ms` pass. */
async function waitReachable(s: LaunchedBroker, target: { path: string } | { host: string; port: number }, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await reachable(target, 500)) return true;
    if (s.ended()) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  const srv = createServer();
  const ok = await new Promise<boolean>((resolve) => { srv.once('error', () => resolve(false)); srv.listen(port, host, () => resolve(true)); });
  if (ok) await new Promise((r) => srv.close(r));
  return ok;
}

/** Runs `body` with a scratch directory (0700) and the brokers it starts ended by PID whatever happens. */
async function withScratch<T>(body: (dir: string, started: LaunchedBroker[]) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'concord-broker-process-'));
  const started: LaunchedBroker[] = [];
  try {
    return await body(dir, started);
  } finally {
    for (const s of started) s.stop();
    await Promise.all(started.map((s) => Promise.race([s.exited, new Promise((r) => setTimeout(r, 2000))])));
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

const needs = (cmd: string[], placeholder: string): void => {
  if (!cmd.some((a) => a.includes(`{${placeholder}}`))) throw new CaseSkipped(`the broker command has no {${placeholder}} placeholder`);
};

/** The command with every placeholder argument removed, and the option just before it when it names it (`--port {port}`). */
function withoutPlaceholders(cmd: string[], names = ['unix', 'port', 'host', 'fifodir']): string[] {
  const out: string[] = [];
  for (const a of cmd) {
    if (names.some((n) => a.includes(`{${n}}`))) {
      if (!a.startsWith('-') && out.length > 0 && out.at(-1)!.startsWith('-') && !out.at(-1)!.includes('=')) out.pop();
      continue;
    }
    out.push(a);
  }
  return out;
}


/**
 * Waits until the broker is up (its TCP port, when the command has one, accepts connections) or has
 * exited; without a port, a fixed grace of at most the start timeout.
 */
async function settled(ctx: CaseContext, cmd: string[], s: LaunchedBroker, port: number): Promise<void> {
  if (cmd.some((a) => a.includes('{port}'))) await waitReachable(s, { host: '127.0.0.1', port }, ctx.startTimeoutMs);
  else await Promise.race([s.exited, new Promise((r) => setTimeout(r, Math.min(ctx.startTimeoutMs, 5000)))]);
}

/** Whether the broker serves a pair put into `parent`: its read end of client-to-broker is open (no ENXIO). */
async function servesPairIn(parent: string, waitMs: number): Promise<boolean> {
  const staging = join(parent, `.probe-${process.pid}-${Date.now()}`);
  await fsp.mkdir(staging, { mode: 0o700 });
  await mkfifo([join(staging, CLIENT_TO_BROKER), join(staging, BROKER_TO_CLIENT)]);
  const dir = join(parent, `probe-${process.pid}-${Date.now()}`);
  await fsp.rename(staging, dir);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    try {
      closeSync(openSync(join(dir, CLIENT_TO_BROKER), fsc.O_WRONLY | fsc.O_NONBLOCK));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO') return false;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const listenUnix = (path: string): Promise<Server> => new Promise((resolve, reject) => {
  const srv = createServer((c) => c.end());
  srv.once('error', reject);
  srv.listen(path, () => resolve(srv));
});

export const brokerProcessCases: Case[] = [
  defineCase({
    id: 'transport-unix/socket-mode-0600',
    statements: ['UNIX-1'],
    async run(ctx) {
      const cmd = command(ctx);
      needs(cmd, 'unix');
      await withScratch(async (dir, started) => {
        const path = join(dir, 'broker.sock');
        const s = start(ctx, cmd, { unix: path, port: String(await freePort()), host: '127.0.0.1', fifodir: join(dir, 'pairs') });
        started.push(s);
        if (!(await waitReachable(s, { path }, ctx.startTimeoutMs))) throw new CaseFailure(`the broker did not accept connections on unix:${path}`, 'listening', s.ended() ? `exit ${s.exitCode()}: ${s.stderr().slice(0, 200)}` : 'not listening');
        const mode = (await fsp.lstat(path)).mode & 0o777;
        if (mode !== 0o600) throw new CaseFailure(`the socket was created with mode ${mode.toString(8).padStart(4, '0')} (the harness started the broker with umask 0)`, '0600', mode.toString(8).padStart(4, '0'));
      });
    },
  }),
  defineCase({
    id: 'transport-unix/path-left-alone',
    statements: ['UNIX-2'],
    async run(ctx) {
      const cmd = command(ctx);
      needs(cmd, 'unix');
      const problems: string[] = [];
      // A regular file at PATH: the broker must fail to listen there (or listen elsewhere), never remove it.
      await withScratch(async (dir, started) => {
        const path = join(dir, 'broker.sock');
        await fsp.writeFile(path, 'not a socket\n', { mode: 0o600 });
        const port = await freePort();
        const s = start(ctx, cmd, { unix: path, port: String(port), host: '127.0.0.1', fifodir: join(dir, 'pairs') });
        started.push(s);
        await settled(ctx, cmd, s, port);
        // A broker may reach its Unix socket after its TCP listener: let it finish starting (or exit).
        await Promise.race([s.exited, sleep(LISTENERS_SETTLE_MS)]);
        const st = await fsp.lstat(path).catch(() => undefined);
        const text = st?.isFile() ? await fsp.readFile(path, 'utf8') : undefined;
        if (text !== 'not a socket\n') problems.push(`a regular file at PATH was ${st === undefined ? 'removed' : st.isSocket() ? 'replaced by a socket' : 'changed'}`);
      });
      // A live socket at PATH (another listener, here the harness's): it must keep receiving the connections.
      await withScratch(async (dir, started) => {
        const path = join(dir, 'broker.sock');
        const other = await listenUnix(path);
        let accepted = 0;
        other.on('connection', () => { accepted++; });
        try {
          const port = await freePort();
          const s = start(ctx, cmd, { unix: path, port: String(port), host: '127.0.0.1', fifodir: join(dir, 'pairs') });
          started.push(s);
          await settled(ctx, cmd, s, port);
          // A broker may reach its Unix socket after its TCP listener, or touch PATH as it exits: PATH is
          // watched until it has exited, for LISTENERS_SETTLE_MS at most, and once more after.
          const deadline = Date.now() + LISTENERS_SETTLE_MS;
          let kept = true;
          for (let last = false; kept && !last; ) {
            last = s.ended() || Date.now() >= deadline;
            const before = accepted;
            const ok = await reachable({ path }, 1000);
            await sleep(100);
            kept = ok && accepted > before;
          }
          if (!kept) problems.push('a socket at PATH on which another process listens was removed or replaced');
        } finally {
          other.close();
        }
      });
      if (problems.length) throw new CaseFailure(problems.join('; '), 'PATH untouched', problems[0]);
    },
  }),
  defineCase({
    id: 'transport-tcp/default-address',
    statements: ['TCP-1'],
    async run(ctx) {
      const cmd = withoutPlaceholders(command(ctx));
      if (!(await portFree(9999))) throw new CaseSkipped('127.0.0.1:9999 is in use on this machine; the default address cannot be checked');
      await withScratch(async (_dir, started) => {
        const s = start(ctx, cmd, {});
        started.push(s);
        if (await waitReachable(s, { host: '127.0.0.1', port: 9999 }, ctx.startTimeoutMs)) return;
        // Another process may have taken the port meanwhile: that is no verdict on the broker.
        if (s.ended() && !(await portFree(9999))) throw new CaseSkipped('127.0.0.1:9999 was taken by another process while the broker started');
        throw new CaseFailure(`started without an address (${cmd.join(' ')}), the broker does not listen on 127.0.0.1:9999`, '127.0.0.1:9999', s.ended() ? `exit ${s.exitCode()}: ${s.stderr().slice(0, 200)}` : 'nothing there');
      });
    },
  }),
  defineCase({
    id: 'security/loopback-only',
    statements: ['SEC-1'],
    async run(ctx) {
      const cmd = command(ctx);
      needs(cmd, 'port');
      const byDefault = withoutPlaceholders(cmd, ['host']);
      const external = externalIPv4();
      if (external === undefined) throw new CaseSkipped('this machine has no non-loopback IPv4 address to probe');
      const problems: string[] = [];
      await withScratch(async (dir, started) => {
        const port = await freePort();
        const s = start(ctx, byDefault, { port: String(port), unix: join(dir, 'broker.sock'), fifodir: join(dir, 'pairs') });
        started.push(s);
        if (!(await waitReachable(s, { host: '127.0.0.1', port }, ctx.startTimeoutMs))) throw new CaseFailure(`the broker did not listen on 127.0.0.1:${port}`, 'listening', s.ended() ? `exit ${s.exitCode()}` : 'not listening');
        // Watched while the broker may still be adding listeners (LISTENERS_SETTLE_MS).
        if (await waitReachable(s, { host: external, port }, LISTENERS_SETTLE_MS)) problems.push(`with no host configured it accepts connections on ${external}:${port}`);
      });
      if (cmd.some((a) => a.includes('{host}'))) {
        // Another address without a token: the broker must refuse it (not start, or not listen there).
        // Each names every interface: IPv4's wildcard, IPv6's (which on Linux takes IPv4 too), and the
        // empty host, which Node binds as `::`. A loopback test that matches on text alone ('::' is not
        // '::1', '' is not 'localhost') passes one of them.
        for (const host of ['0.0.0.0', '::', '']) {
          await withScratch(async (dir, started) => {
            const port = await freePort('0.0.0.0');
            const s = start(ctx, cmd, { port: String(port), host, unix: join(dir, 'broker.sock'), fifodir: join(dir, 'pairs') });
            started.push(s);
            const open = await waitReachable(s, { host: external, port }, Math.min(ctx.startTimeoutMs, 3000));
            if (open) problems.push(`configured for ${JSON.stringify(host)} without a token it accepts connections on ${external}:${port}`);
          });
        }
      }
      if (problems.length) throw new CaseFailure(problems.join('; '), 'loopback only', problems[0]);
    },
  }),
  defineCase({
    id: 'transport-fifo/parent-dir-created-or-refused',
    statements: ['FIFO-9'],
    async run(ctx) {
      const cmd = command(ctx);
      needs(cmd, 'fifodir');
      const problems: string[] = [];
      const vars = async (dir: string, parent: string): Promise<Record<string, string>> => ({ fifodir: parent, unix: join(dir, 'broker.sock'), port: String(await freePort()), host: '127.0.0.1' });
      // Absent: created with mode 0700 (the broker runs with umask 0) and served.
      await withScratch(async (dir, started) => {
        const parent = join(dir, 'pairs');
        const s = start(ctx, cmd, await vars(dir, parent));
        started.push(s);
        const deadline = Date.now() + ctx.startTimeoutMs;
        while (Date.now() < deadline && !(await fsp.stat(parent).catch(() => undefined)) && !s.ended()) await new Promise((r) => setTimeout(r, 100));
        const st = await fsp.stat(parent).catch(() => undefined);
        if (!st) problems.push(`an absent parent directory was not created (${s.ended() ? `exit ${s.exitCode()}` : 'still absent'})`);
        else if ((st.mode & 0o777) !== 0o700) problems.push(`the parent directory was created with mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, not 0700`);
      });
      // Granting access to group or others, or owned by another user (as root only): not served.
      const variants: [string, (parent: string) => Promise<void>][] = [['mode 0750', async (p) => { await fsp.mkdir(p, { mode: 0o700 }); await fsp.chmod(p, 0o750); }],
        ['mode 0703', async (p) => { await fsp.mkdir(p, { mode: 0o700 }); await fsp.chmod(p, 0o703); }]];
      if (process.getuid?.() === 0) variants.push(['owned by uid 65534', async (p) => { await fsp.mkdir(p, { mode: 0o700 }); await fsp.chown(p, 65534, 65534); }]);
      for (const [what, make] of variants) {
        await withScratch(async (dir, started) => {
          const parent = join(dir, 'pairs');
          await make(parent);
          const v = await vars(dir, parent);
          const s = start(ctx, cmd, v);
          started.push(s);
          await settled(ctx, cmd, s, Number(v['port']));
          if (s.ended()) return; // refused by not starting
          if (await servesPairIn(parent, 1500)) problems.push(`a parent directory of ${what} is served`);
        });
      }
      if (problems.length) throw new CaseFailure(problems.join('; '), 'created 0700; others refused', problems[0]);
    },
  }),
];
