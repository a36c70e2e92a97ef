/**
 * The cluster-process suite is tested before it is trusted: three reference brokers on the harness's own
 * nats-server pass every case, and each broken broker (broken-cluster-broker.ts: the reference with one
 * defect) fails the cases meant for it and passes the others it runs.
 */
import { describe, expect, it } from 'vitest';
import { runSuite, type CaseOutcome } from '../api.js';
import { clusterProcessCases } from '../cases/cluster-process.cases.js';
import { tsProgram } from '../../reference/test/programs.js';
import { inProcessClusterDriver } from './in-process-cluster-driver.js';

const PLACEHOLDERS = ['--host', '{host}', '--port', '{port}', '--cluster', '{nats}', '--broker-id', '{id}'];
const reference = tsProgram('reference/cli.ts', 'broker', ...PLACEHOLDERS, '--log-level', 'error');
const broken = (defect: string): string[] => tsProgram('conformance/test/broken-cluster-broker.ts', defect, ...PLACEHOLDERS);

async function suite(brokerCommand: string[], run: string[] = []): Promise<{ seed: number; cases: CaseOutcome[] }> {
  const r = await runSuite({ brokerCommand, suites: ['cluster-process'], run, timeoutMs: 2000 });
  return { seed: r.seed, cases: r.cases };
}

const outcomes = (cases: CaseOutcome[]): string[] => cases.map((c) => `${c.id}: ${c.outcome}${c.outcome === 'pass' ? '' : ` ${c.message ?? ''}`}`);

describe('the cluster-process suite', () => {
  it('passes three reference brokers it starts on a nats-server of its own', async () => {
    const run = await suite(reference);
    expect(run.cases.map((c) => c.id)).toEqual(clusterProcessCases.map((c) => c.id));
    expect(outcomes(run.cases).filter((o) => !o.endsWith(': pass')), `seed ${run.seed}`).toEqual([]);
  }, 180_000);

  it('skips every case when the broker command cannot join a cluster of the harness ({nats} missing)', async () => {
    const run = await suite(tsProgram('reference/cli.ts', 'broker', '--port', '{port}'), ['cluster/heartbeats-and-format-version-on-nats']);
    expect(run.cases.map((c) => `${c.outcome} ${c.message ?? ''}`)).toEqual([expect.stringMatching(/^skipped .*\{nats\}/)]);
  }, 60_000);

  it.each([
    ['heartbeat-1000', ['cluster/heartbeats-and-format-version-on-nats'], /\[CLU-4\] broker .* sent 3 heartbeats/],
    ['dead-after-8000', ['cluster/dead-broker-requests-answered-peer-gone', 'cluster/dead-brokers-services-dropped', 'cluster/dead-brokers-client-ids-free-again'], /PEER_GONE .* within 4500 ms|\[CLU-7\]/],
    ['keep-dead-claims', ['cluster/dead-brokers-client-ids-free-again'], /\[CLU-7\] a broker started 4500 ms after B2's broker died refused B2's id/],
    // Either of the case's two checks may catch it first (the 'bye' or the frame message of format 2); both name CLU-5.
    ['any-format', ['cluster/foreign-format-version-dropped'], /[[(]CLU-5[\])]/],
    ['dead-while-cut-off', ['cluster/nats-outage-local-traffic-served-remote-refused'], /\[CLU-4\] A's request to B was answered while B and its broker lived/],
    ['drop-unannounced-senders', ['cluster/foreign-broker-speaking-section-19'], /never announced, delivered to A with src/],
    ['no-claims-look-up', ['cluster/claims-of-a-foreign-broker-routed'], /a client F claimed, on F's frame subject/],
    ['heartbeat-adds-only', ['cluster/foreign-broker-clients-come-and-go'], /after F's heartbeat no longer listed it/],
    ['services-ignored', ['cluster/foreign-broker-services-come-and-go'], /a service broker .* announced, on F's frame subject/],
  ])('fails a broker broken by %s in %j', async (defect, ids, message) => {
    const run = await suite(broken(defect), ids);
    expect(run.cases.map((c) => `${c.id}: ${c.outcome}`), `seed ${run.seed}`).toEqual(ids.map((id) => `${id}: fail`));
    for (const c of run.cases) expect(c.message).toMatch(message);
  }, 120_000);
});

describe('the cluster-process suite against brokers in this process (the mutation tests run it so)', () => {
  it('passes every case, a kill being Broker.crash()', async () => {
    const r = await runSuite({ clusterDriver: inProcessClusterDriver(), suites: ['cluster-process'], timeoutMs: 2000 });
    expect(outcomes(r.cases).filter((o) => !o.endsWith(': pass')), `seed ${r.seed}`).toEqual([]);
    expect(r.cases.length).toBe(clusterProcessCases.length);
  }, 180_000);
});
