/** Broker variants with one injected defect each, and the case that must catch it. */
import { frameBytes, nameOf, type Frame, type Link, type Mutant, type Rewrite } from './mutant-proxy.js';
import { DEFAULT_LIMITS, MessageType } from '../../spec/generated/catalog.js';

const text = new TextDecoder();
const bytes = new TextEncoder();

export function json(f: Frame): Record<string, unknown> {
  return JSON.parse(text.decode(f.payload)) as Record<string, unknown>;
}

export function withJson(f: Frame, edit: (p: Record<string, unknown>) => void): Frame {
  const p = json(f);
  edit(p);
  return { ...f, payload: bytes.encode(JSON.stringify(p)) };
}

const isError = (f: Frame, code: string): boolean => nameOf(f) === 'ERROR' && json(f)['code'] === code;

/** Client links that have had their INIT_ACK: an ERROR before it answers the first frame. */
const acked = new WeakSet<Link>();

/** A broker whose first-frame checks answer with `to` where the spec says `from`; frames after INIT_ACK are answered as before. */
function firstFrameRecode(from: string, to: string): Rewrite {
  return (f, link) => {
    if (nameOf(f) === 'INIT_ACK') acked.add(link);
    return !acked.has(link) && isError(f, from) ? withJson(f, (p) => { p['code'] = to; }) : f;
  };
}

/** The broker_id of the last INIT_ACK that passed `toClient`, which forwards every frame unchanged. */
function brokerIdSeen(): { toClient: (f: Frame) => Frame; id: () => unknown } {
  let brokerId: unknown;
  return {
    toClient: (f) => {
      if (nameOf(f) === 'INIT_ACK') brokerId = json(f)['broker_id'];
      return f;
    },
    id: () => brokerId,
  };
}

/**
 * A broker that accepts its own broker_id as a name in `type`'s payload, where `named` finds it (the
 * object and key holding it): the proxy renames such a frame's name, so the broker accepts it.
 */
function brokerIdAccepted(name: string, caughtBy: string, type: string, named: (p: Record<string, unknown>) => [Record<string, unknown>, string] | undefined): Mutant {
  const seen = brokerIdSeen();
  const holder = (p: Record<string, unknown>): [Record<string, unknown>, string] | undefined => {
    const at = named(p);
    return at !== undefined && at[0][at[1]] === seen.id() ? at : undefined;
  };
  return {
    name,
    caughtBy,
    toClient: seen.toClient,
    toBroker: (f) => (nameOf(f) === type && f.encoding === 'json' && holder(json(f)) !== undefined
      ? withJson(f, (p) => { const [o, k] = holder(p)!; o[k] = `${String(seen.id())}-accepted`; }) : f),
  };
}

/** A broker that lets a client take its own broker_id (HS-26). */
function brokerIdTaken(): Mutant {
  return brokerIdAccepted('client-takes-the-broker-id', 'handshake/client-id-of-the-broker', 'INIT', (p) => [p, 'client_id']);
}

/** Answers `f` with ERROR `code` (and `details`) in the broker's place, as the broker would; the broker never sees `f`. */
export function refuse(f: Frame, link: Link, code: string, details?: Record<string, unknown>): 'handled' {
  const payload = bytes.encode(JSON.stringify({ code, message: 'injected by the variant', definite: true, ...(details && { details }) }));
  link.client.write(frameBytes({ code: MessageType.ERROR, header: { id: `proxy-${f.header.id}`, re: f.header.id }, encoding: 'json', payload }));
  return 'handled';
}

/** A broker that answers a frame addressed to its own broker_id as if no one had that name (REQ-7). */
function brokerIdUnresolved(): Mutant {
  const seen = brokerIdSeen();
  return {
    name: 'dst-of-the-broker-unknown',
    caughtBy: 'requests/dst-of-the-broker-resolves',
    toClient: seen.toClient,
    toBroker: (f, link) => (f.header.dst !== undefined && f.header.dst === seen.id() ? refuse(f, link, 'UNKNOWN_DESTINATION') : f),
  };
}

