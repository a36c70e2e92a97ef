/**
 * The broker-process suite starts the broker under test itself: the reference broker passes it, and
 * each broken broker process (broken-broker-process.ts) is flagged by the case meant for it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { externalIPv4 } from '../wire/external-address.js';
import { join } from 'node:path';
import { runCommand, type RunCommandOptions } from '../run-command.js';
import type { CaseResult } from '../runner.js';
import { tsProgram } from '../../reference/test/programs.js';
import type { BrokerLauncher } from '../wire/broker-launch.js';
import { IN_PROCESS_BROKER_COMMAND, launchBrokerInProcess } from './mutation/in-process-broker-launcher.js';

const reportDir = mkdtempSync(join(tmpdir(), 'concord-broker-process-suite-'));
afterAll(() => rmSync(reportDir, { recursive: true, force: true }));

const PLACEHOLDERS = ['--unix', '{unix}', '--port', '{port}', '--host', '{host}', '--fifo-dir', '{fifodir}', '--log-level', 'error'];
const reference = tsProgram('reference/cli.ts', 'broker', ...PLACEHOLDERS);
const broken = (defect: string): string[] => tsProgram('conformance/test/broken-broker-process.ts', defect, ...PLACEHOLDERS);
const hasExternal = externalIPv4() !== undefined;

async function run(brokerCommand: string[], runPatterns: string[] = [], brokerLauncher?: BrokerLauncher): Promise<CaseResult[]> {
  const lines: string[] = [];
  const o: RunCommandOptions = {
    brokerCommand, ...(brokerLauncher ? { brokerLauncher } : {}), suites: ['broker-process'], run: runPatterns, skip: [], seed: 1, timeoutMs: 2000, startTimeoutMs: 30_000, failFast: false, strict: false,
    knownFailing: [], json: true, reportDir, out: (t) => lines.push(t), err: () => undefined,
  };
  await runCommand(o);
  return (JSON.parse(lines.find((l) => l.startsWith('{'))!) as { results: CaseResult[] }).results;
}

describe('the broker-process suite', () => {
  it('passes the reference broker (TCP-1 skips only when 127.0.0.1:9999 is taken by another process)', async () => {
    const results = await run(reference);
    const outcome = Object.fromEntries(results.map((r) => [r.id, r.outcome]));
    expect(outcome['transport-unix/socket-mode-0600']).toBe('pass');
    expect(outcome['transport-unix/path-left-alone']).toBe('pass');
    expect(outcome['transport-fifo/parent-dir-created-or-refused']).toBe('pass');
    expect(['pass', 'skipped']).toContain(outcome['transport-tcp/default-address']);
    expect(outcome['security/loopback-only']).toBe(hasExternal ? 'pass' : 'skipped');
    expect(results.filter((r) => r.outcome === 'fail' || r.outcome === 'errored').map((r) => `${r.id}: ${r.message}`)).toEqual([]);
  }, 240_000);

  // The mutation run's way (npm run mutation): every broker of a case in this process, from the same options.
  it('passes brokers started in this process from the command line, as the mutation run starts them', async () => {
    const results = await run(IN_PROCESS_BROKER_COMMAND, ['transport-unix/**', 'transport-fifo/**', 'security/**'], launchBrokerInProcess);
    expect(results.map((r) => `${r.id}: ${r.outcome}`).sort()).toEqual([
      `security/loopback-only: ${hasExternal ? 'pass' : 'skipped'}`,
      'transport-fifo/parent-dir-created-or-refused: pass',
      'transport-unix/path-left-alone: pass',
      'transport-unix/socket-mode-0600: pass',
    ]);
  }, 240_000);

  it.each([
    ['socket-0666', 'transport-unix/socket-mode-0600'],
    ['unlink-any', 'transport-unix/path-left-alone'],
    ['unix-late', 'transport-unix/path-left-alone'],
    ['fifo-dir-0755', 'transport-fifo/parent-dir-created-or-refused'],
    ['fifo-dir-any', 'transport-fifo/parent-dir-created-or-refused'],
  ])('fails a broker broken by %s in %s', async (defect, id) => {
    const results = await run(broken(defect), [id]);
    expect(results.map((r) => `${r.id}: ${r.outcome}`)).toEqual([`${id}: fail`]);
  }, 120_000);

  it('fails a broker whose default port is not 9999 (unless the port is taken)', async () => {
    const [r] = await run(broken('other-port'), ['transport-tcp/default-address']);
    expect(['fail', 'skipped']).toContain(r!.outcome);
    if (r!.outcome === 'fail') expect(r!.message).toMatch(/127\.0\.0\.1:9999/);
  }, 120_000);

  it.runIf(hasExternal)('fails a broker broken by wildcard-v6 in security/loopback-only (:: and the empty host served without a token)', async () => {
    const [r] = await run(broken('wildcard-v6'), ['security/loopback-only']);
    expect(r!.outcome).toBe('fail');
    expect(r!.message).toMatch(/configured for "::" without a token/);
  }, 120_000);

  it.runIf(hasExternal).each(['all-interfaces', 'external-late'])('fails a broker broken by %s in security/loopback-only (listening beyond loopback by default)', async (defect) => {
    const results = await run(broken(defect), ['security/loopback-only']);
    expect(results.map((r) => r.outcome)).toEqual(['fail']);
  }, 120_000);
});
