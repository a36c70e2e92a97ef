/**
 * Testee cases for the codec statements the fixture vectors leave open: header keys at and one past
 * each limit (counted in bytes of UTF-8, not characters), faults of `re`, `src`, `dst` and `ts`
 * behind a valid id (answered with `re`, ERR-3), unknown header keys, the order of the check table,
 * payload presence, 64-bit and zero-fraction integers, float32 comparison, indefinite-length CBOR,
 * the encoding INIT_ACK chose, unknown ERROR codes, the testee's own INIT and output, and a stream
 * that ends inside a frame. Sender rules (FRM-4, BODY-8, ENC-2, ENC-7, ENC-9, ENC-10) are audited on
 * every frame the testee writes (context.ts); the cases here give the audit frames worth checking.
 */
import { encodeEnvelope, type Encoding } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { messageByName } from '../../reference/codec/catalog.js';
import { decodePayload, payloadToFixture } from '../../reference/codec/payload.js';
import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS, MESSAGES } from '../../spec/generated/catalog.js';
import { repoFile } from '../../reference/paths.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import { summarize, type CaseContext, type ErrorExpectation, type TesteeSession } from './context.js';
import { expectEcho, needEncoding } from './testee.cases.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import { registryName } from '../../reference/codec/catalog.js';

const utf8 = new TextEncoder();

/** A frame from raw header text and payload bytes, nothing checked. */
function rawFrame(type: MessageName | number, header: string, payload: Uint8Array | string = new Uint8Array(0), encoding: Encoding = 'json'): Uint8Array {
  const code = typeof type === 'number' ? type : messageByName(type).code;
  const p = typeof payload === 'string' ? utf8.encode(payload) : payload;
  return encodeFrame(encodeEnvelope(code, encoding, utf8.encode(header), p));
}

/** The echo the reference codec expects for a JSON payload (its fixture form). */
function fixtureOf(type: MessageName, payloadJson: string): unknown {
  const info = messageByName(type);
  return payloadToFixture(info, decodePayload(info, 'json', utf8.encode(payloadJson)));
}

const ACK_PAYLOAD = '{"detail":"x"}';

interface HeaderRow {
  slug: string;
  statements: string[];
  header: Record<string, unknown> | string;
  /** Omitted: the frame must be echoed. */
  error?: { code: ErrorName } & ErrorExpectation;
  type?: MessageName | number;
  /** Replaces the flags byte (a reserved encoding). */
  flags?: number;
}

const e2 = 'é'; // 2 bytes of UTF-8
const e3 = '€'; // 3 bytes of UTF-8

/** A header object padded with an unknown key to exactly `bytes` bytes of JSON. */
function headerOfBytes(bytes: number): string {
  const base = JSON.stringify({ id: 'pad', 'x-pad': '' });
  return JSON.stringify({ id: 'pad', 'x-pad': 'p'.repeat(bytes - base.length) });
}

