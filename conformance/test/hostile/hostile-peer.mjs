#!/usr/bin/env node
/**
 * One hostile peer, many misbehaviours: `node hostile-peer.mjs MODE [ARGS]`. Testee modes speak (or
 * pretend to speak) frames on stdio; `client-*` modes connect to the port given as ARGS[0]; `broker-*`
 * modes listen on 127.0.0.1:0 and print their port; `bus-*` modes are bus adapters (JSON lines);
 * `worker-*` modes are instrument workers. Uses the built reference codec (dist/) for the frames it
 * gets right on purpose.
 */
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { appendFileSync } from 'node:fs';

const dist = new URL('../../../dist/', import.meta.url);
const { encodeMessageFrame, decodeMessage } = await import(new URL('reference/codec/message.js', dist).href);
const { FrameDecoder } = await import(new URL('reference/codec/frame.js', dist).href);

const [mode, ...args] = process.argv.slice(2);
const ESCAPES = '\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[32mPASS (exit 0)\x1b[0m\r\x9b2J';
const forever = () => setInterval(() => undefined, 1 << 30);
const frame = (type, header, payload) => Buffer.from(encodeMessageFrame({ type, header, payload }));

const testeeInit = (name = 'hostile', cbor = false) => frame('INIT', { id: 'init' }, {
  client_id: 'hostile-testee', role: 'testee', name, language: 'typescript', version: '0', protocol_version: '1.0', encodings: cbor ? ['json', 'cbor'] : ['json'], features: cbor ? ['cbor'] : [], max_frame: 16777216,
});

/** Writes `chunk` again and again while the reader keeps up (bounded by the harness's own timeouts). */
function flood(out, chunk, onError = () => process.exit(0)) {
  const more = () => { while (!out.destroyed && out.write(chunk)); };
  out.on('drain', more);
  out.on('error', onError);
  more();
}

/** A 4 GiB length prefix, then body bytes without end. */
function hugeFrame(out, onError) {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(0xffffffff);
  out.write(prefix);
  flood(out, Buffer.alloc(1 << 16, 0x5b), onError);
}

/** Reads frames and calls `onMessage` for each (errors ignored: a hostile peer does not care). */
function onFrames(input, onMessage) {
  const decoder = new FrameDecoder();
  input.on('data', (chunk) => {
    try {
      for (const body of decoder.push(chunk)) {
        try { onMessage(decodeMessage(body), body); } catch { /* not ours to judge */ }
      }
    } catch { /* framing error: keep going */ }
  });
}

