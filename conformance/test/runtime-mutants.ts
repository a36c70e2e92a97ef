/**
 * Broker variants with one runtime defect each (heartbeat, handshake timer, drain, timeouts, order,
 * STATS, check order, limits, versions), made by a proxy in front of the reference broker, and the
 * cases that must catch them. Factories: every run gets fresh state.
 */
import { MessageType } from '../../spec/generated/catalog.js';
import { frame, jsonOf, rframeBytes, withJson, type RFrame, type RLink, type RuntimeVariant } from './runtime-proxy.js';

const isError = (f: RFrame, code: string): boolean => f.name === 'ERROR' && jsonOf(f)['code'] === code;
const isPing = (f: RFrame): boolean => f.name === 'PING' && f.header.re === undefined;
const errorFrame = (re: string | undefined, code: string, definite = true, details?: Record<string, unknown>): RFrame =>
  frame('ERROR', MessageType.ERROR, { id: `proxy-${Math.random().toString(36).slice(2)}`, ...(re !== undefined ? { re } : {}) }, { code, message: 'injected by the variant', definite, ...(details ? { details } : {}) });
const recode = (from: string, to: string, definite?: boolean): ((f: RFrame) => RFrame) => (f) =>
  (isError(f, from) ? withJson(f, (p) => { p['code'] = to; if (definite !== undefined) p['definite'] = definite; }) : f);
const count = (link: RLink, key: string): number => (link.state[key] = ((link.state[key] as number | undefined) ?? 0) + 1) as number;

/** The frames of one raw chunk (a harness write), or null when it does not split into whole frames. */
function framesOf(chunk: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 4 <= chunk.length) {
    const n = chunk.readUInt32BE(at);
    if (n === 0 || at + 4 + n > chunk.length) return null;
    out.push(chunk.subarray(at, at + 4 + n));
    at += 4 + n;
  }
  return at === chunk.length ? out : null;
}

/** Type, flags and header of a raw frame, parsed leniently (no limits). */
function rawHeader(f: Buffer): { type: number; flags: number; header: Record<string, unknown>; payload: Buffer } | null {
  if (f.length < 8) return null;
  const hlen = f.readUInt16BE(6);
  try {
    return { type: f[4]!, flags: f[5]!, header: JSON.parse(f.subarray(8, 8 + hlen).toString('utf8')) as Record<string, unknown>, payload: f.subarray(8 + hlen) };
  } catch {
    return null;
  }
}

function rebuild(type: number, flags: number, header: Record<string, unknown>, payload: Buffer): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const body = Buffer.concat([Buffer.of(type, flags, h.length >> 8, h.length & 0xff), h, payload]);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(body.length);
  return Buffer.concat([prefix, body]);
}

/**
 * A broker that counts frames of the kinds `refuses` picks against max_in_flight (LIM-7 never refuses
 * PING or SHUTDOWN and counts requests only): the proxy tracks the client's open REASONING_REQUESTs and
 * answers such a frame at the announced limit with OVERLOADED itself.
 */
const refusedAtInFlightLimit = (name: string, refuses: (f: RFrame) => boolean) => (): RuntimeVariant => ({
  name, caughtBy: ['limits/ping-and-shutdown-at-in-flight-limit'],
  toBroker: (f, link) => {
    const open = (link.state['open'] ??= new Set<string>()) as Set<string>;
    if (f.name === 'REASONING_REQUEST') open.add(f.header.id);
    else if (refuses(f) && open.size >= (link.state['maxInFlight'] as number)) {
      link.toClient(errorFrame(f.header.id, 'OVERLOADED', true, { limit: link.state['maxInFlight'] }));
      return 'handled';
    }
    return f;
  },
  toClient: (f, link) => {
    if (f.name === 'INIT_ACK') link.state['maxInFlight'] = jsonOf(f)['max_in_flight'];
    if (f.header.re !== undefined) (link.state['open'] as Set<string> | undefined)?.delete(f.header.re);
    return f;
  },
});

