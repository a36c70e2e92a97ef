/** The defects broken-receiving-client.ts can be started with, each breaking one rule of a client as receiver. */
export const RECEIVING_CLIENT_DEFECTS = [
  /** Takes each read for one frame: the rest of a read is lost, a split frame is garbage. */
  'one-read-one-frame',
  /** Refuses a frame of exactly max_frame (`>=` for `>`). */
  'limit-inclusive',
  /** Checks the length only once the whole body has arrived, so a prefix alone is never refused. */
  'limit-after-body',
  /** FRAME_TOO_LARGE without details.limit. */
  'limit-not-given',
  /** Takes any PONG or SHUTDOWN_ACK for the answer to something, silently. */
  'response-by-type',
  /** Answers a type a broker never sends with UNSUPPORTED, as if it were only unimplemented. */
  'any-direction',
  /** Refuses header keys it does not know. */
  'strict-header',
  /** Answers an ERROR it cannot decode with an ERROR. */
  'answers-faulty-error',
  /** Decodes CBOR whatever INIT_ACK chose. */
  'cbor-unasked',
  /** Counts a request it never received in SHUTDOWN_ACK's `drained`. */
  'shutdown-ack-miscounts',
  /** Takes a SHUTDOWN before the frames that came before it in the same read: acknowledges and closes with them unanswered. */
  'shutdown-first',
  /** Writes the PONG's header by concatenation, the PING's id unescaped. */
  'concatenated-header',
  /** Drops the frames it writes while its socket's buffer is full, as a writer that ignores EAGAIN. */
  'drops-when-full',
  /** Answers nothing to a request it does not implement, instead of UNSUPPORTED. */
  'drops-unimplemented',
  /** Takes each read of the handshake for one frame: what follows INIT_ACK in its read is lost, a split INIT_ACK is garbage. */
  'handshake-one-read',
  /** Writes its payloads in CBOR, the first encoding it offered, whatever INIT_ACK chose. */
  'writes-offered-encoding',
  /** Decodes every payload in the encoding INIT_ACK chose, whatever the frame's encoding bits say. */
  'decodes-negotiated-encoding',
  /** Drops the rest of a read once it has answered a faulty frame, even with an ERROR that keeps the connection. */
  'error-drops-read',
  /** Answers nothing to a SHUTDOWN without drain_ms, as a handler that reads the field unconditionally. */
  'shutdown-needs-drain-ms',
  /** Announces the default max_frame in INIT, then takes INIT_ACK's max_frame for its own. */
  'limit-from-init-ack',
  /** Finds the id by a text search for `id":` in the header, not in the parsed object. */
  'header-id-by-search',
  /** Measures the id in its escaped JSON spelling, refusing an id of 128 bytes written with escapes. */
  'id-length-of-spelling',
  /** Takes an ERROR without `re`, one it cannot correlate, for the end of the connection and closes. */
  'error-without-re-closes',
] as const;
export type ReceivingClientDefect = (typeof RECEIVING_CLIENT_DEFECTS)[number];
