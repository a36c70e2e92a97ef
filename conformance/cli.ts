#!/usr/bin/env node
/**
 * The `conformance` command. Exit codes: 0 pass, 1 unexpected failure or unexpected pass,
 * 2 inconclusive (required cases timed out), 64 usage, 66 no input, 69 peer unavailable or
 * cannot start, 70 internal harness error. A run that gets past argument checks always writes its report.
 */
import { resolveToken, TokenSourceError } from '../reference/token-source.js';
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { specCommand } from './spec-command.js';
import { casesOf, SUITES } from './suites.js';
import { selectCases } from './runner.js';
import { runCommand, readKnownFailing } from './run-command.js';
import { TargetError } from './target.js';
import { formatTable } from '../reference/table.js';
import { runSelftest, matrixMarkdown, selftestJson, selftestPassed, selftestColumns } from './selftest.js';
import { DEFAULT_START_TIMEOUT_MS } from './cases/context.js';
import { parseLimitArgs, LimitError } from './limits.js';
import { coverageCommand, casesOfStatement } from './coverage.js';
import { stopAllPeers, stopPeersOnExit } from './wire/peer-process.js';
import { printable } from './report/escape.js';
import { redactText } from './report/redact.js';
import { harnessProgram } from './report/replay-command.js';
import { parseArgsProblem, suggestion } from '../reference/cli-usage.js';
import { versionLine } from '../reference/version.js';
import { helpCommands, helpTopic } from './help.js';
import { replayMain } from './replay/replay-command.js';
import { diffCommand } from './diff/diff-command.js';
import { parseFaultSpec, FaultSpecError, type FaultSpec } from './faults/profile.js';

export const EXIT = { ok: 0, failed: 1, inconclusive: 2, usage: 64, dataErr: 65, noInput: 66, unavailable: 69, internal: 70, config: 78 } as const;