const HEADER_ROWS: HeaderRow[] = [
  { slug: 'id-128-bytes-of-2-byte-chars', statements: ['BODY-4', 'LIM-5'], header: { id: e2.repeat(64) } },
  { slug: 'id-129-bytes-of-65-chars', statements: ['BODY-4', 'LIM-5', 'BODY-3'], header: { id: e2.repeat(64) + 'a' }, error: { code: 'INVALID_HEADER', path: '/header/id' } },
  { slug: 're-128-bytes', statements: ['BODY-5', 'LIM-5'], header: { id: 'h-re', re: e2.repeat(64) } },
  { slug: 're-129-bytes', statements: ['BODY-5', 'LIM-5', 'ERR-3', 'BODY-3'], header: { id: 'h-re', re: e2.repeat(64) + 'a' }, error: { code: 'INVALID_HEADER', path: '/header/re', re: 'h-re' } },
  { slug: 're-number', statements: ['BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-re', re: 7 }, error: { code: 'INVALID_HEADER', path: '/header/re', re: 'h-re' } },
  { slug: 'src-128-bytes-of-44-chars', statements: ['LIM-6', 'BODY-5'], header: { id: 'h-src', src: e3.repeat(42) + 'ab' } },
  { slug: 'src-129-bytes-of-43-chars', statements: ['LIM-6', 'BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-src', src: e3.repeat(43) }, error: { code: 'INVALID_HEADER', path: '/header/src', re: 'h-src' } },
  { slug: 'dst-empty', statements: ['BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-dst', dst: '' }, error: { code: 'INVALID_HEADER', path: '/header/dst', re: 'h-dst' } },
  { slug: 'dst-129-bytes-of-43-chars', statements: ['LIM-6', 'BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-dst', dst: e3.repeat(43) }, error: { code: 'INVALID_HEADER', path: '/header/dst', re: 'h-dst' } },
  { slug: 'dst-delete-char', statements: ['BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-dst', dst: 'a\u007fb' }, error: { code: 'INVALID_HEADER', path: '/header/dst', re: 'h-dst' } },
  { slug: 'ts-max-u64', statements: ['BODY-5'], header: { id: 'h-ts', ts: '18446744073709551615' } },
  { slug: 'ts-zero', statements: ['BODY-5'], header: { id: 'h-ts', ts: '0' } },
  { slug: 'ts-negative', statements: ['BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-ts', ts: '-1' }, error: { code: 'INVALID_HEADER', path: '/header/ts', re: 'h-ts' } },
  { slug: 'ts-21-digits', statements: ['BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-ts', ts: '100000000000000000000' }, error: { code: 'INVALID_HEADER', path: '/header/ts', re: 'h-ts' } },
  { slug: 'ts-above-u64', statements: ['BODY-5', 'ERR-3', 'BODY-3'], header: { id: 'h-ts', ts: '18446744073709551616' }, error: { code: 'INVALID_HEADER', path: '/header/ts', re: 'h-ts' } },
  { slug: 'unknown-keys-ignored', statements: ['BODY-6'], header: { id: 'h-unknown', 'x-trace': { span: [1, 2] }, Re: 5, ID: null } },
  { slug: 'at-max-header', statements: ['LIM-4'], header: headerOfBytes(DEFAULT_LIMITS.max_header) },
  { slug: 'one-past-max-header', statements: ['LIM-4', 'BODY-3'], header: headerOfBytes(DEFAULT_LIMITS.max_header + 1), error: { code: 'INVALID_HEADER', path: '/header' } },
  // ERR-1: the first failing step of the check table wins.
  { slug: 'header-fault-before-unknown-type', statements: ['ERR-1', 'ERR-3'], header: { id: 'h-order', ts: 'x' }, type: 0xee, error: { code: 'INVALID_HEADER', path: '/header/ts', re: 'h-order' } },
  { slug: 'unknown-type-before-reserved-encoding', statements: ['ERR-1', 'ERR-3'], header: { id: 'h-order' }, type: 0xee, flags: 2, error: { code: 'UNKNOWN_TYPE', re: 'h-order' } },
];

function headerCase(row: HeaderRow): Case {
  return defineCase({
    id: `testee/header/${row.slug}`,
    statements: [row.error ? 'TST-5' : 'TST-4', ...row.statements],
    async run(ctx) {
      const t = await ctx.testee();
      const header = typeof row.header === 'string' ? row.header : JSON.stringify(row.header);
      const id = JSON.parse(header).id as string;
      let frame = rawFrame(row.type ?? 'ACK', header, ACK_PAYLOAD);
      if (row.flags !== undefined) { frame = Uint8Array.from(frame); frame[5] = row.flags; }
      t.conn.sendRaw(frame, `ACK with header ${header.slice(0, 120)}`);
      if (row.error) {
        const { code, ...expect } = row.error;
        await ctx.expectError(t.conn, code, { probe: 'PING', statement: row.statements[0], ...expect });
      } else {
        // What goes wrong here breaks the row's statement (an id counted in characters, an unknown key refused).
        const v = ctx.verdict();
        await v.collect(row.statements[0]!, () => expectEcho(ctx, t, id, messageByName('ACK').code, 'json', fixtureOf('ACK', ACK_PAYLOAD)), true);
        v.done();
      }
    },
  });
}

/** Sends one JSON frame and expects its echo equal to the payload as the reference codec reads it. */
async function echoJson(ctx: CaseContext, t: TesteeSession, type: MessageName, id: string, payloadJson: string, expected?: unknown): Promise<void> {
  t.conn.sendRaw(rawFrame(type, JSON.stringify({ id }), payloadJson), `${type} ${id}: ${payloadJson.slice(0, 100)}`);
  await expectEcho(ctx, t, id, messageByName(type).code, 'json', expected ?? fixtureOf(type, payloadJson));
}

