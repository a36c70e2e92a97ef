/**
 * Broker variants with one injected defect in the bus or the registry, made by the frame-rewriting
 * proxy (mutant-proxy.ts), and the core case that must catch each. Defects the proxy cannot make (when
 * the broker retries, how long it waits) are made in the broker itself by broken-dispatch.ts.
 */
import { frameBytes, nameOf, type Frame, type Link, type Mutant } from './mutant-proxy.js';
import { messageByName } from '../../reference/codec/catalog.js';

import { json, refuse, withJson } from './mutants.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { DEFAULT_LIMITS } from '../../spec/generated/catalog.js';
import { cborEncode } from '../../reference/codec/cbor.js';

const text = new TextDecoder();
const bytes = new TextEncoder();

function forge(type: MessageName, header: Frame['header'], payload: unknown): Frame {
  return { code: messageByName(type).code, header, encoding: 'json', payload: bytes.encode(JSON.stringify(payload)) };
}

const isError = (f: Frame, code: string): boolean => nameOf(f) === 'ERROR' && json(f)['code'] === code;

/** Per-link state of a stateful mutant. */
function perLink<T>(make: () => T): (link: Link) => T {
  const states = new WeakMap<Link, T>();
  return (link) => {
    let s = states.get(link);
    if (!s) states.set(link, (s = make()));
    return s;
  };
}

/** A broker that gives a connection's second subscription of a type the first one's id (BUS-3). */
function sharedSubscription(): Mutant {
  const state = perLink(() => ({ asked: new Map<string, string>(), first: new Map<string, string>() }));
  return {
    name: 'second-subscribe-shares-the-first',
    caughtBy: 'bus/subscriptions-separate',
    toBroker: (f, link) => {
      if (nameOf(f) === 'BUS_SUBSCRIBE') state(link).asked.set(f.header.id, String(json(f)['event_type']));
      return f;
    },
    toClient: (f, link) => {
      if (nameOf(f) !== 'BUS_SUBSCRIBED') return f;
      const s = state(link);
      const type = s.asked.get(String(f.header.re));
      if (type === undefined) return f;
      const first = s.first.get(type);
      if (first === undefined) {
        s.first.set(type, String(json(f)['subscription_id']));
        return f;
      }
      return withJson(f, (p) => { p['subscription_id'] = first; });
    },
  };
}

/** A broker that ends another connection's subscription or handler (BUS-4): their deliveries stop. */
function foreignUnsubscribe(): Mutant {
  const ended = new Set<string>();
  return {
    name: 'foreign-unsubscribe-honoured',
    caughtBy: 'bus/unsubscribe-gone-or-foreign-acked',
    toBroker: (f) => {
      if (nameOf(f) === 'BUS_UNSUBSCRIBE') ended.add(String(json(f)['subscription_id']));
      if (nameOf(f) === 'BUS_UNREGISTER_HANDLER') ended.add(String(json(f)['message_type']));
      return f;
    },
    toClient: (f) => {
      if (nameOf(f) === 'BUS_EVENT' && ended.has(String(json(f)['subscription_id']))) return null;
      if (nameOf(f) === 'BUS_QUERY' && ended.has(String(json(f)['message_type']))) return null;
      return f;
    },
  };
}

/** A broker that answers BUS_PUBLISH as soon as it has sent the first BUS_EVENT (BUS-6). */
function publishedEarly(): Mutant {
  const byClient = new Map<string, Link>();
  const pending = perLink(() => [] as string[]);
  const forged = new Set<string>();
  return {
    name: 'published-before-every-answer',
    caughtBy: 'bus/published-after-every-event-settles',
    toBroker: (f, link) => {
      if (nameOf(f) === 'INIT') byClient.set(String(json(f)['client_id']), link);
      if (nameOf(f) === 'BUS_PUBLISH') pending(link).push(f.header.id);
      return f;
    },
    toClient: (f) => {
      if (nameOf(f) === 'BUS_EVENT') {
        const publisher = byClient.get(String(json(f)['publisher']));
        const id = publisher ? pending(publisher).shift() : undefined;
        if (publisher && id !== undefined) {
          forged.add(id);
          publisher.client.write(frameBytes(forge('BUS_PUBLISHED', { id: `early-${id}`, re: id }, { delivered: 1, failed: 0 })));
        }
      }
      if (nameOf(f) === 'BUS_PUBLISHED') {
        if (forged.has(String(f.header.re))) return null;
        for (const list of byClient.values()) {
          const at = pending(list).indexOf(String(f.header.re));
          if (at >= 0) pending(list).splice(at, 1); // answered without any event (no subscriber)
        }
      }
      return f;
    },
  };
}

