/**
 * The first frame of a connection (section 6). It must be an INIT, checked in the order of HS-4:
 * major version, schema (including `json` among the encodings), token, client id. Every fault here
 * closes the connection (HS-3), whatever the registry says for the code.
 */
import type { Language } from '../../spec/generated/types.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeEnvelope, decodeMessage, messageByCode, MessageType, PROTOCOL_VERSION, ProtocolError, type Encoding, type InitPayload as Init, type InitAckPayload as InitAck } from '../codec/index.js';

export interface HandshakeContext {
  readonly brokerId: string;
  readonly maxHeader: number;
  readonly maxFrame: number;
  readonly maxInFlight: number;
  readonly heartbeatMs: number;
  /** HS-7: a broker hosting the bus announces its max_subscriptions. */
  readonly maxSubscriptions: number;
  /** SHA-256 of the configured token, or undefined when the broker needs none. */
  readonly tokenDigest: Buffer | undefined;
  isClientIdTaken(clientId: string): boolean;
  /** true when `name` is a registered service: client ids and service names share one namespace (HS-22). */
  isServiceName(name: string): boolean;
}

export interface AcceptedInit {
  readonly initId: string;
  readonly clientId: string;
  readonly language: Language;
  readonly encoding: Encoding;
  readonly peerMaxFrame: number;
  /** The minor version agreed (VER-2). */
  readonly minor: number;
  readonly ack: InitAck;
}

const VERSION = /^([0-9]{1,3})\.([0-9]{1,3})$/;
const [OWN_MAJOR, OWN_MINOR] = PROTOCOL_VERSION.split('.').map(Number) as [number, number];
/** Encodings this broker speaks, in no particular order: the client's preference decides (HS-6). */
const SUPPORTED: readonly Encoding[] = ['json', 'cbor'];

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * SEC-3: compare digests of equal length with timingSafeEqual, so neither the content nor the length of
 * the given token changes the time taken.
 */
export function tokenMatches(expected: Buffer, given: unknown): boolean {
  const candidate = tokenDigest(typeof given === 'string' ? given : '');
  return timingSafeEqual(expected, candidate) && typeof given === 'string';
}

function fault(code: ConstructorParameters<typeof ProtocolError>[0], message: string, frameId: string | undefined, details: Record<string, unknown> = {}): ProtocolError {
  const e = new ProtocolError(code, message, details);
  if (frameId !== undefined) e.frameId = frameId;
  return e;
}

/** Checks the first frame; returns the accepted INIT and its INIT_ACK payload, or throws a ProtocolError. */
export function acceptInit(body: Uint8Array, ctx: HandshakeContext): AcceptedInit {
  const env = decodeEnvelope(body, { maxHeader: ctx.maxHeader }); // steps 1-3
  const id = env.header.id;
  const info = messageByCode(env.type);
  if (!info) throw fault('UNKNOWN_TYPE', `type code 0x${env.type.toString(16).padStart(2, '0')} is not in the catalog`, id, { rule: 'type' });
  // Step 5: nothing is negotiated before INIT_ACK, and INIT itself is JSON (HS-1).
  if (env.encodingBits !== 0) throw fault('UNSUPPORTED_ENCODING', 'nothing but JSON is accepted before INIT_ACK', id, { rule: 'encoding', statement: 'HS-1' });
  if (env.type !== MessageType.INIT) {
    // Steps 6-8 are the final receiver's; the broker is that receiver unless the frame is routed.
    const routed = info.directions.includes('routed') && env.header.dst !== undefined;
    if (info.directions.includes('client-to-broker') && !routed) decodeMessage(body, { maxHeader: ctx.maxHeader, encodings: ['json'] });
    throw fault('PROTOCOL_VIOLATION', `the first frame must be INIT, not ${info.name}`, id, { statement: 'HS-2' });
  }

  let init: Init | undefined;
  let schemaFault: ProtocolError | undefined;
  try {
    init = decodeMessage(body, { maxHeader: ctx.maxHeader, encodings: ['json'] }).payload as Init;
  } catch (e) {
    if (!(e instanceof ProtocolError) || e.code !== 'SCHEMA_VIOLATION') throw e;
    schemaFault = e;
  }
  // VER-1: the major version is checked before the rest of the schema, so a 2.x INIT that 1.0's schema
  // refuses still gets VERSION_MISMATCH. The payload parsed as JSON, or decodeMessage would have failed.
  const raw = init ?? (JSON.parse(Buffer.from(env.payload).toString('utf8')) as Record<string, unknown>);
  const version = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['protocol_version'] : undefined;
  const match = typeof version === 'string' ? VERSION.exec(version) : null;
  if (match && Number(match[1]) !== OWN_MAJOR) {
    throw fault('VERSION_MISMATCH', `protocol ${version} is not spoken here; this broker speaks ${PROTOCOL_VERSION}`, id, { statement: 'VER-1' });
  }
  if (schemaFault || !init || !match) throw schemaFault ?? fault('SCHEMA_VIOLATION', 'INIT payload is invalid', id);
  // REQ-20: `*` addresses every client (REQ-18), so no client may be called that.
  if (init.client_id === '*') throw fault('SCHEMA_VIOLATION', 'client id "*" is reserved for broadcast', id, { path: '/client_id', rule: 'reserved', statement: 'REQ-20' });

  // SEC-2, SEC-3: a missing or wrong token is refused before the client id is looked at (HS-4), and the
  // token is never logged or echoed (SEC-4).
  if (ctx.tokenDigest && !tokenMatches(ctx.tokenDigest, init.token)) {
    throw fault('UNAUTHORIZED', init.token === undefined ? 'this broker requires a token' : 'the token is wrong', id, { statement: 'SEC-2' });
  }
  // HS-5. The broker's own id counts as held: REQ-7 resolves a `dst` to a client before the broker, so a
  // client named like the broker would capture the frames addressed to it.
  if (init.client_id === ctx.brokerId || ctx.isClientIdTaken(init.client_id)) {
    throw fault('DUPLICATE_CLIENT_ID', `client id ${init.client_id} is already connected`, id, { statement: 'HS-5' });
  }
  if (ctx.isServiceName(init.client_id)) {
    throw fault('DUPLICATE_CLIENT_ID', `${init.client_id} is a registered service's name`, id, { statement: 'HS-22' });
  }

  const encoding = init.encodings.find((e) => SUPPORTED.includes(e as Encoding)) as Encoding; // schema: json is always there
  const minor = Math.min(OWN_MINOR, Number(match[2])); // VER-2
  const ack: InitAck = {
    broker_id: ctx.brokerId,
    client_id: init.client_id,
    protocol_version: `${OWN_MAJOR}.${minor}`,
    encoding: encoding as InitAck['encoding'],
    max_frame: ctx.maxFrame,
    max_in_flight: ctx.maxInFlight,
    heartbeat_ms: ctx.heartbeatMs,
    max_subscriptions: ctx.maxSubscriptions,
  };
  return { initId: id, clientId: init.client_id, language: init.language, encoding, peerMaxFrame: init.max_frame, minor, ack };
}
