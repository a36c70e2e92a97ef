import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT_DIR } from '../load.js';

// Issue rule: no peer or reference source hand-writes a spec value; they come from the generated
// constants (spec/generated/...). A quoted registry or message name, a type code, or a limit or
// timeout literal in such a source is a copy the next spec change would miss.
const json = <T>(path: string): T => JSON.parse(readFileSync(join(ROOT_DIR, path), 'utf8')) as T;
const errorNames = json<{ errors: { name: string }[] }>('spec/errors.json').errors.map((e) => e.name);
const messages = readdirSync(join(ROOT_DIR, 'spec', 'messages')).filter((f) => f.endsWith('.json'))
  .flatMap((f) => json<{ messages: { name: string; code: number; timeout_ms?: number }[] }>(`spec/messages/${f}`).messages);
const limits = json<{ limits: { name: string; default: number; min: number; max: number }[] }>('spec/limits.json').limits;

const quotedError = new RegExp(`["'](${errorNames.join('|')})["']`);
const quotedMessage = new RegExp(`["'](${messages.map((m) => m.name).join('|')})["']`);
const TYPE_CODES = new Set(messages.map((m) => m.code));
/**
 * Limit defaults and bounds and catalog timeouts worth a lint: from 4096 up (smaller numbers such as
 * 3, 16, 128 or 1000 are everyday integers), 65535 and 4294967295 left out (the u16 and u32 ranges of
 * ports, hlen and lengths, not limits).
 */
const SPEC_NUMBERS = new Set([...limits.flatMap((l) => [l.default, l.min, l.max]), ...messages.flatMap((m) => (m.timeout_ms ? [m.timeout_ms] : []))]
  .filter((v) => v >= 4096 && v !== 0xffff && v !== 0xffffffff));
/** A line about a limit or a timeout (the number on it is then the limit's, not a byte mask). */
const LIMIT_CONTEXT = /timeout|max_?frame|heartbeat|handshake|drain|in_?flight|backoff|retr|subscription|write_?buffer|slow_?reader|payload_?(depth|items)|max_?header|message|limit/i;
/** A line about a message type (a hex literal on it is then a type code). */
const TYPE_CONTEXT = /\b(type|msg|message)\w*\s*(===?|!==?|=|:|=>|,|\()\s*0x[0-9a-f]{2}\b|MessageType\s*\(\s*0x|\bcase\s+0x[0-9a-f]{2}\s*:/i;

/**
 * Lines that state a value on purpose, each with its reason: `file: pattern`. Tests and fixtures are
 * not scanned at all (they state spec values to check them).
 */
const ALLOWED: Record<string, RegExp[]> = {
  // Log levels named like a message type.
  'peers/perl/concord_testee.pl': [/logmsg\('ERROR'/],
  // Not spec limits: a copy bound of a log excerpt, a harness margin.
  'reference/broker/frames.ts': [/const COPY_LIMIT = 4096;/],
  'conformance/cases/in-flight-limit.ts': [/MOST_REQUESTS_A_CASE_OPENS = 4096;/],
  'reference/bus/wire/wire-coordinator.ts': [/\+ 5000;/],
  // The engine's weight bound (its model, section engine), equal to max_payload_items by chance.
  'reference/engine/model.ts': [/WEIGHT_LIMIT = 1_048_576/],
  'peers/python/concord_engine/core.py': [/WEIGHT_LIMIT = 1_048_576/],
  // How long a FIFO testee waits for the harness to open its pair (not a protocol timeout).
  'reference/transport/fifo-testee.ts': [/timeoutMs: 10_000/],
  // The bound of the probe request that attaches a spawned engine (its own choice, not the catalog's).
  'reference/engine/processes.ts': [/timeoutMs: 5000 \}\);/],
  // The JSON decoder's own recursion guard, deeper than max_payload_depth on purpose.
  'peers/perl/lib/Concord/JSON.pm': [/\$depth > 10000/],
};
ALLOWED['peers/perl/concord_testee.pl']!.push(/timeout_ms => 10_000/);
Object.assign(ALLOWED, {
  // The harness's and the tools' own waits (for a process, a case, an answer), equal to a spec value by chance.
  'reference/broker/cluster/nats-process.ts': [/setTimeout\(\(\) => child\.kill\('SIGKILL'\), 5000\)/],
  'conformance/cases/broker-process.cases.ts': [/Math\.min\(ctx\.startTimeoutMs, 5000\)/],
  'conformance/cases/lines.cases.ts': [/timeout: 10_000 \}\);/],
  'conformance/cases/stdio.cases.ts': [/Math\.max\(ctx\.timeoutMs, 5000\)/],
  'conformance/cli.ts': [/--timeout MS \(each answer; 10000\)/],
  'conformance/diff/diff-command.ts': [/\?\? 10_000;/],
  'conformance/run-command.ts': [/const caseTimeoutMs = Math\.max\(o\.timeoutMs \* 20, 30_000,/],
  'conformance/selftest.ts': [/const ENGINE_TIMEOUT_MS = 10_000;/],
  'bench/broker/processes.ts': [/export const START_TIMEOUT_MS = 10_000;/],
  'bench/broker/suites.ts': [/timeoutMs: 5_000 \}\)/],
  // Margins past the slow-reader bound; payload timeouts of ten minutes, so that only the behaviour under
  // test ends a request; how many requests a case can send in bounded time; a stable case id.
  'conformance/cases/robustness.cases.ts': [/slow_reader_timeout_ms \+ 10_000 \+ ctx\.timeoutMs/, /timeout_ms: 600_000/, /first-frame-above-65536-refused/],
  'conformance/cases/runtime-shutdown.cases.ts': [/drain_ms: 600_000/],
  'conformance/cases/runtime-system.cases.ts': [/drain_ms: 600_000/],
  // How many answered dispatches a case can wait for in bounded time (as robustness.cases.ts).
  'conformance/bus/wire-rules.ts': [/limit > 65_536\) throw new CaseSkipped/],
} satisfies Record<string, RegExp[]>);

