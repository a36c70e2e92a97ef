/**
 * Replay bundles against brokers: a broker that changes `re` on the way back (a mutant proxy in front
 * of the reference broker) fails requests/id-echoed-verbatim and leaves a bundle with two sessions and
 * an answer to a routed request. The replay fails that broker again, passes the reference broker, and
 * passes a broker that rewrites the ids of routed requests (REQ-12): the answer's `re` refers to the id
 * the replay read, not the one recorded. The run's token never reaches the bundle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';
import { runCommand } from '../run-command.js';
import { replayMain } from '../replay/replay-command.js';
import { readBundle, bundleFileName } from '../replay/bundle.js';
import { startMutantProxy, nameOf, type ProxyHandle } from './mutant-proxy.js';
import { MUTANTS } from './mutants.js';

const CASE = 'requests/id-echoed-verbatim/id:zero';
const TOKEN = 'bundle-test-token-5f1c';
const reportDir = mkdtempSync(join(tmpdir(), 'concord-bundle-broker-'));
let broker: Broker;
let brokerPort: number;
let mutant: ProxyHandle;
let bundlePath: string;

beforeAll(async () => {
  broker = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', token: TOKEN });
  brokerPort = (await broker.listen()).port!;
  mutant = await startMutantProxy(MUTANTS.find((m) => m.name === 're-not-echoed')!, brokerPort);
  let report = '';
  const code = await runCommand({
    target: `127.0.0.1:${mutant.port}`, token: TOKEN, suites: ['core'], run: [CASE], skip: [], seed: 3, timeoutMs: 2000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: () => undefined, err: () => undefined, onFinish: (r) => (report = r.report),
  });
  expect(code).toBe(1);
  bundlePath = join(report, 'bundles', bundleFileName(CASE));
}, 120_000);
afterAll(async () => {
  await mutant.close();
  await broker.close();
  rmSync(reportDir, { recursive: true, force: true });
});

async function replay(...args: string[]): Promise<{ code: number; outcomes: Record<string, string> }> {
  let out = '';
  const code = await replayMain([bundlePath, '--json', '--report-dir', reportDir, '--token', TOKEN, ...args], { err: () => undefined, out: (t) => (out += t) });
  const json = out.trim() === '' ? { results: [] } : (JSON.parse(out) as { results: { id: string; outcome: string }[] });
  return { code, outcomes: Object.fromEntries(json.results.map((r) => [r.id, r.outcome])) };
}

describe('replay bundles against brokers', () => {
  it('records two sessions, the request, its routed copy, the answer to it and the expected response, without the token', () => {
    const b = readBundle(bundlePath);
    expect(b.replayable).toBe(true);
    expect(b.peer).toMatchObject({ kind: 'target', target: `127.0.0.1:${mutant.port}` });
    expect(b.steps.map((s) => s.op)).toEqual(['session', 'session', 'send', 'expect', 'send', 'expect']);
    const answer = b.steps[4]!;
    expect(answer.op === 'send' && answer.re_from).toBe(3);
    expect(b.verdict.failed_step).toBe(5);
    expect(readFileSync(bundlePath, 'utf8')).not.toContain(TOKEN);
    expect(Buffer.from(JSON.stringify(b.steps)).includes(Buffer.from(TOKEN))).toBe(false);
  });

  it('fails the broken broker again with the same case id', async () => {
    const r = await replay();
    expect(r.outcomes).toEqual({ [CASE]: 'fail' });
    expect(r.code).toBe(1);
  }, 60_000);

  it('passes the reference broker', async () => {
    const r = await replay('--target', `127.0.0.1:${brokerPort}`);
    expect(r.outcomes).toEqual({ [CASE]: 'pass' });
    expect(r.code).toBe(0);
  }, 60_000);

  it('keeps the token out of every file the run and the replays wrote', async () => {
    await replay('--target', `127.0.0.1:${brokerPort}`);
    const files = readdirSync(reportDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(readFileSync(f).includes(Buffer.from(TOKEN)), f).toBe(false);
  }, 60_000);

  it('passes a broker that rewrites the ids of routed requests (REQ-12)', async () => {
    let rewritten = 0;
    const rewriting = await startMutantProxy({
      name: 'rewrites-ids', caughtBy: '',
      toClient: (f) => {
        if (nameOf(f) !== 'REASONING_REQUEST') return f;
        rewritten++;
        return { ...f, header: { ...f.header, id: `rw-${f.header.id}` } };
      },
      // Like a broker that rewrites ids: an answer whose re is not an id it handed out matches nothing.
      toBroker: (f) => (nameOf(f) !== 'REASONING_RESPONSE' ? f : { ...f, header: { ...f.header, re: f.header.re?.startsWith('rw-') ? f.header.re.slice(3) : `unmapped-${String(f.header.re)}` } }),
    }, brokerPort);
    try {
      const r = await replay('--target', `127.0.0.1:${rewriting.port}`);
      expect(rewritten).toBe(1);
      expect(r.outcomes).toEqual({ [CASE]: 'pass' });
      expect(r.code).toBe(0);
    } finally {
      await rewriting.close();
    }
  }, 60_000);
});