/** A broker that broadcasts a notification whose dst names no connected client (REQ-8): the proxy rewrites such a dst to `*`. */
function absentDstBroadcast(): Mutant {
  const clients = new Set<unknown>();
  return {
    name: 'notification-to-an-absent-dst-broadcast',
    caughtBy: 'requests/unknown-destination-of-a-notification',
    toClient: (f) => {
      if (nameOf(f) === 'INIT_ACK') clients.add(json(f)['client_id']);
      return f;
    },
    toBroker: (f) => (nameOf(f) === 'DISAGREEMENT_SIGNAL' && f.header.dst !== '*' && !clients.has(f.header.dst) ? { ...f, header: { ...f.header, dst: '*' } } : f),
  };
}

/**
 * A broker that delivers a broadcast also to clients that cannot take it (REQ-18): when a broadcast
 * reaches one client, the proxy copies it to every other client `cannotTake` picks, once.
 */
function broadcastToAll(name: string, caughtBy: string, cannotTake: (f: Frame, peer: { encoding?: unknown; maxFrame?: unknown }) => boolean): Mutant {
  const peers = new WeakMap<Link, { clientId?: unknown; encoding?: unknown; maxFrame?: unknown }>();
  const copied = new Set<string>();
  const of = (link: Link): { clientId?: unknown; encoding?: unknown; maxFrame?: unknown } => peers.get(link) ?? peers.set(link, {}).get(link)!;
  return {
    name, caughtBy,
    toBroker: (f, link) => {
      if (nameOf(f) === 'INIT' && f.encoding === 'json') of(link).maxFrame = json(f)['max_frame'];
      return f;
    },
    toClient: (f, link) => {
      if (nameOf(f) === 'INIT_ACK') Object.assign(of(link), { clientId: json(f)['client_id'], encoding: json(f)['encoding'] });
      const key = `${String(f.header.src)}/${f.header.id}`;
      if (f.header.dst === '*' && !copied.has(key)) {
        copied.add(key);
        for (const other of link.all) if (other !== link && of(other).clientId !== f.header.src && cannotTake(f, of(other))) other.client.write(frameBytes(f));
      }
      return f;
    },
  };
}

/**
 * A broker that skips step 5 for the frames it forwards (ENC-3): a REASONING_REQUEST whose encoding
 * bits are `bits` (1: on a connection that did not negotiate CBOR) goes, as sent, to the client its
 * dst names instead of to the broker.
 */
function encodingUncheckedWhenRouted(bits: 1 | 2 | 3): Mutant {
  const peers = new WeakMap<Link, { clientId: unknown; encoding: unknown }>();
  return {
    name: `routed-frame-with-encoding-bits-${bits}-forwarded`,
    caughtBy: `encodings/routed-frame-encoding-checked/bits:${bits}`,
    toClient: (f, link) => {
      if (nameOf(f) === 'INIT_ACK') peers.set(link, { clientId: json(f)['client_id'], encoding: json(f)['encoding'] });
      return f;
    },
    rawToBroker: (chunk, link, forward) => {
      const whole = chunk.length > 8 && chunk.readUInt32BE(0) === chunk.length - 4;
      const picked = whole && chunk[4] === MessageType.REASONING_REQUEST && (chunk[5]! & 3) === bits && (bits > 1 || peers.get(link)?.encoding === 'json');
      const dst = picked ? (JSON.parse(chunk.subarray(8, 8 + chunk.readUInt16BE(6)).toString('utf8')) as { dst?: unknown }).dst : undefined;
      const target = link.all.find((l) => l !== link && dst !== undefined && peers.get(l)?.clientId === dst);
      if (target) target.client.write(chunk);
      else forward(chunk);
    },
  };
}

/** A broker that drops a PONG or SHUTDOWN_ACK answering none of its PINGs or its SHUTDOWN (REQ-5): the proxy swallows it. */
function unsolicitedAnswerDropped(): Mutant {
  const asked = new WeakMap<Link, Set<unknown>>();
  return {
    name: 'unsolicited-pong-or-shutdown-ack-dropped',
    caughtBy: 'requests/unsolicited-pong-and-shutdown-ack-refused',
    toClient: (f, link) => {
      if (nameOf(f) === 'PING' || nameOf(f) === 'SHUTDOWN') asked.set(link, (asked.get(link) ?? new Set()).add(f.header.id));
      return f;
    },
    toBroker: (f, link) => ((nameOf(f) === 'PONG' || nameOf(f) === 'SHUTDOWN_ACK') && !asked.get(link)?.has(f.header.re) ? null : f),
  };
}

