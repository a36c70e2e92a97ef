#!/usr/bin/env node
/**
 * The `conformance` command. Exit codes follow the harness conventions: 0 pass, 1 unexpected
 * failure, 2 inconclusive, 64 usage error, 70 internal error.
 */
import { parseArgs } from 'node:util';
import { specCommand } from './spec-command.js';

export const EXIT = { ok: 0, failed: 1, inconclusive: 2, usage: 64, dataErr: 65, noInput: 66, unavailable: 69, internal: 70, config: 78 } as const;

const HELP = `usage: conformance <command> [options]

commands:
  spec [--json]     print the message catalog (a table, or a JSON array of types)
  help              this text

exit codes:
  0   success            64  usage error
  70  internal error of the harness
`;

export function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n${HELP}`);
    return EXIT.usage;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === 'help') {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (command === 'spec' && rest.length === 0) {
    process.stdout.write(`${specCommand(parsed.values.json ?? false)}\n`);
    return EXIT.ok;
  }
  process.stderr.write(`conformance: ${command === undefined ? 'a command is required' : `unknown command or arguments: ${parsed.positionals.join(' ')}`}\n${HELP}`);
  return EXIT.usage;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`conformance: internal error: ${(e as Error).stack ?? e}\n`);
  process.exitCode = EXIT.internal;
}