const HELP = `usage: conformance [run options]          run the suites (no --target: the reference broker, in process)
       conformance --exec [run options] -- CMD ARGS   test a codec through the testee profile (suite testee)
       conformance --listen PORT [run options] [-- CMD ARGS]   test a client (suite client); the harness plays
                                             the broker and starts CMD per case ({port} is replaced)
       conformance list [PATTERN] [--suite NAME] [--json]   list the cases of every suite (or of the named ones)
       conformance list --statement ID [--json]   list the cases (of every suite) that check one statement
       conformance coverage [--json]         the statements with their cases, vectors and waivers
       conformance show CASE                 show a case (of any suite): its requirement, level and statements
       conformance spec [--json]             print the message catalog
       conformance selftest [--json] [--peer NAME] [--column NAME] [--skip-column NAME] [--faults SEED[:PROFILE]]
                                             run the suites against every reference peer (or those named, and only
                                             the columns named or not skipped) and print the matrix (also written to reports/selftest/);
                                             columns faults, faults-client and faults-bus are columns core, client
                                             and (a broker's) bus under --faults 7:all, and --faults runs every
                                             column under the faults given
       conformance replay BUNDLE [--target ... | --exec -- CMD | --listen PORT [-- CMD]] [--timeout MS] [--token T]
                                             [--report-dir DIR] [--json]   replay a failing case's bundle
                                             (reports/PEER/RUN/bundles/CASE.bundle.json) against the peer it was
                                             recorded against or another; exit 0 pass, 1 fail, 2 inconclusive (the
                                             bundle stops at a check made in code), 66 bundle missing or invalid
       conformance diff --peer 'CMD ARGS' --peer 'CMD ARGS' [--peer ...] [--kind codec|engine|broker|bus] [--seed N]
                                             [--runs N] [--timeout MS (each answer; 10000)] [--start-timeout MS] [--json]
                                             the same generated inputs to every peer (a command line split as
                                             sh would, run without a shell); the smallest input on which their
                                             answers differ, side by side, with the statement the wrong one
                                             breaks (or a spec gap). --peer tcp:HOST:PORT: a broker. Kind from
                                             the peers' INIT (engine feature: engine; role testee: codec);
                                             --kind bus: bus adapters (generated bus scripts, section bus-adapter).
                                             Exit 0 agree, 1 disagree, 69 a peer cannot start, 70 harness fault
       conformance help [COMMAND]            this help, or one command's (run, list, show, coverage, spec, selftest, replay, diff)
       conformance --version                 print the package and protocol versions

run options:
  --target host:port | [v6]:port | unix:PATH | fifo:DIR   the peer under test (a broker)
  --target HOST:PORT,HOST:PORT,...   the brokers of one cluster: a case's k-th connection goes to entry k mod N
  --exec -- CMD ARGS     start CMD as the peer, speaking frames on its stdin/stdout (spec section testee)
  --target fifo:DIR --exec -- CMD {fifo}   the same over a FIFO pair the harness creates in DIR for each peer
  --target lines:REQUEST_PIPE,REPLY_PIPE --role requester|responder [--lines-timeout S] -- CMD ARGS
                         play the other side of a legacy line pipe pair (suite lines); CMD gets {request},
                         {reply}, {timeout} and {log} replaced (spec section 10.5); an existing peer as it is:
                         --one-shot (a responder serving one exchange, started for each), --reply-pattern RE
                         (its fixed reply instead of an echo), --output-pattern RE (a requester's output, the
                         reply in the first capture group); a final LF is optional in replies and output
  --listen PORT          play the broker on 127.0.0.1:PORT (0: any) for a client under test
  --suite broker-process -- CMD ARGS   start the broker under test in each case ({unix}, {port}, {host}
                         replaced): socket mode, what it leaves at PATH, default address, loopback only
  --suite cluster-process -- CMD ARGS  start a cluster of three brokers on a nats-server of the harness's own
                         in each case ({host}, {port}, {nats}, {id} replaced): a broker killed, NATS down and
                         back, heartbeats and the format version on NATS (CLU-4, CLU-5, CLU-6, CLU-7,
                         CLU-8; needs nats-server)
  --token T              the token the peer requires at INIT (also from CONCORD_TOKEN)
  --token-file PATH      read the token from PATH (refused when group or others may read it)
  --limit NAME=VALUE     a limit of spec/limits.json the peer runs with (repeatable; default: the spec's
                         default): the timers a broker does not announce, handshake_timeout_ms,
                         request_timeout_ms, shutdown_drain_ms (and heartbeat_ms if INIT_ACK lacks it).
                         Without --target the reference broker runs with them (its timers at their minimum otherwise)
  --suite NAME           a suite to run (repeatable; default: core, testee with --exec, client with --listen). Suites: ${Object.keys(SUITES).join(', ')}
  --run PATTERN          run only matching cases (repeatable; * one id part, ** several, or an id prefix)
  --skip PATTERN         skip matching cases (repeatable)
  --known-failing @FILE  patterns (one per line, # comments) of cases expected to fail; an
                         unexpected pass fails the run, stale entries are reported
  --seed N               seed of generated cases (printed on every run; replays them)
  --faults SEED[:PROFILE]   perturb the harness's side of every connection with transport faults drawn
                         from SEED (0-4294967295), recorded in the wire log and the report; a failure is
                         re-run with ever fewer faults and reported with the smallest schedule that still
                         fails. Profiles: split (frames cut into chunks, every byte alone for frames under
                         64 bytes, and several frames in one write), slow (pauses between chunks, a reader
                         that stops reading for a while), cut (before some broker sessions, a connection
                         with the same client id ends inside a frame: FRM-7, HS-19), all (every one; the default)
  --timeout MS           how long to wait for each expected frame (default 2000)
  --start-timeout MS     how long a peer started by --exec or --listen -- CMD may take to send its
                         first frame (default 15000: interpreters start slowly on loaded machines)
  --fail-fast            stop at the first unexpected failure
  --strict               recommended (SHOULD) cases count like required ones
  --json                 print the results as JSON on stdout
  --report-dir DIR       where reports go (default: reports/): DIR/PEER/TIMESTAMP/ holds index.html,
                         junit.xml, summary.json and the failing cases' wire logs
  --junit PATH           also write the JUnit XML exactly at PATH (CI systems expect a fixed path)

exit codes:
  0   every counted case passed (known failures failed as expected)
  1   an unexpected failure, or a known failure that passed
  2   inconclusive: a required case timed out (a started peer sent nothing at all) and none failed
  64  usage error     66 known-failures file missing     70 harness error
  78  configuration error: a token file that group or others may read
  69  peer unavailable, or the peer command cannot start (not found, or it exits before it talks):
      the run stops at once and prints the command, its exit status and the end of its stderr
  Every run past the argument checks writes its report, whatever the peer does.
`;

/** A usage error: one line, never the whole help (`conformance help [COMMAND]` shows it; null: the message says where to look). */
function usage(message: string, command?: string | null): number {
  process.stderr.write(`conformance: ${message}${command === null ? '' : ` (see conformance help${command !== undefined ? ` ${command}` : ''})`}\n`);
  return EXIT.usage;
}

