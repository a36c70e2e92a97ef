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
] as const;
export type ReceivingClientDefect = (typeof RECEIVING_CLIENT_DEFECTS)[number];
