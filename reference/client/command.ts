/**
 * `concord client`: connects the reference client to a broker and stays connected, answering PINGs
 * and faulty frames as the spec says, until the broker shuts it down or the connection ends. It is
 * the reference client under test for `conformance --listen`.
 */
import { ConcordClient } from './client.js';

export const CLIENT_HELP = `  client --port N [--host H] [--client-id ID] [--token T]
                               connect the reference client and stay connected until the broker
                               shuts it down or the connection ends (for conformance --listen)
`;

export interface ClientCommandOptions {
  host?: string;
  port?: string;
  token?: string;
  'client-id'?: string;
}

export async function runClientCommand(o: ClientCommandOptions): Promise<number> {
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write('concord client: --port takes a port number\n');
    return 64;
  }
  try {
    const client = await ConcordClient.connect({
      // CBOR first, as the C++, Python and Perl clients offer it: a broker choosing the first encoding
      // it supports then lets CBOR senders reach this client (REQ-10), and CBOR frames get checked.
      host: o.host ?? '127.0.0.1', port, clientId: o['client-id'] ?? `concord-client-${process.pid}`, role: 'client', encodings: ['cbor', 'json'],
      ...(o.token !== undefined ? { token: o.token } : {}), retries: 5,
      onLog: (e) => process.stderr.write(`${JSON.stringify({ level: e.level, msg: e.message, ...e.data })}\n`),
    });
    const info = await client.closed;
    process.stderr.write(`concord client: closed (${info.reason})\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`concord client: ${(e as Error).message}\n`);
    return 69;
  }
}