interface Source { readonly dir: string; readonly pattern: RegExp; readonly deep: boolean }
const PEERS: Source[] = [
  { dir: 'peers/python/concord', pattern: /\.py$/, deep: true },
  { dir: 'peers/python', pattern: /^concord_[a-z_]+\.py$/, deep: false },
  { dir: 'peers/python/concord_bus', pattern: /\.py$/, deep: true },
  { dir: 'peers/python/concord_engine', pattern: /\.py$/, deep: true },
  { dir: 'peers/python/concord_instrument', pattern: /\.py$/, deep: true },
  { dir: 'peers/perl/lib', pattern: /\.pm$/, deep: true },
  { dir: 'peers/perl', pattern: /\.pl$/, deep: false },
  { dir: 'cpp-client/src', pattern: /\.(cpp|hpp)$/, deep: true },
  { dir: 'cpp-client/include', pattern: /\.hpp$/, deep: true },
  { dir: 'cpp-client/tools', pattern: /\.cpp$/, deep: true },
];
/** The TypeScript outside spec/: the reference, the harness and the benchmarks. */
const REFERENCE: Source[] = ['reference', 'conformance', 'bench'].map((dir) => ({ dir, pattern: /\.ts$/, deep: true }));

function files({ dir, pattern, deep }: Source): string[] {
  const abs = join(ROOT_DIR, dir);
  return readdirSync(abs).flatMap((name) => {
    const path = join(abs, name);
    if (statSync(path).isDirectory()) return deep && !['test', 'tests', 't'].includes(name) ? files({ dir: relative(ROOT_DIR, path), pattern, deep }) : [];
    return pattern.test(name) && !name.endsWith('.test.ts') ? [relative(ROOT_DIR, path)] : [];
  });
}
const unique = (list: string[]): string[] => [...new Set(list)];
const peerFiles = unique(PEERS.flatMap(files));
/** The sources the registry-name rule has covered from the start (the engine, bus and instrument packages still name errors by hand). */
const errorNameFiles = unique([PEERS[0]!, PEERS[1]!, ...PEERS.slice(5)].flatMap(files));
const referenceFiles = unique(REFERENCE.flatMap(files));

/** The code lines of a file (comment lines and trailing comments dropped) failing `bad`, less the allowed ones. */
function findings(list: readonly string[], bad: (code: string) => boolean): string[] {
  const found: string[] = [];
  for (const file of list) {
    let docstring = false;
    readFileSync(join(ROOT_DIR, file), 'utf8').split('\n').forEach((line, i) => {
      // Python docstrings are prose: a line that opens or closes one, and every line inside, is skipped.
      const quotes = file.endsWith('.py') ? (line.match(/"""/g) ?? []).length : 0;
      if (docstring || quotes > 0) {
        if (quotes % 2 === 1) docstring = !docstring;
        return;
      }
      if (/^\s*(#|\/\/|\*|\/\*)/.test(line)) return;
      const code = line.replace(/(\s#|\/\/).*$/, '');
      if (bad(code) && !(ALLOWED[file] ?? []).some((re) => re.test(line))) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

const hasSpecNumber = (code: string): boolean => LIMIT_CONTEXT.test(code)
  && [...code.matchAll(/(?<![\w.])(0x[0-9a-fA-F]+|[0-9][0-9_]*)(?![\w.])/g)].some((m) => SPEC_NUMBERS.has(Number(m[1]!.replace(/_/g, ''))));
const hasTypeCode = (code: string): boolean => {
  const m = TYPE_CONTEXT.exec(code);
  const hex = m && /0x([0-9a-f]{2})/i.exec(m[0]);
  return hex !== null && hex !== undefined && TYPE_CODES.has(parseInt(hex[1]!, 16));
};

describe('peers and the reference take spec values from the generated constants', () => {
  it('finds the peer and reference sources', () => {
    expect(peerFiles.length).toBeGreaterThan(20);
    expect(referenceFiles.length).toBeGreaterThan(100);
  });

  it('the lint catches what it is meant to catch', () => {
    expect(quotedMessage.test(`send("PING")`)).toBe(true);
    expect(hasSpecNumber('const DISPATCH_TIMEOUT_MS = 300_000;')).toBe(true);
    expect(hasSpecNumber('peerMaxFrame = 65536')).toBe(true);
    expect(hasSpecNumber('const port = 65535; // limit')).toBe(false);
    expect(hasTypeCode('if (type === 0x03) return;')).toBe(true);
    expect(hasTypeCode('body[1] & 0x03')).toBe(false);
  });

  it('has no quoted registry name outside comments in any peer source', () => {
    expect(findings(errorNameFiles, (code) => quotedError.test(code))).toEqual([]);
  });

  it('has no quoted message name outside comments in any peer source', () => {
    expect(findings(peerFiles, (code) => quotedMessage.test(code))).toEqual([]);
  });

  it('has no type code written as a number in any peer or reference source', () => {
    expect(findings([...peerFiles, ...referenceFiles], hasTypeCode)).toEqual([]);
  });

  it('has no limit or timeout literal in any peer or reference source', () => {
    expect(findings([...peerFiles, ...referenceFiles], hasSpecNumber)).toEqual([]);
  });
});
