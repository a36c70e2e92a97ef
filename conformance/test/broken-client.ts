/**
 * A deliberately broken client for the harness's own tests: it sends INIT and, without waiting for
 * INIT_ACK, a PING (HS-8), and it never answers anything (HS-9). Run as `tsx broken-client.ts PORT`.
 * With `later-field` as second argument it only sends an INIT carrying a field of no 1.0 INIT (VER-4).
 */
import { connect } from 'node:net';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { PROTOCOL_VERSION } from '../../spec/generated/catalog.js';

const laterField = process.argv[3] === 'later-field';
const socket = connect({ host: '127.0.0.1', port: Number(process.argv[2]) }, () => {
  socket.write(encodeMessageFrame({ type: 'INIT', header: { id: 'i' }, payload: {
    client_id: `broken-${process.pid}`, language: 'typescript', role: 'client', protocol_version: PROTOCOL_VERSION, encodings: ['json'], max_frame: 65536,
    ...(laterField ? { compression: 'zstd' } : {}),
  } }));
  if (!laterField) socket.write(encodeMessageFrame({ type: 'PING', header: { id: 'too-early' } }));
});
socket.on('data', () => undefined);
socket.on('error', () => process.exit(1));
socket.on('close', () => process.exit(0));