const TEACHER_SYNC = (count: string): string => `{"coordination_id":"c","teacher_count":${count},"disagreement":0.5,"learning_rates":{"a":0.5}}`;

const payloadCases: Case[] = [
  defineCase({
    id: 'testee/payload/non-empty-on-null-type-refused-undecoded',
    statements: ['TST-5', 'ENC-4', 'ERR-3'],
    async run(ctx) {
      const t = await ctx.testee();
      // Not even JSON: a receiver that decodes before checking presence answers INVALID_PAYLOAD.
      t.conn.sendRaw(rawFrame('PING', '{"id":"p-1"}', 'not json'), 'PING with the payload "not json"');
      await ctx.expectError(t.conn, 'SCHEMA_VIOLATION', { statement: 'ENC-4', re: 'p-1', path: '', rule: 'empty', detailsStatement: 'ENC-4', probe: 'PING' });
    },
  }),
  defineCase({
    id: 'testee/payload/empty-on-schema-type-refused',
    statements: ['TST-5', 'ENC-5', 'ERR-3'],
    async run(ctx) {
      const t = await ctx.testee();
      t.conn.sendRaw(rawFrame('ACK', '{"id":"a-1"}'), 'ACK with no payload bytes');
      await ctx.expectError(t.conn, 'INVALID_PAYLOAD', { statement: 'ENC-5', re: 'a-1', probe: 'PING' });
      await echoJson(ctx, t, 'ACK', 'a-2', '{}');
    },
  }),
  defineCase({
    id: 'testee/payload/integer-with-zero-fraction-accepted',
    statements: ['TST-4', 'ENC-14'],
    async run(ctx) {
      const t = await ctx.testee();
      const v = ctx.verdict();
      for (const [i, count] of ['2.0', '2e0', '20E-1', '2.000'].entries()) {
        await v.collect('ENC-14', () => echoJson(ctx, t, 'TEACHER_SYNC', `z-${i}`, TEACHER_SYNC(count), fixtureOf('TEACHER_SYNC', TEACHER_SYNC('2'))), true);
      }
      v.done();
    },
  }),
  defineCase({
    id: 'testee/payload/uint64-at-each-end',
    statements: ['TST-4', 'ENC-12', 'ENC-13'],
    async run(ctx) {
      const t = await ctx.testee();
      const v = ctx.verdict();
      for (const [i, n] of ['0', '9007199254740993', '18446744073709551615'].entries()) {
        await v.collect('ENC-12', () => echoJson(ctx, t, 'ACK', `u-${i}`, `{"state_version":"${n}"}`), true);
      }
      for (const [i, bad] of ['"18446744073709551616"', '"-0"', '"+1"', '" 1"', '1', '"1.0"'].entries()) {
        t.conn.sendRaw(rawFrame('ACK', JSON.stringify({ id: `ub-${i}` }), `{"state_version":${bad}}`), `ACK state_version ${bad}`);
        await v.collect('ENC-13', () => ctx.expectError(t.conn, 'SCHEMA_VIOLATION', { statement: 'ENC-13', re: `ub-${i}`, path: '/state_version', rule: 'int64', detailsStatement: 'ENC-13', probe: 'PING' }));
      }
      v.done();
    },
  }),
  defineCase({
    id: 'testee/payload/names-counted-in-bytes-of-utf8',
    statements: ['TST-5', 'LIM-6', 'ERR-9'],
    async run(ctx) {
      const t = await ctx.testee();
      const v = ctx.verdict();
      // 44 characters in 128 bytes are accepted; 43 characters in 129 bytes are refused (LIM-6).
      const service = (name: string): string => JSON.stringify({ name });
      await v.collect('LIM-6', () => echoJson(ctx, t, 'SERVICE_UNREGISTER', 'n-128', service(e3.repeat(42) + 'ab')), true);
      await v.collect('LIM-6', () => echoJson(ctx, t, 'SERVICE_UNREGISTER', 'n-128-4byte', service('😀'.repeat(32))), true);
      t.conn.sendRaw(rawFrame('SERVICE_UNREGISTER', '{"id":"n-129"}', service(e3.repeat(43))), 'SERVICE_UNREGISTER with a 43-character, 129-byte service name');
      await v.collect('LIM-6', () => ctx.expectError(t.conn, 'SCHEMA_VIOLATION', { statement: 'LIM-6', re: 'n-129', path: '/name', rule: 'maxBytes', probe: 'PING' }));
      v.done();
    },
  }),
  defineCase({
    id: 'testee/payload/float32-fields-compared-in-binary32',
    statements: ['TST-4', 'ENC-16', 'ENC-15'],
    async run(ctx) {
      const t = await ctx.testee();
      const v = ctx.verdict();
      // 0.85 is not a binary32 value: a codec that keeps float32 fields in binary32 echoes
      // 0.8500000238418579, one that keeps binary64 echoes 0.85; both are the same binary32 (ENC-16).
      for (const [i, c] of ['0.85', '0.1', '0.8500000238418579', '1e-45', '0.9999999403953552'].entries()) {
        const payload = `{"coordination_id":"c","teacher_count":2,"disagreement":${c},"learning_rates":{"a":0.5}}`;
        await v.collect('ENC-16', () => echoJson(ctx, t, 'TEACHER_SYNC', `f-${i}`, payload), true);
      }
      v.done();
    },
  }),
  defineCase({
    id: 'testee/payload/indefinite-length-cbor-accepted',
    statements: ['TST-4', 'ENC-18', 'ENC-9'],
    needs: ['cbor'],
    async run(ctx) {
      const t = await ctx.testee();
      needEncoding(t, 'cbor');
      const text = (s: string): number[] => [0x60 + s.length, ...utf8.encode(s)];
      // {_ "event_type": "e", "payload": [_ 1, {_ "k": [_ ] }] }
      const cbor = Uint8Array.from([0xbf, ...text('event_type'), ...text('e'), ...text('payload'), 0x9f, 0x01, 0xbf, ...text('k'), 0x9f, 0xff, 0xff, 0xff, 0xff]);
      t.conn.sendRaw(rawFrame('BUS_PUBLISH', '{"id":"ind-1"}', cbor, 'cbor'), 'BUS_PUBLISH with indefinite-length maps and arrays');
      // The echo is audited too: it must use definite lengths (ENC-9).
      const v = ctx.verdict();
      await v.collect('ENC-18', () => expectEcho(ctx, t, 'ind-1', messageByName('BUS_PUBLISH').code, 'cbor', { event_type: 'e', payload: [1, { k: [] }] }), true);
      v.done();
    },
  }),
];

