/**
 * Broker soak (issue 13, "Must show"): `concord broker` as a real child process, many connections of
 * well-behaved and hostile clients at once. Hostile: payloads nested 50,000 levels deep (requests and
 * answers), 16 MiB and 64 KiB first frames held open, subscribers that never read, id and service-name
 * hijacking, garbage bytes. The broker must stay up, its resident memory (VmRSS of /proc/PID/status,
 * sampled throughout) must stay under RSS_BOUND_MB, and every well-behaved request must get exactly one
 * answer. Every loop is bounded in count; hangs are caught by the test timeout.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { messageByName, type Message } from '../../codec/index.js';
import { WireClient } from './wire-client.js';
import type { MessageName } from '../../../spec/generated/catalog.js';
import { tsProgram } from '../../test/programs.js';

/** The stated bound: the broker's resident memory never exceeds this during the soak. */
const RSS_BOUND_MB = 400;

let broker: ChildProcess;
let port = 0;
/** The non-readers connect over the Unix socket: its small kernel buffers fill at once, so the broker's queue does. */
const socketDir = mkdtempSync(join(tmpdir(), 'concord-soak-'));
const unixPath = join(socketDir, 'broker.sock');
let peakRssKb = 0;
let sampler: NodeJS.Timeout | undefined;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  broker = spawn(process.execPath, tsProgram('reference/cli.ts', 'broker', '--port', '0', '--unix', unixPath, '--log-level', 'info').slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  port = await new Promise<number>((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString();
      const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(text);
      if (m) {
        broker.stderr!.off('data', onData);
        broker.stderr!.resume(); // keep draining the log so the broker never blocks on stderr
        resolve(Number(m[1]));
      }
    };
    broker.stderr!.on('data', onData);
    broker.once('exit', (code) => reject(new Error(`the broker exited (${code}) before listening: ${text}`)));
  });
  sampler = setInterval(() => {
    try {
      peakRssKb = Math.max(peakRssKb, rssKb(broker.pid!));
    } catch {
      // the process is gone: the liveness assertion reports it
    }
  }, 100);
}, 60_000);

afterAll(() => {
  clearInterval(sampler);
  if (broker.exitCode === null) broker.kill('SIGKILL');
  rmSync(socketDir, { recursive: true, force: true });
});

const deep = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const HOSTILE = deep(50_000);
const code = (name: MessageName): number => messageByName(name).code;

/** Answers what `client` receives with `answer` until the connection ends or `stop()` is called. */
function serve(client: WireClient, answer: (m: Message) => void): { stop(): void } {
  let stopped = false;
  void (async () => {
    for (let i = 0; i < 1_000_000 && !stopped; i++) {
      let m: Message;
      try {
        m = await client.next(60_000);
      } catch {
        return;
      }
      answer(m);
    }
  })();
  return { stop: () => (stopped = true) };
}

function rawSocket(): Promise<ReturnType<typeof connect>> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

