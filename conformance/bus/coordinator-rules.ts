/** Cases of section coordinator-semantics, one rule each, through the bus adapter. */
import { CaseFailure, CaseTimeout } from '../cases/model.js';
import { fails, ok, type BusDriver } from './driver.js';
import { expectEqual, readLog, started, pollUntil } from './checks.js';
import type { BusCaseDef } from './cases-model.js';
import type { Behaviour, DescriptorIn } from '../../reference/bus/adapter/protocol.js';
import { registryName } from '../../reference/codec/catalog.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import type { ReceivedCode } from '../../reference/codec/catalog.js';

function svc(name: string, extra: Partial<DescriptorIn> = {}): DescriptorIn {
  return { name, service_type: 'worker', version: '1.0.0', capabilities: ['run'], max_concurrent: 0, healthy: true, metadata: {}, ...extra };
}

async function register(d: BusDriver, name: string, behaviour: Behaviour, extra: Partial<DescriptorIn> = {}): Promise<void> {
  await ok(d, { op: 'register_service', service: svc(name, extra), label: name, behaviour });
}

type Settled = { ok: true; value: { result: unknown; attempts: number } } | { ok: false; error: { code: ErrorName | ReceivedCode } };

export const COORDINATOR_CASES: BusCaseDef[] = [
  {
    id: 'coordinator-semantics/duplicate-service-refused',
    statements: ['SVC-1'],
    async run(d) {
      await register(d, 'flow', { kind: 'echo' });
      await fails(d, { op: 'register_service', service: svc('flow'), label: 'flow2', behaviour: { kind: 'echo' } }, 'SERVICE_EXISTS');
    },
  },
  {
    id: 'coordinator-semantics/list-filters-and-sorts',
    statements: ['SVC-2'],
    async run(d) {
      await register(d, 'w-b', { kind: 'echo' });
      await register(d, 'w-a', { kind: 'echo' });
      await register(d, 'f-1', { kind: 'echo' }, { service_type: 'flow' });
      await ok(d, { op: 'set_health', name: 'w-b', healthy: false });
      const names = (l: { name: string }[]): string[] => l.map((s) => s.name);
      expectEqual('healthy workers', ['w-a'], names(await ok(d, { op: 'list_services', service_type: 'worker' })));
      expectEqual('all workers', ['w-a', 'w-b'], names(await ok(d, { op: 'list_services', service_type: 'worker', healthy_only: false })));
      const one = await ok<{ current_load?: number } | null>(d, { op: 'get_service', name: 'f-1' });
      expectEqual('the load of an idle service', 0, one?.current_load);
    },
  },
  {
    id: 'coordinator-semantics/dispatch-check-order',
    statements: ['SVC-3'],
    async run(d) {
      await fails(d, { op: 'dispatch', target: { service_name: 'ghost', method: 'run' }, payload: null }, 'SERVICE_NOT_FOUND');
      await register(d, 'sick', { kind: 'echo' });
      await ok(d, { op: 'set_health', name: 'sick', healthy: false });
      await fails(d, { op: 'dispatch', target: { service_name: 'sick', method: 'run' }, payload: null }, 'SERVICE_UNHEALTHY');
      await register(d, 'single', { kind: 'gate', gate: 'g', value: 'done' }, { max_concurrent: 1 });
      const first = started(d.call({ op: 'dispatch', target: { service_name: 'single', method: 'run' }, payload: 1 }));
      for (let i = 0; i < 200 && (await ok<{ current_load: number }>(d, { op: 'get_service', name: 'single' })).current_load < 1; i++) await new Promise((r) => setTimeout(r, 10));
      // A coordinator that accepts the second dispatch parks it on the gate too: watch the log meanwhile.
      const second = started(d.call({ op: 'dispatch', target: { service_name: 'single', method: 'run' }, payload: 2 }));
      let answered = false;
      void second.then(() => (answered = true), () => (answered = true));
      for (let i = 0; i < 200 && !answered; i++) {
        if ((await readLog(d)).some((e) => e.role === 'service' && e.payload === 2)) throw new CaseFailure('a dispatch beyond max_concurrent 1 reached the service', 'OVERLOADED', 'dispatched');
        await new Promise((r) => setTimeout(r, 10));
      }
      const refused = await second.catch((e: unknown) => {
        if (e instanceof CaseTimeout) throw new CaseFailure('the dispatch beyond max_concurrent 1 got no answer: it must be refused, not queued', 'OVERLOADED', 'no answer');
        throw e;
      });
      if (refused.ok || registryName(refused.error.code) !== 'OVERLOADED') throw new CaseFailure(`the dispatch beyond max_concurrent 1 answered ${refused.ok ? 'success' : refused.error.code}`, 'OVERLOADED', refused.ok ? 'success' : refused.error.code);
      await ok(d, { op: 'open_gate', gate: 'g' });
      const r = await first;
      if (!r.ok) throw new CaseFailure(`the first dispatch failed with ${r.error.code}`);
    },
  },
  {
    id: 'coordinator-semantics/service-without-handler',
    statements: ['SVC-3'],
    needs: ['handler-check'],
    async run(d) {
      // A service registered without a dispatch handler: NO_HANDLER, after the health check (an unhealthy
      // one is refused SERVICE_UNHEALTHY first) and after the existence check.
      await ok(d, { op: 'register_service', service: svc('bare'), label: 'bare' });
      await fails(d, { op: 'dispatch', target: { service_name: 'bare', method: 'run', max_retries: 0 }, payload: 1 }, 'NO_HANDLER');
      await ok(d, { op: 'set_health', name: 'bare', healthy: false });
      await fails(d, { op: 'dispatch', target: { service_name: 'bare', method: 'run', max_retries: 0 }, payload: 2 }, 'SERVICE_UNHEALTHY');
      await ok(d, { op: 'unregister_service', name: 'bare' });
      await fails(d, { op: 'dispatch', target: { service_name: 'bare', method: 'run', max_retries: 0 }, payload: 3 }, 'SERVICE_NOT_FOUND');
    },
  },
  {
    id: 'coordinator-semantics/health-checked-before-load',
    statements: ['SVC-3'],
    async run(d) {
      // dispatch-check-order refuses an unhealthy idle service and a healthy full one; a service that is
      // both unhealthy and at its max_concurrent is refused for its health, checked first. (NO_HANDLER
      // before OVERLOADED cannot be seen: a service without a handler never has a load.)
      await register(d, 'single', { kind: 'gate', gate: 'g', value: 'done' }, { max_concurrent: 1 });
      const first = started(d.call({ op: 'dispatch', target: { service_name: 'single', method: 'run', max_retries: 0 }, payload: 1 }));
      const loadOf = async (): Promise<number | undefined> => (await ok<{ current_load?: number } | null>(d, { op: 'get_service', name: 'single' }))?.current_load;
      const load = await pollUntil(loadOf, (l) => l === 1); // until the dispatch has started
      expectEqual('[SVC-5] the load of the service (max_concurrent 1) while its one dispatch is held', 1, load);
      await ok(d, { op: 'set_health', name: 'single', healthy: false });
      const refused = await d.call({ op: 'dispatch', target: { service_name: 'single', method: 'run', max_retries: 0 }, payload: 2 });
      if (refused.ok) throw new CaseFailure(`[SVC-3] a dispatch to a service that is unhealthy and at its max_concurrent succeeded (${JSON.stringify(refused.value)})`, 'SERVICE_UNHEALTHY' satisfies ErrorName, 'success');
      if (registryName(refused.error.code) !== ('SERVICE_UNHEALTHY' satisfies ErrorName)) {
        throw new CaseFailure(`[SVC-3] a dispatch to a service that is unhealthy and at its max_concurrent was refused with ${refused.error.code} (${refused.error.message}): health is checked before load, so it must be SERVICE_UNHEALTHY`, 'SERVICE_UNHEALTHY' satisfies ErrorName, refused.error.code);
      }
      expectEqual('[SVC-3] service calls of the refused dispatch', [], (await readLog(d)).filter((e) => e.role === 'service' && e.payload === 2).map((e) => e.payload));
      await ok(d, { op: 'set_health', name: 'single', healthy: true });
      await ok(d, { op: 'open_gate', gate: 'g' });
      const r = await first;
      if (!r.ok) throw new CaseFailure(`the held dispatch failed with ${r.error.code} once released`, 'success', r.error.code);
    },
  },
  {
    id: 'coordinator-semantics/load-bounded-and-restored',
    statements: ['SVC-4', 'SVC-5'],
    async run(d) {
      await register(d, 'pool', { kind: 'gate', gate: 'g', value: 'ok' }, { max_concurrent: 2 });
      const items = [1, 2, 3, 4, 5].map((i) => ({ target: { service_name: 'pool', method: 'run', max_retries: 0 }, payload: i }));
      const batch = started(d.call({ op: 'dispatch_batch', items }));
      let seen = 0;
      for (let i = 0; i < 200; i++) {
        const load = (await ok<{ current_load: number }>(d, { op: 'get_service', name: 'pool' })).current_load;
        if (load > 2) throw new CaseFailure(`the load reached ${load} above max_concurrent 2`, '<= 2', String(load));
        seen = Math.max(seen, load);
        if (seen === 2) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await ok(d, { op: 'open_gate', gate: 'g' });
      const r = await batch;
      if (!r.ok) throw new CaseFailure(`dispatch_batch failed with ${r.error.code}`);
      const outcomes = (r.value as Settled[]).map((o) => (o.ok ? 'ok' : o.error.code)).sort();
      expectEqual('outcomes of 5 dispatches at max_concurrent 2', ['OVERLOADED', 'OVERLOADED', 'OVERLOADED', 'ok', 'ok'], outcomes);
      expectEqual('the load when nothing runs', 0, (await ok<{ current_load: number }>(d, { op: 'get_service', name: 'pool' })).current_load);
    },
  },
  {
    id: 'coordinator-semantics/load-restored-whatever-the-outcome',
    statements: ['SVC-5', 'SVC-2'],
    async run(d) {
      const loadOf = async (name: string): Promise<{ got: number | undefined; listed: number | undefined }> => ({
        got: (await ok<{ current_load?: number } | null>(d, { op: 'get_service', name }))?.current_load,
        listed: (await ok<{ name: string; current_load?: number }[]>(d, { op: 'list_services', service_type: 'worker', healthy_only: false })).find((x) => x.name === name)?.current_load,
      });
      // The load while a dispatch runs, as get_service and list_services give it (SVC-2: "each with its current load").
      await register(d, 'held', { kind: 'gate', gate: 'g', value: 'done' }, { max_concurrent: 1 });
      const running = started(d.call({ op: 'dispatch', target: { service_name: 'held', method: 'run', max_retries: 0 }, payload: null }));
      const load = await pollUntil(() => loadOf('held'), (l) => l.got === 1); // until the dispatch has started
      expectEqual('[SVC-5] get_service\'s current_load while one dispatch runs', 1, load.got);
      expectEqual('[SVC-2] list_services\' current_load of the service while one dispatch runs', 1, load.listed);
      await ok(d, { op: 'open_gate', gate: 'g' });
      const r = await running;
      if (!r.ok) throw new CaseFailure(`the released dispatch failed with ${r.error.code}`, 'success', r.error.code);
      expectEqual('[SVC-5] the load after a dispatch that succeeded', { got: 0, listed: 0 }, await loadOf('held'));
      // A failed dispatch (every attempt failed) and a timed-out one lower it too, and free their slot.
      await register(d, 'dead', { kind: 'fail', code: 'HARDWARE_ERROR', message: 'dead' }, { max_concurrent: 1 });
      await register(d, 'hung', { kind: 'never' }, { max_concurrent: 1 });
      for (let round = 1; round <= 2; round++) {
        await fails(d, { op: 'dispatch', target: { service_name: 'dead', method: 'run', max_retries: 1 }, payload: round }, 'HANDLER_FAILED');
        expectEqual(`[SVC-5] the load after failed dispatch ${round} of 2 (lowered whatever the outcome; max_concurrent 1)`, { got: 0, listed: 0 }, await loadOf('dead'));
        await fails(d, { op: 'dispatch', target: { service_name: 'hung', method: 'run', timeout_ms: 50, max_retries: 0 }, payload: round }, 'TIMEOUT');
        expectEqual(`[SVC-5] the load after timed-out dispatch ${round} of 2 (lowered whatever the outcome; max_concurrent 1)`, { got: 0, listed: 0 }, await loadOf('hung'));
      }
    },
  },
  {
    id: 'coordinator-semantics/timeout-not-retried',
    statements: ['SVC-6'],
    async run(d) {
      await register(d, 'hung', { kind: 'never' });
      const e = await fails(d, { op: 'dispatch', target: { service_name: 'hung', method: 'run', timeout_ms: 50, max_retries: 3 }, payload: null }, 'TIMEOUT');
      expectEqual('the TIMEOUT names the timeout', 50, e.details?.['timeout_ms']);
      expectEqual('attempts made', 1, (await readLog(d)).filter((x) => x.role === 'service').length);
    },
  },
  {
    id: 'coordinator-semantics/zero-timeout-means-default',
    statements: ['SVC-6'],
    async run(d) {
      // timeout_ms 0 is the default 300,000 ms, never "expire now": a dispatch whose service is held a
      // while, then released, succeeds. A coordinator that bounds the attempt at 0 or 1 ms answers TIMEOUT
      // while the service is still held.
      await register(d, 'held', { kind: 'gate', gate: 'g', value: 'done' });
      const running = started(d.call({ op: 'dispatch', target: { service_name: 'held', method: 'run', timeout_ms: 0, max_retries: 0 }, payload: null }));
      let answered = false;
      void running.then(() => (answered = true), () => (answered = true));
      // Until the service was called (or the dispatch already answered) ...
      await pollUntil(async () => answered || (await readLog(d)).some((e) => e.role === 'service'), (done) => done);
      // ... and then a while longer: long past a bound of 0 or 1 ms, far within the default (a wait, not a measurement).
      await new Promise((r) => setTimeout(r, 200));
      if (answered) {
        const early = await running;
        const got = early.ok ? `success ${JSON.stringify(early.value)}` : `${early.error.code} (${early.error.message})`;
        throw new CaseFailure(`[SVC-6] a dispatch with timeout_ms 0 ended with ${got} while its service was still held: 0 means the default 300,000 ms, never "expire now"`, 'pending until the service is released', got);
      }
      await ok(d, { op: 'open_gate', gate: 'g' });
      const r = await running;
      if (!r.ok) throw new CaseFailure(`[SVC-6] a dispatch with timeout_ms 0 failed with ${r.error.code} (${r.error.message}) once its service was released: 0 means the default 300,000 ms`, 'success', r.error.code);
      expectEqual('[SVC-6, SVC-11] the result of the dispatch with timeout_ms 0', { result: 'done', attempts: 1 }, r.value);
    },
  },
  {
    id: 'coordinator-semantics/retries-then-handler-failed',
    statements: ['SVC-7'],
    async run(d) {
      await register(d, 'flaky', { kind: 'fail_first', times: 2, code: 'HARDWARE_ERROR', message: 'glitch', value: 'ok' });
      const r = await ok<{ result: unknown; attempts: number }>(d, { op: 'dispatch', target: { service_name: 'flaky', method: 'run', max_retries: 2 }, payload: null });
      expectEqual('result after two failures', { result: 'ok', attempts: 3 }, r);
      await register(d, 'dead', { kind: 'fail', code: 'HARDWARE_ERROR', message: 'dead' });
      const e = await fails(d, { op: 'dispatch', target: { service_name: 'dead', method: 'run', max_retries: 1 }, payload: null }, 'HANDLER_FAILED');
      expectEqual('the last error in details.error', 'HARDWARE_ERROR', registryName((e.details?.['error'] as { code?: string } | undefined)?.code));
      expectEqual('attempts of the dead service', 2, (await readLog(d)).filter((x) => x.label === 'dead').length);
    },
  },
  {
    id: 'coordinator-semantics/retries-at-their-bounds',
    statements: ['SVC-7'],
    async run(d) {
      // max_retries 0 is no retry (not "absent"), and an absent max_retries is 3: 1 and 4 attempts.
      const attempts = async (service: string): Promise<number> => (await readLog(d)).filter((x) => x.role === 'service' && x.label === service).length;
      await register(d, 'once', { kind: 'fail', code: 'HARDWARE_ERROR', message: 'probe unplugged' });
      const e = await fails(d, { op: 'dispatch', target: { service_name: 'once', method: 'run', max_retries: 0 }, payload: null }, 'HANDLER_FAILED');
      expectEqual('[SVC-7] the last attempt\'s error in details.error of a dispatch with max_retries 0', 'HARDWARE_ERROR', registryName((e.details?.['error'] as { code?: string } | undefined)?.code));
      expectEqual('[SVC-7] attempts of a failing dispatch with max_retries 0 (max_retries + 1)', 1, await attempts('once'));
      await register(d, 'always', { kind: 'fail', code: 'HARDWARE_ERROR', message: 'probe unplugged' });
      const f = await fails(d, { op: 'dispatch', target: { service_name: 'always', method: 'run' }, payload: null }, 'HANDLER_FAILED');
      expectEqual('[SVC-7] the last attempt\'s error in details.error of a dispatch without max_retries', 'HARDWARE_ERROR', registryName((f.details?.['error'] as { code?: string } | undefined)?.code));
      expectEqual('[SVC-7] attempts of a failing dispatch without max_retries (3 retries when absent)', 4, await attempts('always'));
    },
  },
  {
    id: 'coordinator-semantics/same-call-every-attempt',
    statements: ['SVC-9'],
    async run(d) {
      await register(d, 'flaky', { kind: 'fail_first', times: 1, code: 'HARDWARE_ERROR', message: 'glitch', value: 'ok' });
      await ok(d, { op: 'dispatch', target: { service_name: 'flaky', method: 'acquire', max_retries: 1 }, payload: { decimation: 64 } });
      const calls = (await readLog(d)).filter((x) => x.role === 'service').map((x) => ({ method: x.method, payload: x.payload }));
      expectEqual('each attempt\'s call', [{ method: 'acquire', payload: { decimation: 64 } }, { method: 'acquire', payload: { decimation: 64 } }], calls);
    },
  },
  {
    id: 'coordinator-semantics/priority-order',
    statements: ['SVC-10'],
    needs: ['same-turn'],
    async run(d) {
      await register(d, 'sched', { kind: 'echo' }, { max_concurrent: 0 });
      const ranks = ['idle', 'normal', 'realtime', 'low', 'high', 'normal'] as const;
      await ok(d, { op: 'dispatch_batch', items: ranks.map((p, i) => ({ target: { service_name: 'sched', method: 'run', priority: p }, payload: `${p}-${i}` })) });
      const order = (await readLog(d)).filter((x) => x.role === 'service').map((x) => x.payload);
      expectEqual('start order', ['realtime-2', 'high-4', 'normal-1', 'normal-5', 'low-3', 'idle-0'], order);
    },
  },
  {
    id: 'coordinator-semantics/absent-priority-is-normal',
    statements: ['SVC-10'],
    needs: ['same-turn'],
    async run(d) {
      // Targets without priority among explicit ones: absent ranks exactly as normal, first come first
      // served with the explicit normals (not first, as a zero value or an index of -1 would rank it).
      await register(d, 'sched', { kind: 'echo' }, { max_concurrent: 0 });
      const ranks = ['low', undefined, 'idle', 'normal', 'high', undefined] as const;
      await ok(d, { op: 'dispatch_batch', items: ranks.map((p, i) => ({ target: { service_name: 'sched', method: 'run', ...(p !== undefined ? { priority: p } : {}) }, payload: `${p ?? 'absent'}-${i}` })) });
      const order = (await readLog(d)).filter((x) => x.role === 'service').map((x) => x.payload);
      expectEqual('[SVC-10] start order (absent means normal, first come first served within a rank)', ['high-4', 'absent-1', 'normal-3', 'absent-5', 'low-0', 'idle-2'], order);
    },
  },
  {
    id: 'coordinator-semantics/result-and-attempts',
    statements: ['SVC-11'],
    async run(d) {
      await register(d, 'echo', { kind: 'echo' });
      expectEqual('dispatch result', { result: { n: 1 }, attempts: 1 }, await ok(d, { op: 'dispatch', target: { service_name: 'echo', method: 'run' }, payload: { n: 1 } }));
    },
  },
  {
    id: 'coordinator-semantics/broadcast-by-type-name',
    statements: ['SVC-12'],
    async run(d) {
      await ok(d, { op: 'subscribe', event_type: 'memory.stored', label: 'mem' });
      await ok(d, { op: 'broadcast', event_type: 'memory.stored', payload: { item_id: '123' } });
      expectEqual('deliveries', [{ label: 'mem', type: 'memory.stored', payload: { item_id: '123' } }], (await readLog(d)).map((e) => ({ label: e.label, type: e.type, payload: e.payload })));
    },
  },
  {
    id: 'coordinator-semantics/request-result-or-error',
    statements: ['SVC-13'],
    async run(d) {
      await ok(d, { op: 'register_handler', message_type: 'session.get', category: 'query', label: 'q', behaviour: { kind: 'echo' } });
      expectEqual('request of a handled type', { result: 'abc' }, await ok(d, { op: 'request', service_name: 'flow', query_type: 'session.get', payload: 'abc' }));
      const r = await ok<{ error?: { code: ErrorName | ReceivedCode } }>(d, { op: 'request', service_name: 'flow', query_type: 'session.missing', payload: 'abc' });
      expectEqual('request of a type without handler', 'NO_HANDLER', r.error?.code);
    },
  },
];