/** CBOR payload faults (ENC-8) and data-model faults inside an any-typed value (ENC-11), each named by its path. */
const cborFaultCase = defineCase({
  id: 'testee/payload/cbor-faults-in-an-any-field',
  statements: ['TST-5', 'ENC-8', 'ENC-11', 'ERR-3'],
  needs: ['cbor'],
  async run(ctx) {
    const t = await ctx.testee();
    needEncoding(t, 'cbor');
    const text = (x: string): number[] => [0x60 + x.length, ...utf8.encode(x)];
    const publish = (value: number[]): Uint8Array => Uint8Array.from([0xa2, ...text('event_type'), ...text('e'), ...text('payload'), ...value]);
    const faults: [string, Uint8Array, string][] = [
      ['date-tag', publish([0xc1, 0x01]), '/payload'],
      ['undefined', publish([0x82, 0x01, 0xf7]), '/payload/1'],
      ['byte-string', publish([0xa1, ...text('b'), 0x41, 0x00]), '/payload/b'],
      ['nan', publish([0xf9, 0x7e, 0x00]), '/payload'],
      // Not yet: a simple value such as 16 (0xf0), which the TypeScript codec's CBOR decoder refuses before any path is known.
      ['trailing-byte', Uint8Array.from([...publish([0x01]), 0x00]), ''],
      ['truncated', publish([0x82, 0x01]), ''],
    ];
    const v = ctx.verdict();
    for (const [name, payload, path] of faults) {
      const id = `cf-${name}`;
      t.conn.sendRaw(rawFrame('BUS_PUBLISH', JSON.stringify({ id }), payload, 'cbor'), `BUS_PUBLISH in CBOR: ${name}`);
      await v.collect(path === '' ? 'ENC-8' : 'ENC-11', () => ctx.expectError(t.conn, 'INVALID_PAYLOAD', { statement: path === '' ? 'ENC-8' : 'ENC-11', re: id, path, detailsStatement: path === '' ? 'ENC-8' : 'ENC-11', probe: 'PING' }));
    }
    v.done();
  },
});

