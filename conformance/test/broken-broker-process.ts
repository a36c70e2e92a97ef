/**
 * A deliberately broken broker process for the broker-process suite's own tests: `concord broker`
 * with one defect. Run as `tsx broken-broker-process.ts <defect> [concord broker options]`.
 *   socket-0666     chmods its Unix socket to 0666 where the broker chmods it to 0600 (UNIX-1)
 *   unlink-any      removes whatever is at its Unix socket path before listening (UNIX-2)
 *   other-port      listens on 127.0.0.1:9998 when no --port is given (TCP-1)
 *   all-interfaces  listens on 0.0.0.0 (with a token of its own) when no --host is given (SEC-1)
 *   fifo-dir-0755   creates an absent --fifo-dir with mode 0755 (FIFO-9)
 *   fifo-dir-any    makes an existing --fifo-dir private (chmod 0700, chown to itself) and serves it (FIFO-9)
 *   unix-late       binds its Unix socket only after its TCP listener is up, removing whatever is at the
 *                   path, a live socket included (UNIX-2): the order in which the check ran too early
 *   external-late   also listens on a non-loopback address of the machine, after its loopback listener
 *                   is up and with no host configured (SEC-1)
 *   wildcard-v6     takes `::` and the empty host (Node binds it as `::`) for loopback: it serves them
 *                   without a token, on every interface (SEC-1)
 */
import fs, { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { parseArgs } from 'node:util';
import { createServer } from 'node:net';
import { externalIPv4 } from '../wire/external-address.js';
import { runBrokerCommand, type BrokerCommandValues } from '../../reference/broker/command.js';

const [defect, ...argv] = process.argv.slice(2);
const names = ['host', 'port', 'unix', 'fifo-dir', 'token', 'log-level', 'max-in-flight', 'max-frame'];
const values = parseArgs({ args: argv, options: Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])) }).values as BrokerCommandValues;
if (defect === 'unlink-any' && values.unix !== undefined) rmSync(values.unix, { force: true });
if (defect === 'other-port' && values.port === undefined) values.port = '9998';
if (defect === 'all-interfaces' && values.host === undefined) Object.assign(values, { host: '0.0.0.0', token: 'broken' });
if (defect === 'wildcard-v6' && (values.host === '::' || values.host === '') && values.token === undefined) values.token = 'broken';
const fifoDir = values['fifo-dir'];
if (defect === 'fifo-dir-0755' && fifoDir !== undefined && !existsSync(fifoDir)) {
  mkdirSync(fifoDir);
  chmodSync(fifoDir, 0o755);
}
if (defect === 'fifo-dir-any' && fifoDir !== undefined && existsSync(fifoDir)) {
  chmodSync(fifoDir, 0o700);
  chownSync(fifoDir, process.getuid!(), process.getgid!());
}
if (defect === 'socket-0666' && values.unix !== undefined) {
  // In the broker's own synchronous chmod, so that no connection can see the socket 0600 first (a timer
  // polling for the socket lost that race under load). The broker runs on this thread: a worker thread
  // would load node:fs afresh, unpatched.
  const path = values.unix;
  const chmod = fs.chmodSync;
  fs.chmodSync = (p, mode) => chmod(p, p === path ? 0o666 : mode);
  syncBuiltinESMExports();
  process.env['CONCORD_BROKER_MAIN_THREAD'] = '1';
}
if (defect === 'unix-late' && values.unix !== undefined) {
  const path = values.unix;
  delete values.unix;
  // Well after the broker's TCP listener is up (the suite waits for it), as a broker that starts its
  // listeners one by one and clears the path of the last one.
  setTimeout(() => {
    rmSync(path, { force: true });
    createServer((c) => c.end()).listen(path, () => chmodSync(path, 0o600));
  }, 400);
}
const external = externalIPv4();
if (defect === 'external-late' && values.host === undefined && values.port !== undefined && external !== undefined) {
  const port = Number(values.port);
  setTimeout(() => void createServer((c) => c.end()).listen(port, external), 400);
}
process.exitCode = runBrokerCommand(values);
