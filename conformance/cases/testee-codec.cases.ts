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
import { RulesFailure, summarize, type CaseContext, type ErrorExpectation, type TesteeSession } from './context.js';
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

/** Runs `check`, adding `why` to each failure it reports (a RulesFailure keeps each rule's statement). */
async function explained(why: string, check: () => Promise<unknown>): Promise<void> {
  try {
    await check();
  } catch (e) {
    if (e instanceof RulesFailure) throw new RulesFailure(e.failures.map((f) => ({ ...f, message: `${f.message} (${why})` })));
    if (e instanceof CaseFailure) throw new CaseFailure(`${e.message} (${why})`, e.expected, e.actual);
    throw e;
  }
}

/**
 * The exact decimal expansion of a finite binary64 value: a JSON number whose value is `x` itself, not
 * merely one that reads back as `x`. A decoder that converts the text straight to binary32 (strtof)
 * then rounds the same value as one that reads binary64 first, so a tie stays a tie either way.
 */
export function exactDecimal(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const mantissa = (bits & ((1n << 52n) - 1n)) | (biased === 0 ? 0n : 1n << 52n);
  const e = (biased === 0 ? 1 : biased) - 1075;
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  if (e >= 0) return `${sign}${(mantissa << BigInt(e)).toString()}`;
  const digits = (mantissa * 5n ** BigInt(-e)).toString().replace(/0+$/, '');
  const scale = -e - ((mantissa * 5n ** BigInt(-e)).toString().length - digits.length);
  // digits x 10^-scale, written as d.ddd e-N
  if (digits === '') return `${sign}0`;
  const exponent = digits.length - 1 - scale;
  return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${exponent}`;
}

/**
 * ENC-16 rounds to nearest, ties to even. Each value is a binary64 exactly halfway between two
 * binary32 values (written in its exact decimal expansion), or one a codec that truncates gets wrong:
 * a codec that rounds ties away from zero (adding half an ulp, then cutting) echoes the other neighbour.
 */
const FLOAT32_TIES: [string, number, number][] = [
  ['tie-to-even-below-half', 0.5 + 2 ** -25, 0.5],
  ['tie-to-even-above-half', 0.5 + 3 * 2 ** -25, 0.5 + 2 ** -23],
  ['tie-to-even-at-one', 1 + 2 ** -24, 1],
  ['integer-tie-2^24+1', 2 ** 24 + 1, 2 ** 24],
  ['integer-tie-2^24+3', 2 ** 24 + 3, 2 ** 24 + 4],
  ['subnormal-tie-to-zero', 2 ** -150, 0],
  ['subnormal-tie-up', 3 * 2 ** -150, 2 ** -148],
];

const float32TiesCase = defineCase({
  id: 'testee/payload/float32-ties-round-to-even',
  statements: ['TST-4', 'ENC-16', 'ENC-15'],
  async run(ctx) {
    const t = await ctx.testee();
    const v = ctx.verdict();
    for (const [slug, value, binary32] of FLOAT32_TIES) {
      if (Math.fround(value) !== binary32) throw new Error(`float32-ties-round-to-even: ${slug} is not the tie it claims`);
      const payload = `{"coordination_id":"c","teacher_count":2,"disagreement":${exactDecimal(value)},"learning_rates":{"a":0.5}}`;
      // Echoing binary64 `value` or binary32 `binary32` passes; the other neighbour does not (ENC-16).
      await v.collect('ENC-16', () => explained(`disagreement ${value}, sent as its exact decimal expansion, lies halfway between two binary32 values and rounds to the even one, ${binary32} (ties to even)`, () => echoJson(ctx, t, 'TEACHER_SYNC', `ft-${slug}`, payload)), true);
    }
    v.done();
  },
});

/**
 * BODY-3's byte lengths are those of the decoded string, never of its escaped JSON spelling (section
 * 3): each header here spells its strings, and once a key, with JSON escapes, so a codec that
 * measures or matches the raw text before unescaping it refuses what it must accept or accepts what
 * it must refuse.
 */
const escape = (s: string): string => [...s].map((c) => {
  const cp = c.codePointAt(0)!;
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  const hi = 0xd800 + ((cp - 0x10000) >> 10);
  const lo = 0xdc00 + ((cp - 0x10000) & 0x3ff);
  return `\\u${hi.toString(16)}\\u${lo.toString(16)}`;
}).join('');

interface EscapedRow { slug: string; statement: string; header: string; id?: string; error?: { code: ErrorName } & ErrorExpectation }

const ESCAPED_ROWS: EscapedRow[] = [
  // 64 x U+00E9: 128 bytes of UTF-8, 384 bytes as written.
  { slug: 'id-128-bytes-escaped', statement: 'LIM-5', header: `{"id":"${escape(e2.repeat(64))}"}`, id: e2.repeat(64) },
  { slug: 'id-129-bytes-escaped', statement: 'LIM-5', header: `{"id":"${escape(e2.repeat(64))}a"}`, error: { code: 'INVALID_HEADER', path: '/header/id' } },
  // The key itself escaped: "\u0069d" is "id".
  { slug: 'id-key-escaped', statement: 'BODY-4', header: `{"\\u0069d":"esc-key"}`, id: 'esc-key' },
  // 32 x U+1F600 as surrogate pairs: 128 bytes of UTF-8 (not 192, as six-byte CESU-8 would count).
  { slug: 're-128-bytes-surrogate-pairs', statement: 'LIM-5', header: `{"id":"esc-re","re":"${escape('😀'.repeat(32))}"}`, id: 'esc-re' },
  { slug: 'dst-128-bytes-escaped', statement: 'LIM-6', header: `{"id":"esc-dst","dst":"${escape(e3.repeat(42))}ab"}`, id: 'esc-dst' },
  { slug: 'dst-129-bytes-escaped', statement: 'LIM-6', header: `{"id":"esc-dst-long","dst":"${escape(e3.repeat(43))}"}`, error: { code: 'INVALID_HEADER', path: '/header/dst', re: 'esc-dst-long' } },
];

const escapedHeaderCase = defineCase({
  id: 'testee/header/escaped-strings-measured-decoded',
  statements: ['TST-4', 'TST-5', 'BODY-4', 'BODY-5', 'LIM-5', 'LIM-6', 'BODY-3'],
  async run(ctx) {
    const t = await ctx.testee();
    const v = ctx.verdict();
    for (const row of ESCAPED_ROWS) {
      t.conn.sendRaw(rawFrame('ACK', row.header, ACK_PAYLOAD), `ACK ${row.slug}: header ${row.header.slice(0, 100)}`);
      if (row.error) {
        const { code, ...expect } = row.error;
        await v.collect(row.statement, () => ctx.expectError(t.conn, code, { probe: 'PING', statement: row.statement, ...expect }));
      } else {
        await v.collect(row.statement, () => explained(`the header ${row.slug} is valid once its escapes are decoded (byte lengths count the decoded UTF-8, section 3)`, () => expectEcho(ctx, t, row.id!, messageByName('ACK').code, 'json', fixtureOf('ACK', ACK_PAYLOAD))), true);
      }
    }
    v.done();
  },
});

/** An ndarray layout (section 5) from its fields, nothing checked. */
function layoutOf(dims: bigint[], dtype: string, dataLen: bigint, data: Uint8Array = new Uint8Array(0), meta = '{}'): Buffer {
  const u64 = (n: bigint): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
  return Buffer.concat([u64(BigInt(dims.length)), ...dims.map(u64), u64(BigInt(dtype.length)), Buffer.from(dtype, 'latin1'), u64(dataLen), data, u64(BigInt(Buffer.byteLength(meta))), Buffer.from(meta)]);
}

/**
 * Rule 9 computes product(dims) x itemsize exactly. A codec that multiplies in u64 and wraps (or in
 * binary64 and rounds) finds the announced data_len where there is none; one that stops at the first
 * overflow refuses an empty array whose zero dimension comes last.
 */
const ELEMENT_COUNT_ROWS: { slug: string; layout: Buffer; valid: boolean; why: string }[] = [
  { slug: 'product-wraps-to-zero', layout: layoutOf([2n ** 62n, 4n], '|u1', 0n), valid: false, why: '2^62 x 4 is 2^64, which wraps to 0 in 64 bits' },
  { slug: 'itemsize-wraps-to-zero', layout: layoutOf([2n ** 61n], '<f8', 0n), valid: false, why: '2^61 float64 take 2^64 bytes, which wraps to 0 in 64 bits' },
  { slug: 'product-wraps-to-data-len', layout: layoutOf([2n ** 63n + 1n, 2n], '|u1', 2n, Uint8Array.of(1, 2)), valid: false, why: '(2^63 + 1) x 2 is 2^64 + 2, which wraps to 2 in 64 bits' },
  { slug: 'product-rounds-in-binary64', layout: layoutOf([2n ** 53n + 1n], '|u1', 2n ** 53n), valid: false, why: '2^53 + 1 rounds to 2^53 in binary64' },
  { slug: 'zero-dimension-after-overflow', layout: layoutOf([2n ** 62n, 4n, 0n], '|u1', 0n), valid: true, why: 'the product is exactly 0 although 2^62 x 4 overflows 64 bits on the way' },
];

const elementCountCases = (): Case[] => (['json', 'cbor'] as Encoding[]).map((encoding) => defineCase({
  id: `testee/ndarray/element-count-computed-exactly/encoding:${encoding}`,
  statements: [...new Set(['TST-4', 'TST-5', 'ARR-7', 'ARR-3', 'ARR-8', encoding === 'json' ? 'ARR-4' : 'ARR-5'])],
  ...(encoding === 'cbor' ? { needs: ['cbor'] } : {}),
  async run(ctx) {
    const t = await ctx.testee();
    needEncoding(t, encoding);
    const v = ctx.verdict();
    for (const row of ELEMENT_COUNT_ROWS) {
      const id = `ec-${row.slug}`;
      t.conn.sendRaw(publishWithArray(row.layout, encoding, id), `BUS_PUBLISH carrying an ndarray: ${row.why}`);
      if (row.valid) {
        const expected = { event_type: 'e', payload: { $ndarray: ndarrayFixture(row.layout) } };
        await v.collect('ARR-3', () => explained(`the empty array ${row.slug} is valid (${row.why}; rule 9 computes the product exactly)`, () => expectEcho(ctx, t, id, messageByName('BUS_PUBLISH').code, encoding, expected)), true);
      } else {
        await v.collect('ARR-7', () => ctx.expectError(t.conn, 'INVALID_ARRAY', { statement: 'ARR-7', re: id, path: '/payload', rule: 'data-length', probe: 'PING' }));
      }
    }
    v.done();
  },
}));

/** The typed-JSON form of a valid layout, as the reference codec reads it. */
function ndarrayFixture(layout: Buffer): unknown {
  const json = JSON.stringify({ event_type: 'e', payload: { $ndarray: layout.toString('base64') } });
  return (fixtureOf('BUS_PUBLISH', json) as { payload: { $ndarray: unknown } }).payload.$ndarray;
}

/**
 * Every head RFC 8949 allows is well-formed, so a CBOR receiver reads them all (ENC-8, ENC-17): half
 * floats (subnormal, largest, negative), single and double subnormals, and integers, strings, arrays
 * and maps whose length or value sits in a longer head than needed.
 */
const CBOR_HEADS: [string, number[], unknown][] = [
  ['half-smallest-subnormal', [0xf9, 0x00, 0x01], 2 ** -24],
  ['half-largest-subnormal', [0xf9, 0x03, 0xff], 1023 * 2 ** -24],
  ['half-smallest-normal', [0xf9, 0x04, 0x00], 2 ** -14],
  ['half-largest', [0xf9, 0x7b, 0xff], 65504],
  ['half-negative-subnormal', [0xf9, 0x80, 0x01], -(2 ** -24)],
  ['half-negative', [0xf9, 0xc4, 0x00], -4],
  ['single-subnormal', [0xfa, 0x00, 0x00, 0x00, 0x01], 2 ** -149],
  ['single-largest', [0xfa, 0x7f, 0x7f, 0xff, 0xff], 3.4028234663852886e38],
  ['double-subnormal', [0xfb, 0, 0, 0, 0, 0, 0, 0, 0x01], 5e-324],
  ['uint-in-1-byte-head', [0x18, 0x05], 5],
  ['uint-in-8-byte-head', [0x1b, 0, 0, 0, 0, 0, 0, 0, 0x05], 5],
  ['negint-in-2-byte-head', [0x39, 0x00, 0x00], -1],
  ['text-in-1-byte-head', [0x78, 0x02, 0x68, 0x69], 'hi'],
  ['text-in-4-byte-head', [0x7a, 0, 0, 0, 0x02, 0x68, 0x69], 'hi'],
  ['array-in-2-byte-head', [0x99, 0x00, 0x01, 0x01], [1]],
  ['map-in-1-byte-head-key-in-1-byte-head', [0xb8, 0x01, 0x78, 0x01, 0x6b, 0x01], { k: 1 }],
];

const cborHeadsCase = defineCase({
  id: 'testee/payload/cbor-every-well-formed-head-accepted',
  statements: ['TST-4', 'ENC-8', 'ENC-17'],
  needs: ['cbor'],
  async run(ctx) {
    const t = await ctx.testee();
    needEncoding(t, 'cbor');
    const text = (x: string): number[] => [0x60 + x.length, ...utf8.encode(x)];
    const v = ctx.verdict();
    for (const [slug, head, value] of CBOR_HEADS) {
      const id = `ch-${slug}`;
      // {"event_type": "e", "payload": [VALUE]}, the map itself in a 1-byte head (0xb8 0x02).
      const cbor = Uint8Array.from([0xb8, 0x02, ...text('event_type'), ...text('e'), ...text('payload'), 0x81, ...head]);
      t.conn.sendRaw(rawFrame('BUS_PUBLISH', JSON.stringify({ id }), cbor, 'cbor'), `BUS_PUBLISH in CBOR with ${slug} (${Buffer.from(head).toString('hex')})`);
      await v.collect('ENC-17', () => explained(`${Buffer.from(head).toString('hex')} is the well-formed CBOR for ${JSON.stringify(value)} (RFC 8949)`, () => expectEcho(ctx, t, id, messageByName('BUS_PUBLISH').code, 'cbor', { event_type: 'e', payload: [value] })), true);
    }
    v.done();
  },
});

export function testeeCodecCases(): Case[] {
  return [...HEADER_ROWS.map(headerCase), escapedHeaderCase, ...payloadCases, float32TiesCase, cborHeadsCase, ...encodingCases, ...errorCases, ...streamCases, ...profileCases, ...arrayCases(), ...elementCountCases(), arrayWrapperCase, senderRulesCase];
}