/** Why --junit PATH cannot be written, told before the run (a missing directory is created). */
function junitPathProblem(path: string): string | undefined {
  try {
    if (existsSync(path) && statSync(path).isDirectory()) return `--junit takes a file path; ${path} is a directory`;
    mkdirSync(dirname(resolve(path)), { recursive: true });
    return undefined;
  } catch (e) {
    return `--junit ${path}: ${(e as Error).message}`;
  }
}

const OPTIONS = {
  json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' }, target: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' },
  suite: { type: 'string', multiple: true }, run: { type: 'string', multiple: true }, skip: { type: 'string', multiple: true },
  'known-failing': { type: 'string' }, seed: { type: 'string' }, faults: { type: 'string' }, timeout: { type: 'string' }, 'start-timeout': { type: 'string' },
  'fail-fast': { type: 'boolean' }, strict: { type: 'boolean' }, 'report-dir': { type: 'string' }, junit: { type: 'string' }, exec: { type: 'boolean' }, listen: { type: 'string' }, peer: { type: 'string', multiple: true },
  column: { type: 'string', multiple: true }, 'skip-column': { type: 'string', multiple: true },
  role: { type: 'string' }, 'lines-timeout': { type: 'string' }, limit: { type: 'string', multiple: true }, statement: { type: 'string' }, kind: { type: 'string' }, runs: { type: 'string' }, 'one-shot': { type: 'boolean' }, 'reply-pattern': { type: 'string' }, 'output-pattern': { type: 'string' },
} as const;

/** The cases of the suites, each once (suite fifo repeats core), with the suites that hold it. */
function casesWithSuites(suites: string[]): { cases: ReturnType<typeof casesOf>; suitesOf: Map<string, string[]> } {
  const suitesOf = new Map<string, string[]>();
  const cases: ReturnType<typeof casesOf> = [];
  for (const s of suites) {
    for (const c of casesOf([s])) {
      const seen = suitesOf.get(c.id);
      if (seen) seen.push(s);
      else {
        suitesOf.set(c.id, [s]);
        cases.push(c);
      }
    }
  }
  return { cases, suitesOf };
}

