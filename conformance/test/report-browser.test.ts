import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../run-command.js';
import { startBrokenServer } from './broken-servers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** Renders a page in headless Chromium (no network, fresh profile) and returns its DOM. */
function renderDom(file: string, width = 1200): string {
  const profile = mkdtempSync(join(tmpdir(), 'concord-chromium-'));
  try {
    return execFileSync(CHROMIUM!, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, `--window-size=${width},1000`, '--dump-dom', `file://${file}`,
    ], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** What a reader sees, measured in the page's layout by a script added to a copy of the report. */
const CHECK = `<script>
const q = (s) => [...document.querySelectorAll(s)];
const hex = q('code.hex').sort((a, b) => b.textContent.length - a.textContent.length)[0];
const seen = {
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  hexLength: hex ? hex.textContent.length : 0,
  hexLines: hex ? hex.getClientRects().length : 0,
  decoded: q('.frames').map((e) => e.innerText).join('\\n'),
  passedOpen: document.getElementById('passed').open,
  passedIds: q('#passed tr td:first-child code').map((e) => e.textContent),
  passedRowsShown: q('#passed tr').filter((r) => (r.checkVisibility ? r.checkVisibility() : r.getClientRects().length > 0)).length,
  skipReasons: q('#skipped .reason').map((e) => e.innerText),
  links: q('a.statement').map((a) => a.getAttribute('href')),
  stopped: q('pre.stopped').map((e) => e.innerText),
  replays: q('code.replay').map((e) => e.textContent),
};
const out = document.createElement('pre');
out.id = 'seen';
out.textContent = JSON.stringify(seen);
document.body.append(out);
</script>`;

interface Seen {
  overflow: number; hexLength: number; hexLines: number; decoded: string; passedOpen: boolean; passedIds: string[]; passedRowsShown: number;
  skipReasons: string[]; links: string[]; stopped: string[]; replays: string[];
}

/** Opens a copy of the report with CHECK added, in a window 800 pixels wide. */
function inspect(file: string): Seen {
  const copy = file.replace(/\.html$/, '.check.html');
  writeFileSync(copy, readFileSync(file, 'utf8').replace('</body>', `${CHECK}</body>`));
  const dom = renderDom(copy, 800);
  const text = /<pre id="seen">([^<]*)<\/pre>/.exec(dom)?.[1];
  expect(text, dom.slice(-2000)).toBeDefined();
  return JSON.parse(text!.replace(/&(lt|gt|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', amp: '&' })[e]!)) as Seen;
}

/** Runs the harness in process and returns the report directory its JSON output names. */
async function reportOf(options: Partial<Parameters<typeof runCommand>[0]>, reportDir: string): Promise<{ code: number; dir: string; results: { id: string; replay?: string }[] }> {
  let json = '';
  const code = await runCommand({
    suites: ['core'], run: [], skip: [], seed: 3, timeoutMs: 2000, failFast: false, strict: false, knownFailing: [], json: true, reportDir,
    out: (t) => (json += t), err: () => undefined, ...options,
  });
  const parsed = JSON.parse(json) as { report: string; results: { id: string; replay?: string }[] };
  return { code, dir: parsed.report, results: parsed.results };
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
      expect(dom).toMatch(/class="wire-log"[\s\S]*deadbeef cafebabe/);
    } finally {
      await server.close();
      rmSync(reportDir, { recursive: true, force: true });
    }
  }, 90_000);

  it.runIf(CHROMIUM !== undefined || process.env['CI'] === 'true')('reads as a person needs it: wrapped hex, decoded frames, skip reasons, passes folded, linked statements, replay', async () => {
    const reportDir = mkdtempSync(join(tmpdir(), 'concord-report-'));
    try {
      const failing = 'testee/echo/reasoning-request/encoding:json';
      const { code, dir, results } = await reportOf({
        exec: [process.execPath, '--import', 'tsx', 'conformance/test/broken-testee.ts', 'lose-re'], suites: ['testee', 'broker-process'],
        run: [failing, 'testee/echo/init/encoding:json', 'transport-unix/socket-mode-0600'],
      }, reportDir);
      expect(code).toBe(1);
      const seen = inspect(join(dir, 'index.html'));
      // A frame of hundreds of hex digits wraps onto several lines instead of widening the page.
      expect(seen.hexLength).toBeGreaterThan(300);
      expect(seen.hexLines).toBeGreaterThan(1);
      expect(seen.overflow).toBeLessThanOrEqual(0);
      expect(seen.decoded).toContain('REASONING_REQUEST (json) {"id":"req-reasoning-request"');
      expect(seen.passedOpen).toBe(false);
      expect(seen.passedIds).toEqual(['testee/echo/init/encoding:json']);
      expect(seen.passedRowsShown).toBe(0);
      expect(seen.skipReasons).toEqual([expect.stringContaining('needs the broker command') as unknown as string]);
      const replay = results.find((r) => r.id === failing)?.replay;
      expect(replay).toContain('--exec');
      expect(seen.replays).toContain(replay);
      // Every statement links to its anchor in the protocol reference shipped with the harness.
      expect(seen.links.some((l) => l.endsWith('statements.html#TST-4'))).toBe(true);
      for (const link of new Set(seen.links)) {
        const [page, anchor] = link.split('#');
        expect(readFileSync(fileURLToPath(page!), 'utf8')).toContain(`id="${anchor}"`);
      }
    } finally {
      rmSync(reportDir, { recursive: true, force: true });
    }
  }, 120_000);

  it.runIf(CHROMIUM !== undefined || process.env['CI'] === 'true')("shows a peer's stderr with its line breaks", async () => {
    const reportDir = mkdtempSync(join(tmpdir(), 'concord-report-'));
    try {
      const { code, dir } = await reportOf({ exec: ['sh', '-c', 'echo "first line" >&2; echo "second line" >&2; exit 3'], suites: ['testee'] }, reportDir);
      expect(code).toBe(69);
      const seen = inspect(join(dir, 'index.html'));
      expect(seen.stopped).toHaveLength(1);
      expect(seen.stopped[0]!.split('\n').map((l) => l.trim())).toEqual(expect.arrayContaining(['first line', 'second line']));
    } finally {
      rmSync(reportDir, { recursive: true, force: true });
    }
  }, 60_000);
});
