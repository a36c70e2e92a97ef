/**
 * The inter-broker format, version 1 (spec section 19): NATS subjects, the frame envelope and the
 * control messages brokers of one cluster exchange. Nothing here reaches a client: clients keep
 * speaking the client protocol to whichever broker they connected to.
 */

/** The format version every inter-broker message carries; a broker drops messages of another version. */
export const CLUSTER_FORMAT_VERSION = 1;

/** Subjects: frames for one broker's clients, and the control channel every broker listens to. */
export const SUBJECT_PREFIX = `concord.v${CLUSTER_FORMAT_VERSION}`;
export const CONTROL_SUBJECT = `${SUBJECT_PREFIX}.control`;
/** The JetStream key-value bucket holding the cluster-wide client id claims (key: id, value: owning broker). */
export const CLAIMS_BUCKET = `concord_claims_v${CLUSTER_FORMAT_VERSION}`;
/** The bucket of cluster-wide service names (key: name, value: owning broker and client). */
export const SERVICES_BUCKET = `concord_services_v${CLUSTER_FORMAT_VERSION}`;
/** The bucket of cluster-wide bus handlers (key: message type, value: owning broker and client). */
export const HANDLERS_BUCKET = `concord_handlers_v${CLUSTER_FORMAT_VERSION}`;

/** A NATS subject token or KV key for any Name: base64url has neither `.` nor wildcards. */
export function token(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

export function frameSubject(brokerId: string): string {
  return `${SUBJECT_PREFIX}.frame.${token(brokerId)}`;
}

/**
 * A frame between brokers: byte 0 the format version, byte 1 the length n of the sending broker's id,
 * n bytes of that id (UTF-8), then the Concord frame body exactly as a client would receive it (no
 * length prefix: NATS delimits the message).
 */
export function encodeFrameMessage(senderPrefix: Uint8Array, parts: readonly Uint8Array[], bodyLength: number): Uint8Array {
  const out = Buffer.allocUnsafe(senderPrefix.length + bodyLength);
  out.set(senderPrefix, 0);
  let at = senderPrefix.length;
  let skip = 4; // the u32 length prefix of the first part
  for (const part of parts) {
    const from = Math.min(skip, part.length);
    skip -= from;
    out.set(part.subarray(from), at);
    at += part.length - from;
  }
  return out;
}

/** The constant first bytes of every frame message a broker sends. */
export function senderPrefix(brokerId: string): Uint8Array {
  const id = Buffer.from(brokerId, 'utf8');
  if (id.length > 255) throw new RangeError('a cluster broker id is at most 255 bytes');
  return Buffer.concat([Buffer.from([CLUSTER_FORMAT_VERSION, id.length]), id]);
}

/** A malformed or foreign inter-broker message. */
export class ClusterFormatError extends Error {
  override name = 'ClusterFormatError';
}

/** `anyVersion` is a test-only defect (ClusterDefects.anyFormat): the version byte is not checked. */
export function decodeFrameMessage(data: Uint8Array, anyVersion = false): { sender: string; body: Uint8Array } {
  if (data.length < 2 || (data[0] !== CLUSTER_FORMAT_VERSION && !anyVersion)) throw new ClusterFormatError(`frame message of format ${data[0]} (this broker speaks ${CLUSTER_FORMAT_VERSION})`);
  const n = data[1]!;
  if (data.length < 2 + n) throw new ClusterFormatError('frame message shorter than its sender id');
  return { sender: Buffer.from(data.subarray(2, 2 + n)).toString('utf8'), body: data.subarray(2 + n) };
}

/** What other brokers need to know of a client to route to it and check what it can take (REQ-10, REQ-11). */
export interface ClientInfo {
  id: string;
  cbor: boolean;
  max_frame: number;
  language: string;
}

/** A registered service as announced: its descriptor and the client providing it. */
export interface ServiceInfo {
  owner: string;
  descriptor: Record<string, unknown>;
}

/** Control messages (JSON on {@link CONTROL_SUBJECT}); `v` is the format version, `broker` the sender. */
export type ControlMessage =
  | { v: 1; kind: 'heartbeat'; broker: string; uptime_ms: number; clients: ClientInfo[]; services: ServiceInfo[] }
  | { v: 1; kind: 'join'; broker: string; client: ClientInfo }
  | { v: 1; kind: 'leave'; broker: string; client: string }
  | { v: 1; kind: 'services'; broker: string; services: ServiceInfo[] }
  | { v: 1; kind: 'bye'; broker: string };

const KINDS = new Set(['heartbeat', 'join', 'leave', 'services', 'bye']);

export function encodeControl(message: ControlMessage): Uint8Array {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

/** `anyVersion` is a test-only defect (ClusterDefects.anyFormat): `v` is not checked. */
export function decodeControl(data: Uint8Array, anyVersion = false): ControlMessage {
  let m: unknown;
  try {
    m = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    throw new ClusterFormatError('control message is not JSON');
  }
  const o = m as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || (o['v'] !== CLUSTER_FORMAT_VERSION && !anyVersion) || typeof o['broker'] !== 'string' || !KINDS.has(o['kind'] as string)) {
    throw new ClusterFormatError(`control message of another format: ${JSON.stringify(o).slice(0, 80)}`);
  }
  return o as ControlMessage;
}
