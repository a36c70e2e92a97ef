/** `concord bus-adapter`: the reference bus adapter on stdio, in process or against a broker. */
import { AdapterSession } from './session.js';
import { inProcessFactory } from './in-process.js';
import { runBusAdapter } from './stdio.js';
import { wireFactory } from '../wire/factory.js';

export { BUS_ADAPTER_HELP } from './help.js';

export const TS_FEATURES = ['same-turn', 'handler-check'];

export function runBusAdapterCommand(o: { host?: string; port?: string; token?: string }): number {
  let session: AdapterSession;
  if (o.port !== undefined) {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      process.stderr.write('concord bus-adapter: --port takes a port number\n');
      return 64;
    }
    session = new AdapterSession(wireFactory({ host: o.host ?? '127.0.0.1', port, ...(o.token !== undefined ? { token: o.token } : {}) }), { name: 'concord-wire-bus', language: 'typescript', version: '0.1.0', features: [] });
  } else {
    session = new AdapterSession(inProcessFactory(), { name: 'concord-bus', language: 'typescript', version: '0.1.0', features: TS_FEATURES });
  }
  // BUSA-4: exit once the input ended and the replies written so far are flushed, not when the timers of
  // work still open (a query's 30 s timeout) would let the event loop end.
  void runBusAdapter(session, process.stdin, process.stdout).then((code) => {
    process.stdout.write('', () => process.exit(code));
  });
  return 0;
}