const encodingCases: Case[] = [
  cborFaultCase,
  defineCase({
    id: 'testee/encoding/json-accepted-on-a-cbor-connection',
    statements: ['TST-4', 'ENC-1'],
    async run(ctx) {
      const t = await ctx.testee();
      await echoJson(ctx, t, 'ACK', 'j-1', ACK_PAYLOAD);
      await echoJson(ctx, t, 'TEACHER_SYNC', 'j-2', TEACHER_SYNC('3'));
    },
  }),
  defineCase({
    id: 'testee/encoding/no-cbor-unless-init-ack-chose-it',
    statements: ['TST-4', 'ENC-2', 'ENC-3'],
    async run(ctx) {
      const t = await ctx.testee('testee', { json: true });
      // Every frame the testee writes is audited: a CBOR one breaks ENC-2 here.
      for (const [i, info] of MESSAGES.filter((m) => m.name === 'ACK' || m.name === 'TEACHER_SYNC' || m.name === 'BUS_PUBLISH').entries()) {
        const payload = info.name === 'ACK' ? ACK_PAYLOAD : info.name === 'TEACHER_SYNC' ? TEACHER_SYNC('2') : '{"event_type":"e","payload":{"a":[1,"b",null]}}';
        await echoJson(ctx, t, info.name, `nc-${i}`, payload);
      }
      // A CBOR frame on this connection is refused (ENC-3); its ERROR is JSON too.
      t.conn.sendRaw(rawFrame('ACK', '{"id":"nc-cbor"}', Uint8Array.of(0xa0), 'cbor'), 'ACK in CBOR, not negotiated');
      await ctx.expectError(t.conn, 'UNSUPPORTED_ENCODING', { statement: 'ENC-3', re: 'nc-cbor', probe: 'PING' });
    },
  }),
];

const errorCases: Case[] = [
  defineCase({
    id: 'testee/errors/unknown-error-code-accepted',
    statements: ['TST-4', 'ERR-10'],
    async run(ctx) {
      const t = await ctx.testee();
      const v = ctx.verdict();
      for (const [i, definite] of [true, false].entries()) {
        const payload = JSON.stringify({ code: 'CODE_FROM_A_LATER_VERSION', message: 'not in the registry', definite, details: { path: '/x', extra: [1] } });
        await v.collect('ERR-10', () => echoJson(ctx, t, 'ERROR', `uc-${i}`, payload), true);
      }
      v.done();
    },
  }),
];

