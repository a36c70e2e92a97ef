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
  void runBusAdapter(session, process.stdin, process.stdout).then((code) => {
    process.exitCode = code;
  });
  return 0;
}
