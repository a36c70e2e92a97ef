/**
 * Issue 17, "must show": a broker killed (SIGKILL) under load, and the NATS server restarted under
 * load. Every count is exact: each request gets exactly one answer, and nothing else arrives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { WireClient, type Address } from '../../test/wire-client.js';
import { encodingReq, encodingRsp } from '../../test/payloads.js';
import type { Message } from '../../../codec/index.js';
import { startCluster, type ClusterUnderTest } from './cluster-fixture.js';

const CLI = fileURLToPath(new URL('../../../cli.ts', import.meta.url));
/** Hang guards only (a shared, loaded machine): no assertion depends on them. */
const WAIT_MS = 20_000;

const clusters: ClusterUnderTest[] = [];
const clients: WireClient[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const c of clusters.splice(0)) {
    await Promise.all(c.brokers.map((b) => b.close()));
    await c.nats.dispose();
  }
}, 60_000);

async function cluster(ids: string[]): Promise<ClusterUnderTest> {
  const c = await startCluster(ids);
  clusters.push(c);
  return c;
}

/** Connects `id` to `address`, retrying while the broker cannot claim ids yet (it is still joining, CLU-8). */
async function client(address: Address, id: string): Promise<WireClient> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const c = await WireClient.connect(address);
    clients.push(c);
    // A broker process on a loaded machine may take longer than the client's 3 s wait to answer: try again.
    const ack = await c.init(id).catch((e: Error) => ({ name: 'no answer', payload: e.message }));
    if (ack.name === 'INIT_ACK') return c;
    await c.close();
    if (Date.now() > deadline) throw new Error(`${id} could not connect: ${JSON.stringify(ack.payload)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Answers every request `c` receives until stopped. */
function responder(c: WireClient): { stop(): void } {
  let stopped = false;
  void (async () => {
    while (!stopped && !c.closed) {
      let m: Message;
      try {
        m = await c.next(500);
      } catch {
        continue;
      }
      if (m.name === 'PING') c.send('PONG', { re: m.header.id });
      if (m.name === 'ENCODING_REQ') c.send('ENCODING_RSP', { re: m.header.id }, encodingRsp('m'));
    }
  })();
  return { stop: () => (stopped = true) };
}

/** Starts a broker process joined to the cluster (so it can be SIGKILLed); resolves with its port. */
async function brokerProcess(natsUrl: string, id: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'broker', '--port', '0', '--cluster', natsUrl, '--broker-id', id, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString();
      const m = /"msg":"listening"[^\n]*"port":(\d+)/.exec(text);
      if (m) {
        child.stderr!.off('data', onData);
        child.stderr!.resume();
        resolve(Number(m[1]));
      }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`broker ${id} exited (${code}) before listening: ${text}`)));
  });
  return { child, port };
}

/** Collects every frame `c` receives until `count` are in (or WAIT_MS passes: the assertion then shows what came). */
async function collect(c: WireClient, count: number, waitMs = WAIT_MS): Promise<Message[]> {
  const out: Message[] = [];
  const deadline = Date.now() + waitMs;
  while (out.length < count && Date.now() < deadline) {
    let m: Message;
    try {
      m = await c.next(Math.max(1, deadline - Date.now()));
    } catch {
      break;
    }
    if (m.name === 'PING') c.send('PONG', { re: m.header.id }); // the broker's heartbeat (HS-9), not an answer
    else out.push(m);
  }
  return out;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('a broker killed under load: requests between survivors all succeed, each request in flight to its clients gets PEER_GONE exactly once', async () => {
  const c = await cluster(['a', 'b']);
  const [a, b] = c.brokers;
  const victim = await brokerProcess(c.nats.url, 'victim');
  await until('the brokers see the victim', () => a!.stats().cluster!.length === 3 && b!.stats().cluster!.length === 3);
  const x = await client({ port: c.ports[0]! }, 'x');
  const y = await client({ port: c.ports[1]! }, 'y');
  const z = await client({ port: victim.port }, 'z'); // never answers: its requests stay in flight
  const serving = responder(y);

  const ROUNDS = 20;
  const TO_Y_PER_ROUND = 10;
  const TO_Z = 30;
  // Requests to z first, all held by z; then the load, with the kill in the middle of it.
  for (let i = 0; i < TO_Z; i++) x.send('ENCODING_REQ', { id: `z${i}`, dst: 'z' }, encodingReq(`z${i}`));
  expect((await collect(z, TO_Z)).filter((m) => m.name === 'ENCODING_REQ')).toHaveLength(TO_Z);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < TO_Y_PER_ROUND; i++) x.send('ENCODING_REQ', { id: `y${r}-${i}`, dst: 'y' }, encodingReq(`y${r}-${i}`));
    if (r === ROUNDS / 2) victim.child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const expected = ROUNDS * TO_Y_PER_ROUND + TO_Z;
  const got = await collect(x, expected);
  serving.stop();
  // Nothing more may come: a second answer to any request, sent right after the first, would show up here.
  const extra = await collect(x, 1, 1000);
  const answers = [...got, ...extra];
  const byRe = new Map<string, Message[]>();
  for (const m of answers) byRe.set(m.header.re!, [...(byRe.get(m.header.re!) ?? []), m]);
  const toY = [...byRe].filter(([re]) => re.startsWith('y'));
  const toZ = [...byRe].filter(([re]) => re.startsWith('z'));
  expect(answers.map((m) => `${m.name} ${m.header.re} ${m.name === 'ERROR' ? (m.payload as { code: string }).code : ''}`).filter((t) => !t.startsWith('ENCODING_RSP y'))).toEqual(Array.from({ length: TO_Z }, (_, i) => `ERROR z${i} PEER_GONE`));
  expect(answers).toHaveLength(expected);
  expect(toY).toHaveLength(ROUNDS * TO_Y_PER_ROUND);
  expect(toY.every(([, ms]) => ms.length === 1 && ms[0]!.name === 'ENCODING_RSP')).toBe(true);
  expect(toZ).toHaveLength(TO_Z);
  expect(toZ.every(([, ms]) => ms.length === 1 && ms[0]!.name === 'ERROR' && (ms[0]!.payload as { code: string }).code === 'PEER_GONE')).toBe(true);
  // The dead broker's client id is free again once its claim was cleared.
  await until('z is gone from the cluster', () => !a!.stats().cluster!.some((e) => e.broker_id === 'victim'));
  const zAgain = await client({ port: c.ports[1]! }, 'z');
  expect(zAgain.closed).toBe(false);
}, 120_000);

it('the NATS server restarted under load: local traffic never stops, remote traffic is refused with OVERLOADED and resumes', async () => {
  const c = await cluster(['a', 'b']);
  const [a, b] = c.brokers;
  const x = await client({ port: c.ports[0]! }, 'x');
  const w = await client({ port: c.ports[0]! }, 'w'); // local to x
  const y = await client({ port: c.ports[1]! }, 'y'); // remote to x
  const serving = [responder(w), responder(y)];
  let seq = 0;
  /** Sends `n` requests from x to `dst` and returns the answers by kind. */
  const round = async (dst: string, n: number): Promise<{ ok: number; refused: number; other: Message[] }> => {
    const ids = Array.from({ length: n }, () => `${dst}${seq++}`);
    for (const id of ids) x.send('ENCODING_REQ', { id, dst }, encodingReq(id));
    const got = await collect(x, n);
    const other = got.filter((m) => m.name !== 'ENCODING_RSP' && !(m.name === 'ERROR' && (m.payload as { code: string }).code === 'OVERLOADED'));
    return { ok: got.filter((m) => m.name === 'ENCODING_RSP').length, refused: got.length - other.length - got.filter((m) => m.name === 'ENCODING_RSP').length, other };
  };
  expect(await round('y', 20)).toEqual({ ok: 20, refused: 0, other: [] });

  await c.nats.stop();
  await until('both brokers see NATS gone', () => a!.stats().clusterUp === false && b!.stats().clusterUp === false);
  expect(await round('w', 50)).toEqual({ ok: 50, refused: 0, other: [] }); // local traffic goes on
  expect(await round('y', 10)).toEqual({ ok: 0, refused: 10, other: [] }); // remote traffic refused (CLU-8)
  // An INIT while NATS is away cannot be claimed cluster-wide: refused with OVERLOADED, and closed.
  const late = await WireClient.connect({ port: c.ports[0]! });
  clients.push(late);
  const refused = await late.init('late');
  expect([refused.name, (refused.payload as { code?: string }).code]).toEqual(['ERROR', 'OVERLOADED']);

  await c.nats.run();
  await until('both brokers reconnect', () => a!.stats().clusterUp === true && b!.stats().clusterUp === true);
  await until('both brokers hear each other again', () => a!.stats().cluster!.length === 2 && b!.stats().cluster!.length === 2);
  // NATS delivers at most once: a frame published in the moment before the server has the other broker's
  // subscriptions again is lost, and its request ends in TIMEOUT (still one answer; CI saw it once).
  // Remote traffic has resumed once a probe from a client of its own round-trips (its late TIMEOUTs
  // cannot land in x's counts); from then on every request of x is answered.
  const probe = await client({ port: c.ports[0]! }, 'probe');
  let resumed = false;
  for (let attempt = 0; attempt < 10 && !resumed; attempt++) {
    probe.send('ENCODING_REQ', { id: `probe${attempt}`, dst: 'y' }, encodingReq(`probe${attempt}`));
    resumed = (await collect(probe, 1, 2000)).some((m) => m.name === 'ENCODING_RSP');
  }
  expect(resumed, 'a request from broker a reaches y on broker b within 10 probes').toBe(true);
  expect(await round('y', 20)).toEqual({ ok: 20, refused: 0, other: [] });
  expect(await round('w', 20)).toEqual({ ok: 20, refused: 0, other: [] });
  await client({ port: c.ports[1]! }, 'late'); // claims work again
  for (const s of serving) s.stop();
}, 120_000);