const streamCases: Case[] = [
  defineCase({
    id: 'testee/framing/back-to-back-and-split-frames',
    statements: ['TST-3', 'FRM-5', 'FRM-1', 'FRM-6'],
    async run(ctx) {
      const t = await ctx.testee();
      const frames = [0, 1, 2, 3].map((i) => rawFrame('ACK', JSON.stringify({ id: `bb-${i}` }), `{"detail":"${'d'.repeat(i * 300)}"}`));
      // Two whole frames and the first 3 bytes of the third in one write, the rest byte by byte.
      const all = Buffer.concat(frames);
      const cut = frames[0]!.length + frames[1]!.length + 3;
      t.conn.sendRaw(all.subarray(0, cut), 'two ACKs and 3 bytes of a third');
      for (let i = cut; i < all.length; i += 97) {
        // A pause between writes, so the pieces reach the testee as separate reads rather than coalesced.
        await new Promise((r) => setTimeout(r, 5));
        t.conn.sendRaw(all.subarray(i, Math.min(all.length, i + 97)), `bytes ${i}..`);
      }
      const v = ctx.verdict();
      for (let i = 0; i < frames.length; i++) {
        await v.collect('FRM-5', () => expectEcho(ctx, t, `bb-${i}`, messageByName('ACK').code, 'json', fixtureOf('ACK', `{"detail":"${'d'.repeat(i * 300)}"}`)), true);
        if (v.failures.length > 0) break; // a lost frame: the later echoes cannot come either
      }
      v.done();
    },
  }),
  ...[3, 6, 20].map((keep) => defineCase({
    id: `testee/framing/end-of-input-inside-a-frame/bytes:${keep}`,
    statements: ['TST-7', 'FRM-7'],
    async run(ctx) {
      const t = await ctx.testee();
      const frame = rawFrame('ACK', '{"id":"cut"}', ACK_PAYLOAD);
      t.conn.sendRaw(frame.subarray(0, keep), `the first ${keep} of ${frame.length} bytes of an ACK, then end of input`);
      t.conn.end();
      // The partial frame is discarded: no answer, only the end of the output (a disconnect).
      await ctx.expectClosed(t.conn, `the testee to end its output without answering the partial frame (FRM-7)`);
      const code = await Promise.race([t.conn.exitCode(), new Promise<'running'>((r) => setTimeout(() => r('running'), ctx.timeoutMs))]);
      if (code !== 0) throw new CaseFailure(`[TST-7] the testee did not exit with status 0 after its input ended inside a frame`, '0', String(code));
    },
  })),
  defineCase({
    id: 'testee/framing/nothing-after-a-closing-error',
    statements: ['TST-8', 'TST-9', 'TST-5', 'BODY-1'],
    async run(ctx) {
      const t = await ctx.testee();
      // A frame whose length is sound but whose flags set a reserved bit (MALFORMED_FRAME, closes), and a
      // PING in the same write: a testee that reads on after the fault finds the PING intact and echoes it.
      const bad = Uint8Array.from(rawFrame('PING', '{"id":"reserved-bit"}'));
      bad[5] = 0x04;
      t.conn.sendRaw(Buffer.concat([bad, rawFrame('PING', '{"id":"after-the-fault"}')]), 'a PING with flags bit 2 set, then a valid PING, in one write');
      const error = await ctx.expectMessage(t.conn, 'ERROR MALFORMED_FRAME for the reserved flag bit (BODY-1)', (m) => m.name === 'ERROR');
      const code = (error.payload as { code?: unknown }).code;
      if (registryName(code) !== 'MALFORMED_FRAME') throw new CaseFailure(`[BODY-1] expected ERROR MALFORMED_FRAME for a reserved flag bit; got ERROR ${String(code)}`, 'MALFORMED_FRAME', String(code));
      const next = await ctx.receive(t.conn, 'the testee to close its output after ERROR MALFORMED_FRAME (TST-8)');
      if (next.kind === 'message') throw new CaseFailure(`[TST-8] after ERROR MALFORMED_FRAME, which closes, the testee answered a later frame: ${summarize(next.message)}`, 'nothing, then the end of output', summarize(next.message));
      if (next.kind !== 'closed') throw new CaseFailure('[TST-8] after ERROR MALFORMED_FRAME, which closes, the testee wrote more bytes', 'the end of output', next.kind);
      // Standard input stays open: the testee must exit on its own, with status 0.
      const status = await Promise.race([t.conn.exitCode(), new Promise<'running'>((r) => setTimeout(() => r('running'), ctx.timeoutMs))]);
      if (status === 'running') throw new CaseFailure(`[TST-9] the testee closed its output but was still running ${ctx.timeoutMs} ms later, its input still open`, 'exit with status 0', 'still running');
      if (status !== 0) throw new CaseFailure('[TST-9] the testee did not exit with status 0 after its closing ERROR', '0', String(status));
    },
  }),
];

interface ValidVector { id: string; hex: string; decoded: { encoding: Encoding; header: { id: string }; payload: unknown } }

/** Every frame the testee writes is audited (context.ts); this case gives it every valid vector to echo. */
const senderRulesCase = defineCase({
  id: 'testee/sender-rules-on-every-echo',
  statements: ['TST-4', 'FRM-4', 'BODY-8', 'ENC-7', 'ENC-9', 'ENC-10', 'ENC-2', 'FRM-6'],
  async run(ctx) {
    const t = await ctx.testee();
    const v = ctx.verdict();
    const valid = (JSON.parse(readFileSync(repoFile('fixtures/frames/valid.json'), 'utf8')) as { vectors: ValidVector[] }).vectors;
    for (const vec of valid.filter((x) => t.encodings.includes(x.decoded.encoding))) {
      const bytes = Buffer.from(vec.hex, 'hex');
      t.conn.sendRaw(bytes, `fixture ${vec.id}`);
      await v.collect('TST-4', () => expectEcho(ctx, t, vec.decoded.header.id, bytes[4]!, vec.decoded.encoding, vec.decoded.payload));
      if (v.failures.length >= 5) break; // enough to show the defect; the rest would repeat it
    }
    v.done();
  },
});

