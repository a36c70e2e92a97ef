/**
 * The cluster suite is tested before it is trusted: the reference cluster (three brokers on one NATS
 * server) passes every case through three entry points and through two; a target of one broker skips
 * every case; two brokers that never joined a cluster fail every case but the refusals a lone broker
 * gives rightly; and each proxy variant below,
 * put in front of every broker of the reference cluster with one defect, fails the cases named for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSuite, type CaseOutcome } from '../api.js';
import { Broker } from '../../reference/broker/index.js';
import { clusterCases } from '../cases/cluster.cases.js';
import { startCluster, stopAfterAll, type ClusterUnderTest } from '../../reference/broker/cluster/test/cluster-fixture.js';
import { startRuntimeProxy, frame, jsonOf, withJson, type RLink, type RProxy, type RuntimeVariant } from './runtime-proxy.js';
import { MessageType } from '../../spec/generated/catalog.js';

const CASES = clusterCases.map((c) => c.id);
/** Cases whose right answers a lone broker gives too (refusals of names nobody holds): a variant below must catch each. */
const LONE_BROKER_PASSES = ['cluster/refusals-after-a-look-up', 'cluster/two-names-claimed-at-once-on-one-broker', 'cluster/client-id-free-when-its-connection-closes-during-the-claim'];
const LOOK_UP_REFUSALS = new Set(['NO_HANDLER', 'SERVICE_NOT_FOUND', 'UNKNOWN_DESTINATION']);
let cluster: ClusterUnderTest | undefined;

beforeAll(async () => {
  cluster = await startCluster(['b1', 'b2', 'b3'], { host: '127.0.0.1' });
}, 60_000);
stopAfterAll(() => cluster);

const targetOf = (ports: number[]): string => ports.map((p) => `127.0.0.1:${p}`).join(',');

async function clusterSuite(target: string, run: string[] = []): Promise<{ seed: number; cases: CaseOutcome[] }> {
  const r = await runSuite({ target, suites: ['cluster'], run, timeoutMs: 2000 });
  return { seed: r.seed, cases: r.cases };
}

const notPassing = (cases: CaseOutcome[]): string[] => cases.filter((c) => c.outcome !== 'pass').map((c) => `${c.id}: ${c.outcome} ${c.message ?? ''}`);

describe('the cluster suite against the reference cluster', () => {
  it('passes every case with its connections spread over three brokers', async () => {
    const run = await clusterSuite(targetOf(cluster!.ports));
    expect(run.cases.map((c) => c.id)).toEqual(CASES);
    expect(notPassing(run.cases), `seed ${run.seed}`).toEqual([]);
  }, 120_000);

  it('passes every case with two of the three brokers as entry points', async () => {
    const run = await clusterSuite(targetOf(cluster!.ports.slice(0, 2)));
    expect(notPassing(run.cases), `seed ${run.seed}`).toEqual([]);
  }, 120_000);

  it('skips every case against one broker, saying what it needs', async () => {
    const run = await clusterSuite(targetOf(cluster!.ports.slice(0, 1)));
    expect(run.cases.map((c) => c.outcome)).toEqual(CASES.map(() => 'skipped'));
    expect(run.cases[0]!.message).toMatch(/two or more brokers of one cluster/);
  }, 60_000);
});

describe('brokers that do not act as one cluster', () => {
  const alone: Broker[] = [];
  afterAll(async () => {
    await Promise.all(alone.map((b) => b.close()));
  });

  it('two brokers that never joined a cluster fail every case but those a lone broker answers rightly', async () => {
    for (let i = 0; i < 2; i++) alone.push(new Broker({ host: '127.0.0.1', port: 0, logLevel: 'error', brokerId: `alone-${i}` }));
    const ports = await Promise.all(alone.map(async (b) => (await b.listen()).port!));
    const run = await clusterSuite(targetOf(ports));
    const outcomes = JSON.stringify(run.cases.map((c) => [c.id, c.outcome, c.message]));
    const caught = run.cases.filter((c) => c.outcome === 'fail' || c.outcome === 'timeout').map((c) => c.id);
    expect(caught, `seed ${run.seed}: ${outcomes}`).toEqual(CASES.filter((id) => !LONE_BROKER_PASSES.includes(id)));
    expect(run.cases.filter((c) => LONE_BROKER_PASSES.includes(c.id)).map((c) => c.outcome), outcomes).toEqual(LONE_BROKER_PASSES.map(() => 'pass'));
  }, 120_000);
});

