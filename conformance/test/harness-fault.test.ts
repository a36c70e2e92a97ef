/**
 * An error thrown in the harness's own process outside any case (the harness, or a broker it runs in
 * process, as `npx conformance` does) is the harness's fault: the run goes on, writes its report and
 * exits 70, never a verdict on the peer. A peer going away while no case reads from it is not.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useReferenceBroker } from './reference-broker-fixture.js';
import { runCommand, type FinishedRun } from '../run-command.js';
import { startMutantProxy, nameOf, type Mutant } from './mutant-proxy.js';

const fixture = useReferenceBroker('concord-harness-fault-');

// The proxy below throws in this process on purpose: vitest's own handlers would count that as an error
// of the test file, so they step aside while a run is in progress and the run's handlers take it.
let vitestHandlers: NodeJS.UncaughtExceptionListener[] = [];
beforeEach(() => {
  vitestHandlers = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
});
afterEach(() => {
  for (const h of vitestHandlers) process.on('uncaughtException', h);
});

/**
 * A proxy in this process that throws `error` once it forwards the first routed request: from a callback
 * of its own socket's, so outside any case, as a broker run in process would (the proxy catches what its
 * rewrite throws at once, hence the next turn).
 */
function throwingAt(error: Error): Mutant {
  let thrown = false;
  return {
    name: 'throws-in-the-harness-process', caughtBy: '',
    toBroker: (f) => {
      if (!thrown && nameOf(f) === 'REASONING_REQUEST') {
        thrown = true;
        setImmediate(() => {
          throw error;
        });
      }
      return f;
    },
  };
}

async function runThrough(mutant: Mutant): Promise<{ code: number; run: FinishedRun | undefined; lines: string[] }> {
  const proxy = await startMutantProxy(mutant, fixture.port);
  const lines: string[] = [];
  let run: FinishedRun | undefined;
  try {
    const code = await runCommand({
      target: `127.0.0.1:${proxy.port}`, suites: ['core'], run: ['requests/route-and-correlate', 'handshake/init-ack-fields'], skip: [], seed: 1,
      timeoutMs: 500, failFast: false, strict: false, knownFailing: [], json: false, reportDir: fixture.reportDir,
      out: (t) => lines.push(t), err: (t) => lines.push(t), onFinish: (r) => (run = r),
    });
    return { code, run, lines };
  } finally {
    await proxy.close();
  }
}

describe('an error outside any case', () => {
  it('is a harness fault: the run finishes its cases, writes its report and exits 70', async () => {
    const { code, run, lines } = await runThrough(throwingAt(new Error('thrown by the harness process')));
    expect(code, lines.join('')).toBe(70);
    expect(run?.stopped).toMatch(/^harness fault: 1 error\(s\) outside any case, the first: Error: thrown by the harness process/);
    expect(run?.results.map((r) => r.id)).toEqual(['handshake/init-ack-fields', 'requests/route-and-correlate']);
  }, 60_000);

  it('is only logged when it is the peer going away (EPIPE): the verdict stands', async () => {
    const gone = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    const { code, lines } = await runThrough(throwingAt(gone));
    expect(lines.join('')).toMatch(/the peer went away outside any case/);
    expect(code).not.toBe(70);
  }, 60_000);
});
