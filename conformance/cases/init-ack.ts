/**
 * The INIT_ACK the harness answers when it plays the broker (clients in listen mode, testees, stdio
 * children, instrument workers): the negotiated version of VER-2, so that a peer of an earlier minor is
 * answered with its own, and the default limits.
 */
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import type { Encoding, Message, OutgoingMessage } from '../../reference/codec/index.js';
import { negotiatedVersion } from '../../reference/codec/versions.js';

export function harnessInitAck(init: Message, encoding: Encoding = 'json'): OutgoingMessage {
  const p = init.payload as Record<string, unknown>;
  return {
    type: 'INIT_ACK', header: { id: 'harness-ack', re: init.header.id }, payload: {
      broker_id: 'concord-conformance', client_id: String(p['client_id']), protocol_version: negotiatedVersion(p['protocol_version']), encoding,
      max_frame: DEFAULT_LIMITS.max_frame, max_in_flight: DEFAULT_LIMITS.max_in_flight, heartbeat_ms: DEFAULT_LIMITS.heartbeat_ms,
    },
  };
}
