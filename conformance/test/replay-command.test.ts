import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { harnessProgram, replayArgv, replayCommand, shellQuote, type ReplaySource } from '../report/replay-command.js';
import { propertySeed } from '../../reference/properties/seed.js';

/** The options of conformance/cli.ts that a replay uses. */
const CLI_OPTIONS = {
  target: { type: 'string' }, exec: { type: 'boolean' }, listen: { type: 'string' }, role: { type: 'string' }, 'output-pattern': { type: 'string' },
  suite: { type: 'string', multiple: true }, run: { type: 'string', multiple: true }, seed: { type: 'string' }, 'report-dir': { type: 'string' },
} as const;

const base: ReplaySource = { suites: ['core'], seed: 42, timeoutMs: 2000, startTimeoutMs: 15_000, strict: false };
const ctx = { program: ['npx', 'conformance'] };

/** The words a POSIX shell makes of `command` (printf prints each argument it gets, NUL-terminated). */
function shellWords(command: string): string[] {
  const r = spawnSync('sh', ['-c', `printf '%s\\0' ${command}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
}

describe('replay command of one case', () => {
  it.each<[string, Partial<ReplaySource>, string]>([
    ['a broker over TCP', { target: '127.0.0.1:7000' }, "npx conformance --target 127.0.0.1:7000 --suite core --run 'handshake/a b' --seed 42"],
    ['a broker on a unix socket', { target: 'unix:/tmp/my broker.sock' }, "npx conformance --target 'unix:/tmp/my broker.sock' --suite core --run 'handshake/a b' --seed 42"],
    ['a broker over FIFO pairs', { target: 'fifo:/tmp/pairs', suites: ['fifo'] }, "npx conformance --target fifo:/tmp/pairs --suite fifo --run 'handshake/a b' --seed 42"],
    ['the embedded broker', { limits: { heartbeat_ms: 500 } }, "npx conformance --suite core --limit heartbeat_ms=500 --run 'handshake/a b' --seed 42"],
    ['a testee (--exec)', { exec: ['python3', 'peers/python/testee.py', "it's"], suites: ['testee'] },
      "npx conformance --exec --suite testee --run 'handshake/a b' --seed 42 -- python3 peers/python/testee.py 'it'\\''s'"],
    ['a testee over a FIFO pair', { target: 'fifo:/tmp/d', exec: ['./testee', '--fifo', '{fifo}'], suites: ['testee'] },
      "npx conformance --target fifo:/tmp/d --exec --suite testee --run 'handshake/a b' --seed 42 -- ./testee --fifo '{fifo}'"],
    ['a client (--listen) started per case', { listen: 0, exec: ['./client', '--port', '{port}'], suites: ['client'] },
      "npx conformance --listen 0 --suite client --run 'handshake/a b' --seed 42 -- ./client --port '{port}'"],
    ['a client that connects by itself', { listen: 7400, suites: ['client'] }, "npx conformance --listen 7400 --suite client --run 'handshake/a b' --seed 42"],
    ['a lines peer', { target: 'lines:/tmp/req,/tmp/rep', role: 'responder', linesTimeoutS: 5, linesPeer: { oneShot: true, replyPattern: 'ok (.*)' }, exec: ['perl', 'r.pl', '{request}'], suites: ['lines'] },
      "npx conformance --target lines:/tmp/req,/tmp/rep --role responder --lines-timeout 5 --one-shot --reply-pattern 'ok (.*)' --suite lines --run 'handshake/a b' --seed 42 -- perl r.pl '{request}'"],
    ['a broker the harness starts', { brokerCommand: ['./broker', '--unix', '{unix}'], suites: ['broker-process'] },
      "npx conformance --suite broker-process --run 'handshake/a b' --seed 42 -- ./broker --unix '{unix}'"],
    ['options that change a verdict', { target: '[::1]:7000', timeoutMs: 500, startTimeoutMs: 30_000, strict: true, suites: ['core', 'robustness'] },
      "npx conformance --target '[::1]:7000' --suite core --suite robustness --timeout 500 --start-timeout 30000 --strict --run 'handshake/a b' --seed 42"],
  ])('%s', (_name, over, expected) => {
    const command = replayCommand({ ...base, ...over }, ctx, 'handshake/a b');
    expect(command).toBe(expected);
    expect(shellWords(command)).toEqual(replayArgv({ ...base, ...over }, ctx, 'handshake/a b'));
  });

  it('repeats --token-file and --report-dir as given, never a token', () => {
    const command = replayCommand({ ...base, target: 'h:1' }, { ...ctx, tokenFile: 'secrets/token', reportDir: 'out dir' }, 'x/y');
    expect(command).toBe("npx conformance --target h:1 --suite core --token-file secrets/token --report-dir 'out dir' --run x/y --seed 42");
  });

  it('without a case, runs the whole selection again', () => {
    expect(replayCommand({ ...base, target: 'h:1' }, ctx)).toBe('npx conformance --target h:1 --suite core --seed 42');
  });

  it('names the harness as it was started', () => {
    expect(harnessProgram(['/usr/bin/node', '/w/p/node_modules/.bin/conformance'], [], '/w/p', {})).toEqual(['npx', 'conformance']);
    expect(harnessProgram(['/usr/bin/node', '/w/p/node_modules/concord/dist/conformance/cli.js'], [], '/w/p', {})).toEqual(['npx', 'conformance']);
    expect(harnessProgram(['/usr/bin/node', '/w/repo/dist/conformance/cli.js'], [], '/w/repo', {})).toEqual(['node', 'dist/conformance/cli.js']);
    expect(harnessProgram(['/usr/bin/node', '/w/repo/conformance/cli.ts'], ['--import', 'tsx'], '/w/repo', {})).toEqual(['node', '--import', 'tsx', 'conformance/cli.ts']);
    expect(harnessProgram(['/usr/bin/node', '/w/repo/conformance/cli.ts'], ['--require', '/w/repo/node_modules/tsx/dist/preflight.cjs'], '/elsewhere', {}))
      .toEqual(['node', '--import', 'tsx', '/w/repo/conformance/cli.ts']);
    expect(harnessProgram(['/usr/bin/node', '/runner/_actions/concord/dist/conformance/cli.js'], [], '/w', { CONCORD_REPLAY_PROGRAM: ' npx  conformance ' })).toEqual(['npx', 'conformance']);
  });

  it('quotes only what a shell would change', () => {
    expect(shellQuote('plain-word_1.2:3,x=y@z+%^/')).toBe('plain-word_1.2:3,x=y@z+%^/');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
  });

  // Any argv (spaces, quotes, $, backslashes, newlines, globs, non-ASCII) comes back word for word from sh,
  // and the harness's own option parser reads the peer command after `--` unchanged.
  it('prints commands a shell reads back as the same argv', () => {
    const awkward = fc.string({ unit: fc.constantFrom('a', ' ', "'", '"', '\\', '$', '`', '!', '*', '?', '[', '~', '#', '{', '}', ';', '&', '|', '\n', '\t', '-', '=', 'é', '😀'), maxLength: 12 });
    // A process's argv cannot hold NUL.
    const word = fc.oneof(awkward, fc.string({ unit: 'grapheme', maxLength: 8 })).filter((w) => !w.includes('\0'));
    // Case ids and paths start with a letter or `/` (an option value that starts with `-` reads as an option).
    const id = word.map((w) => `sec/${w}`);
    const path = word.map((w) => `/tmp/${w}`);
    const peerKind = fc.constantFrom('exec', 'fifo-exec', 'listen', 'lines', 'broker', 'target');
    fc.assert(fc.property(peerKind, fc.array(word, { minLength: 1, maxLength: 4 }), id, path, (kind, command, id, path) => {
      const source: ReplaySource = {
        ...base,
        ...(kind === 'exec' ? { exec: command } : {}),
        ...(kind === 'fifo-exec' ? { exec: command, target: `fifo:${path}` } : {}),
        ...(kind === 'listen' ? { exec: command, listen: 0 } : {}),
        ...(kind === 'lines' ? { exec: command, target: `lines:${path},b`, role: 'requester' as const, linesPeer: { outputPattern: path } } : {}),
        ...(kind === 'broker' ? { brokerCommand: command, suites: ['broker-process'] } : {}),
        ...(kind === 'target' ? { target: `unix:${path}` } : {}),
      };
      const argv = replayArgv(source, { program: ['npx', 'conformance'], reportDir: path }, id);
      const words = shellWords(replayCommand(source, { program: ['npx', 'conformance'], reportDir: path }, id));
      expect(words).toEqual(argv);
      const parsed = parseArgs({ args: words.slice(2), allowPositionals: true, options: CLI_OPTIONS });
      expect(parsed.values.run).toEqual([id]);
      expect(parsed.values['report-dir']).toBe(path);
      if (kind !== 'target') expect(parsed.positionals).toEqual(command);
    }), { seed: propertySeed(), numRuns: 40 });
  });
});