/** A broker that tracks which types have a handler and refuses BUS_SEND of any other (BUS-9). */
function sendRefused(): Mutant {
  const handled = new Set<string>();
  return {
    name: 'send-without-handler-refused',
    caughtBy: 'bus/no-handler',
    toBroker: (f, link) => {
      if (nameOf(f) === 'BUS_REGISTER_HANDLER') handled.add(String(json(f)['message_type']));
      if (nameOf(f) === 'BUS_SEND' && !handled.has(String(json(f)['message_type']))) {
        return refuse(f, link, 'NO_HANDLER');
      }
      return f;
    },
  };
}

/** A broker that acknowledges BUS_UNSUBSCRIBE and ends nothing (BUS-4): the subscription keeps delivering. */
function unsubscribeIgnored(): Mutant {
  return {
    name: 'own-unsubscribe-ignored',
    caughtBy: 'bus/unsubscribe-gone-or-foreign-acked',
    toBroker: (f, link) => {
      if (nameOf(f) !== 'BUS_UNSUBSCRIBE') return f;
      link.client.write(frameBytes(forge('ACK', { id: `ack-${f.header.id}`, re: f.header.id }, {})));
      return 'handled';
    },
  };
}

/** A broker that counts every connection's subscriptions against one connection's max_subscriptions (LIM-9). */
function subscriptionsCountedAcrossConnections(): Mutant {
  let subscribed = 0;
  return {
    name: 'subscriptions-counted-across-connections',
    caughtBy: 'limits/max-subscriptions',
    toBroker: (f, link) => {
      if (nameOf(f) !== 'BUS_SUBSCRIBE') return f;
      if (subscribed < DEFAULT_LIMITS.max_subscriptions) return f;
      return refuse(f, link, 'OVERLOADED');
    },
    toClient: (f) => {
      if (nameOf(f) === 'BUS_SUBSCRIBED') subscribed++;
      return f;
    },
  };
}

/** A broker whose answered bus requests keep their in-flight slot (LIM-7): after max_in_flight, every one is refused. */
function busRequestsNeverFreed(): Mutant {
  const opened = perLink(() => ({ n: 0 }));
  return {
    name: 'answered-bus-requests-keep-their-slot',
    caughtBy: 'limits/bus-requests-answered-free-their-in-flight-slot',
    toBroker: (f, link) => {
      const type = nameOf(f);
      if (type !== 'BUS_PUBLISH' && type !== 'BUS_SEND' && type !== 'BUS_QUERY') return f;
      if (opened(link).n++ < DEFAULT_LIMITS.max_in_flight) return f;
      return refuse(f, link, 'OVERLOADED', { limit: DEFAULT_LIMITS.max_in_flight });
    },
  };
}

/** A broker that refuses a faulty BUS_QUERY_RESULT but never fails the query it answered (BUS-10): the asker waits its timeout. */
function refusedAnswerLeavesTheAskerWaiting(): Mutant {
  return {
    name: 'refused-answer-leaves-the-asker-waiting',
    caughtBy: 'bus/refused-query-result-answers-the-asker-at-once',
    toBroker: (f, link) => {
      if (nameOf(f) !== 'BUS_QUERY_RESULT') return f;
      const extra = Object.keys(json(f)).find((k) => k !== 'result');
      if (extra === undefined) return f;
      return refuse(f, link, 'SCHEMA_VIOLATION', { path: `/${extra}`, rule: 'additionalProperties' });
    },
  };
}

