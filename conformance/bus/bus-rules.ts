/** Cases of section bus-semantics, one rule each (its statement first, the section bus rule it restates second), through the bus adapter. */
import { CaseFailure } from '../cases/model.js';
import { fails, ok, type BusDriver } from './driver.js';
import { expectEqual, labels, logUntil, readLog, started, steps } from './checks.js';
import type { BusCaseDef } from './cases-model.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import type { Behaviour, Command } from '../../reference/bus/adapter/protocol.js';

const record: Behaviour = { kind: 'return', value: null };

async function handler(d: BusDriver, type: string, label: string, behaviour: Behaviour, category: 'command' | 'query' = 'query'): Promise<void> {
  await ok(d, { op: 'register_handler', message_type: type, category, label, behaviour });
}

export const BUS_CASES: BusCaseDef[] = [
  {
    id: 'bus-semantics/routes-by-type-name',
    statements: ['BUS-18', 'BUS-1'],
    async run(d) {
      await handler(d, 'engine.status', 'status', { kind: 'return', value: 'status' });
      await handler(d, 'engine.stats', 'stats', { kind: 'return', value: 'stats' });
      await ok(d, { op: 'subscribe', event_type: 'memory.stored', label: 'stored' });
      await ok(d, { op: 'subscribe', event_type: 'memory.evicted', label: 'evicted' });
      expectEqual('query engine.stats', 'stats', await ok(d, { op: 'query', message_type: 'engine.stats', payload: null }));
      await ok(d, { op: 'publish', event_type: 'memory.stored', payload: { id: 1 } });
      expectEqual('who ran', ['stats/handler', 'stored/subscriber'], steps(await readLog(d)));
    },
  },
  {
    id: 'bus-semantics/one-handler-table',
    statements: ['BUS-19', 'BUS-2'],
    async run(d) {
      await handler(d, 'engine.reload', 'first', { kind: 'return', value: 'first' }, 'command');
      await fails(d, { op: 'register_handler', message_type: 'engine.reload', category: 'query', label: 'second', behaviour: { kind: 'return', value: 'second' } }, 'HANDLER_EXISTS');
      expectEqual('the first handler answers', 'first', await ok(d, { op: 'query', message_type: 'engine.reload', payload: null }));
    },
  },
  {
    id: 'bus-semantics/subscription-active-on-return',
    statements: ['BUS-20'],
    async run(d) {
      const handle = await ok<string>(d, { op: 'subscribe', event_type: 'trace.ready', label: 'sub' });
      if (typeof handle !== 'string' || handle === '') throw new CaseFailure('subscribe returned no handle', 'a handle', JSON.stringify(handle));
      await ok(d, { op: 'publish', event_type: 'trace.ready', payload: 7 });
      expectEqual('deliveries', [{ label: 'sub', payload: 7 }], (await readLog(d)).map((e) => ({ label: e.label, payload: e.payload })));
    },
  },
  {
    id: 'bus-semantics/same-function-twice',
    statements: ['BUS-21'],
    async run(d) {
      await ok(d, { op: 'subscribe', event_type: 'tick', label: 'f' });
      await ok(d, { op: 'subscribe', event_type: 'tick', label: 'f' });
      await ok(d, { op: 'publish', event_type: 'tick', payload: 1 });
      expectEqual('calls of the function subscribed twice', ['f', 'f'], labels(await readLog(d), 'subscriber'));
    },
  },
  {
    id: 'bus-semantics/unsubscribe-ends-only-its-own',
    statements: ['BUS-22'],
    async run(d) {
      const a = await ok<string>(d, { op: 'subscribe', event_type: 'tick', label: 'a' });
      await ok(d, { op: 'subscribe', event_type: 'tick', label: 'b' });
      await ok(d, { op: 'unsubscribe', handle: a });
      await ok(d, { op: 'unsubscribe', handle: a });
      await ok(d, { op: 'publish', event_type: 'tick', payload: 1 });
      expectEqual('subscribers left', ['b'], labels(await readLog(d), 'subscriber'));
      expectEqual('subscriber_count', 1, await ok(d, { op: 'subscriber_count', event_type: 'tick' }));
    },
  },
  {
    id: 'bus-semantics/unsubscribe-one-of-a-functions-two',
    statements: ['BUS-21', 'BUS-22'],
    async run(d) {
      // One function subscribed twice is two subscriptions (BUS-21); each handle ends its own, however
      // often it is called (BUS-22). A bus that ends "the first subscription of this function" (a
      // list.remove of the function) ends the other one on the second call.
      const first = await ok<string>(d, { op: 'subscribe', event_type: 'tick', label: 'f' });
      const second = await ok<string>(d, { op: 'subscribe', event_type: 'tick', label: 'f' });
      if (first === second) throw new CaseFailure('[BUS-21] two subscribe calls of one function returned the same handle', 'two handles', `${JSON.stringify(first)} twice`);
      const deliveries = async (payload: number): Promise<number> => {
        await ok(d, { op: 'publish', event_type: 'tick', payload });
        return labels(await readLog(d), 'subscriber').length;
      };
      await ok(d, { op: 'unsubscribe', handle: first });
      expectEqual('[BUS-22] calls of the function after its first handle was called (its second subscription still live)', 1, await deliveries(1));
      await ok(d, { op: 'unsubscribe', handle: first });
      expectEqual('[BUS-22] calls of the function after its first handle was called a second time (a no-op: the second subscription still live)', 1, await deliveries(2));
      expectEqual('[BUS-22, BUS-35] subscriber_count after the first handle was called twice', 1, await ok(d, { op: 'subscriber_count', event_type: 'tick' }));
      await ok(d, { op: 'unsubscribe', handle: second });
      expectEqual('[BUS-22] calls of the function after both handles were called', 0, await deliveries(3));
    },
  },
  {
    id: 'bus-semantics/publish-waits-for-subscribers',
    statements: ['BUS-23'],
    async run(d) {
      await ok(d, { op: 'subscribe', event_type: 'tick', label: 'slow', behaviour: { kind: 'gate', gate: 'g' } });
      await ok(d, { op: 'subscribe', event_type: 'tick', label: 'fast' });
      let returned = false;
      const publish = started(d.call({ op: 'publish', event_type: 'tick', payload: 1 }).then((r) => ((returned = true), r)));
      await logUntil(d, (log) => labels(log, 'subscriber').length === 2, 'delivery to both subscribers');
      await readLog(d); // one more round trip: a publish that did not wait has answered by now
      if (returned) throw new CaseFailure('publish returned while a subscriber was still running', 'publish pending until the gate opens', 'publish returned');
      await ok(d, { op: 'open_gate', gate: 'g' });
      const r = await publish;
      if (!r.ok) throw new CaseFailure(`publish failed with ${r.error.code}`);
    },
  },
  {
    id: 'bus-semantics/subscriber-failure-isolated',
    statements: ['BUS-24'],
    async run(d) {
      await ok(d, { op: 'subscribe', event_type: 'tick', label: 'broken', behaviour: { kind: 'fail', code: 'HARDWARE_ERROR', message: 'probe unplugged' } });
      await ok(d, { op: 'subscribe', event_type: 'tick', label: 'fine' });
      await ok(d, { op: 'publish', event_type: 'tick', payload: 1 });
      expectEqual('subscribers that ran', ['broken', 'fine'], labels(await readLog(d), 'subscriber'));
    },
  },
  {
    id: 'bus-semantics/publish-without-subscribers',
    statements: ['BUS-25'],
    async run(d) {
      await ok(d, { op: 'publish', event_type: 'nobody.listens', payload: { x: 1 } });
    },
  },
  {
    id: 'bus-semantics/send-without-handler',
    statements: ['BUS-26'],
    async run(d) {
      await ok(d, { op: 'send', message_type: 'nobody.handles', payload: 1 });
      expectEqual('handlers run', [], labels(await readLog(d), 'handler'));
    },
  },
  {
    id: 'bus-semantics/handler-error-unchanged',
    statements: ['BUS-27'],
    async run(d) {
      const behaviour: Behaviour = { kind: 'fail', code: 'INVALID_PARAMS', message: 'channel 9 does not exist' };
      await handler(d, 'scope.arm', 'arm', behaviour, 'command');
      await handler(d, 'scope.read', 'read', behaviour);
      for (const cmd of [{ op: 'send', message_type: 'scope.arm', payload: 9 }, { op: 'query', message_type: 'scope.read', payload: 9 }] as const) {
        const e = await fails(d, cmd, 'INVALID_PARAMS');
        expectEqual(`${cmd.op}'s error message`, 'channel 9 does not exist', e.message);
      }
    },
  },
  {
    id: 'bus-semantics/query-without-handler',
    statements: ['BUS-28'],
    async run(d) {
      await fails(d, { op: 'query', message_type: 'nobody.answers', payload: null }, 'NO_HANDLER');
    },
  },
  {
    id: 'bus-semantics/query-timeout',
    statements: ['BUS-29'],
    async run(d) {
      await handler(d, 'slow', 'slow', { kind: 'never' });
      await handler(d, 'quick', 'quick', { kind: 'return', value: 'done' });
      const e = await fails(d, { op: 'query', message_type: 'slow', payload: null, timeout_ms: 50 }, 'TIMEOUT');
      expectEqual('the TIMEOUT names the timeout that applied', 50, e.details?.['timeout_ms']);
      expectEqual('timeout_ms 0 means the default, not "expire now"', 'done', await ok(d, { op: 'query', message_type: 'quick', payload: null, timeout_ms: 0 }));
    },
  },
  {
    id: 'bus-semantics/middleware-order',
    statements: ['BUS-30', 'BUS-14'],
    async run(d) {
      await handler(d, 'q', 'h', { kind: 'echo' });
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's' });
      await ok(d, { op: 'add_middleware', label: 'm1' });
      await ok(d, { op: 'add_middleware', label: 'm2' });
      await ok(d, { op: 'query', message_type: 'q', payload: 1 });
      expectEqual('query', ['m1/before', 'm2/before', 'h/handler', 'm2/after', 'm1/after'], steps(await readLog(d)));
      await ok(d, { op: 'publish', event_type: 'e', payload: 1 });
      expectEqual('publish', ['m1/before', 'm2/before', 's/subscriber', 'm2/after', 'm1/after'], steps(await readLog(d)));
    },
  },
  {
    id: 'bus-semantics/before-abort',
    statements: ['BUS-31', 'BUS-15'],
    async run(d) {
      await handler(d, 'q', 'h', { kind: 'echo' });
      await handler(d, 'c', 'hc', { kind: 'echo' }, 'command');
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's' });
      await ok(d, { op: 'add_middleware', label: 'm1' });
      await ok(d, { op: 'add_middleware', label: 'stop', before: { kind: 'abort' } });
      await ok(d, { op: 'add_middleware', label: 'm3' });
      await fails(d, { op: 'query', message_type: 'q', payload: 1 }, 'ABORTED');
      await fails(d, { op: 'send', message_type: 'c', payload: 1 }, 'ABORTED');
      await ok(d, { op: 'publish', event_type: 'e', payload: 1 });
      expectEqual('what ran', ['m1/before', 'stop/before', 'm1/before', 'stop/before', 'm1/before', 'stop/before'], steps(await readLog(d)));
    },
  },
  {
    id: 'bus-semantics/before-failure',
    statements: ['BUS-32', 'BUS-15'],
    async run(d) {
      await handler(d, 'q', 'h', { kind: 'echo' });
      await ok(d, { op: 'add_middleware', label: 'auth', before: { kind: 'fail', code: 'UNAUTHORIZED', message: 'no token' } });
      const e = await fails(d, { op: 'query', message_type: 'q', payload: 1 }, 'UNAUTHORIZED');
      expectEqual('the hook\'s message', 'no token', e.message);
      expectEqual('what ran', ['auth/before'], steps(await readLog(d)));
    },
  },
  {
    id: 'bus-semantics/before-failure-ends-every-operation',
    statements: ['BUS-32', 'BUS-15'],
    async run(d) {
      // A failing hook between two others, for query, send and publish alike: the operation fails with
      // the hook's error as it is, the later hook, the handler or subscribers and every after hook
      // skipped, the after hook of the middleware before it included (not unwound as in an onion).
      await handler(d, 'q', 'h', { kind: 'echo' });
      await handler(d, 'c', 'hc', { kind: 'echo' }, 'command');
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's' });
      await ok(d, { op: 'add_middleware', label: 'outer' });
      await ok(d, { op: 'add_middleware', label: 'guard', before: { kind: 'fail', code: 'UNAUTHORIZED', message: 'no token for this operation' } });
      await ok(d, { op: 'add_middleware', label: 'inner' });
      const operations: Command[] = [
        { op: 'query', message_type: 'q', payload: 1 },
        { op: 'send', message_type: 'c', payload: 2 },
        { op: 'publish', event_type: 'e', payload: 3 },
      ];
      for (const cmd of operations) {
        const r = await d.call(cmd);
        if (r.ok) throw new CaseFailure(`[BUS-32] ${cmd.op} succeeded (${JSON.stringify(r.value)}) although a before hook failed: it must fail with that hook's error`, 'UNAUTHORIZED', 'success');
        expectEqual(`[BUS-32] the error ${cmd.op} failed with (the failed hook's, unchanged)`, { code: 'UNAUTHORIZED' satisfies ErrorName, message: 'no token for this operation' }, { code: r.error.code as string, message: r.error.message });
        expectEqual(`[BUS-32] what ran for ${cmd.op} (later hooks, the ${cmd.op === 'publish' ? 'subscribers' : 'handler'} and every after hook skipped)`, ['outer/before', 'guard/before'], steps(await readLog(d)));
      }
    },
  },
  {
    id: 'bus-semantics/after-chain',
    statements: ['BUS-33', 'BUS-16'],
    async run(d) {
      await handler(d, 'q', 'h', { kind: 'return', value: 'handler' });
      await ok(d, { op: 'add_middleware', label: 'outer', after: { kind: 'result', value: 'outer' } });
      await ok(d, { op: 'add_middleware', label: 'inner', after: { kind: 'result', value: 'inner' } });
      expectEqual('the final result', 'outer', await ok(d, { op: 'query', message_type: 'q', payload: null }));
      const afters = (await readLog(d)).filter((e) => e.role === 'after').map((e) => `${e.label} saw ${JSON.stringify(e.result)}`);
      expectEqual('the running result each after hook saw', ['inner saw "handler"', 'outer saw "inner"'], afters);
      await ok(d, { op: 'reset' });
      await handler(d, 'q', 'h', { kind: 'fail', code: 'HARDWARE_ERROR', message: 'down' });
      await ok(d, { op: 'add_middleware', label: 'fallback', after: { kind: 'recover', value: 'cached' } });
      await ok(d, { op: 'add_middleware', label: 'veto', after: { kind: 'error', code: 'INVALID_PARAMS', message: 'veto' } });
      expectEqual('an error replaced, then recovered', 'cached', await ok(d, { op: 'query', message_type: 'q', payload: null }));
      const seen = (await readLog(d)).filter((e) => e.role === 'after').map((e) => `${e.label} saw ${String(e.error)}`);
      expectEqual('the running error each after hook saw', ['veto saw HARDWARE_ERROR', 'fallback saw INVALID_PARAMS'], seen);
    },
  },
  {
    id: 'bus-semantics/after-error-fails-a-successful-operation',
    statements: ['BUS-33', 'BUS-16'],
    async run(d) {
      // The handler (or the subscriber) succeeds and the inner after hook returns an error: that error
      // becomes the running error, the outer after hook sees it, and the operation fails with it as it is.
      // A bus whose after hook can only replace an error already there (or that returns the handler's
      // result whenever there is one) ends the operation in success.
      await handler(d, 'q', 'h', { kind: 'return', value: 'handler' });
      await handler(d, 'c', 'hc', { kind: 'return', value: null }, 'command');
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's' });
      await ok(d, { op: 'add_middleware', label: 'outer' });
      await ok(d, { op: 'add_middleware', label: 'veto', after: { kind: 'error', code: 'UNAUTHORIZED', message: 'vetoed after the fact' } });
      const operations: [Command, string][] = [
        [{ op: 'query', message_type: 'q', payload: 1 }, 'h/handler'],
        [{ op: 'send', message_type: 'c', payload: 2 }, 'hc/handler'],
        [{ op: 'publish', event_type: 'e', payload: 3 }, 's/subscriber'],
      ];
      for (const [cmd, core] of operations) {
        const r = await d.call(cmd);
        const log = await readLog(d);
        const what = cmd.op === 'publish' ? 'subscriber' : 'handler';
        expectEqual(`[BUS-30, BUS-33] what ran for ${cmd.op} after its before hooks (the ${what}, then both after hooks in reverse order)`, [core, 'veto/after', 'outer/after'], steps(log.filter((e) => e.role !== 'before')));
        // BUS-33 says it of a query, BUS-16 of every operation ("the operation returning the last one").
        const tag = cmd.op === 'query' ? 'BUS-33' : 'BUS-33, BUS-16';
        if (r.ok) throw new CaseFailure(`[${tag}] ${cmd.op} succeeded (${JSON.stringify(r.value)}) although an after hook returned an error after the ${what} succeeded: it must fail with that error`, 'UNAUTHORIZED' satisfies ErrorName, 'success');
        expectEqual(`[${tag}] the error ${cmd.op} failed with (the after hook's, unchanged)`, { code: 'UNAUTHORIZED' satisfies ErrorName, message: 'vetoed after the fact' }, { code: r.error.code as string, message: r.error.message });
        const outer = log.find((e) => e.role === 'after' && e.label === 'outer');
        expectEqual(`[BUS-33] the running error the outer after hook saw for ${cmd.op} (the one the inner hook returned after the ${what} succeeded)`, 'UNAUTHORIZED' satisfies ErrorName, outer?.error ?? null);
      }
    },
  },
  {
    id: 'bus-semantics/routing-key-before-middleware',
    statements: ['BUS-34', 'BUS-17'],
    async run(d) {
      await handler(d, 'a', 'A', { kind: 'echo' });
      await handler(d, 'b', 'B', { kind: 'echo' });
      await ok(d, { op: 'add_middleware', label: 'rewrite', before: { kind: 'replace', type: 'b', payload: 'rewritten' } });
      expectEqual('the handler\'s result', 'rewritten', await ok(d, { op: 'query', message_type: 'a', payload: 'original' }));
      const handlers = (await readLog(d)).filter((e) => e.role === 'handler').map((e) => `${e.label}:${JSON.stringify(e.payload)}`);
      expectEqual('who handled what', ['A:"rewritten"'], handlers);
    },
  },
  {
    id: 'bus-semantics/routing-key-before-middleware-publish-and-send',
    statements: ['BUS-34', 'BUS-17'],
    async run(d) {
      // As for a query (routing-key-before-middleware): a before hook that replaces an event's or a
      // command's type changes what the subscribers or the handler receive, not which ones receive it.
      await ok(d, { op: 'subscribe', event_type: 'a', label: 'SA' });
      await ok(d, { op: 'subscribe', event_type: 'b', label: 'SB' });
      await handler(d, 'a', 'HA', { kind: 'echo' }, 'command');
      await handler(d, 'b', 'HB', { kind: 'echo' }, 'command');
      await ok(d, { op: 'add_middleware', label: 'rewrite', before: { kind: 'replace', type: 'b', payload: 'rewritten' } });
      const received = async (): Promise<string[]> => (await readLog(d)).filter((e) => e.role === 'subscriber' || e.role === 'handler').map((e) => `${e.label}:${JSON.stringify(e.payload)}`);
      await ok(d, { op: 'publish', event_type: 'a', payload: 'original' });
      expectEqual('[BUS-34] who received the event published as a (its type replaced by b before the subscribers ran)', ['SA:"rewritten"'], await received());
      await ok(d, { op: 'send', message_type: 'a', payload: 'original' });
      expectEqual('[BUS-34] who handled the command sent as a (its type replaced by b before the handler ran)', ['HA:"rewritten"'], await received());
    },
  },
  {
    id: 'bus-semantics/introspection',
    statements: ['BUS-35'],
    async run(d) {
      await handler(d, 'zeta', 'z', record);
      await handler(d, 'alpha', 'a', record, 'command');
      const s = await ok<string>(d, { op: 'subscribe', event_type: 'e', label: 's1' });
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's2' });
      expectEqual('has_handler alpha', true, await ok(d, { op: 'has_handler', message_type: 'alpha' }));
      expectEqual('has_handler beta', false, await ok(d, { op: 'has_handler', message_type: 'beta' }));
      expectEqual('registered_types', ['alpha', 'zeta'], await ok(d, { op: 'registered_types' }));
      expectEqual('subscriber_count', 2, await ok(d, { op: 'subscriber_count', event_type: 'e' }));
      await ok(d, { op: 'unsubscribe', handle: s });
      expectEqual('subscriber_count after unsubscribe', 1, await ok(d, { op: 'subscriber_count', event_type: 'e' }));
    },
  },
  {
    id: 'bus-semantics/clear',
    statements: ['BUS-36'],
    async run(d) {
      await handler(d, 'q', 'h', record);
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's' });
      await ok(d, { op: 'add_middleware', label: 'stop', before: { kind: 'abort' } });
      await ok(d, { op: 'clear' });
      expectEqual('registered_types', [], await ok(d, { op: 'registered_types' }));
      expectEqual('subscriber_count', 0, await ok(d, { op: 'subscriber_count', event_type: 'e' }));
      await ok(d, { op: 'publish', event_type: 'e', payload: 1 });
      await handler(d, 'q', 'h2', { kind: 'return', value: 2 });
      expectEqual('a query after clear (no middleware left)', 2, await ok(d, { op: 'query', message_type: 'q', payload: null }));
      expectEqual('what ran', ['h2/handler'], steps(await readLog(d)));
    },
  },
  {
    id: 'bus-semantics/each-subscriber-once',
    statements: ['BUS-37', 'BUS-5'],
    async run(d) {
      for (const l of ['s1', 's2', 's3', 's4']) await ok(d, { op: 'subscribe', event_type: 'fanout', label: l });
      for (let i = 0; i < 3; i++) await ok(d, { op: 'publish', event_type: 'fanout', payload: i });
      const got = (await readLog(d)).map((e) => `${e.label}:${JSON.stringify(e.payload)}`).sort();
      const want = ['s1', 's2', 's3', 's4'].flatMap((l) => [0, 1, 2].map((i) => `${l}:${i}`)).sort();
      expectEqual('deliveries (each subscription once per event)', want, got);
    },
  },
];
