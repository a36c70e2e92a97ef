import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { tsProgram } from '../../reference/test/programs.js';
import { RECEIVING_CLIENT_DEFECTS, type ReceivingClientDefect } from './receiving-client-defects.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-client-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

async function run(command: string[], runPatterns: string[] = []): Promise<{ code: number; results: CaseResult[] }> {
  const lines: string[] = [];
  const code = await runCommand({
    listen: 0, exec: command, suites: ['client'], run: runPatterns, skip: [], seed: 9, timeoutMs: 2000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  });
  return { code, results: (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results };
}

const tsx = tsProgram;

describe('the client suite (conformance --listen)', () => {
  // That the reference TypeScript client passes the whole client suite is shown by `conformance selftest`,
  // which npm test runs (its typescript client cell: the same program, the same 2000 ms frame timeout).
  // Kept here: each defect is caught.
  it('catches a client that does not wait for INIT_ACK and never answers', async () => {
    const { code, results } = await run(tsx('conformance/test/broken-client.ts', '{port}'), ['handshake/client-waits-for-init-ack', 'handshake/client-answers-ping/id:zero']);
    const outcome = (id: string): string | undefined => results.find((r) => r.id === id)?.outcome;
    expect(outcome('handshake/client-waits-for-init-ack')).toBe('fail');
    expect(['fail', 'timeout']).toContain(outcome('handshake/client-answers-ping/id:zero'));
    expect(code).not.toBe(0);
  }, 60_000);

  it('catches a client whose INIT carries a field of a later version (VER-4)', async () => {
    const { code, results } = await run(tsx('conformance/test/broken-client.ts', '{port}', 'later-field'), ['versioning/client-init-of-version-1-0']);
    expect(results.map((r) => `${r.id}: ${r.outcome}`)).toEqual(['versioning/client-init-of-version-1-0: fail']);
    expect(code).toBe(1);
  }, 60_000);
});

/** The receiver cases (receiver.cases.ts, and client.cases.ts's on what a client reads) each defect of broken-receiving-client.ts must fail. */
const RECEIVER_DEFECTS: Record<ReceivingClientDefect, string[]> = {
  'one-read-one-frame': ['framing/client-any-division/coalesced', 'framing/client-any-division/split-every-byte', 'framing/client-any-division/across-frames'],
  'limit-inclusive': ['framing/client-max-frame/exactly'],
  'limit-after-body': ['framing/client-max-frame/one-past', 'framing/client-refuses-oversized-length'],
  'limit-not-given': ['framing/client-max-frame/one-past'],
  'response-by-type': ['requests/client-unsolicited-response/pong', 'requests/client-unsolicited-response/pong-without-re', 'requests/client-unsolicited-response/shutdown-ack'],
  'any-direction': ['requests/client-wrong-direction/type:STATS_REQUEST', 'requests/client-wrong-direction/type:SERVICE_REGISTER', 'requests/client-wrong-direction/type:BUS_SUBSCRIBE'],
  'strict-header': ['body/client-ignores-unknown-header-keys'],
  'answers-faulty-error': ['errors/client-ignores-error/faulty'],
  'cbor-unasked': ['encodings/client-cbor-not-negotiated/without-payload', 'encodings/client-cbor-not-negotiated/with-payload'],
  'shutdown-ack-miscounts': ['handshake/client-acknowledges-shutdown'],
  'shutdown-first': ['handshake/client-answers-before-shutdown-ack'],
  'drops-when-full': ['framing/client-burst-past-os-buffers'],
  'drops-unimplemented': ['requests/client-every-request-answered-once'],
  'concatenated-header': ['requests/client-pong-re-escaped/id:quote', 'requests/client-pong-re-escaped/id:backslash', 'requests/client-pong-re-escaped/id:control', 'requests/client-pong-re-escaped/id:escapes'],
  'handshake-one-read': ['framing/client-init-ack-division/coalesced', 'framing/client-init-ack-division/split'],
  'writes-offered-encoding': ['encodings/client-writes-negotiated-encoding'],
  'decodes-negotiated-encoding': ['encodings/client-accepts-json-when-cbor-chosen'],
  'error-drops-read': ['errors/client-reads-on-after-error/unknown-type', 'errors/client-reads-on-after-error/invalid-header', 'errors/client-reads-on-after-error/invalid-payload'],
  'shutdown-needs-drain-ms': ['handshake/client-shutdown-without-drain-ms'],
  'limit-from-init-ack': ['framing/client-max-frame/own-not-init-ack'],
  'header-id-by-search': ['requests/client-pong-re-from-header/nested-id-first', 'requests/client-pong-re-from-header/key-ending-in-id'],
  'id-length-of-spelling': ['requests/client-pong-re-from-header/escaped-128-bytes'],
  'error-without-re-closes': ['errors/client-ignores-error/without-re'],
};
const RECEIVER_CASES = ['framing/client-**', 'body/client-**', 'encodings/client-**', 'requests/client-**', 'errors/client-ignores-error/**', 'errors/client-reads-on-after-error/**',
  'handshake/client-acknowledges-shutdown', 'handshake/client-answers-before-shutdown-ack', 'handshake/client-shutdown-without-drain-ms'];

describe('the client suite\'s receiver cases', () => {
  const receiving = (defect?: ReceivingClientDefect): string[] => tsx('conformance/test/broken-receiving-client.ts', '{port}', ...(defect ? [defect] : []));

  it('pass a small conforming client (its own framing, the reference codec), the CBOR and small-max_frame vectors included', async () => {
    const { code, results } = await run(receiving(), [...RECEIVER_CASES, 'errors/client-refuses/framing/**', 'errors/client-refuses/payload/cbor-**']);
    expect(results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.outcome} ${r.message ?? ''}`)).toEqual([]);
    expect(results.length).toBeGreaterThan(30);
    expect(code).toBe(0);
  }, 240_000);

  it.each(RECEIVING_CLIENT_DEFECTS)('fail a client broken by %s in the cases that target it', async (defect) => {
    const targets = RECEIVER_DEFECTS[defect];
    const { code, results } = await run(receiving(defect), targets);
    expect(results.map((r) => `${r.id}: ${r.outcome}`).sort()).toEqual(targets.map((id) => `${id}: fail`).sort());
    expect(code).toBe(1);
  }, 120_000);
});
