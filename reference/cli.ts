#!/usr/bin/env node
/**
 * The `concord` command: reference components and codec utilities.
 *   concord decode [HEX]             decode a whole frame (hex argument or raw bytes on stdin) to JSON
 *   concord encode TYPE [PAYLOAD]    encode a message (payload in the fixtures' typed-JSON notation) to hex
 *   concord broker [OPTIONS]         run the reference broker
 *   concord testee [--json-only]     the reference testee on stdio (spec section testee)
 *   concord client --port N          the reference client, connected until shut down (conformance --listen)
 *   concord bus-adapter [--port N]   the reference bus adapter on stdio (conformance --suite bus --exec)
 *   concord pipes setup|cleanup DIR  a FIFO pair directory for peers started by hand (section 10.4)
 *   concord instrument [...]         the instrument worker's hardware mock (spec section 17)
 *   concord help [COMMAND]           the help, or one command's; concord --version
 */
import { parseArgs } from 'node:util';
import { encodeMessageFrame } from './codec/message.js';
import { payloadFromFixture } from './codec/payload.js';
import { decodeHex, decodeStream } from './decode-command.js';
import { lookupMessage, messageByCode } from './codec/catalog.js';
import { ProtocolError } from './codec/errors.js';
import type { Encoding } from './codec/body.js';
import { runTestee } from './testee/testee.js';
import { BUS_ADAPTER_HELP } from './bus/adapter/help.js';
import { PIPES_HELP, runPipesCommand } from './transport/pipes-command.js';
import { runFifoTestee } from './transport/fifo-testee.js';
import { watchParent } from './transport/parent.js';
import { parseArgsProblem, suggestion } from './cli-usage.js';
import { versionLine } from './version.js';

// Loaded on demand: `concord testee` is started once per case by the testee suite, and the broker's,
// the engine's and the client's modules (the NATS client among them) were a third of its start-up CPU.
const brokerCommand = (): Promise<typeof import('./broker/command.js')> => import('./broker/command.js');
const clientCommand = (): Promise<typeof import('./client/command.js')> => import('./client/command.js');
const engineCommand = (): Promise<typeof import('./engine/command.js')> => import('./engine/command.js');
const instrumentCommand = (): Promise<typeof import('./instrument/command.js')> => import('./instrument/command.js');

/** The whole help text (it loads every command's module for its lines). */
async function helpText(): Promise<string> {
  const [{ BROKER_HELP }, { CLIENT_HELP }, { ENGINE_HELP }, { INSTRUMENT_HELP }] = await Promise.all([brokerCommand(), clientCommand(), engineCommand(), instrumentCommand()]);
  return `usage: concord <command> [options]

commands:
  decode [HEX]                 decode one whole frame (length prefix included) given as hex,
                               or read raw frame bytes from standard input (streamed: a length
                               above max_frame stops it at once, exit 65); prints JSON
  encode TYPE [PAYLOAD_JSON]   encode a message of catalog type TYPE (name or code); PAYLOAD_JSON
                               uses the fixtures' notation ({"$ndarray": {dtype, shape, data}},
                               64-bit integers as decimal strings); prints the frame as hex
${BROKER_HELP}${CLIENT_HELP}${BUS_ADAPTER_HELP}${PIPES_HELP}${ENGINE_HELP}${INSTRUMENT_HELP}  testee [--json-only]         the reference testee: frames on stdin/stdout, each answered with its
                               echo or its ERROR (for conformance --exec; --json-only declares no CBOR)
    --fifo PAIR_DIR            over that FIFO pair (client side, section 10.4) instead of stdio
options:
  --encoding json|cbor         payload encoding for encode (default json)
  --id ID                      header id for encode (default "1")
  --dst NAME                   header dst for encode
  help [COMMAND]               this help, or one command's;  --version: the package and protocol versions
exit codes: 0 ok, 64 usage error, 65 the input is not a valid frame or payload,
            78 the broker cannot use its configuration or address
`;
}

/** The commands of the help: its lines indented by exactly two spaces start with one. */
async function commandNames(): Promise<string[]> {
  return [...new Set((await helpText()).split('\n').flatMap((l) => /^ {2}([a-z][a-z-]*)/.exec(l)?.[1] ?? []))];
}

/** One command's lines of the help (`concord help broker`): its entries and the lines indented under them. */
function commandHelp(help: string, command: string): string {
  const lines: string[] = [];
  let inside = false;
  for (const line of help.split('\n')) {
    if (/^\S/.test(line) || /^ {2}\S/.test(line)) inside = line.startsWith(`  ${command} `) || line === `  ${command}`;
    if (inside) lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

/** A usage error: one line (the help is one `concord help [COMMAND]` away). */
function usage(message: string, command?: string): number {
  process.stderr.write(`concord: ${message} (see concord help${command !== undefined ? ` ${command}` : ''})\n`);
  return 64;
}

/** Decodes one frame: from the hex argument, or streamed from standard input (stopping at max_frame). */
function decode(hexArg: string | undefined): number {
  const io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) };
  if (hexArg !== undefined) return decodeHex(hexArg, io);
  void decodeStream(process.stdin, io).then((code) => {
    process.exitCode = code;
  });
  return 0;
}