export const RUNTIME_VARIANTS: (() => RuntimeVariant)[] = [
  () => ({
    // An answer too large for its requester dropped without a word to the one who sent it (REQ-11, LIM-2).
    name: 'answer-past-requester-max-frame-dropped', caughtBy: ['requests/answer-past-requester-max-frame-overloaded'],
    toBroker: (f, link) => {
      if (f.name === 'REASONING_RESPONSE') ((link.state['answers'] ??= new Set<string>()) as Set<string>).add(f.header.id);
      return f;
    },
    toClient: (f, link) => (isError(f, 'OVERLOADED') && (link.state['answers'] as Set<string> | undefined)?.has(String(f.header.re)) ? null : f),
  }),
  refusedAtInFlightLimit('ping-refused-at-in-flight-limit', isPing),
  refusedAtInFlightLimit('shutdown-refused-at-in-flight-limit', (f) => f.name === 'SHUTDOWN'),
  refusedAtInFlightLimit('notification-refused-at-in-flight-limit', (f) => f.name === 'INSTRUMENT_EVENT'),
  () => ({
    // An ERROR that quotes the INIT it refuses, token and all.
    name: 'error-quotes-the-init', caughtBy: ['security/token-never-echoed'],
    toBroker: (f, link) => {
      if (f.name === 'INIT') link.state['init'] = jsonOf(f);
      return f;
    },
    toClient: (f, link) => (f.name === 'ERROR' && link.state['init'] ? withJson(f, (p) => { p['details'] = { ...(p['details'] as object | undefined), init: link.state['init'] }; }) : f),
  }),
  () => ({
    // STATS_RESPONSE's 1.1 field `cluster`, well formed, sent on every session, 1.0 ones included: payload
    // objects are closed, so a 1.0 peer refuses it. Only the field's `since` tells it from a valid answer.
    name: 'stats-with-a-later-field', caughtBy: ['versioning/nothing-later-than-negotiated'],
    toClient: (f) => (f.name === 'STATS_RESPONSE' ? withJson(f, (p) => { p['cluster'] = [{ broker_id: String(p['broker_id']), clients: 1 }]; }) : f),
  }),
  () => ({
    name: 'never-pings', caughtBy: ['handshake/ping-after-each-heartbeat-of-silence', 'handshake/three-unanswered-pings-close'],
    toClient: (f) => (isPing(f) ? null : f),
  }),
  () => ({
    name: 'pings-once', caughtBy: ['handshake/ping-after-each-heartbeat-of-silence'],
    toClient: (f, link) => (isPing(f) && count(link, 'pings') > 1 ? null : f),
  }),
  () => ({
    name: 'announces-another-heartbeat', caughtBy: ['limits/heartbeat-as-configured', 'handshake/ping-after-each-heartbeat-of-silence'],
    toClient: (f) => (f.name === 'INIT_ACK' ? withJson(f, (p) => { p['heartbeat_ms'] = (p['heartbeat_ms'] as number) * 4; }) : f),
  }),
  () => ({
    name: 'closes-at-the-third-ping', caughtBy: ['handshake/three-unanswered-pings-close'],
    toClient: (f, link) => {
      if (isPing(f) && count(link, 'pings') === 3) setTimeout(() => link.client.destroy(), 10);
      return f;
    },
  }),
  () => ({
    name: 'never-closes-a-silent-client', caughtBy: ['handshake/three-unanswered-pings-close'],
    // The proxy answers the broker's PINGs itself: the client stays silent, the broker never closes.
    toClient: (f, link) => {
      if (isPing(f)) link.toBroker(frame('PONG', MessageType.PONG, { id: `proxy-pong-${count(link, 'pongs')}`, re: f.header.id }, undefined));
      return f;
    },
  }),
  () => ({
    name: 'pongs-not-counted', caughtBy: ['handshake/answered-pings-keep-the-connection'],
    toBroker: (f) => (f.name === 'PONG' && f.header.id.startsWith('pong-') ? null : f),
  }),
  () => ({
    name: 'only-pongs-count-as-liveness', caughtBy: ['handshake/any-frame-counts-as-liveness'],
    // The client's own PINGs never reach the broker (the proxy answers them), as if they did not count.
    toBroker: (f, link) => {
      if (isPing(f) && f.header.id.startsWith('own-ping-')) {
        link.toClient(frame('PONG', MessageType.PONG, { id: `proxy-${f.header.id}`, re: f.header.id }, undefined));
        return 'handled';
      }
      return f;
    },
  }),
  () => ({
    name: 'no-handshake-timer', caughtBy: ['limits/handshake-timeout/no-frame', 'limits/handshake-timeout/partial-init', 'limits/handshake-timeout/trickled-init'],
    lazyUpstream: true,
  }),
  () => ({
    name: 'handshake-timer-not-stopped', caughtBy: ['limits/handshake-timeout/init-in-time-stays-open'],
    onConnect: (link) => { setTimeout(() => link.client.destroy(), 1000).unref(); },
  }),
  () => ({
    name: 'max-in-flight-not-announced', caughtBy: ['limits/announced-limits'],
    toClient: (f) => (f.name === 'INIT_ACK' ? withJson(f, (p) => { delete p['max_in_flight']; }) : f),
  }),
  () => ({
    name: 'drain-does-not-wait', caughtBy: ['handshake/shutdown-drain-awaits-answers', 'handshake/shutdown-drain-awaits-requests-forwarded-to-it', 'handshake/shutdown-refuses-new-requests'],
    // drain_ms forced to 0. A conforming broker may still deliver an answer that beats its 1 ms timer, so
    // the frames the client sends after SHUTDOWN (the case's PING) are held 50 ms: the drain has
    // certainly run out before the case lets the responder answer.
    toBroker: (f, link) => {
      if (f.name === 'SHUTDOWN') { link.state['drained'] = true; return withJson(f, (p) => { p['drain_ms'] = 0; }); }
      if (!link.state['drained']) return f;
      const after = ((link.state['after'] as Promise<void> | undefined) ?? Promise.resolve()).then(() => new Promise<void>((ok) => setTimeout(ok, 50)));
      link.state['after'] = after.then(() => link.toBroker(f));
      return 'handled';
    },
  }),
  () => ({
    name: 'shutdown-ack-miscounted', caughtBy: ['handshake/shutdown-drain-awaits-answers', 'handshake/shutdown-drain-times-out'],
    toClient: (f) => (f.name === 'SHUTDOWN_ACK' ? withJson(f, (p) => { p['drained'] = (p['drained'] as number) + 1; }) : f),
  }),
  () => ({
    name: 'shutdown-takes-effect-late', caughtBy: ['handshake/shutdown-refuses-new-requests', 'requests/pipelined-frames-in-order/shutdown-then-request', 'errors/first-failing-step-wins/faults:lifecycle-and-routing'],
    // SHUTDOWN is held until the next request from the same client has gone through.
    toBroker: (f, link) => {
      if (f.name === 'SHUTDOWN') { link.state['held'] = f; return 'handled'; }
      const held = link.state['held'] as RFrame | undefined;
      if (held && f.name !== 'PING' && f.name !== 'PONG') {
        link.state['held'] = undefined;
        link.toBroker(f);
        link.toBroker(held);
        return 'handled';
      }
      return f;
    },
  }),
  () => ({
    name: 'request-to-draining-client-dropped', caughtBy: ['handshake/shutdown-refuses-new-requests'],
    toClient: (f) => (f.name === 'ERROR' && f.header.re === 'to-draining' ? null : f),
  }),
  () => ({
    name: 'draining-refuses-notifications', caughtBy: ['handshake/shutdown-leaves-notifications-alone'],
    // HS-13 applied to every frame, not just requests: once the client has sent SHUTDOWN, its routed
    // notifications are answered with SHUTTING_DOWN and never forwarded.
    toBroker: (f, link) => {
      if (f.name === 'SHUTDOWN') link.state['draining'] = true;
      if (!link.state['draining'] || f.name !== 'DISAGREEMENT_SIGNAL') return f;
      link.toClient(errorFrame(f.header.id, 'SHUTTING_DOWN', true, { statement: 'HS-13' }));
      return 'handled';
    },
  }),
  () => {
    // A drain that counts the requests the broker forwards only: the client's SERVICE_DISPATCH, which the
    // broker answers itself, is left out, and the SHUTDOWN is acknowledged at once and the client closed (HS-14).
    const dispatches = new Map<RLink, Set<string>>();
    const open = (link: RLink): Set<string> => dispatches.get(link) ?? dispatches.set(link, new Set()).get(link)!;
    return {
      name: 'drain-ignores-requests-the-broker-answers', caughtBy: ['handshake/shutdown-drain-awaits-a-dispatch', 'handshake/shutdown-drain-times-out-a-dispatch'],
      toBroker: (f, link) => {
        if (f.name === 'SERVICE_DISPATCH') open(link).add(f.header.id);
        if (f.name !== 'SHUTDOWN' || open(link).size === 0) return f;
        link.toClient(frame('SHUTDOWN_ACK', MessageType.SHUTDOWN_ACK, { id: `proxy-${f.header.id}`, re: f.header.id }, { drained: 0, timed_out: 0 }));
        setImmediate(() => link.client.end());
        return 'handled';
      },
      toClient: (f, link) => {
        if (f.header.re !== undefined) open(link).delete(f.header.re);
        return f;
      },
    };
  },
  () => ({
    // A broker that times a request's end with a clock it reads only inside its reads: a request ended by
    // its target's close (PEER_GONE) records a latency that is not a number, and the requester's
    // STATS_RESPONSE then fails its own schema and is never sent (SYS-2).
    name: 'stats-lost-after-peer-gone', caughtBy: ['msg-system/stats-after-a-request-ended-by-peer-gone'],
    toClient: (f, link) => {
      if (f.name === 'ERROR' && f.header.re === 'ended-by-close') link.state['ended'] = true;
      return f.name === 'STATS_RESPONSE' && link.state['ended'] === true ? null : f;
    },
  }),
  () => ({
    // A broker whose client drain is not told when a BUS_QUERY it answers settles: the drain ends only
    // at its drain_ms (HS-14, HS-15). The proxy withholds the SHUTDOWN_ACK that follows a query's result.
    name: 'drain-blind-to-a-settled-bus-query', caughtBy: ['handshake/shutdown-drain-awaits-a-bus-query'],
    toClient: (f, link) => {
      if (f.name === 'BUS_QUERY_RESULT') link.state['answered'] = true;
      return f.name === 'SHUTDOWN_ACK' && link.state['answered'] === true ? null : f;
    },
  }),
  () => ({
    // A broker that stamps a PEER_GONE answer's departure with the time of its last read, before the
    // target's close: the latency of such a request reads as about nothing (SYS-3).
    name: 'latency-of-peer-gone-stamped-at-the-last-read', caughtBy: ['msg-system/stats-latency-of-a-request-ended-by-peer-gone'],
    toClient: (f, link) => {
      if (f.name === 'ERROR' && jsonOf(f)['code'] === 'PEER_GONE') link.state['gone'] = true;
      return f.name === 'STATS_RESPONSE' && link.state['gone'] === true
        ? withJson(f, (p) => { for (const c of p['clients'] as Record<string, unknown>[]) Object.assign(c, { latency_p50_us: 3, latency_p99_us: 3 }); })
        : f;
    },
  }),
  () => ({
    // A broker whose ring of latency samples overflows its count past 1,024: p99's rank falls outside the
    // samples and is left out (SYS-3).
    name: 'latency-p99-lost-past-the-ring', caughtBy: ['msg-system/stats-latency-after-many-answers'],
    toClient: (f, link) => {
      if (f.name === 'REASONING_RESPONSE') count(link, 'answers');
      return f.name === 'STATS_RESPONSE' && ((link.state['answers'] as number | undefined) ?? 0) > 1024
        ? withJson(f, (p) => { for (const c of p['clients'] as Record<string, unknown>[]) delete c['latency_p99_us']; })
        : f;
    },
  }),
  () => ({
    // A broker whose own requests ignore a client's SHUTDOWN: a publish still reaches a draining
    // subscriber as a BUS_EVENT (HS-12). The proxy writes that event to every client that sent SHUTDOWN.
    name: 'bus-event-to-a-draining-subscriber', caughtBy: ['handshake/no-bus-event-to-a-draining-subscriber'],
    toBroker: (f, link) => {
      if (f.name === 'SHUTDOWN') link.state['draining'] = true;
      if (f.name !== 'BUS_PUBLISH') return f;
      const eventType = jsonOf(f)['event_type'];
      for (const l of link.all) {
        if (l.state['draining'] === true) l.toClient(frame('BUS_EVENT', MessageType.BUS_EVENT, { id: `proxy-event-${f.header.id}`, src: 'proxy' }, { subscription_id: 'proxy-sub', event_type: eventType, publisher: 'proxy' }));
      }
      return f;
    },
  }),
  () => ({
    // A broker that takes any response with the right `re` as the answer to its own request (REQ-5): the
    // provider's ACK to a SERVICE_DISPATCH ends the dispatch and is never refused. The proxy keeps the ACK
    // from the broker, so no refusal comes.
    name: 'any-response-answers-the-brokers-request', caughtBy: ['requests/wrong-response-type-to-the-brokers-request-refused'],
    toClient: (f, link) => {
      if (f.name === 'SERVICE_DISPATCH') link.state[`asked:${f.header.id}`] = true;
      return f;
    },
    toBroker: (f, link) => (f.name === 'ACK' && link.state[`asked:${String(f.header.re)}`] === true ? null : f),
  }),
  () => ({
    name: 'drain-ignores-the-clients-drain-ms', caughtBy: ['handshake/shutdown-drain-times-out'],
    toBroker: (f) => (f.name === 'SHUTDOWN' ? withJson(f, (p) => { delete p['drain_ms']; }) : f),
  }),
  () => ({
    // The drain of the responder B leaves the request forwarded to it open: A hears nothing at the drain's end.
    name: 'drain-leaves-forwarded-requests-open', caughtBy: ['handshake/shutdown-drain-times-out-requests-forwarded-to-it'],
    toClient: (f) => (isError(f, 'TIMEOUT') && f.header.re === 'q-open' && (jsonOf(f)['details'] as Record<string, unknown> | undefined)?.['statement'] === 'HS-14' ? null : f),
  }),
  () => ({
    name: 'drain-never-times-out', caughtBy: ['limits/shutdown-drain-at-most-own-limit'],
    toClient: (f) => (isError(f, 'TIMEOUT') || f.name === 'SHUTDOWN_ACK' ? null : f),
  }),
  () => ({
    name: 'timeout-names-another-timeout', caughtBy: ['requests/timeout-set-by-the-payload', 'requests/timeout-at-the-catalog-timeout'],
    toClient: (f) => (isError(f, 'TIMEOUT') ? withJson(f, (p) => { p['details'] = { timeout_ms: 300_000 }; }) : f),
  }),
  () => ({
    // No TIMEOUT when a forwarded request's own timeout passes (the broker's deadline never fires).
    name: 'forwarded-request-never-times-out', caughtBy: ['requests/timeout-at-the-catalog-timeout'],
    toClient: (f) => (isError(f, 'TIMEOUT') ? null : f),
  }),
  () => {
    // One deadline list that loses entries: of several forwarded requests open at once, only the first times out.
    let timedOut = 0;
    return {
      name: 'only-the-first-open-request-times-out', caughtBy: ['requests/timeout-at-the-catalog-timeout'],
      toClient: (f: RFrame) => (isError(f, 'TIMEOUT') && timedOut++ > 0 ? null : f),
    };
  },
  () => ({
    name: 'request-timeout-for-every-type', caughtBy: ['requests/catalog-timeout-before-request-timeout'],
    // As if request_timeout_ms (1 ms here) applied to a type with a catalog timeout_ms of its own.
    toBroker: (f, link) => {
      if (f.name === 'REASONING_REQUEST' && f.header.dst !== undefined) setTimeout(() => link.toClient(errorFrame(f.header.id, 'TIMEOUT', false, { timeout_ms: 1 })), 5);
      return f;
    },
  }),
  () => ({
    name: 'timeout-definite', caughtBy: ['requests/timeout-set-by-the-payload'],
    toClient: (f) => (isError(f, 'TIMEOUT') ? withJson(f, (p) => { p['definite'] = true; }) : f),
  }),
  () => {
    let abandoned = false;
    return {
      name: 'late-answer-refused', caughtBy: ['requests/late-answer-discarded/after-timeout', 'requests/late-answer-discarded/after-requester-left', 'handshake/shutdown-drain-times-out'],
      onConnect: (link) => link.client.once('close', () => { abandoned = true; }),
      toClient: (f) => { if (isError(f, 'TIMEOUT')) abandoned = true; return f; },
      toBroker: (f, link) => {
        if (abandoned && (f.name === 'SERVICE_RESULT' || f.name === 'REASONING_RESPONSE')) {
          link.toClient(errorFrame(f.header.id, 'UNEXPECTED_MESSAGE', true));
          return 'handled';
        }
        return f;
      },
    };
  },
  () => {
    let timedOut: { link: RLink; re: string } | undefined;
    return {
      name: 'late-answer-delivered', caughtBy: ['requests/late-answer-discarded/after-timeout'],
      toClient: (f, link) => { if (isError(f, 'TIMEOUT') && f.header.re !== undefined) timedOut = { link, re: f.header.re }; return f; },
      toBroker: (f) => {
        if (timedOut && f.name === 'SERVICE_RESULT') timedOut.link.toClient({ ...f, header: { id: 'late-copy', re: timedOut.re } });
        return f;
      },
    };
  },
  () => ({
    name: 'pipelined-frames-swapped', caughtBy: ['requests/pipelined-frames-in-order/register-then-list', 'requests/pipelined-frames-in-order/subscribe-then-publish', 'requests/pipelined-frames-in-order/shutdown-then-request'],
    rawToBroker: (chunk, _link, forward) => {
      const frames = framesOf(chunk);
      if (frames && frames.length === 2) forward(Buffer.concat([frames[1]!, frames[0]!]));
      else forward(chunk);
    },
  }),
  () => ({
    name: 'notification-acknowledged', caughtBy: ['requests/notification-not-answered'],
    toBroker: (f, link) => {
      if (f.name === 'DISAGREEMENT_SIGNAL') link.toClient(frame('ACK', MessageType.ACK, { id: 'proxy-ack', re: f.header.id }, {}));
      return f;
    },
  }),
  () => ({
    name: 'direction-not-checked', caughtBy: ['requests/wrong-direction/type:BUS_EVENT', 'requests/wrong-direction/type:STATS_RESPONSE'],
    toClient: recode('UNEXPECTED_MESSAGE', 'UNSUPPORTED', true),
  }),
  () => ({
    name: 'cbor-forwarded-to-json-only', caughtBy: ['requests/cbor-to-json-only-destination'],
    toClient: (f, link) => { if (f.name === 'INIT_ACK') link.state['id'] = jsonOf(f)['client_id']; return f; },
    toBroker: (f, link) => {
      const dst = link.all.find((l) => l.state['id'] === f.header.dst);
      if (f.encoding !== 'cbor' || f.name !== 'REASONING_REQUEST' || !dst) return f;
      dst.toClient({ ...f, header: { ...f.header, src: String(link.state['id']) } });
      return 'handled';
    },
  }),
  () => ({
    name: 'cbor-answer-forwarded-to-json-only', caughtBy: ['requests/cbor-answer-to-json-only-requester'],
    toClient: recode('UNSUPPORTED_ENCODING', 'INTERNAL', false),
  }),
  () => ({
    name: 'oversized-refusal-names-own-limit', caughtBy: ['requests/destination-max-frame/size:past-limit'],
    toClient: (f) => (isError(f, 'OVERLOADED') ? withJson(f, (p) => { p['details'] = { limit: 16_777_216 }; }) : f),
  }),
  () => ({
    name: 'refuses-below-destination-max-frame', caughtBy: ['requests/destination-max-frame/size:at-limit'],
    toBroker: (f, link) => {
      if (f.name === 'REASONING_REQUEST' && f.payload.length > 32_768) {
        link.toClient(errorFrame(f.header.id, 'OVERLOADED', true, { limit: 65_536 }));
        return 'handled';
      }
      return f;
    },
  }),
  () => ({
    // Off by one at the limit: a frame of exactly the receiver's max_frame is held back (REQ-11, REQ-18).
    name: 'exactly-destination-max-frame-dropped',
    caughtBy: ['request', 'answer', 'broadcast', 'dispatch', 'broker-reply'].map((path) => `requests/destination-max-frame/exactly:${path}`),
    toBroker: (f, link) => {
      if (f.name === 'INIT') link.state['maxFrame'] = jsonOf(f)['max_frame'];
      return f;
    },
    toClient: (f, link) => (rframeBytes(f).length - 4 === link.state['maxFrame'] ? null : f),
  }),
  () => ({
    name: 'stats-entry-twice', caughtBy: ['msg-system/stats-one-entry-per-client'],
    toClient: (f) => (f.name === 'STATS_RESPONSE' ? withJson(f, (p) => { const c = p['clients'] as unknown[]; c.push(...c); }) : f),
  }),
  () => ({
    // Counting that misses one frame (the INIT, say) in frames_in (SYS-3).
    name: 'stats-frames-in-one-short', caughtBy: ['msg-system/stats-count-the-traffic'],
    toClient: (f) => (f.name === 'STATS_RESPONSE'
      ? withJson(f, (p) => { for (const c of p['clients'] as { frames_in: string }[]) c.frames_in = String(BigInt(c.frames_in) - 1n); })
      : f),
  }),
  () => ({
    name: 'ack-before-the-effect', caughtBy: ['msg-system/ack-after-the-effect'],
    // The registration is acknowledged at once and reaches the broker 300 ms later; its real ACK is dropped.
    toBroker: (f, link) => {
      if (f.name !== 'SERVICE_REGISTER') return f;
      link.toClient(frame('ACK', MessageType.ACK, { id: 'early-ack', re: f.header.id }, {}));
      const early = (link.state['early'] ??= new Set<string>()) as Set<string>;
      early.add(f.header.id);
      setTimeout(() => link.toBroker(f), 300);
      return 'handled';
    },
    toClient: (f, link) => (f.name === 'ACK' && f.header.re !== undefined && (link.state['early'] as Set<string> | undefined)?.has(f.header.re) ? null : f),
  }),
  () => ({
    name: 'unsupported-miscoded', caughtBy: ['errors/unsupported-known-type'],
    toClient: recode('UNSUPPORTED', 'UNKNOWN_TYPE', true),
  }),
  () => ({
    name: 'unknown-error-code-normalised', caughtBy: ['errors/unknown-error-code-forwarded'],
    toClient: recode('FUTURE_CONDITION', 'INTERNAL', false),
  }),
  () => ({
    name: 'type-checked-before-header', caughtBy: ['errors/first-failing-step-wins/faults:header-and-type'],
    toClient: recode('INVALID_HEADER', 'UNKNOWN_TYPE', true),
  }),
  () => ({
    name: 'encoding-checked-before-type', caughtBy: ['errors/first-failing-step-wins/faults:type-and-encoding'],
    toBroker: (f, link) => {
      if (f.name === undefined && f.encoding === 'cbor') { link.toClient(errorFrame(f.header.id, 'UNSUPPORTED_ENCODING', true)); return 'handled'; }
      return f;
    },
  }),
  () => ({
    name: 'payload-checked-before-encoding', caughtBy: ['errors/first-failing-step-wins/faults:encoding-and-payload'],
    toClient: recode('UNSUPPORTED_ENCODING', 'INVALID_PAYLOAD', true),
  }),
  () => ({
    name: 'direction-checked-before-schema', caughtBy: ['errors/first-failing-step-wins/faults:schema-and-direction'],
    toBroker: (f, link) => {
      if (f.code === MessageType.BUS_EVENT) { link.toClient(errorFrame(f.header.id, 'UNEXPECTED_MESSAGE', true)); return 'handled'; }
      return f;
    },
  }),
  () => ({
    name: 'max-header-off-by-one', caughtBy: ['limits/header-at-max-header-accepted', 'limits/first-frame-header-at-max-header-read'],
    rawToBroker: (chunk, link, forward) => {
      const h = chunk.length >= 8 ? chunk.readUInt16BE(6) : 0;
      if (h === 4096) { link.toClient(errorFrame(undefined, 'INVALID_HEADER', true, { path: '/header' })); return; }
      forward(chunk);
    },
  }),
  () => ({
    name: 'max-header-not-enforced', caughtBy: ['limits/header-past-max-header-refused', 'limits/first-frame-header-past-max-header-refused'],
    rawToBroker: (chunk, _link, forward) => {
      const f = chunk.length >= 8 && chunk.readUInt16BE(6) > 4096 ? rawHeader(chunk) : null;
      if (f) { f.header['pad'] = ''; forward(rebuild(f.type, f.flags, f.header, f.payload)); return; }
      forward(chunk);
    },
  }),
  () => ({
    name: 'id-limit-counts-characters', caughtBy: ['limits/id-bytes/id:129-bytes-128-chars', 'limits/id-bytes/id:130-bytes-65-chars'],
    // Ids of at most 128 characters pass, whatever their bytes: the broker sees them shortened.
    rawToBroker: (chunk, _link, forward) => {
      const f = rawHeader(chunk);
      const id = f?.header['id'];
      if (f && typeof id === 'string' && Buffer.byteLength(id) > 128 && id.length <= 128) {
        f.header['id'] = 'shortened';
        forward(rebuild(f.type, f.flags, f.header, f.payload));
        return;
      }
      forward(chunk);
    },
  }),
  () => ({
    name: 're-length-not-checked', caughtBy: ['limits/re-past-128-bytes-refused'],
    rawToBroker: (chunk, _link, forward) => {
      const f = rawHeader(chunk);
      const re = f?.header['re'];
      if (f && typeof re === 'string' && Buffer.byteLength(re) > 128) {
        f.header['re'] = 'shortened';
        forward(rebuild(f.type, f.flags, f.header, f.payload));
        return;
      }
      forward(chunk);
    },
  }),
  () => ({
    name: 'id-limit-off-by-one', caughtBy: ['limits/id-bytes/id:128-bytes-64-chars'],
    rawToBroker: (chunk, link, forward) => {
      const f = rawHeader(chunk);
      if (f && typeof f.header['id'] === 'string' && Buffer.byteLength(f.header['id']) === 128 && f.type === MessageType.PING) {
        link.toClient(errorFrame(undefined, 'INVALID_HEADER', true, { path: '/header/id' }));
        return;
      }
      forward(chunk);
    },
  }),
  () => ({
    name: 'schema-checked-before-version', caughtBy: ['versioning/major-checked-before-schema/init:missing-client-id', 'versioning/major-checked-before-schema/init:unknown-field-no-json', 'versioning/major-checked-before-schema/init:major-0'],
    toBroker: (f, link) => {
      if (f.name !== 'INIT') return f;
      const p = jsonOf(f);
      const v = String(p['protocol_version']);
      if (!v.startsWith('1.') && (p['client_id'] === undefined || p['role'] === undefined || !(p['encodings'] as string[]).includes('json') || 'future_field' in p)) {
        link.toClient(errorFrame(f.header.id, 'SCHEMA_VIOLATION', true, { path: '', rule: 'required' }));
        setTimeout(() => link.client.end(), 10);
        return 'handled';
      }
      return f;
    },
  }),
  () => {
    let shuttingDown = false;
    return {
      name: 'answers-dropped-during-broker-shutdown', caughtBy: ['handshake/broker-shutdown-drains-and-closes'], shutsDown: true,
      toClient: (f) => {
        if (f.name === 'SHUTDOWN') shuttingDown = true;
        return shuttingDown && f.name === 'REASONING_RESPONSE' ? null : f;
      },
    };
  },
  () => ({
    name: 'broker-shutdown-never-times-out', caughtBy: ['handshake/broker-shutdown-drains-and-closes'], shutsDown: true,
    toClient: (f) => (isError(f, 'TIMEOUT') ? null : f),
  }),
  () => ({
    // A broker that waits out its shutdown_drain_ms whatever the acks: the proxy keeps them from it (HS-16).
    name: 'broker-shutdown-waits-out-the-drain', caughtBy: ['handshake/broker-shutdown-ends-at-the-last-ack'], shutsDown: true,
    toBroker: (f) => (f.name === 'SHUTDOWN_ACK' ? null : f),
  }),
  () => ({
    // A broker that takes a second SHUTDOWN_ACK to its SHUTDOWN as silently as the first (REQ-5): the
    // proxy keeps every SHUTDOWN_ACK after a connection's first from it.
    name: 'second-shutdown-ack-taken-silently', caughtBy: ['handshake/broker-shutdown-second-ack-refused'], shutsDown: true,
    toBroker: (f, link) => (f.name === 'SHUTDOWN_ACK' && count(link, 'acks') > 1 ? null : f),
  }),
  () => ({
    // A broker whose drain counts a request that was answered before the shutdown as still open: it waits
    // out shutdown_drain_ms though every client acknowledged. The proxy keeps the answerer's ack from it (HS-16).
    name: 'broker-shutdown-holds-for-an-answered-request', caughtBy: ['handshake/broker-shutdown-ends-at-the-last-ack-after-ended-requests'], shutsDown: true,
    toBroker: (f, link) => {
      if (f.name === 'REASONING_RESPONSE') link.state['answered'] = true;
      return f.name === 'SHUTDOWN_ACK' && link.state['answered'] === true ? null : f;
    },
  }),
  () => {
    // A broker whose shutdown sends SHUTDOWN to every open client, one draining after its own SHUTDOWN
    // too (HS-12): the proxy copies the broker's SHUTDOWN to each client that sent SHUTDOWN.
    return {
      name: 'broker-shutdown-sent-to-a-draining-client', caughtBy: ['handshake/broker-shutdown-spares-draining-and-unopened-connections'], shutsDown: true,
      toBroker: (f, link) => {
        if (f.name === 'SHUTDOWN') link.state['draining'] = true;
        return f;
      },
      toClient: (f, link) => {
        if (f.name === 'SHUTDOWN' && f.header.re === undefined) {
          for (const other of link.all) if (other.state['draining'] === true) other.toClient({ ...f, header: { ...f.header, id: `${f.header.id}-copy` } });
        }
        return f;
      },
    };
  },
  () => {
    // A broker that leaves a connection without INIT open when it shuts down, and opens a session for its
    // INIT that it never drains (HS-17): the proxy keeps such a client connected and answers its INIT
    // with a copy of an INIT_ACK the broker gave another client.
    let initAck: RFrame | undefined;
    return {
      name: 'unopened-connection-kept-at-shutdown', caughtBy: ['handshake/broker-shutdown-spares-draining-and-unopened-connections'], shutsDown: true,
      keepsClient: (link) => {
        link.state['brokerGone'] = true;
        if (link.state['opened'] === true) return false;
        // An INIT that met the broker's close unanswered gets its INIT_ACK now.
        const pending = link.state['pendingInit'] as string | undefined;
        if (pending !== undefined && initAck !== undefined) link.toClient({ ...initAck, header: { id: 'forged-ack', re: pending } });
        return true;
      },
      toBroker: (f, link) => {
        if (f.name !== 'INIT') return f;
        if (link.state['brokerGone'] !== true) {
          link.state['pendingInit'] = f.header.id;
          return f;
        }
        if (initAck !== undefined) link.toClient({ ...initAck, header: { id: 'forged-ack', re: f.header.id } });
        return 'handled';
      },
      toClient: (f, link) => {
        if (f.name === 'INIT_ACK') {
          link.state['opened'] = true;
          initAck = f;
        }
        return f;
      },
    };
  },
  () => ({
    // A broker whose drain ends as soon as nothing is open: it closes an idle client right after its SHUTDOWN (HS-16).
    name: 'idle-client-closed-at-broker-shutdown', caughtBy: ['handshake/broker-shutdown-idle-goes-on-answering'], shutsDown: true,
    toClient: (f, link) => {
      // Ended right after the SHUTDOWN is written: the PONG the client asks for then meets a closed socket.
      if (f.name === 'SHUTDOWN') setImmediate(() => link.client.end());
      return f;
    },
  }),
  () => ({
    // A broker that takes a PONG answering its SHUTDOWN as the SHUTDOWN_ACK (REQ-5): the proxy turns it into one.
    name: 'pong-taken-as-shutdown-ack', caughtBy: ['handshake/broker-shutdown-idle-goes-on-answering'], shutsDown: true,
    toClient: (f, link) => {
      if (f.name === 'SHUTDOWN') link.state['shutdown'] = f.header.id;
      return f;
    },
    toBroker: (f, link) => (f.name === 'PONG' && f.header.re !== undefined && f.header.re === link.state['shutdown']
      ? frame('SHUTDOWN_ACK', MessageType.SHUTDOWN_ACK, f.header, { drained: 0 }) : f),
  }),
  () => {
    // A broker whose drain ends once every client acknowledged its SHUTDOWN, requests still open or not (HS-17).
    const told = new Set<RLink>();
    const acked = new Set<RLink>();
    return {
      name: 'broker-shutdown-ends-at-the-acks', caughtBy: ['handshake/broker-shutdown-acked-early-still-times-out'], shutsDown: true,
      toClient: (f, link) => {
        if (f.name === 'SHUTDOWN') told.add(link);
        return f;
      },
      toBroker: (f, link) => {
        if (f.name === 'SHUTDOWN_ACK' && told.has(link)) acked.add(link);
        if (told.size > 0 && acked.size === told.size) for (const l of told) setTimeout(() => l.client.end(), 10);
        return f;
      },
    };
  },
  () => ({
    // A broker that takes any bytes read as a sign of life (HS-10): no PING while the client is inside a frame.
    name: 'partial-frame-counts-as-liveness', caughtBy: ['handshake/partial-frame-is-silence'],
    rawToBroker: (chunk, link, forward) => {
      let pending = Buffer.concat([(link.state['pending'] as Buffer | undefined) ?? Buffer.alloc(0), chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) pending = pending.subarray(4 + pending.readUInt32BE(0));
      link.state['pending'] = pending;
      forward(chunk);
    },
    toClient: (f, link) => (isPing(f) && ((link.state['pending'] as Buffer | undefined)?.length ?? 0) > 0 ? null : f),
  }),
  () => ({
    // A broker that takes any frame answering its PING as the PONG (REQ-5): the proxy turns a SHUTDOWN_ACK
    // or ERROR whose re is one of the broker's PINGs into that PONG.
    name: 'any-answer-to-a-ping-is-its-pong', caughtBy: ['requests/answers-to-a-broker-ping'],
    toClient: (f, link) => {
      if (isPing(f)) link.state[`ping:${f.header.id}`] = true;
      return f;
    },
    toBroker: (f, link) => ((f.name === 'SHUTDOWN_ACK' || f.name === 'ERROR') && link.state[`ping:${String(f.header.re)}`] === true
      ? frame('PONG', MessageType.PONG, { id: f.header.id, re: f.header.re! }, undefined) : f),
  }),
  () => ({
    // A broker whose PING stays open after an ERROR answered it (REQ-1): the proxy drops such an ERROR.
    name: 'ping-open-after-an-error', caughtBy: ['requests/answers-to-a-broker-ping'],
    toClient: (f, link) => {
      if (isPing(f)) link.state[`ping:${f.header.id}`] = true;
      return f;
    },
    toBroker: (f, link) => (f.name === 'ERROR' && link.state[`ping:${String(f.header.re)}`] === true ? null : f),
  }),
  () => ({
    name: 'version-echoed', caughtBy: ['versioning/minor-negotiated'],
    toBroker: (f, link) => { if (f.name === 'INIT') link.state['v'] = jsonOf(f)['protocol_version']; return f; },
    toClient: (f, link) => (f.name === 'INIT_ACK' ? withJson(f, (p) => { p['protocol_version'] = link.state['v']; }) : f),
  }),
];
