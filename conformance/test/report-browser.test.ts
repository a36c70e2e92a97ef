import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../run-command.js';
import { startBrokenServer } from './broken-servers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** Renders a page in headless Chromium (no network, fresh profile) and returns its DOM. */
function renderDom(file: string): string {
  const profile = mkdtempSync(join(tmpdir(), 'concord-chromium-'));
  try {
    return execFileSync(CHROMIUM!, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--dump-dom', `file://${file}`,
    ], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

describe('the HTML report in a browser', () => {
  // Under CI the check is mandatory (.ci/run installs Debian's chromium); elsewhere it needs chromium.
  it.runIf(CHROMIUM !== undefined || process.env['CI'] === 'true')('shows the summary and a failure with its wire log', async () => {
    const reportDir = mkdtempSync(join(tmpdir(), 'concord-report-'));
    const server = await startBrokenServer('garbage');
    try {
      const code = await runCommand({
        target: `127.0.0.1:${server.port}`, suites: ['core'], run: ['handshake/init-ack-fields'], skip: [], seed: 3, timeoutMs: 300,
        failFast: false, strict: false, knownFailing: [], json: true, reportDir, out: () => undefined, err: () => undefined,
      });
      expect(code).not.toBe(0);
      const dom = renderDom(join(reportDir, `127.0.0.1_${server.port}`, 'latest', 'index.html'));
      expect(dom).toContain('id="summary"');
      expect(dom).toMatch(/not conforming \(exit \d\)/);
      expect(dom).toContain('id="handshake/init-ack-fields"');
      expect(dom).toMatch(/class="wire-log"[\s\S]*deadbeefcafebabe/);
    } finally {
      await server.close();
      rmSync(reportDir, { recursive: true, force: true });
    }
  }, 90_000);
});
