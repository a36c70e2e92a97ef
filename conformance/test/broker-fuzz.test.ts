/**
 * Fuzz: 10,000 random and mutated frames from several connections at once. The broker must stay
 * up, keep its memory bounded, answer every well-formed request exactly once, and never answer a
 * faulty frame more than once. Seeded: the seed is printed and CONCORD_SEED replays it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Broker } from '../../reference/broker/index.js';
import type { WireConnection } from '../wire/connection.js';
import { TcpPeer } from '../wire/peer-target.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { payloadArb } from '../../reference/properties/arbitraries.js';
import { propertySeed } from '../../reference/properties/seed.js';
import { MESSAGES, PROTOCOL_VERSION } from '../../spec/generated/catalog.js';

const TOTAL_FRAMES = 10_000;
const CONNECTIONS = 4;
const WAIT_MS = 5_000;

type Action =
  | { kind: 'ping' }
  | { kind: 'mutated'; frame: Uint8Array }
  | { kind: 'bad-length'; prefix: number };

/**
 * Requests whose answer waits for other clients (a publish for its subscribers, a send, query or
 * dispatch for its handler) are left out: their answer may rightly come after the sentinel PONG.
 */
const WAITING = new Set(['BUS_PUBLISH', 'BUS_SEND', 'BUS_QUERY', 'SERVICE_DISPATCH']);
/** Requests the broker itself sends to a client (never answers to the fuzz's frames). */
const FROM_BROKER = new Set(['PING', 'BUS_EVENT', 'BUS_SEND', 'BUS_QUERY', 'SERVICE_DISPATCH']);

const validFrame = fc.constantFrom(...MESSAGES.filter((m) => !WAITING.has(m.name))).chain((info) => payloadArb(info).map((payload) =>
  encodeMessageFrame({ type: info.name, header: { id: 'fz', ...(info.directions.includes('routed') ? { dst: 'nobody' } : {}) }, payload })));

/** Mutates a frame's body (its length prefix stays consistent, so the stream stays delimited). */
const mutatedFrame = fc.tuple(validFrame, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), fc.boolean())
  .map(([frame, flips, cut, truncate]) => {
    const body = Buffer.from(frame.subarray(4));
    for (const [at, value] of flips) body[at % body.length] = value;
    const kept = truncate ? body.subarray(0, 1 + (cut % body.length)) : body;
    return encodeFrame(kept);
  });

const randomBody = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => encodeFrame(b));

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 5, arbitrary: fc.constant<Action>({ kind: 'ping' }) },
  { weight: 4, arbitrary: mutatedFrame.map((frame): Action => ({ kind: 'mutated', frame })) },
  { weight: 2, arbitrary: randomBody.map((frame): Action => ({ kind: 'mutated', frame })) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0x7fffffff, 0xffffffff).map((prefix): Action => ({ kind: 'bad-length', prefix })) },
);

let broker: Broker;
let port: number;
beforeAll(async () => {
  broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
  port = (await broker.listen()).port!;
});
afterAll(() => broker.close());

async function session(label: string, n: number): Promise<WireConnection> {
  const conn = await new TcpPeer('127.0.0.1', port).open(label, WAIT_MS);
  conn.send({ type: 'INIT', header: { id: 'init' }, payload: {
    client_id: `${label}-${n}`, language: 'typescript', role: 'harness', protocol_version: PROTOCOL_VERSION, encodings: ['json', 'cbor'], max_frame: 16_777_216,
  } });
  const ack = await conn.next(WAIT_MS);
  if (ack.kind !== 'message' || ack.message.name !== 'INIT_ACK') throw new Error(`${label}: no INIT_ACK (${ack.kind})`);
  return conn;
}

interface Tally { pings: number; pongs: number; faults: number; answersToFaults: number; reconnects: number; violations: string[] }