export async function main(argv: string[]): Promise<number> {
  const own = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (argv[0] === 'replay' && !own.includes('--help') && !own.includes('-h')) {
    return replayMain(argv.slice(1), { err: (t) => void process.stderr.write(printable(redactText(t))), replay: { program: harnessProgram() } });
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (e) {
    return usage(parseArgsProblem(e as Error, Object.keys(OPTIONS)));
  }
  const v = parsed.values;
  if (v.version) {
    process.stdout.write(`${versionLine()}\n`);
    return EXIT.ok;
  }
  for (const s of v.suite ?? []) if (!(s in SUITES)) return usage(`unknown suite ${s}${suggestion(s, Object.keys(SUITES)) || ` (suites: ${Object.keys(SUITES).join(', ')})`}`);
  const listen = v.listen !== undefined ? Number(v.listen) : undefined;
  if (listen !== undefined && (!Number.isInteger(listen) || listen < 0 || listen > 65535)) return usage('--listen takes a port number (0 for any free port)');
  if (v.exec) {
    if (parsed.positionals.length === 0) return usage('--exec needs a command after --, e.g. conformance --exec -- python3 testee.py');
    if (v.target !== undefined && !v.target.startsWith('fifo:')) return usage('--exec takes no --target other than fifo:DIR (the peer then gets its FIFO pair as {fifo})');
  }
  if (listen !== undefined && v.target !== undefined) return usage('--listen and --target exclude each other');
  const lines = v.target?.startsWith('lines:') ?? false;
  if (lines && (v.role !== 'requester' && v.role !== 'responder')) return usage('--target lines:... needs --role requester or --role responder (the role of the peer under test)');
  if (lines && parsed.positionals.length === 0) return usage('--target lines:... needs the peer command after --, e.g. -- perl requester.pl --request {request} --reply {reply}');
  // With --exec, --listen, a lines target or suite broker-process or cluster-process the positionals are the peer's command line, not a subcommand.
  const brokerProcess = !v.exec && listen === undefined && !lines && v.target === undefined && (v.suite ?? []).some((s) => s === 'broker-process' || s === 'cluster-process') && parsed.positionals.length > 0;
  const peerCommand = v.exec || listen !== undefined || lines || brokerProcess ? parsed.positionals : [];
  const [command, ...rest] = peerCommand.length > 0 || v.exec ? [] : parsed.positionals;
  // `help COMMAND` and `COMMAND --help` print that command's part of the help.
  const topic = command === 'help' ? rest[0] : v.help ? command : undefined;
  if (command === 'help' || v.help) {
    if (topic === undefined) process.stdout.write(HELP);
    else {
      const text = helpTopic(HELP, topic);
      if (text === undefined) return usage(`no help on ${topic}${suggestion(topic, helpCommands(HELP)) || ` (commands: ${helpCommands(HELP).join(', ')})`}`, null);
      process.stdout.write(text);
    }
    return EXIT.ok;
  }
  if (command === 'spec' && rest.length === 0) {
    process.stdout.write(`${specCommand(v.json ?? false)}\n`);
    return EXIT.ok;
  }
  if (command === 'diff' && rest.length === 0) return diffCommand(v, { startTimeoutMs: DEFAULT_START_TIMEOUT_MS }, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
  let suites: string[];
  try {
    suites = v.suite ?? [listen !== undefined ? 'client' : v.exec ? 'testee' : lines ? 'lines' : 'core'];
    casesOf(suites);
  } catch (e) {
    return usage((e as Error).message);
  }
  if (command === 'selftest' && rest.length === 0) {
    const seed = v.seed !== undefined ? Number(v.seed) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
    let faults: FaultSpec | undefined;
    try {
      faults = v.faults !== undefined ? parseFaultSpec(v.faults) : undefined;
    } catch (e) {
      return usage((e as Error).message, 'selftest');
    }
    const columns = selftestColumns();
    for (const c of [...(v.column ?? []), ...(v['skip-column'] ?? [])]) if (!columns.includes(c)) return usage(`no selftest column ${c}${suggestion(c, columns) || ` (columns: ${columns.join(', ')})`}`, 'selftest');
    const rows = await runSelftest({ seed, timeoutMs: v.timeout !== undefined ? Number(v.timeout) : 3000, reportDir: v['report-dir'] ?? join(process.cwd(), 'reports'), peers: v.peer ?? [], columns: v.column ?? [], skipColumns: v['skip-column'] ?? [], ...(faults ? { faults } : {}) });
    if (v.json) process.stdout.write(`${JSON.stringify(selftestJson(rows, seed), null, 2)}\n`);
    else process.stdout.write(`${matrixMarkdown(rows, seed)}\nmatrix: reports/selftest/matrix.html\n`);
    return selftestPassed(rows) ? EXIT.ok : EXIT.failed;
  }
  if (command === 'coverage' && rest.length === 0) {
    process.stdout.write(`${coverageCommand(v.json ?? false)}\n`);
    return EXIT.ok;
  }
  // list and show search every suite unless --suite names some.
  const searched = v.suite ?? Object.keys(SUITES);
  if (command === 'list' && rest.length <= 1) {
    const forStatement = v.statement !== undefined ? casesOfStatement(v.statement) : undefined;
    if (v.statement !== undefined && !forStatement) return usage(`no statement ${v.statement} in spec/protocol.md`);
    const { cases: all, suitesOf } = casesWithSuites(searched);
    const cases = selectCases(forStatement ?? all, rest, []);
    if (v.json) process.stdout.write(`${JSON.stringify(cases.map((c) => ({ id: c.id, section: c.section, level: c.level, statements: c.statements, requirement: c.requirement, suites: suitesOf.get(c.id) ?? [] })), null, 2)}\n`);
    else process.stdout.write(`${formatTable(['case', 'level', 'suites', 'statements'], cases.map((c) => [c.id, c.level, (suitesOf.get(c.id) ?? []).join(' '), c.statements.join(' ')]))}\n${cases.length} cases (suites searched: ${forStatement ? 'all' : searched.join(', ')})\n`);
    return EXIT.ok;
  }
  if (command === 'show' && rest.length === 1) {
    const c = casesWithSuites(searched).cases.find((x) => x.id === rest[0]);
    if (!c) return usage(`no case ${rest[0]}${suggestion(rest[0]!, casesWithSuites(searched).cases.map((x) => x.id))} (suites searched: ${searched.join(', ')}; see conformance list)`, null);
    process.stdout.write(`${c.id}\n  section:     ${c.section}\n  level:       ${c.level}\n  statements:  ${c.statements.join(', ')}\n  requirement: ${c.requirement}\n`);
    return EXIT.ok;
  }
  if (command !== undefined) {
    const commands = helpCommands(HELP).filter((c) => c !== 'run' && c !== 'version');
    if (commands.includes(command)) return usage(`wrong arguments for ${command}: ${rest.join(' ') || 'none'}`, command);
    return usage(`unknown command ${command}${suggestion(command, commands) || `; a peer's command goes after --exec --, e.g. conformance --exec -- ${parsed.positionals.join(' ')}`}`);
  }
  if (v.junit !== undefined) {
    const problem = junitPathProblem(v.junit);
    if (problem) return usage(problem);
  }

  let knownFailing: string[] = [];
  if (v['known-failing'] !== undefined) {
    const file = v['known-failing'].replace(/^@/, '');
    if (!existsSync(file)) {
      process.stderr.write(`conformance: known-failures file ${file} does not exist\n`);
      return EXIT.noInput;
    }
    knownFailing = readKnownFailing(file);
  }
  const seed = v.seed !== undefined ? Number(v.seed) : (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
  const timeoutMs = v.timeout !== undefined ? Number(v.timeout) : 2000;
  if (!Number.isInteger(seed)) return usage('--seed takes an integer');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) return usage('--timeout takes a positive number of milliseconds');
  let faults: FaultSpec | undefined;
  try {
    faults = v.faults !== undefined ? parseFaultSpec(v.faults) : undefined;
  } catch (e) {
    if (e instanceof FaultSpecError) return usage(e.message);
    throw e;
  }
  const startTimeoutMs = v['start-timeout'] !== undefined ? Number(v['start-timeout']) : DEFAULT_START_TIMEOUT_MS;
  if (!Number.isInteger(startTimeoutMs) || startTimeoutMs < 1) return usage('--start-timeout takes a positive number of milliseconds');
  let token: string | undefined;
  try {
    token = resolveToken({ token: v.token, tokenFile: v['token-file'] });
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n`);
    return e instanceof TokenSourceError ? EXIT.config : EXIT.usage;
  }
  let limits;
  try {
    limits = parseLimitArgs(v.limit ?? []);
  } catch (e) {
    if (e instanceof LimitError) return usage(e.message);
    throw e;
  }
  try {
    return await runCommand({
      target: v.target, exec: peerCommand.length > 0 && !brokerProcess ? peerCommand : undefined, ...(brokerProcess ? { brokerCommand: peerCommand } : {}), listen, token, limits, suites, run: v.run ?? [], skip: v.skip ?? [], seed, ...(faults ? { faults } : {}), timeoutMs, startTimeoutMs,
      failFast: v['fail-fast'] ?? false, strict: v.strict ?? false, knownFailing, json: v.json ?? false,
      reportDir: v['report-dir'] ?? join(process.cwd(), 'reports'), ...(v.junit !== undefined ? { junit: v.junit } : {}),
      replay: { program: harnessProgram(), tokenFile: v['token-file'], reportDir: v['report-dir'] },
      ...(lines ? { role: v.role as 'requester' | 'responder', linesTimeoutS: v['lines-timeout'] !== undefined ? Number(v['lines-timeout']) : 2,
        linesPeer: { oneShot: v['one-shot'] ?? false, replyPattern: v['reply-pattern'], outputPattern: v['output-pattern'] } } : {}),
    });
  } catch (e) {
    if (e instanceof TargetError) return usage(e.message);
    throw e;
  }
}

// Peers run in process groups of their own: end them when the harness ends or is interrupted.
stopPeersOnExit();
// An error outside any case must not end the run (the runner charges the ones inside a case to it).
const stray = (e: unknown): void => {
  if (process.listenerCount('uncaughtException') > 1) return; // a run is on: the runner charges it to its case
  process.stderr.write(printable(redactText(`conformance: error outside any case (ignored): ${(e as Error)?.stack ?? String(e)}\n`)));
};
process.on('unhandledRejection', stray);
process.on('uncaughtException', stray);

main(process.argv.slice(2)).then(
  (code) => finish(code),
  (e: unknown) => {
    process.stderr.write(printable(redactText(`conformance: internal error: ${(e as Error).stack ?? String(e)}\n`)));
    finish(EXIT.internal);
  },
);

/** Exits now: descendants of a peer may still hold pipes or timers, and the harness never waits on them. */
function finish(code: number): void {
  stopAllPeers();
  process.exitCode = code;
  // stdout and stderr are synchronous for files and pipes on Linux; a TTY write is flushed first.
  process.stdout.write('', () => process.exit(code));
}