function deepPayload(depth) {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

const modes = {
  // --- stdio testees / workers
  'silent': () => { process.stdin.resume(); forever(); },
  'garbage': () => { process.stdin.resume(); flood(process.stdout, Buffer.from('\x00\x00\x00\x05garbage-garbage-garbage\xff\xfe')); },
  'huge-prefix': () => { process.stdin.resume(); hugeFrame(process.stdout); },
  'init-then-huge': () => { process.stdin.resume(); process.stdout.write(testeeInit()); setTimeout(() => hugeFrame(process.stdout), 50); },
  'escapes': () => {
    process.stderr.write(`${ESCAPES}\n`);
    process.stdout.write(testeeInit(ESCAPES));
    onFrames(process.stdin, (m) => {
      if (m.name === 'INIT_ACK') return;
      process.stdout.write(frame('ERROR', { id: `e-${ESCAPES}`, re: m.header.id }, { code: 'PROTOCOL_VIOLATION', message: ESCAPES, definite: true }));
    });
  },
  'exit-mid-frame': () => { process.stdout.write(testeeInit().subarray(0, 9), () => process.exit(0)); },
  'close-mid-frame': () => { process.stdin.resume(); process.stdout.write(testeeInit().subarray(0, 9), () => process.stdout.destroy()); forever(); },
  'exit-mid-case': () => {
    process.stdout.write(testeeInit());
    let n = 0;
    onFrames(process.stdin, (m, body) => {
      if (m.name === 'INIT_ACK') return;
      if (++n > 2) process.exit(0);
      const prefix = Buffer.alloc(4); prefix.writeUInt32BE(body.length);
      process.stdout.write(Buffer.concat([prefix, Buffer.from(body)]));
    });
  },
  'cannot-start': () => { process.stderr.write(`hostile: missing configuration ${ESCAPES}\n`); process.exit(3); },
  'flood-valid': () => {
    process.stdin.resume();
    process.stdout.write(testeeInit());
    flood(process.stdout, frame('PING', { id: 'flood' }, undefined));
  },
  'deep-echo': () => {
    // A testee that answers every frame with a payload nested far deeper than any decoder recurses.
    process.stdout.write(testeeInit('hostile', true));
    onFrames(process.stdin, (m) => {
      if (m.name === 'INIT_ACK') return;
      const header = JSON.stringify({ id: m.header.id, ...(m.header.re !== undefined ? { re: m.header.re } : {}) });
      // Fields that take any value get the deep one, so the frame passes the schema and reaches the comparison.
      const p = m.payload && typeof m.payload === 'object' && !Array.isArray(m.payload) ? { ...m.payload } : undefined;
      const open = p ? Object.keys(p).filter((k) => ['payload', 'data', 'value', 'result', 'params', 'args', 'details'].includes(k)) : [];
      for (const k of open) p[k] = '__DEEP__';
      const payload = Buffer.from(open.length > 0 ? JSON.stringify(p).replaceAll('"__DEEP__"', deepPayload(200_000)) : deepPayload(200_000));
      const h = Buffer.from(header);
      // In CBOR when the harness spoke CBOR: arrays of one element, 200,000 deep.
      const cbor = m.encoding === 'cbor';
      const bytes = cbor ? Buffer.concat([Buffer.alloc(200_000, 0x81), Buffer.from([0x80])]) : payload;
      const body = Buffer.concat([Buffer.from([decodeTypeCode(m), cbor ? 1 : 0, h.length >> 8, h.length & 0xff]), h, bytes]);
      const prefix = Buffer.alloc(4); prefix.writeUInt32BE(body.length);
      process.stdout.write(Buffer.concat([prefix, body]));
    });
  },
  // A peer whose children (same process group) outlive it holding its stdout and stderr.
  'grandchild': () => {
    spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: ['ignore', 'inherit', 'inherit'] });
    process.stdout.write(testeeInit());
    setTimeout(() => process.exit(0), 100);
  },
  // The same, the child escaping the group (a new session): the harness must still not wait on the pipes it holds.
  'escaping-grandchild': () => {
    const c = spawn(process.execPath, ['-e', 'setTimeout(()=>{},60000)'], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    c.unref();
    // The test ends it by this PID (the harness cannot: it left the group).
    if (process.env.HOSTILE_PIDS) appendFileSync(process.env.HOSTILE_PIDS, `${c.pid}\n`);
    process.stdout.write(testeeInit());
    setTimeout(() => process.exit(0), 100);
  },
  // --- instrument workers: the reference worker behind a wrapper that forwards its exit
  // Exits with the worker at end of input, leaving a child of its own running (STDIO-3).
  'worker-leaves-children': () => {
    spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
    wrapWorker();
  },
  // Exits at end of input, never when its parent dies (the wrapper does not watch its parent: INS-16).
  'worker-eof-only': () => wrapWorker(),
  // --- clients under test (listen mode): ARGS[0] is the harness's port
  'client-garbage': () => { const s = connect(Number(args[0]), '127.0.0.1', () => flood(s, Buffer.from('\xff\xff\xff\xffnot a frame'))); s.on('error', () => process.exit(0)); },
  'client-huge': () => { const s = connect(Number(args[0]), '127.0.0.1', () => hugeFrame(s)); s.on('error', () => process.exit(0)); },
  'client-exit': () => process.exit(5),
  // --- brokers (--target): print the port, then misbehave on every connection
  'broker-silent': () => broker((s) => s.resume()),
  'broker-garbage': () => broker((s) => flood(s, Buffer.from('\x00\x00\x00\x02\xff\xff'), () => s.destroy())),
  'broker-huge': () => broker((s) => hugeFrame(s, () => s.destroy())),
  'broker-close-mid-frame': () => broker((s) => { s.on('error', () => undefined); s.end(Buffer.from([0, 0, 1, 0, 1, 0])); }),
  // Records every INIT token it gets (in HOSTILE_TOKENS), refusing each with UNAUTHORIZED.
  'broker-token-log': () => broker((s) => {
    s.on('error', () => undefined);
    onFrames(s, (m) => {
      if (m.name === 'INIT' && process.env.HOSTILE_TOKENS) appendFileSync(process.env.HOSTILE_TOKENS, `${JSON.stringify(m.payload.token ?? null)}\n`);
      s.end(frame('ERROR', { id: 'e', re: m.header.id }, { code: 'UNAUTHORIZED', message: 'no', definite: true }));
    });
  }),
  'broker-escapes': () => broker((s) => {
    s.on('error', () => undefined);
    onFrames(s, (m) => s.write(frame('ERROR', { id: ESCAPES, re: m.header.id }, { code: 'UNAUTHORIZED', message: ESCAPES, definite: true })));
  }),
  // --- bus adapters (JSON lines)
  // Answer the first command (the harness's hello), then never again / only garbage.
  'bus-first-then-silent': () => busFirst(() => undefined),
  'bus-first-then-garbage': () => busFirst(() => flood(process.stdout, Buffer.from(`not json ${ESCAPES}\n`))),
  'bus-exit-after-hello': () => {
    let n = 0;
    process.stdin.on('data', (d) => {
      for (const line of String(d).split('\n').filter(Boolean)) {
        const cmd = JSON.parse(line);
        if (++n === 1) process.stdout.write(`${JSON.stringify({ seq: cmd.seq, ok: true, value: { name: 'hostile', language: 'typescript', version: '0', features: [] } })}\n`);
        else process.exit(0);
      }
    });
  },
};

function busFirst(then) {
  let answered = false;
  process.stdin.on('data', (d) => {
    if (answered) return;
    const line = String(d).split('\n').find(Boolean);
    if (!line) return;
    answered = true;
    const cmd = JSON.parse(line);
    process.stdout.write(`${JSON.stringify({ seq: cmd.seq, ok: true, value: { name: 'hostile', language: 'typescript', version: '0', features: [] } })}\n`);
    then();
  });
}

function decodeTypeCode(m) {
  return m.type ?? m.code ?? 0x01;
}

/** Runs the reference worker on this process's stdio and exits when it does. */
function wrapWorker() {
  const worker = spawn(process.execPath, [fileURLToPath(new URL('reference/cli.js', dist)), 'instrument', '--stdio'], { stdio: 'inherit' });
  // The reference worker watches every ancestor, so it ends when this wrapper's parent dies: the wrapper
  // then runs on until its own input ends (a minute at most), as a worker that only watches its input.
  worker.on('exit', (code) => {
    setTimeout(() => process.exit(code ?? 1), 60_000);
    process.stdin.once('end', () => process.exit(code ?? 1)).once('error', () => process.exit(code ?? 1)).resume();
  });
}

function broker(onConnection) {
  const server = createServer(onConnection);
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

const run = modes[mode];
if (!run) {
  process.stderr.write(`hostile-peer: unknown mode ${mode}; modes: ${Object.keys(modes).join(' ')}\n`);
  process.exit(64);
}
run();