export const MUTANTS: Mutant[] = [
  {
    name: 'response-routed-to-the-wrong-client',
    caughtBy: 'requests/route-and-correlate',
    toClient: (f, link) => {
      if (nameOf(f) !== 'REASONING_RESPONSE') return f;
      const other = link.all.find((l) => l !== link);
      other?.client.write(frameBytes(f));
      return 'handled';
    },
  },
  {
    name: 're-not-echoed',
    caughtBy: 'requests/id-echoed-verbatim/id:zero',
    toClient: (f) => (nameOf(f) === 'REASONING_RESPONSE' ? { ...f, header: { ...f.header, re: `${f.header.re}-x` } } : f),
  },
  {
    // JSON escapes lost when the answer's re holds nothing but a quote (the fast path that writes plain ids as they are).
    name: 're-quote-unescaped',
    caughtBy: 'requests/id-echoed-verbatim/id:quote',
    toClient: (f) => (nameOf(f) === 'REASONING_RESPONSE' && f.header.re === '"' ? { ...f, header: { ...f.header, re: "'" } } : f),
  },
  {
    // A notification whose id needs escaping never delivered (a header the broker cannot write).
    name: 'notification-with-escaped-id-lost',
    caughtBy: 'requests/notification-forwarded-whatever-its-id/id:backslash',
    toClient: (f) => (nameOf(f) === 'DISAGREEMENT_SIGNAL' && f.header.id.includes('\\') ? null : f),
  },
  {
    // The broker's own time, or none, in place of the sender's ts (REQ-21).
    name: 'ts-dropped',
    caughtBy: 'requests/ts-forwarded-unchanged',
    toClient: (f) => {
      if (f.header.ts === undefined) return f;
      const { ts: _ts, ...header } = f.header;
      return { ...f, header };
    },
  },
  {
    // A src that needs escaping written as it is, then read back without its quote (REQ-13, BODY-7): the
    // fast path for plain headers taken for an id it cannot write.
    name: 'src-needing-escapes-garbled',
    caughtBy: 'requests/client-id-needing-escapes-routed-both-ways',
    toClient: (f) => (f.header.src?.includes('"') ? { ...f, header: { ...f.header, src: f.header.src.replace('"', '') } } : f),
  },
  // The test for a name that needs escaping made for one kind of character beside others only: a name
  // of quotes alone, backslashes alone or non-ASCII text alone goes down the fast path and is written
  // unreadable, so the frame never reaches its client as a frame (REQ-13, BODY-7).
  ...([
    ['quotes', /^"+$/],
    ['backslashes', /^\\+$/],
    ['non-ascii', /^[^\x00-\x7f]+$/],
  ] as const).map(([kind, oneKind]): Mutant => ({
    name: `name-of-${kind}-alone-unreadable`,
    caughtBy: `requests/client-id-of-one-escaped-kind-routed-both-ways/id:${kind}`,
    toClient: (f) => (oneKind.test(f.header.src ?? '') || oneKind.test(f.header.dst ?? '') ? null : f),
  })),
  {
    // The report of a 5,000-character member not cut to ERROR's maxLength: the ERROR fails its own
    // schema and what goes out is a second fault about it, with no `re` and about /message (ERR-3, ERR-9).
    name: 'long-report-replaced-by-a-fault-of-its-own',
    caughtBy: 'errors/schema-violation-of-a-long-unknown-member',
    toClient: (f) => (nameOf(f) === 'ERROR' && f.header.re === 'long-member' ? withJson({ ...f, header: { id: f.header.id } }, (p) => { p['message'] = 'the ERROR does not match its schema'; p['details'] = { path: '/message', rule: 'maxLength' }; }) : f),
  },
  {
    // ts kept on the fast path only: a header with a name that needs escaping loses it (REQ-21).
    // requests/ts-forwarded-unchanged, whose client ids are plain, does not see it.
    name: 'ts-dropped-beside-a-name-needing-escapes',
    caughtBy: 'requests/ts-forwarded-unchanged-to-and-from-a-client-id-needing-escapes',
    toClient: (f) => {
      if (f.header.ts === undefined || !/["\\]/.test(`${f.header.src ?? ''}${f.header.dst ?? ''}`)) return f;
      const { ts: _ts, ...header } = f.header;
      return { ...f, header };
    },
  },
  {
    name: 'pong-without-re',
    caughtBy: 'handshake/pong-echoes-id/id:space',
    toClient: (f) => {
      if (nameOf(f) !== 'PONG') return f;
      const { re: _re, ...header } = f.header;
      return { ...f, header };
    },
  },
  {
    name: 'oversized-length-buffered',
    caughtBy: 'framing/4gib-length-refused-on-prefix',
    // Waits for the announced 4 GiB body instead of refusing the prefix.
    rawToBroker: (chunk, _link, forward) => {
      if (chunk.length >= 4 && chunk.readUInt32BE(0) === 0xffffffff) return;
      forward(chunk);
    },
  },
  {
    name: 'request-dropped-on-disconnect',
    caughtBy: 'handshake/peer-gone-on-disconnect',
    toClient: (f) => (isError(f, 'PEER_GONE') ? null : f),
  },
  {
    name: 'src-not-overwritten',
    caughtBy: 'requests/route-and-correlate',
    toClient: (f) => (nameOf(f) === 'REASONING_REQUEST' ? { ...f, header: { ...f.header, src: 'forged-src' } } : f),
  },
  {
    name: 'wrong-error-code-for-unknown-type',
    caughtBy: 'errors/type-unknown:0x0a',
    toClient: (f) => (isError(f, 'UNKNOWN_TYPE') ? withJson(f, (p) => { p['code'] = 'INTERNAL'; p['definite'] = false; }) : f),
  },
  {
    name: 'payload-re-encoded-in-transit',
    caughtBy: 'requests/payload-forwarded-byte-for-byte',
    toClient: (f) => (nameOf(f) === 'REASONING_REQUEST' && f.encoding === 'json' ? withJson(f, () => undefined) : f),
  },
  {
    name: 'payload-value-changed-in-transit',
    caughtBy: 'requests/prop-routed-payloads-arrive-equal/encoding:json',
    toClient: (f) => (nameOf(f) === 'REASONING_REQUEST' && f.encoding === 'json' ? withJson(f, (p) => { p['context'] = `${String(p['context'])}!`; }) : f),
  },
  {
    name: 'answer-delivered-twice',
    caughtBy: 'requests/many-in-flight-no-cross-talk',
    toClient: (f, link) => {
      if (nameOf(f) === 'REASONING_RESPONSE') link.client.write(frameBytes(f));
      return f;
    },
  },
  {
    name: 'init-ack-names-another-client',
    caughtBy: 'handshake/init-ack-fields',
    toClient: (f) => (nameOf(f) === 'INIT_ACK' ? withJson(f, (p) => { p['client_id'] = `${String(p['client_id'])}-other`; }) : f),
  },
  {
    name: 'unknown-destination-ignored',
    caughtBy: 'requests/unknown-destination',
    toClient: (f) => (isError(f, 'UNKNOWN_DESTINATION') ? null : f),
  },
  {
    name: 'in-flight-limit-not-enforced',
    caughtBy: 'limits/in-flight-limit',
    toClient: (f) => (isError(f, 'OVERLOADED') ? null : f),
  },
  // First frames that are not a well-formed INIT, each answered by the wrong check step (section 8).
  { name: 'first-frame-of-unknown-type-faults', caughtBy: 'handshake/first-frame-unknown-type', toClient: firstFrameRecode('UNKNOWN_TYPE', 'INTERNAL') },
  { name: 'first-frame-in-cbor-refused-by-the-lifecycle', caughtBy: 'handshake/first-frame-cbor/type:INSTRUMENT_COMMAND', toClient: firstFrameRecode('UNSUPPORTED_ENCODING', 'PROTOCOL_VIOLATION') },
  { name: 'first-frame-lifecycle-before-its-payload', caughtBy: 'handshake/first-frame-schema-fault/type:STATS_REQUEST', toClient: firstFrameRecode('SCHEMA_VIOLATION', 'PROTOCOL_VIOLATION') },
  { name: 'undecodable-init-faults', caughtBy: 'handshake/init-payload-not-json', toClient: firstFrameRecode('INVALID_PAYLOAD', 'INTERNAL') },
  { name: 'numeric-version-read-as-a-version', caughtBy: 'handshake/init-version-not-a-string', toClient: firstFrameRecode('SCHEMA_VIOLATION', 'VERSION_MISMATCH') },
  { name: 'routed-first-frame-payload-checked', caughtBy: 'handshake/first-frame-routed-payload-unchecked', toClient: firstFrameRecode('PROTOCOL_VIOLATION', 'SCHEMA_VIOLATION') },
  brokerIdTaken(),
  unsolicitedAnswerDropped(),
  {
    // A routed-only request without dst handled as addressed to the broker (REQ-8).
    name: 'routed-request-without-dst-unsupported',
    caughtBy: 'requests/routed-request-without-dst',
    toBroker: (f, link) => (nameOf(f) === 'REASONING_REQUEST' && f.header.dst === undefined ? refuse(f, link, 'UNSUPPORTED') : f),
  },
  brokerIdUnresolved(),
  absentDstBroadcast(),
  (() => {
    // A broker that drops an answer of the wrong type to a forwarded request without a word (REQ-5).
    const asked = new WeakMap<Link, Set<unknown>>();
    return {
      name: 'wrong-response-type-dropped',
      caughtBy: 'requests/wrong-response-type-refused',
      toClient: (f, link) => {
        if (nameOf(f) === 'REASONING_REQUEST') asked.set(link, (asked.get(link) ?? new Set()).add(f.header.id));
        return f;
      },
      toBroker: (f, link) => (nameOf(f) === 'ACK' && asked.get(link)?.has(f.header.re) ? null : f),
    } satisfies Mutant;
  })(),
  encodingUncheckedWhenRouted(2),
  encodingUncheckedWhenRouted(3),
  encodingUncheckedWhenRouted(1),
  broadcastToAll('cbor-broadcast-to-json-only-clients', 'requests/broadcast-skips-who-cannot-take-it/by:encoding', (f, peer) => f.encoding === 'cbor' && peer.encoding === 'json'),
  broadcastToAll('broadcast-past-a-clients-max-frame', 'requests/broadcast-skips-who-cannot-take-it/by:max-frame', (f, peer) => typeof peer.maxFrame === 'number' && frameBytes(f).length - 4 > peer.maxFrame),
  {
    name: 'dispatch-payload-re-encoded',
    caughtBy: 'registry/dispatch-payload-negative-zero-unchanged',
    toClient: (f) => (nameOf(f) === 'SERVICE_DISPATCH' && f.encoding === 'json' ? withJson(f, () => undefined) : f),
  },
  {
    name: 'dispatch-to-a-gone-service-faults',
    caughtBy: 'registry/dispatch-to-a-service-gone-before-its-attempt',
    toClient: (f) => (isError(f, 'SERVICE_NOT_FOUND') ? withJson(f, (p) => { p['code'] = 'INTERNAL'; }) : f),
  },
  refusedInitKeptOpen(),
  framesAfterClosingFaultHandled(),
  diesOfAClientReset(),
  handshakeBudgetAfterInitAck(),
  trickledFirstFrameCountedAgain(),
  faultyErrorAnswered(),
  notificationsCounted(),
  serviceNamedLikeTheBroker(),
  {
    // A broker that acknowledges SERVICE_UNREGISTER and keeps the service (SYS-1): the proxy ACKs in its place.
    name: 'unregister-acked-service-kept',
    caughtBy: 'registry/unregistered-service-gone',
    toBroker: (f, link) => {
      if (nameOf(f) !== 'SERVICE_UNREGISTER') return f;
      link.client.write(frameBytes({ code: MessageType.ACK, header: { id: `proxy-${f.header.id}`, re: f.header.id }, encoding: f.encoding, payload: f.encoding === 'json' ? bytes.encode('{}') : Uint8Array.of(0xa0) }));
      return 'handled';
    },
  },
];

/**
 * A broker that answers a refused ERROR frame like any other (ERR-6): an ERROR with the reserved encoding
 * bits 2 gets UNSUPPORTED_ENCODING. The proxy cannot parse such a frame, so it looks at the raw bytes
 * (a test-proxy simplification: the case writes the frame as one chunk of its own).
 */
function faultyErrorAnswered(): Mutant {
  return {
    name: 'faulty-error-answered',
    caughtBy: 'errors/faulty-error-not-answered/fault:encoding-reserved',
    rawToBroker: (chunk, link, forward) => {
      const length = chunk.length >= 8 ? chunk.readUInt32BE(0) + 4 : Infinity;
      if (length > chunk.length || chunk[4] !== MessageType.ERROR || (chunk[5]! & 3) !== 2) { forward(chunk); return; }
      const header = JSON.parse(text.decode(chunk.subarray(8, 8 + chunk.readUInt16BE(6)))) as { id: string };
      refuse({ code: MessageType.ERROR, header: { id: header.id }, encoding: 'json', payload: new Uint8Array(0) }, link, 'UNSUPPORTED_ENCODING');
      if (length < chunk.length) forward(chunk.subarray(length)); // the frames written after it, such as the case's PING
    },
  };
}

/** A broker that counts routed notifications as requests in flight (REQ-2, LIM-7): the proxy refuses the request past the limit. */
function notificationsCounted(): Mutant {
  const notes = new WeakMap<Link, number>();
  const limit = new WeakMap<Link, number>();
  return {
    name: 'notifications-counted-in-flight',
    caughtBy: 'requests/notifications-to-a-client-not-counted',
    toClient: (f, link) => {
      if (nameOf(f) === 'INIT_ACK') limit.set(link, json(f)['max_in_flight'] as number);
      return f;
    },
    toBroker: (f, link) => {
      if (nameOf(f) === 'DISAGREEMENT_SIGNAL' && f.header.dst !== undefined && f.header.dst !== '*') notes.set(link, (notes.get(link) ?? 0) + 1);
      const max = limit.get(link) ?? DEFAULT_LIMITS.max_in_flight;
      if (nameOf(f) === 'REASONING_REQUEST' && (notes.get(link) ?? 0) >= max) return refuse(f, link, 'OVERLOADED', { limit: max });
      return f;
    },
  };
}

/** A broker that registers a service named like itself (REG-1). */
function serviceNamedLikeTheBroker(): Mutant {
  return brokerIdAccepted('service-named-like-the-broker-accepted', 'registry/service-named-like-the-broker-refused', 'SERVICE_REGISTER',
    (p) => (typeof p['service'] === 'object' && p['service'] !== null ? [p['service'] as Record<string, unknown>, 'name'] : undefined));
}

/** ERROR OVERLOADED from the proxy, then the close, as a broker refusing under HS-21 would. */
function overloadedAndClose(link: Link): void {
  const payload = bytes.encode(JSON.stringify({ code: 'OVERLOADED', message: 'injected by the variant', definite: true, details: { limit: DEFAULT_LIMITS.max_handshake_bytes } }));
  link.client.end(frameBytes({ code: MessageType.ERROR, header: { id: 'proxy-overloaded' }, encoding: 'json', payload }));
}

/**
 * A broker that counts an open client's frame in progress against max_handshake_bytes (HS-21): a frame
 * whose length prefix is above 4 MiB, on a connection past INIT_ACK, is refused and the connection closed.
 * (A test-proxy simplification: the prefix starts its chunk, as the case writes it.)
 */
function handshakeBudgetAfterInitAck(): Mutant {
  const opened = new WeakSet<Link>();
  const refused = new WeakSet<Link>();
  return {
    name: 'handshake-budget-applied-after-init-ack',
    caughtBy: 'handshake/handshake-budget-ends-at-init-ack',
    toClient: (f, link) => {
      if (nameOf(f) === 'INIT_ACK') opened.add(link);
      return f;
    },
    rawToBroker: (chunk, link, forward) => {
      if (!refused.has(link) && opened.has(link) && chunk.length >= 4 && chunk.readUInt32BE(0) > DEFAULT_LIMITS.max_handshake_bytes) {
        refused.add(link);
        overloadedAndClose(link);
      }
      if (!refused.has(link)) forward(chunk);
    },
  };
}

/**
 * A broker that counts a first frame's bytes again at each read (HS-21): a connection without INIT_ACK
 * whose first frame arrives in more than 32 reads is refused with OVERLOADED.
 */
function trickledFirstFrameCountedAgain(): Mutant {
  const reads = new WeakMap<Link, number>();
  const opened = new WeakSet<Link>();
  return {
    name: 'trickled-first-frame-counted-again',
    caughtBy: 'handshake/trickled-first-frame-counted-once',
    toClient: (f, link) => {
      if (nameOf(f) === 'INIT_ACK' || nameOf(f) === 'ERROR') opened.add(link);
      return f;
    },
    rawToBroker: (chunk, link, forward) => {
      if (opened.has(link)) return forward(chunk);
      const n = (reads.get(link) ?? 0) + 1;
      reads.set(link, n);
      if (n === 33) overloadedAndClose(link);
      if (n < 33) forward(chunk);
    },
  };
}

/**
 * A broker with no error listener on its sockets, run as its own process without a last-resort handler:
 * a client's reset kills it. The proxy drops every connection then and refuses every later one.
 */
function diesOfAClientReset(): Mutant {
  let dead = false;
  return {
    name: 'dies-of-a-client-reset',
    caughtBy: 'handshake/reset-while-written-is-a-disconnect',
    clientError: (_e, link) => {
      dead = true;
      for (const l of [...link.all]) l.client.destroy();
    },
    rawToBroker: (chunk, link, forward) => (dead ? link.client.destroy() : forward(chunk)),
  };
}

/**
 * A broker that closes after a refused first frame only when the error closes (HS-3): the proxy answers an
 * INIT without `role` with SCHEMA_VIOLATION itself and keeps the connection, so the next INIT is accepted.
 */
function refusedInitKeptOpen(): Mutant {
  const opened = new WeakSet<Link>();
  return {
    name: 'refused-first-frame-kept-open',
    caughtBy: 'handshake/refused-init-closes-before-a-retry',
    toClient: (f, link) => {
      if (nameOf(f) === 'INIT_ACK') opened.add(link);
      return f;
    },
    toBroker: (f, link) => (!opened.has(link) && nameOf(f) === 'INIT' && f.encoding === 'json' && !('role' in json(f)) ? refuse(f, link, 'SCHEMA_VIOLATION') : f),
  };
}

/**
 * A broker that acts on the frames after a closing fault in the same read (ERR-4): an open client's write
 * that starts with a second INIT reaches the broker with the INIT moved last, so the frames behind it are
 * handled before the fault.
 */
function framesAfterClosingFaultHandled(): Mutant {
  const opened = new WeakSet<Link>();
  return {
    name: 'frames-after-a-closing-fault-handled',
    caughtBy: 'errors/closing-fault-ends-the-read',
    toClient: (f, link) => {
      if (nameOf(f) === 'INIT_ACK') opened.add(link);
      return f;
    },
    rawToBroker: (chunk, link, forward) => {
      const frames: Buffer[] = [];
      for (let at = 0; at + 4 <= chunk.length && at + 4 + chunk.readUInt32BE(at) <= chunk.length; at += 4 + chunk.readUInt32BE(at)) frames.push(chunk.subarray(at, at + 4 + chunk.readUInt32BE(at)));
      const whole = frames.reduce((n, f) => n + f.length, 0) === chunk.length;
      if (opened.has(link) && whole && frames.length > 1 && frames[0]![4] === MessageType.INIT) forward(Buffer.concat([...frames.slice(1), frames[0]!]));
      else forward(chunk);
    },
  };
}
