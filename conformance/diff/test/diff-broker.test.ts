/** `conformance diff` between brokers (`--peer tcp:HOST:PORT`): two reference brokers agree; one behind a proxy that drops `re` from PONG is named by HS-9. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../../reference/broker/index.js';
import { startMutantProxy, nameOf, type ProxyHandle } from '../../test/mutant-proxy.js';
import { json, withJson } from '../../test/mutants.js';
import { formatDiff } from '../format.js';
import fc from 'fast-check';
import { runDiff, wrongFields } from '../run-diff.js';
import { brokerKind } from '../broker-kind.js';
import { DiffPeer, parsePeer } from '../peer.js';
import { showAnswer } from '../answer.js';

const SEED = Number(process.env['DIFF_SEED'] ?? 20261202);
console.log(`diff broker tests: seed ${SEED} (DIFF_SEED=${SEED} replays them)`);

const brokers: Broker[] = [];
const ports: number[] = [];
let proxy: ProxyHandle;
let pathProxy: ProxyHandle;

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const b = new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error' });
    ports.push((await b.listen()).port!);
    brokers.push(b);
  }
  proxy = await startMutantProxy({
    name: 'pong-without-re', caughtBy: '', toBroker: (f) => f,
    toClient: (f) => {
      if (nameOf(f) !== 'PONG') return f;
      const { re: _re, ...header } = f.header;
      return { ...f, header };
    },
  }, ports[1]!);
  // Where the spec is silent: an UNKNOWN_DESTINATION naming another details.path.
  pathProxy = await startMutantProxy({
    name: 'unknown-destination-other-path', caughtBy: '', toBroker: (f) => f,
    toClient: (f) => (nameOf(f) === 'ERROR' && json(f)['code'] === 'UNKNOWN_DESTINATION' ? withJson(f, (p) => (p['details'] = { path: '/header' })) : f),
  }, ports[1]!);
});

afterAll(async () => {
  await proxy?.close();
  await pathProxy?.close();
  await Promise.all(brokers.map((b) => b.close()));
});

describe('conformance diff: brokers', () => {
  it('finds two reference brokers in agreement', async () => {
    const r = await runDiff({ peers: ports.map((p) => `tcp:127.0.0.1:${p}`), seed: SEED, runs: 60, timeoutMs: 20_000, startTimeoutMs: 20_000 });
    expect(r.problem).toBeUndefined();
    expect(r).toMatchObject({ exit: 0, kind: 'broker', runs: 60 });
    expect(r.disagreement).toBeUndefined();
  }, 120_000);

  it('the reference broker gives the spec\'s answer to every input (no false verdicts)', async () => {
    const kind = brokerKind();
    const peer = await DiffPeer.start(parsePeer(`tcp:127.0.0.1:${ports[0]}`), { timeoutMs: 20_000, startTimeoutMs: 20_000, seed: SEED, cbor: false });
    const wrong: string[] = [];
    let run = 0;
    try {
      for (const input of fc.sample(kind.inputs(), { seed: SEED, numRuns: 60 })) {
        const steps = kind.steps(input, ++run);
        const expected = kind.oracle(input, steps);
        for (const [i, step] of steps.entries()) {
          const answer = await peer.ask(step.frame, step.id, step.note);
          if (wrongFields(answer, expected[i]!, kind.free).length > 0) wrong.push(`${kind.show(input)}: ${showAnswer(answer)}, expected ${showAnswer(expected[i]!.answer)}`);
        }
      }
    } finally {
      peer.close();
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('names the broker whose PONG has no re, by HS-9, on a single PING', async () => {
    const r = await runDiff({ peers: [`tcp:127.0.0.1:${ports[0]}`, `tcp:127.0.0.1:${proxy.port}`], seed: SEED, runs: 60, timeoutMs: 20_000, startTimeoutMs: 20_000 });
    expect(r).toMatchObject({ exit: 1, kind: 'broker' });
    const d = r.disagreement!;
    expect(d.input).toBe('PING');
    expect(d.verdicts).toEqual([{ peer: 'A', verdict: 'right' }, { peer: 'B', verdict: 'wrong', fields: ['re'], statements: ['HS-9'] }]);
  }, 120_000);

  it('reports a spec gap when the brokers differ only where the spec is silent (details of UNKNOWN_DESTINATION)', async () => {
    const r = await runDiff({ peers: [`tcp:127.0.0.1:${ports[0]}`, `tcp:127.0.0.1:${pathProxy.port}`], seed: SEED, runs: 60, timeoutMs: 20_000, startTimeoutMs: 20_000 });
    expect(r).toMatchObject({ exit: 1, kind: 'broker' });
    expect(r.disagreement!.verdicts).toEqual([{ peer: 'A', verdict: 'undecided' }, { peer: 'B', verdict: 'undecided' }]);
    expect(r.disagreement!.input).toMatch(/ with dst /);
    expect(formatDiff(r)).toMatch(/\nspec gap: the spec does not say which answer is right/);
  }, 120_000);
});
