/**
 * A BrokerLauncher (conformance/wire/broker-launch.ts) that starts the broker of a broker-process case in
 * this process, from the same command line `concord broker` reads: what lets the mutation tests run that
 * suite (the listening sockets of UNIX-1, UNIX-2 and SEC-1, the FIFO directory of FIFO-9) against mutated
 * sources, which Stryker sees only in its own process. It ends as the command would: exit 78 for an option
 * or an address that cannot be used (sysexits EX_CONFIG), with the message on its stderr.
 */
import { parseArgs } from 'node:util';
import { Broker, BrokerConfigError, ListenError } from '../../../reference/broker/index.js';
import { BROKER_CONFIG_KEYS, brokerOptionsOf, type BrokerCommandValues } from '../../../reference/broker/command.js';
import { TokenSourceError } from '../../../reference/token-source.js';
import type { BrokerLauncher, LaunchedBroker } from '../../wire/broker-launch.js';

/** The command line the launcher reads: a program name (not run), then the options of `concord broker`. */
export const IN_PROCESS_BROKER_COMMAND = ['concord-broker-in-process', '--host', '{host}', '--port', '{port}', '--unix', '{unix}', '--fifo-dir', '{fifodir}'];

const EX_CONFIG = 78;
const EX_SOFTWARE = 70;

/** The options of `concord broker` a configuration file may hold, every one a string. */
const OPTIONS = Object.fromEntries(Object.keys(BROKER_CONFIG_KEYS).map((k) => [k, { type: 'string' as const }]));

export const launchBrokerInProcess: BrokerLauncher = (args) => {
  let code: number | null = null;
  let err = '';
  let broker: Broker | undefined;
  let resolveExit!: (code: number | null) => void;
  const exited = new Promise<number | null>((resolve) => (resolveExit = resolve));
  let ending = false;
  // Ended once closed, as a process has exited only once its last cleanup ran.
  const end = (status: number, message?: string): void => {
    if (ending) return;
    ending = true;
    if (message !== undefined) err += `concord broker: ${message}\n`;
    void (broker?.close().catch(() => undefined) ?? Promise.resolve()).then(() => {
      code = status;
      resolveExit(status);
    });
  };
  const configFault = (e: unknown): number => (e instanceof BrokerConfigError || e instanceof TokenSourceError || e instanceof ListenError ? EX_CONFIG : EX_SOFTWARE);
  try {
    const { values } = parseArgs({ args: args.slice(1), options: OPTIONS, strict: true });
    broker = new Broker({ ...brokerOptionsOf(values as BrokerCommandValues), logLevel: 'error' });
    broker.listen().catch((e: unknown) => end(configFault(e), (e as Error).message));
  } catch (e) {
    end(configFault(e), (e as Error).message);
  }
  const launched: LaunchedBroker = {
    exited,
    ended: () => code !== null,
    exitCode: () => code,
    stderr: () => err,
    stop: () => end(0),
  };
  return launched;
};