const isStats = (name: string | undefined): boolean => name === 'STATS_RESPONSE';

/**
 * A variant rewriting each STATS_RESPONSE's payload with `rewrite`, given the client ids the harness opened
 * through this proxy: every link of a proxy is a client of its broker, so the rest are other brokers' clients.
 */
function onStatsOfOthers(name: string, caughtBy: string, rewrite: (payload: Record<string, unknown>, mine: Set<string>) => void): RuntimeVariant {
  return {
    name,
    caughtBy: [caughtBy],
    onConnect: (link) => { link.state['mine'] = new Set<string>(); },
    toBroker: (f, link) => {
      if (f.name === 'INIT') (link.state['mine'] as Set<string>).add(String(jsonOf(f)['client_id']));
      return f;
    },
    toClient: (f, link) => {
      if (!isStats(f.name)) return f;
      const mine = new Set(link.all.flatMap((l) => [...((l.state['mine'] as Set<string> | undefined) ?? [])]));
      return withJson(f, (p) => rewrite(p, mine));
    },
  };
}

/** Defects only a cluster has, each in front of every broker of the reference cluster. */
const VARIANTS: (() => RuntimeVariant)[] = [
  () => ({
    // As a broker counting the other brokers' clients as its own: 2 where the case has S0, S_N and four more.
    name: 'STATS counts two clients on the answering broker',
    caughtBy: ['cluster/stats-of-the-whole-cluster'],
    toClient: (f) => (isStats(f.name) ? withJson(f, (p) => { const own = (p['cluster'] as { clients: number }[] | undefined)?.[0]; if (own) own.clients = 2; }) : f),
  }),
  () => ({
    name: 'STATS lists the other brokers first',
    caughtBy: ['cluster/stats-of-the-whole-cluster'],
    toClient: (f) => (isStats(f.name) ? withJson(f, (p) => { (p['cluster'] as unknown[] | undefined)?.reverse(); }) : f),
  }),
  () => ({
    name: 'STATS leaves out the cluster list',
    caughtBy: ['cluster/stats-of-the-whole-cluster'],
    toClient: (f) => (isStats(f.name) ? withJson(f, (p) => { delete p['cluster']; }) : f),
  }),
  () => onStatsOfOthers('STATS lists only the broker\'s own clients', 'cluster/stats-of-the-whole-cluster', (p, mine) => {
    p['clients'] = (p['clients'] as { client_id: string }[]).filter((c) => mine.has(c.client_id));
  }),
  // As a broker that lists a client of another broker but counts none of the frames it exchanged with it.
  () => onStatsOfOthers('STATS counts no traffic with a client of another broker', 'cluster/stats-count-the-traffic-with-a-client-of-another-broker', (p, mine) => {
    for (const c of p['clients'] as Record<string, unknown>[]) if (!mine.has(String(c['client_id']))) Object.assign(c, { frames_in: 0, frames_out: 0, bytes_in: 0, bytes_out: 0 });
  }),
  () => ({
    // A caller's broker that bounds a relayed dispatch by a fixed 2 s (the failure detector's wait) instead of
    // the dispatch's timeout_ms: TIMEOUT at 2 s, the provider's later answer dropped.
    name: 'a dispatch bounded at 2 s, whatever its timeout_ms',
    caughtBy: ['cluster/slow-dispatch-answered-across-brokers'],
    onConnect: (link) => { link.state['bounds'] = new Map<string, NodeJS.Timeout>(); link.state['late'] = new Set<string>(); },
    toBroker: (f, link) => {
      if (f.name !== 'SERVICE_DISPATCH') return f;
      const id = String(f.header.id);
      const bounds = link.state['bounds'] as Map<string, NodeJS.Timeout>;
      bounds.set(id, setTimeout(() => {
        bounds.delete(id);
        (link.state['late'] as Set<string>).add(id);
        link.toClient(frame('ERROR', MessageType.ERROR, { id: `proxy-timeout-${id}`, re: id }, { code: 'TIMEOUT', message: 'bounded at 2 s by the variant', definite: false }));
      }, 2000).unref());
      return f;
    },
    toClient: (f, link) => {
      const re = f.header.re === undefined ? undefined : String(f.header.re);
      if (re === undefined) return f;
      if ((link.state['late'] as Set<string>).delete(re)) return null;
      clearTimeout((link.state['bounds'] as Map<string, NodeJS.Timeout>).get(re));
      (link.state['bounds'] as Map<string, NodeJS.Timeout>).delete(re);
      return f;
    },
  }),
  () => ({
    name: 'a broadcast from another broker delivered twice',
    caughtBy: ['cluster/broadcast-once-to-every-client'],
    toClient: (f, link) => {
      if (f.name !== 'DISAGREEMENT_SIGNAL') return f;
      link.toClient(f);
      return f;
    },
  }),
  () => ({
    name: 'SERVICE_UNREGISTER acknowledged, the name kept claimed',
    caughtBy: ['cluster/service-name-held-on-another-broker'],
    toBroker: (f, link) => {
      if (f.name !== 'SERVICE_UNREGISTER') return f;
      link.toClient(frame('ACK', MessageType.ACK, { id: `proxy-${f.header.id}`, re: f.header.id }, {}));
      return 'handled';
    },
  }),
  () => ({
    name: 'BUS_UNREGISTER_HANDLER acknowledged, the type kept claimed',
    caughtBy: ['cluster/handler-type-held-on-another-broker'],
    toBroker: (f, link) => {
      if (f.name !== 'BUS_UNREGISTER_HANDLER') return f;
      link.toClient(frame('ACK', MessageType.ACK, { id: `proxy-${f.header.id}`, re: f.header.id }, {}));
      return 'handled';
    },
  }),
  () => ({
    name: 'a closed client\'s connection kept open by its broker (its id, names and types still held)',
    caughtBy: ['cluster/client-id-held-on-another-broker', 'cluster/service-name-free-when-its-provider-closes', 'cluster/handler-type-free-when-its-client-closes'],
    keepsUpstream: true,
  }),
  () => {
    // As a broker that never gives back the claim made for a connection that closed before INIT_ACK: the
    // id stays taken in the whole cluster. The proxies share this map (one variant in front of every broker).
    const unanswered = new Map<string, RLink>();
    return {
      name: 'the claim of a connection that closed before INIT_ACK kept',
      caughtBy: ['cluster/client-id-free-when-its-connection-closes-during-the-claim'],
      toBroker: (f, link) => {
        if (f.name !== 'INIT') return f;
        const id = String(jsonOf(f)['client_id']);
        const earlier = unanswered.get(id);
        if (earlier !== undefined && earlier !== link && (earlier.client.readableEnded || earlier.client.destroyed)) {
          link.toClient(frame('ERROR', MessageType.ERROR, { id: `proxy-${f.header.id}`, re: f.header.id }, { code: 'DUPLICATE_CLIENT_ID', message: 'kept for a connection that closed before INIT_ACK (the variant)', definite: true }));
          link.client.end();
          return 'handled';
        }
        unanswered.set(id, link);
        return f;
      },
      toClient: (f, link) => {
        if (f.name === 'INIT_ACK') for (const [id, l] of unanswered) if (l === link) unanswered.delete(id);
        return f;
      },
    };
  },
  () => ({
    name: 'a refusal after a look-up never sent (the request left unanswered)',
    caughtBy: ['cluster/refusals-after-a-look-up'],
    toClient: (f) => (f.name === 'ERROR' && LOOK_UP_REFUSALS.has(String(jsonOf(f)['code'])) ? null : f),
  }),
  () => ({
    name: 'a handler\'s ERROR relayed without details.error',
    caughtBy: ['cluster/handler-error-relayed-unchanged'],
    toClient: (f) => (f.name === 'ERROR' && jsonOf(f)['code'] === 'HANDLER_FAILED' ? withJson(f, (p) => { delete (p['details'] as Record<string, unknown>)['error']; }) : f),
  }),
  () => ({
    // As a broker that keeps its one claim on the way keyed by the kind of name, not by the name: a second
    // registration at the broker while the first is claimed is refused as taken.
    name: 'a registration refused as taken while another name is being claimed at the same broker',
    caughtBy: ['cluster/two-names-claimed-at-once-on-one-broker'],
    onConnect: (link) => { link.state['claiming'] = new Set<string>(); },
    toBroker: (f, link) => {
      if (f.name !== 'SERVICE_REGISTER' && f.name !== 'BUS_REGISTER_HANDLER') return f;
      if (link.all.some((l) => ((l.state['claiming'] as Set<string> | undefined)?.size ?? 0) > 0)) {
        const code = f.name === 'SERVICE_REGISTER' ? 'SERVICE_EXISTS' : 'HANDLER_EXISTS';
        link.toClient(frame('ERROR', MessageType.ERROR, { id: `proxy-${f.header.id}`, re: f.header.id }, { code, message: 'another name is being claimed (the variant)', definite: true }));
        return 'handled';
      }
      (link.state['claiming'] as Set<string>).add(String(f.header.id));
      return f;
    },
    toClient: (f, link) => {
      if (f.header.re !== undefined) (link.state['claiming'] as Set<string>).delete(String(f.header.re));
      return f;
    },
  }),
  () => ({
    name: 'BUS_PUBLISHED counts only the publisher\'s broker',
    caughtBy: ['cluster/publish-reaches-every-broker'],
    toClient: (f) => (f.name === 'BUS_PUBLISHED' ? withJson(f, (p) => { p['delivered'] = 1; }) : f),
  }),
];

