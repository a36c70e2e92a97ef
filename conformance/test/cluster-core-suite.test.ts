/**
 * Issue 17, "must show": the core suite passes against a cluster of three brokers on one NATS server,
 * both against one broker of it and with the harness's connections spread over the three (the k-th
 * connection of a case on broker k mod 3, so requesters and responders sit on different brokers).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runSuite } from '../api.js';
import { brokerOptionsFor, EMBEDDED_LIMITS, resolveLimits } from '../limits.js';
import { startCluster, stopAfterAll, type ClusterUnderTest } from '../../reference/broker/cluster/test/cluster-fixture.js';
import { PER_BROKER_CASES } from './mutation/scope.js';

const TOKEN = 'cluster-core-suite';
const limits = resolveLimits(EMBEDDED_LIMITS);
let cluster: ClusterUnderTest | undefined;

beforeAll(async () => {
  cluster = await startCluster(['b1', 'b2', 'b3'], { token: TOKEN, ...brokerOptionsFor(limits) });
}, 60_000);
stopAfterAll(() => cluster);

/**
 * Per-broker limits by nature (max_handshake_bytes: LIM-2 bounds the memory one broker spends on
 * handshakes): spread over three brokers, no one broker reaches them. Listed as known failing, so a run
 * where one passes fails and says so.
 */
const PER_BROKER = [...PER_BROKER_CASES.keys()];

type Outcome = { id: string; outcome: string; message?: string };

async function core(target: string, knownFailing: string[] = []): Promise<void> {
  const known = new Set(knownFailing);
  // A known failing case that passes is reported; one skipped as inconclusive on a loaded machine is not.
  const wrong = (c: Outcome): boolean => (known.has(c.id) ? c.outcome === 'pass' : c.outcome !== 'pass' && c.outcome !== 'skipped');
  const line = (c: Outcome): string => `${c.id}: ${c.outcome} ${c.message ?? ''}`;
  const suite = (seed?: number, run?: string[]) => runSuite({ target, token: TOKEN, limits: EMBEDDED_LIMITS, suites: ['core'], knownFailing, ...(seed !== undefined ? { seed } : {}), ...(run ? { run } : {}) });
  const first = await suite();
  expect(first.totals.pass).toBeGreaterThan(100);
  const wrongFirst = first.cases.filter(wrong);
  if (wrongFirst.length === 0) return;
  // Once (CI at stop 40 failed this test once, and 13 runs here did not repeat it): the wrong cases again,
  // alone, with the same seed. A case wrong twice fails the test; one wrong only once is printed, with its
  // seed and message, for the next reader of the log, since three brokers and a nats-server on two loaded
  // cores race in ways one broker does not.
  const ids = new Set(wrongFirst.map((c) => c.id));
  // --run takes patterns: an id also matches the ids it is a prefix of, which the rerun leaves aside.
  const rerun = (await suite(first.seed, [...ids])).cases.filter((c) => ids.has(c.id));
  const firstRun = wrongFirst.map(line).join(' | ');
  expect(rerun.map((c) => c.id).sort(), 'the rerun ran every wrong case').toEqual([...ids].sort());
  expect(rerun.filter(wrong).map(line), `seed ${first.seed}; first run: ${firstRun}`).toEqual([]);
  // .ci/test-all.mjs lists the lines that start so in its summary.
  console.warn(`RETRIED: cluster core suite (${target}), seed ${first.seed}: wrong in the whole run, right when run again alone: ${firstRun}`);
}

describe('core suite against a three-broker cluster', () => {
  it('with connections spread over the three brokers (k-th connection on broker k mod 3)', async () => {
    await core(cluster!.ports.map((p) => `127.0.0.1:${p}`).join(','), PER_BROKER);
  }, 600_000);

  it('against one broker of it', async () => {
    await core(`127.0.0.1:${cluster!.ports[1]}`);
  }, 600_000);
});

describe('a cluster with one defect, against the core suite spread over it', () => {
  it('fails the case at the requester\'s max_frame when the refusal of a relayed answer never reaches the answerer (REQ-11)', async () => {
    const broken = await startCluster(['d1', 'd2'], { token: TOKEN, ...brokerOptionsFor(limits), cluster: { url: '', defects: { relayedRefusalsLost: true } } });
    try {
      const target = broken.ports.map((p) => `127.0.0.1:${p}`).join(',');
      const run = await runSuite({ target, token: TOKEN, limits: EMBEDDED_LIMITS, suites: ['core'], run: ['requests/destination-max-frame/exactly:answer'] });
      expect(run.cases.map((c) => `${c.id}: ${c.outcome}`)).toEqual(['requests/destination-max-frame/exactly:answer: fail']);
      expect(run.cases[0]!.message).toMatch(/one byte past .* neither forwarded nor refused/);
    } finally {
      await Promise.all(broken.brokers.map((b) => b.close()));
      await broken.nats.dispose();
    }
  }, 120_000);
});