const profileCases: Case[] = [
  defineCase({
    id: 'testee/init-declares-the-testee',
    statements: ['TST-2', 'TST-1'],
    async run(ctx) {
      const t = await ctx.testee();
      const v = ctx.verdict();
      for (const key of ['name', 'language', 'version']) {
        v.check(typeof t.init[key] === 'string' && (t.init[key] as string).length > 0, 'TST-2', `the testee's INIT has no ${key}`, `a non-empty ${key}`, JSON.stringify(t.init[key]));
      }
      const features = t.init['features'];
      const encodings = (t.init['encodings'] as string[] | undefined) ?? [];
      if (v.check(Array.isArray(features), 'TST-2', 'the testee\'s INIT has no features list', 'features: [...]', JSON.stringify(features))) {
        v.check((features as string[]).includes('cbor') === encodings.includes('cbor'), 'TST-2', 'the testee declares cbor in features and in encodings differently', `features ${encodings.includes('cbor') ? 'with' : 'without'} cbor`, JSON.stringify(features));
      }
      // TST-1: standard output holds frames only; anything else shows up as an invalid frame here.
      await v.collect('TST-1', () => echoJson(ctx, t, 'ACK', 'out-1', ACK_PAYLOAD));
      await v.collect('TST-1', () => ctx.expectOpen(t.conn, 'frames only on standard output (TST-1)', 'PING'));
      v.done();
    },
  }),
];

interface ArrayVector { id: string; hex: string; result: 'valid' | 'invalid'; rule?: string; decoded?: unknown }

function arrayVectors(): ArrayVector[] {
  return (JSON.parse(readFileSync(repoFile('fixtures/ndarray/arrays.json'), 'utf8')) as { vectors: ArrayVector[] }).vectors;
}

/** BUS_PUBLISH's `payload` allows any value: an ndarray there is one by ARR-8, in JSON a wrapper, in CBOR tag 49344. */
function publishWithArray(layout: Buffer, encoding: Encoding, id: string): Uint8Array {
  if (encoding === 'json') return rawFrame('BUS_PUBLISH', JSON.stringify({ id }), JSON.stringify({ event_type: 'e', payload: { $ndarray: layout.toString('base64') } }));
  const text = (t: string): number[] => [0x60 + t.length, ...utf8.encode(t)];
  const bstrHead = layout.length < 24 ? [0x40 + layout.length] : layout.length < 256 ? [0x58, layout.length] : [0x59, layout.length >> 8, layout.length & 0xff];
  const cbor = Uint8Array.from([0xa2, ...text('event_type'), ...text('e'), ...text('payload'), 0xd9, 0xc0, 0xc0, ...bstrHead, ...layout]);
  return rawFrame('BUS_PUBLISH', JSON.stringify({ id }), cbor, 'cbor');
}

const ARRAY_STATEMENTS: Record<string, string[]> = {
  json: ['TST-4', 'ARR-8', 'ARR-1', 'ARR-2', 'ARR-3', 'ARR-4'],
  cbor: ['TST-4', 'ARR-8', 'ARR-1', 'ARR-2', 'ARR-3', 'ARR-5'],
};