it('stays up, bounded in memory, and answers every well-behaved request exactly once under mixed hostile load', async () => {
  const address = { port };
  const closers: (() => void)[] = [];
  try {
    // Well-behaved responders: a bus handler, a service, a routed echo peer and two subscribers.
    const { client: handler } = await WireClient.open(address, 'good-handler');
    handler.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'echo', category: 'query' });
    handler.send('SERVICE_REGISTER', { id: 's' }, { service: { name: 'good-svc', service_type: 't', version: '1.0.0' } });
    await handler.take(2);
    closers.push(() => handler.socket.destroy());
    serve(handler, (m) => {
      if (m.name === 'BUS_QUERY') handler.send('BUS_QUERY_RESULT', { re: m.header.id }, { result: (m.payload as { payload: unknown }).payload });
      else if (m.name === 'SERVICE_DISPATCH') handler.send('SERVICE_RESULT', { re: m.header.id }, { result: 'ok' });
      else if (m.name === 'REASONING_REQUEST') handler.sendBody(code('REASONING_RESPONSE'), { id: `a-${m.header.id}`, re: m.header.id }, '{}');
      else if (m.name === 'PING') handler.send('PONG', { re: m.header.id });
    });
    for (const name of ['good-sub-1', 'good-sub-2']) {
      const { client: sub } = await WireClient.open(address, name);
      sub.send('BUS_SUBSCRIBE', { id: 'sub' }, { event_type: 'ev' });
      await sub.next();
      closers.push(() => sub.socket.destroy());
      serve(sub, (m) => {
        if (m.name === 'BUS_EVENT') sub.send('ACK', { re: m.header.id }, {});
        else if (m.name === 'PING') sub.send('PONG', { re: m.header.id });
      });
    }
    // A hostile handler: answers every query with a 50,000-level result.
    const { client: deepHandler } = await WireClient.open(address, 'deep-handler');
    deepHandler.send('BUS_REGISTER_HANDLER', { id: 'r' }, { message_type: 'deepq', category: 'query' });
    await deepHandler.next();
    closers.push(() => deepHandler.socket.destroy());
    serve(deepHandler, (m) => {
      if (m.name === 'BUS_QUERY') deepHandler.sendBody(code('BUS_QUERY_RESULT'), { id: `d-${m.header.id}`, re: m.header.id }, `{"result":${HOSTILE}}`);
    });

    const hostile: Promise<unknown>[] = [];
    // Non-readers: 4 clients with 16 subscriptions each to the event the good publisher sends, then silence.
    for (let i = 0; i < 4; i++) {
      hostile.push((async () => {
        const { client } = await WireClient.open({ path: unixPath }, `sink-${i}`);
        for (let s = 0; s < 16; s++) client.send('BUS_SUBSCRIBE', { id: `s${s}` }, { event_type: 'ev' });
        await client.take(16);
        client.socket.pause();
        closers.push(() => client.socket.destroy());
      })());
    }
    await Promise.all(hostile.splice(0));
    // Oversized and partial first frames, held open: 24 announcing 16 MiB, 24 holding part of a 64 KiB INIT.
    for (let i = 0; i < 48; i++) {
      hostile.push((async () => {
        const s = await rawSocket();
        s.on('error', () => undefined);
        const prefix = Buffer.alloc(4);
        prefix.writeUInt32BE(i % 2 === 0 ? 16 * 1024 * 1024 : 65_536);
        s.write(Buffer.concat([prefix, randomBytes(30_000)]));
        closers.push(() => s.destroy());
      })());
    }
    // Garbage: 16 connections of random bytes.
    for (let i = 0; i < 16; i++) {
      hostile.push((async () => {
        const s = await rawSocket();
        s.on('error', () => undefined);
        s.write(randomBytes(4096));
        closers.push(() => s.destroy());
      })());
    }
    // Hijackers: an INIT claiming the service's name, a registration of a connected client's id.
    hostile.push((async () => {
      const thief = await WireClient.connect(address);
      closers.push(() => thief.socket.destroy());
      const refused = await thief.init('good-svc');
      expect((refused.payload as { code: string }).code).toBe('DUPLICATE_CLIENT_ID');
      const { client: squatter } = await WireClient.open(address, 'squatter');
      closers.push(() => squatter.socket.destroy());
      squatter.send('SERVICE_REGISTER', { id: 'steal' }, { service: { name: 'good-handler', service_type: 't', version: '1.0.0' } });
      expect(((await squatter.next()).payload as { code: string }).code).toBe('SERVICE_EXISTS');
    })());
    // Deep requests of every kind, and queries to the hostile handler.
    for (let i = 0; i < 4; i++) {
      hostile.push((async () => {
        const { client } = await WireClient.open(address, `deep-${i}`);
        closers.push(() => client.socket.destroy());
        for (let r = 0; r < 5; r++) {
          client.sendBody(code('BUS_QUERY'), { id: `q${r}` }, `{"message_type":"echo","payload":${HOSTILE}}`);
          client.sendBody(code('BUS_SEND'), { id: `s${r}` }, `{"message_type":"echo","payload":${HOSTILE}}`);
          client.sendBody(code('SERVICE_DISPATCH'), { id: `d${r}` }, `{"service_name":"good-svc","method":"m","payload":${HOSTILE}}`);
          client.sendBody(code('BUS_PUBLISH'), { id: `p${r}` }, `{"event_type":"ev","payload":${HOSTILE}}`);
          client.send('BUS_QUERY', { id: `h${r}` }, { message_type: 'deepq', payload: r });
        }
        const answers = await client.take(25, 30_000);
        expect(answers.every((a) => a.name === 'ERROR')).toBe(true);
      })());
    }

    // Well-behaved requesters: every request kind, pipelined in rounds; every one answered exactly once.
    const requesters: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      requesters.push((async () => {
        const { client } = await WireClient.open(address, `good-${i}`);
        closers.push(() => client.socket.destroy());
        const sent = new Set<string>();
        const answered = new Map<string, number>();
        const events: string[] = [];
        for (let round = 0; round < 25; round++) {
          const ids = [
            client.send('PING', { id: `ping-${round}` }),
            client.send('BUS_QUERY', { id: `q-${round}` }, { message_type: 'echo', payload: { round } }),
            client.send('SERVICE_DISPATCH', { id: `d-${round}` }, { service_name: 'good-svc', method: 'm', payload: round }),
            client.send('STATS_REQUEST', { id: `st-${round}` }, {}),
            client.send('SERVICE_LIST', { id: `l-${round}` }, {}),
          ];
          client.sendBody(code('REASONING_REQUEST'), { id: `rr-${round}`, dst: 'good-handler' }, '{}');
          ids.push(`rr-${round}`);
          // Publishes of 256 KiB reach the non-readers too (16 MiB per non-reader per round): the publisher must still be answered.
          if (round % 5 === 0) ids.push(client.send('BUS_PUBLISH', { id: `p-${round}` }, { event_type: 'ev', payload: 'e'.repeat(262_144) }));
          for (const id of ids) sent.add(id);
          for (let k = 0; k < ids.length; k++) {
            const m = await client.next(30_000);
            if (m.header.re === undefined) {
              events.push(m.name);
              k--;
              continue;
            }
            answered.set(m.header.re, (answered.get(m.header.re) ?? 0) + 1);
          }
        }
        // A last PING after everything: any duplicate answer sent before it would be counted.
        client.send('PING', { id: 'final' });
        for (let k = 0; k < 100; k++) {
          const m = await client.next(30_000);
          if (m.header.re === 'final') break;
          if (m.header.re !== undefined) answered.set(m.header.re, (answered.get(m.header.re) ?? 0) + 1);
        }
        expect([...answered.keys()].sort()).toEqual([...sent].sort());
        expect([...answered.entries()].filter(([, n]) => n !== 1)).toEqual([]);
      })());
    }
    await Promise.all([...requesters, ...hostile]);
    expect(broker.exitCode).toBeNull();
    expect(() => process.kill(broker.pid!, 0)).not.toThrow();
    // Still serving a newcomer after all of it.
    const { client: late } = await WireClient.open(address, 'late');
    closers.push(() => late.socket.destroy());
    late.send('PING', { id: 'late' });
    expect((await late.next()).header.re).toBe('late');
    peakRssKb = Math.max(peakRssKb, rssKb(broker.pid!));
    console.log(`[soak] broker peak RSS ${(peakRssKb / 1024).toFixed(1)} MB (bound ${RSS_BOUND_MB} MB)`);
    expect(peakRssKb / 1024).toBeLessThan(RSS_BOUND_MB);
  } finally {
    for (const close of closers) close();
  }
}, 60_000);