/** A broker that passes a CBOR sender's bytes on to a handler whose INIT_ACK chose json (ENC-2). */
function cborToJsonHandler(): Mutant {
  const jsonOnly = perLink(() => ({ yes: false }));
  return {
    name: 'cbor-forwarded-to-a-json-handler',
    caughtBy: 'bus/query-from-cbor-sender-to-json-handler',
    toBroker: (f, link) => {
      if (nameOf(f) === 'INIT') jsonOnly(link).yes = !(json(f)['encodings'] as string[]).includes('cbor');
      return f;
    },
    toClient: (f, link) => (nameOf(f) === 'BUS_QUERY' && jsonOnly(link).yes ? { ...f, encoding: 'cbor', payload: cborEncode(json(f)) } : f),
  };
}

export const BUS_MUTANTS: Mutant[] = [
  {
    // Every BUS_EVENT the broker sends gets one id, so open events on a connection collide (REQ-3).
    name: 'one-id-for-every-event',
    caughtBy: 'requests/broker-request-ids-unique',
    toClient: (f) => (nameOf(f) === 'BUS_EVENT' ? { ...f, header: { ...f.header, id: 'event' } } : f),
  },
  sharedSubscription(),
  foreignUnsubscribe(),
  unsubscribeIgnored(),
  subscriptionsCountedAcrossConnections(),
  busRequestsNeverFreed(),
  refusedAnswerLeavesTheAskerWaiting(),
  cborToJsonHandler(),
  publishedEarly(),
  {
    name: 'subscriber-failures-not-counted',
    caughtBy: 'bus/published-after-every-event-settles',
    toClient: (f) => (nameOf(f) === 'BUS_PUBLISHED' ? withJson(f, (p) => { p['failed'] = 0; }) : f),
  },
  sendRefused(),
  {
    name: 'query-without-handler-unknown-destination',
    caughtBy: 'bus/no-handler',
    toClient: (f) => (isError(f, 'NO_HANDLER') ? withJson(f, (p) => { p['code'] = 'UNKNOWN_DESTINATION'; }) : f),
  },
  {
    name: 'forwarded-without-the-sender',
    caughtBy: 'bus/forwarded-to-the-handler',
    toClient: (f) => {
      if (nameOf(f) !== 'BUS_SEND' && nameOf(f) !== 'BUS_QUERY') return f;
      const { src: _src, ...header } = f.header;
      return { ...f, header };
    },
  },
  {
    name: 'handler-error-rewritten',
    caughtBy: 'bus/handler-error-carried-unchanged',
    toClient: (f) => (isError(f, 'HANDLER_FAILED') ? withJson(f, (p) => {
      const details = p['details'] as { error?: Record<string, unknown> } | undefined;
      if (details?.error) details.error = { code: details.error['code'], message: details.error['message'], definite: details.error['definite'] };
    }) : f),
  },
  {
    name: 'query-timeout-zero-expires-now',
    caughtBy: 'bus/query-timeout-zero-is-default',
    toBroker: (f) => (nameOf(f) === 'BUS_QUERY' && json(f)['timeout_ms'] === 0 ? withJson(f, (p) => { p['timeout_ms'] = 1; }) : f),
  },
  {
    name: 'max-subscriptions-not-announced',
    caughtBy: 'handshake/init-ack-announces-max-subscriptions',
    toClient: (f) => (nameOf(f) === 'INIT_ACK' ? withJson(f, (p) => { delete p['max_subscriptions']; }) : f),
  },
  {
    name: 'announced-subscription-limit-not-enforced',
    caughtBy: 'limits/max-subscriptions',
    // Announces 8 while the broker behind it takes 1,024.
    toClient: (f) => (nameOf(f) === 'INIT_ACK' ? withJson(f, (p) => { p['max_subscriptions'] = 8; }) : f),
  },
  {
    name: 'health-checked-after-max-concurrent',
    caughtBy: 'registry/dispatch-check-order',
    toClient: (f) => (isError(f, 'SERVICE_UNHEALTHY') ? withJson(f, (p) => { p['code'] = 'OVERLOADED'; }) : f),
  },
  {
    name: 'timeout-not-named',
    caughtBy: 'registry/dispatch-timeout-not-retried',
    toClient: (f) => (isError(f, 'TIMEOUT') ? withJson(f, (p) => { delete p['details']; }) : f),
  },
  {
    name: 'attempts-not-counted',
    caughtBy: 'registry/dispatch-retries-with-backoff',
    toClient: (f) => (nameOf(f) === 'SERVICE_RESULT' ? withJson(f, (p) => { p['attempts'] = 1; }) : f),
  },
  {
    name: 'retry-alters-the-call',
    caughtBy: 'registry/dispatch-retries-with-backoff',
    toClient: (() => {
      const seen = perLink(() => new Set<string>());
      return (f: Frame, link: Link) => {
        if (nameOf(f) !== 'SERVICE_DISPATCH') return f;
        const key = text.decode(f.payload);
        if (!seen(link).has(key)) {
          seen(link).add(key);
          return f;
        }
        return withJson(f, (p) => { p['method'] = `${String(p['method'])}-retry`; });
      };
    })(),
  },
  {
    name: 'first-error-reported',
    caughtBy: 'registry/dispatch-retries-with-backoff',
    toClient: (f) => (isError(f, 'HANDLER_FAILED') ? withJson(f, (p) => { (p['details'] as Record<string, unknown>)['error'] = { code: 'INTERNAL', message: 'attempt failed', definite: false }; }) : f),
  },
  {
    name: 'load-not-reported',
    caughtBy: 'registry/load-raised-and-lowered',
    toClient: (f) => (nameOf(f) === 'SERVICE_LIST_RESULT' ? withJson(f, (p) => { for (const s of p['services'] as Record<string, unknown>[]) s['current_load'] = 0; }) : f),
  },
  {
    // The listing echoes the descriptor as registered: a service registered without `healthy` has none.
    name: 'health-not-listed-when-not-registered',
    caughtBy: 'registry/listing-gives-healthy',
    toClient: (f) => (nameOf(f) === 'SERVICE_LIST_RESULT' ? withJson(f, (p) => { for (const s of p['services'] as Record<string, unknown>[]) if (s['max_concurrent'] === undefined) delete s['healthy']; }) : f),
  },
  (() => {
    // A broker that retries a failed attempt on the service's closed connection: the dispatch waits for
    // its timeout_ms. The proxy drops the answer that ends a dispatch once a service has failed an attempt.
    let failed = false;
    return {
      name: 'retry-sent-to-a-service-gone-between-attempts',
      caughtBy: 'registry/service-gone-between-attempts-not-retried',
      toBroker: (f: Frame) => {
        if (nameOf(f) === 'ERROR' && f.header.re !== undefined) failed = true;
        return f;
      },
      toClient: (f: Frame) => (failed && nameOf(f) === 'ERROR' && !isError(f, 'TIMEOUT') && f.header.re !== undefined ? null : f),
    } satisfies Mutant;
  })(),
  {
    name: 'service-loss-reported-as-timeout',
    caughtBy: 'registry/peer-gone-not-retried',
    toClient: (f) => (isError(f, 'PEER_GONE') ? withJson(f, (p) => { p['code'] = 'TIMEOUT'; }) : f),
  },
];

/** A proxy that adds max_subscriptions to INIT_ACK: the announcement HS-7 asks for, the broker otherwise unchanged. */
export const ANNOUNCES_MAX_SUBSCRIPTIONS: Mutant = {
  name: 'announces-max-subscriptions',
  caughtBy: '',
  toClient: (f) => (nameOf(f) === 'INIT_ACK' ? withJson(f, (p) => { p['max_subscriptions'] = 1024; }) : f),
};