function encode(type: string, payloadJson: string | undefined, encoding: Encoding, id: string, dst: string | undefined): number {
  try {
    const info = (/^(0x)?[0-9a-f]+$/i.test(type) ? messageByCode(Number(type)) : undefined) ?? lookupMessage(type.toUpperCase());
    if (!info) throw new RangeError(`no message type ${type}`);
    const payload = payloadFromFixture(info, payloadJson === undefined ? null : JSON.parse(payloadJson));
    const frame = encodeMessageFrame({ type: info.name, header: dst ? { id, dst } : { id }, payload, encoding });
    process.stdout.write(`${Buffer.from(frame).toString('hex')}\n`);
    return 0;
  } catch (e) {
    const detail = e instanceof ProtocolError ? `${e.code}: ${e.message}` : (e as Error).message;
    process.stderr.write(`concord encode: ${detail}\n`);
    return 65;
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'engine') {
    const { runEngineCommand } = await engineCommand();
    void runEngineCommand(argv.slice(1)).then((code) => { process.exitCode = code; });
    return 0;
  }
  if (argv[0] === 'instrument') { void (await instrumentCommand()).runInstrumentCommand(argv.slice(1)); return 0; } // own options: reference/instrument/command.ts
  let parsed;
  const options = {
    encoding: { type: 'string', default: 'json' }, id: { type: 'string', default: '1' }, dst: { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' },
    host: { type: 'string' }, port: { type: 'string' }, unix: { type: 'string' }, 'fifo-dir': { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' },
    'log-level': { type: 'string' }, 'max-in-flight': { type: 'string' }, 'max-frame': { type: 'string' }, cluster: { type: 'string' }, 'broker-id': { type: 'string' }, config: { type: 'string' },
    'json-only': { type: 'boolean' }, 'client-id': { type: 'string' }, fifo: { type: 'string' },
  } as const;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options });
  } catch (e) {
    return usage(parseArgsProblem(e as Error, Object.keys(options)));
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.version) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  // `help COMMAND` and `COMMAND --help` print that command's lines of the help.
  const topic = command === 'help' ? rest[0] : parsed.values.help ? command : undefined;
  if (parsed.values.help || command === 'help') {
    const commands = await commandNames();
    if (topic !== undefined && !commands.includes(topic)) return usage(`no command ${topic}${suggestion(topic, commands)}`);
    const help = await helpText();
    process.stdout.write(topic === undefined ? help : commandHelp(help, topic));
    return 0;
  }
  const encoding = parsed.values.encoding;
  if (encoding !== 'json' && encoding !== 'cbor') {
    process.stderr.write(`concord: --encoding must be json or cbor\n`);
    return 64;
  }
  if (command === 'broker' && rest.length === 0) return (await brokerCommand()).runBrokerCommand(parsed.values);
  if (command === 'client' && rest.length === 0) {
    const { runClientCommand } = await clientCommand();
    void runClientCommand(parsed.values).then((code) => { process.exitCode = code; });
    return 0;
  }
  if (command === 'testee' && rest.length === 0) {
    const options = parsed.values['json-only'] ? { encodings: ['json' as const] } : {};
    if (parsed.values.fifo !== undefined) return runFifoTestee(parsed.values.fifo, options);
    void runTestee(process.stdin, process.stdout, options);
    // STDIO-3: exit when the parent dies, even while standard input stays open.
    watchParent(() => process.exit(0));
    return 0;
  }
  if (command === 'pipes') {
    void runPipesCommand(rest).then((code) => { process.exitCode = code; });
    return 0;
  }
  if (command === 'bus-adapter' && rest.length === 0) {
    // Loaded on demand: the other commands (the testee above all) start without the bus.
    void import('./bus/adapter/command.js').then((m) => {
      const code = m.runBusAdapterCommand(parsed.values);
      if (code !== 0) process.exitCode = code;
    });
    return 0;
  }
  if (command === 'decode' && rest.length <= 1) return decode(rest[0]);
  if (command === 'encode' && rest.length >= 1 && rest.length <= 2) return encode(rest[0]!, rest[1], encoding, parsed.values.id, parsed.values.dst);
  const commands = await commandNames();
  if (command === undefined) return usage(`a command is required (${commands.join(', ')})`);
  if (commands.includes(command)) return usage(`wrong arguments for ${command}: ${rest.join(' ') || 'none'}`, command);
  return usage(`unknown command ${command}${suggestion(command, commands)}`);
}

// A command that finishes on its own sets the exit code itself (possibly before main returns, now that
// main awaits module loads): main's 0 means nothing to report and must not overwrite it.
const code = await main(process.argv.slice(2));
if (code !== 0) process.exitCode = code;