/** Every valid ndarray vector (each dtype, both byte orders, 0-d and empty arrays) in an any-typed field, echoed equal. */
const arrayCases = (): Case[] => (['json', 'cbor'] as Encoding[]).flatMap((encoding) => [
  defineCase({
    id: `testee/ndarray/valid-vectors-in-an-any-field/encoding:${encoding}`,
    statements: ARRAY_STATEMENTS[encoding]!,
    ...(encoding === 'cbor' ? { needs: ['cbor'] } : {}),
    async run(ctx) {
      const t = await ctx.testee();
      needEncoding(t, encoding);
      const v = ctx.verdict();
      for (const vec of arrayVectors().filter((x) => x.result === 'valid')) {
        const id = vec.id.replace('ndarray/valid/', '');
        t.conn.sendRaw(publishWithArray(Buffer.from(vec.hex, 'hex'), encoding, id), `BUS_PUBLISH carrying ${vec.id}`);
        await v.collect('ARR-8', () => expectEcho(ctx, t, id, messageByName('BUS_PUBLISH').code, encoding, { event_type: 'e', payload: { $ndarray: vec.decoded } }), true);
      }
      v.done();
    },
  }),
  defineCase({
    id: `testee/ndarray/invalid-vectors-in-an-any-field/encoding:${encoding}`,
    statements: ['TST-5', 'ARR-8', 'ARR-7', 'LIM-8'],
    ...(encoding === 'cbor' ? { needs: ['cbor'] } : {}),
    async run(ctx) {
      const t = await ctx.testee();
      needEncoding(t, encoding);
      const v = ctx.verdict();
      for (const vec of arrayVectors().filter((x) => x.result === 'invalid')) {
        const id = vec.id.replace('ndarray/invalid/', '');
        t.conn.sendRaw(publishWithArray(Buffer.from(vec.hex, 'hex'), encoding, id), `BUS_PUBLISH carrying ${vec.id}`);
        await v.collect('ARR-8', () => ctx.expectError(t.conn, 'INVALID_ARRAY', { statement: 'ARR-8', re: id, path: '/payload', rule: vec.rule!, detailsStatement: vec.rule === 'ndim-range' ? 'LIM-8' : 'ARR-7', probe: 'PING' }));
      }
      v.done();
    },
  }),
]);

/** ARR-6 and ARR-8: a `$ndarray` object that is not the wrapper form, in an any-typed field, is refused with rule `wrapper`. */
const arrayWrapperCase = defineCase({
  id: 'testee/ndarray/any-field-wrapper-faults',
  statements: ['TST-5', 'ARR-8', 'ARR-6', 'ARR-4'],
  async run(ctx) {
    const t = await ctx.testee();
    const v = ctx.verdict();
    const layouts = arrayVectors().filter((x) => x.result === 'valid').map((x) => Buffer.from(x.hex, 'hex').toString('base64'));
    // A layout whose base64 has `+` or `/` and padding, so that base64url and unpadded forms differ from it.
    const layout = layouts.find((l) => /[+/]/.test(l) && l.endsWith('=')) ?? layouts[0]!;
    const faults: [string, unknown, string][] = [
      ['number', 5, '/payload'],
      ['expanded', { dtype: '<f4', shape: [1], data: [1], meta: {} }, '/payload'],
      ['base64url', layout.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), '/payload'],
      ['unpadded', layout.replace(/=+$/, ''), '/payload'],
      ['line-break', `${layout.slice(0, 8)}\n${layout.slice(8)}`, '/payload'],
    ];
    for (const [i, [name, inner, path]] of faults.entries()) {
      if (inner === layout) continue; // this layout has no character the fault changes
      const id = `w-${i}-${name}`;
      t.conn.sendRaw(rawFrame('BUS_PUBLISH', JSON.stringify({ id }), JSON.stringify({ event_type: 'e', payload: { $ndarray: inner } })), `BUS_PUBLISH with $ndarray ${name}`);
      await v.collect('ARR-8', () => ctx.expectError(t.conn, 'INVALID_ARRAY', { statement: 'ARR-8', re: id, path, rule: 'wrapper', detailsStatement: 'ARR-6', probe: 'PING' }));
    }
    // Nested: an ndarray two levels down an any-typed value is one too.
    const nested = JSON.stringify({ event_type: 'e', payload: { list: [0, { $ndarray: 7 }] } });
    t.conn.sendRaw(rawFrame('BUS_PUBLISH', '{"id":"w-nested"}', nested), 'BUS_PUBLISH with a faulty $ndarray at /payload/list/1');
    await v.collect('ARR-8', () => ctx.expectError(t.conn, 'INVALID_ARRAY', { statement: 'ARR-8', re: 'w-nested', path: '/payload/list/1', rule: 'wrapper', detailsStatement: 'ARR-6', probe: 'PING' }));
    v.done();
  },
});

export function testeeCodecCases(): Case[] {
  return [...HEADER_ROWS.map(headerCase), ...payloadCases, ...encodingCases, ...errorCases, ...streamCases, ...profileCases, ...arrayCases(), arrayWrapperCase, senderRulesCase];
}
