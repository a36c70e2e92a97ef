/**
 * How a case of suite broker-process starts the broker under test: by its command, as a process of its
 * own (what users run), or by a launcher the API was given, such as a broker in this process (the
 * mutation tests: Stryker sees which cases reach a mutant only in its own process).
 */
import { startPeerProcess } from './peer-process.js';

/** One broker a case started, until the case ends it. */
export interface LaunchedBroker {
  /** Resolves with the exit status once the broker has ended (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Whether it has ended, by itself or stopped. */
  ended(): boolean;
  /** Its exit status once ended by itself (null while it runs, or when a signal ended it). */
  exitCode(): number | null;
  /** What it wrote on stderr so far (the first 4,000 characters). */
  stderr(): string;
  /** Ends it: a process by its process group, a broker in process by closing it. */
  stop(): void;
}

/** Starts a broker from its command line, the placeholders filled in. */
export type BrokerLauncher = (args: string[]) => LaunchedBroker;

const STDERR_KEPT = 4000;

/** The broker as a process of its own, in its own process group; started with umask 0, so that only the broker's own choice sets the modes of what it creates. */
export const launchBrokerProcess: BrokerLauncher = (args) => {
  const old = process.umask(0);
  let peer;
  try {
    peer = startPeerProcess(args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    process.umask(old);
  }
  const child = peer.child;
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { if (err.length < STDERR_KEPT) err += c.toString(); });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(127));
  });
  return {
    exited,
    ended: () => child.exitCode !== null || child.signalCode !== null,
    exitCode: () => child.exitCode,
    stderr: () => err,
    stop: () => peer.stop(),
  };
};