async function drive(label: string, actions: Action[]): Promise<Tally> {
  const t: Tally = { pings: 0, pongs: 0, faults: 0, answersToFaults: 0, reconnects: 0, violations: [] };
  let n = 0;
  let conn = await session(label, n);
  for (const a of actions) {
    if (conn.closed) { conn = await session(label, ++n); t.reconnects++; }
    const sentinel = `s${t.pings}`;
    if (a.kind === 'ping') {
      t.pings++;
      conn.send({ type: 'PING', header: { id: sentinel } });
      const r = await conn.next(WAIT_MS);
      if (r.kind === 'message' && r.message.name === 'PONG' && r.message.header.re === sentinel) t.pongs++;
      else t.violations.push(`${label}: PING ${sentinel} got ${r.kind === 'message' ? `${r.message.name} re=${r.message.header.re}` : r.kind}`);
      continue;
    }
    t.faults++;
    conn.sendRaw(a.kind === 'mutated' ? a.frame : Uint8Array.of(a.prefix >>> 24, (a.prefix >>> 16) & 255, (a.prefix >>> 8) & 255, a.prefix & 255));
    if (a.kind === 'bad-length') {
      const r = await conn.next(WAIT_MS);
      if (r.kind !== 'message' || r.message.name !== 'ERROR') t.violations.push(`${label}: length ${a.prefix} got ${r.kind}`);
      const c = await conn.next(WAIT_MS);
      if (c.kind !== 'closed') t.violations.push(`${label}: still open after length ${a.prefix}`);
      continue;
    }
    // A sentinel PING after the faulty frame: before its PONG, at most one answer to the fault.
    t.pings++;
    conn.send({ type: 'PING', header: { id: sentinel } });
    let answers = 0;
    for (;;) {
      const r = await conn.next(WAIT_MS);
      if (r.kind === 'closed') { t.pings--; break; }
      if (r.kind !== 'message') { t.violations.push(`${label}: ${r.kind} after a fault`); break; }
      if (r.message.name === 'PONG' && r.message.header.re === sentinel) { t.pongs++; break; }
      if (FROM_BROKER.has(r.message.name) && r.message.header.re === undefined) continue; // the broker's own heartbeat or requests
      answers++;
    }
    t.answersToFaults += answers;
    if (answers > 1) t.violations.push(`${label}: a faulty frame got ${answers} answers`);
  }
  conn.destroy();
  return t;
}

describe('broker fuzz', () => {
  it(`survives ${TOTAL_FRAMES} random and mutated frames from ${CONNECTIONS} connections`, async () => {
    const seed = propertySeed();
    const actions = fc.sample(action, { seed, numRuns: TOTAL_FRAMES });
    const per = TOTAL_FRAMES / CONNECTIONS;
    const rssBefore = process.memoryUsage().rss;
    const tallies = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => drive(`fuzz${i}`, actions.slice(i * per, (i + 1) * per))));
    const rssAfter = process.memoryUsage().rss;
    const total = tallies.reduce((a, t) => ({ pings: a.pings + t.pings, pongs: a.pongs + t.pongs, faults: a.faults + t.faults, answersToFaults: a.answersToFaults + t.answersToFaults, reconnects: a.reconnects + t.reconnects, violations: [...a.violations, ...t.violations] }));
    console.log(`[fuzz] seed ${seed}: ${total.faults} faulty frames (${total.answersToFaults} answered), ${total.pongs}/${total.pings} PINGs answered, ${total.reconnects} reconnects, RSS ${((rssAfter - rssBefore) / 2 ** 20).toFixed(1)} MiB growth`);
    expect(total.violations.slice(0, 10)).toEqual([]);
    expect(total.pongs).toBe(total.pings);
    expect(total.faults).toBeGreaterThan(TOTAL_FRAMES / 3);
    // The broker is still up and serves a new client, with nothing left open from the fuzz clients.
    const probe = await session('after-fuzz', 0);
    probe.send({ type: 'PING', header: { id: 'alive' } });
    const r = await probe.next(WAIT_MS);
    expect(r.kind === 'message' && r.message.name === 'PONG').toBe(true);
    probe.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const left = broker.stats().clients;
    expect(left.reduce((n, c) => n + c.inFlight, 0)).toBe(0);
    expect(rssAfter - rssBefore).toBeLessThan(256 * 2 ** 20);
  }, 300_000);
});
