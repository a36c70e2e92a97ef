/**
 * The `cut` fault (--faults SEED:cut): before a broker session's INIT, a connection with the same
 * client id ends its stream inside a frame and the session reconnects with that id (FRM-7, HS-19).
 * The reference broker passes a selection of session cases under it; a broker that keeps the
 * session of such a connection, or carries its partial frame into the next connection, passes
 * them without faults and fails them with the cut, shrunk to that one step.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Broker } from '../../reference/broker/index.js';
import { useReferenceBroker } from './reference-broker-fixture.js';
import { runCommand } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import type { FaultSpec } from '../faults/profile.js';
import { replayMain } from '../replay/replay-command.js';
import { bundleFileName } from '../replay/bundle.js';
import { startCutProxy, type CutDefect } from './broken-cut-proxy.js';

/** Cases whose sessions handshake and then exchange requests: each session may be preceded by a cut. */
const SELECTION = ['requests/route-and-correlate', 'requests/id-echoed-verbatim/**', 'handshake/pong-echoes-id/**', 'requests/pipelined-frames-in-order/**'];
const CUT: FaultSpec = { seed: 7, profile: 'cut' };

const fixture = useReferenceBroker('concord-faults-cut-');
const reportDir = fixture.reportDir;

async function run(port: number, faults?: FaultSpec): Promise<{ code: number; results: CaseResult[]; report: string }> {
  let results: CaseResult[] = [];
  let report = '';
  const code = await runCommand({
    target: `127.0.0.1:${port}`, suites: ['core'], run: SELECTION, skip: [], seed: 1, timeoutMs: 3000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: () => undefined, err: () => undefined, ...(faults ? { faults } : {}),
    onFinish: (finished) => {
      results = finished.results;
      report = finished.report;
    },
  });
  return { code, results, report };
}

const notPassed = (results: CaseResult[]): string[] => results.filter((r) => r.outcome !== 'pass').map((r) => `${r.id}: ${r.outcome} ${r.message}`);
const cutNotes = (r: CaseResult): string[] => r.wire.flatMap((w) => w.entries).map((e) => e.note).filter((n) => n.startsWith('fault cut'));

describe('--faults SEED:cut', () => {
  it('passes the reference broker, streams ending inside frames on the way', async () => {
    // A proxy without defect counts the mid-frame ends: the cuts did happen, and the broker passed them.
    const proxy = await startCutProxy('none', fixture.port);
    try {
      const { code, results } = await run(proxy.port, CUT);
      expect(notPassed(results)).toEqual([]);
      expect(code).toBe(0);
      expect(proxy.midFrameEnds()).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  }, 180_000);

  for (const defect of ['keep-session', 'carry-partial'] satisfies CutDefect[]) {
    it(`passes a broker that mishandles a mid-frame end (${defect}) without faults, fails it with the cut`, async () => {
      const proxy = await startCutProxy(defect, fixture.port);
      try {
        const clean = await run(proxy.port);
        expect(notPassed(clean.results)).toEqual([]);
        expect(clean.code).toBe(0);
        const cut = await run(proxy.port, CUT);
        expect(cut.code).toBe(1);
        const failed = cut.results.filter((r) => r.outcome === 'fail' || r.outcome === 'timeout');
        expect(failed.length).toBeGreaterThan(0);
        for (const r of failed) {
          expect(r.message, r.id).toMatch(/FRM-7/);
          // Shrunk to the cut alone: nothing else of the schedule is needed to fail.
          expect(r.faults?.shrink?.fails_without_faults, r.id).toBe(false);
          expect(r.faults!.schedule.flatMap((c) => c.steps).map((s) => s.kind), r.id).toEqual(['cut']);
          expect(cutNotes(r).length, r.id).toBeGreaterThan(0);
          // The reconnecting connection's log shows what the dropped one sent before its end.
          const notes = r.wire.flatMap((w) => w.entries).map((e) => e.note);
          expect(notes.some((n) => n.startsWith('connection dropped by the cut') && n.includes('harness half-closed')), r.id).toBe(true);
        }
        // The bundle replays the cut: the broken broker fails again, the reference broker passes (inconclusive under faults: exit 2).
        const bundle = join(cut.report, 'bundles', bundleFileName(failed[0]!.id));
        const replay = (port: number): Promise<number> => replayMain([bundle, '--target', `127.0.0.1:${port}`, '--report-dir', reportDir, '--json'], { err: () => undefined, out: () => undefined });
        expect(await replay(proxy.port)).toBe(1);
        // A broker of its own: the broken one still holds the sessions with the bundle's client ids.
        const fresh = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', maxInFlight: 64 });
        try {
          expect(await replay((await fresh.listen()).port!)).toBe(2);
        } finally {
          await fresh.close();
        }
      } finally {
        await proxy.close();
      }
    }, 300_000);
  }
});