describe('cluster variants with one defect, in front of every broker', () => {
  it('names only cases of the suite, and every case a lone broker passes', () => {
    const named = new Set(VARIANTS.flatMap((v) => v().caughtBy));
    for (const id of named) expect(CASES).toContain(id);
    for (const id of LONE_BROKER_PASSES) expect([...named]).toContain(id);
  });

  it.each(VARIANTS.map((make) => [make().name, make] as const))('%s is caught by each case named for it', async (_name, make) => {
    const variant = make();
    const proxies: RProxy[] = [];
    try {
      for (const port of cluster!.ports) proxies.push(await startRuntimeProxy(variant, port));
      const run = await clusterSuite(targetOf(proxies.map((p) => p.port)), variant.caughtBy);
      for (const id of variant.caughtBy) {
        const r = run.cases.find((c) => c.id === id);
        expect(r, `${id} did not run`).toBeDefined();
        expect(['fail', 'timeout'], `seed ${run.seed}, ${id}: ${r!.outcome} ${r!.message ?? ''}`).toContain(r!.outcome);
      }
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  }, 60_000);

  it('the proxy injecting no defect passes every case (the proxy itself is sound)', async () => {
    const proxies: RProxy[] = [];
    try {
      for (const port of cluster!.ports) proxies.push(await startRuntimeProxy({ name: 'none', caughtBy: [] }, port));
      const run = await clusterSuite(targetOf(proxies.map((p) => p.port)));
      expect(notPassing(run.cases), `seed ${run.seed}`).toEqual([]);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  }, 120_000);
});
