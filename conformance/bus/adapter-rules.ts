/** Cases of section bus-adapter (BUSA-1, BUSA-2, BUSA-3, BUSA-4): the adapter's own protocol, not the bus behind it. */
import { CaseFailure, CaseTimeout } from '../cases/model.js';
import { fails, ok, ProcessDriver, type BusDriver } from './driver.js';
import { expectEqual, started } from './checks.js';
import type { BusCaseDef } from './cases-model.js';
import type { Command } from '../../reference/bus/adapter/protocol.js';

/** How long an adapter may take to exit once its input ended (the spec gives no bound; a generous one). */
const EXIT_BOUND_MS = 5000;

function expectNoStrays(d: BusDriver): void {
  if (d.strays.length > 0) throw new CaseFailure(`the adapter wrote ${d.strays.length} line(s) on standard output that answer no request line (BUSA-1): ${d.strays.slice(0, 3).map((l) => JSON.stringify(l)).join(', ')}`, 'one reply line per request line', d.strays[0]);
}

export const ADAPTER_CASES: BusCaseDef[] = [
  {
    id: 'bus-adapter/one-line-per-line',
    statements: ['BUSA-1'],
    process: true,
    async run(d) {
      await ok(d, { op: 'register_handler', message_type: 'q', category: 'query', label: 'q', behaviour: { kind: 'echo' } });
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's' });
      // A burst of lines at once, successes and failures mixed, every reply matched to its seq by the driver.
      const burst = Array.from({ length: 24 }, (_, i): Command => {
        const kinds: Command[] = [
          { op: 'query', message_type: 'q', payload: i },
          { op: 'query', message_type: 'nobody', payload: i },
          { op: 'publish', event_type: 'e', payload: i },
          { op: 'has_handler', message_type: 'q' },
        ];
        return kinds[i % 4]!;
      });
      const replies = await Promise.all(burst.map((c) => d.call(c)));
      expectEqual('failed replies in the burst (the 6 queries without handler)', 6, replies.filter((r) => !r.ok).length);
      await ok(d, { op: 'log' }); // one more round trip: a repeated or extra line has arrived by now
      expectNoStrays(d);
    },
  },
  {
    id: 'bus-adapter/lines-handled-concurrently',
    statements: ['BUSA-2'],
    async run(d) {
      await ok(d, { op: 'register_handler', message_type: 'held', category: 'query', label: 'held', behaviour: { kind: 'gate', gate: 'g', value: 'released' } });
      const query = started(d.call({ op: 'query', message_type: 'held', payload: null }));
      try {
        await ok(d, { op: 'open_gate', gate: 'g' });
      } catch (e) {
        if (e instanceof CaseTimeout) throw new CaseFailure('the adapter did not answer open_gate while a query waited for that gate: it handles a line only after the earlier ones finish', 'open_gate answered', 'no answer');
        throw e;
      }
      const r = await query;
      if (!r.ok) throw new CaseFailure(`the released query failed with ${r.error.code}`);
      expectEqual('the released query', 'released', r.value);
    },
  },
  {
    id: 'bus-adapter/error-code-from-registry',
    statements: ['BUSA-3'],
    async run(d) {
      await fails(d, { op: 'query', message_type: 'nobody', payload: null }, 'NO_HANDLER');
      await ok(d, { op: 'register_handler', message_type: 'q', category: 'query', label: 'q', behaviour: { kind: 'fail', code: 'HARDWARE_ERROR', message: 'probe unplugged' } });
      await fails(d, { op: 'register_handler', message_type: 'q', category: 'command', label: 'q2', behaviour: { kind: 'echo' } }, 'HANDLER_EXISTS');
      await fails(d, { op: 'query', message_type: 'q', payload: null }, 'HARDWARE_ERROR');
      await fails(d, { op: 'dispatch', target: { service_name: 'ghost', method: 'run' }, payload: null }, 'SERVICE_NOT_FOUND');
    },
  },
  {
    id: 'bus-adapter/exit-zero-at-end-of-input',
    statements: ['BUSA-4'],
    process: true,
    async run(d) {
      await ok(d, { op: 'subscribe', event_type: 'e', label: 's' });
      const status = await (d as ProcessDriver).endInput(EXIT_BOUND_MS);
      if (status === null) throw new CaseFailure(`the adapter still runs ${EXIT_BOUND_MS} ms after its standard input ended`, 'exit status 0', 'still running');
      if (status.code !== 0) throw new CaseFailure(`the adapter exited with ${status.signal ?? `status ${status.code}`} when its standard input ended`, 'exit status 0', String(status.signal ?? status.code));
    },
  },
  {
    id: 'bus-adapter/exit-at-end-of-input-with-work-pending',
    statements: ['BUSA-4'],
    process: true,
    async run(d) {
      // A query whose handler never finishes is still open when the input ends: the adapter must exit anyway,
      // not when the query's own timeout (30 s by default) fires.
      await ok(d, { op: 'register_handler', message_type: 'stuck', category: 'query', label: 'stuck', behaviour: { kind: 'never' } });
      const pending = d.call({ op: 'query', message_type: 'stuck', payload: null });
      pending.catch(() => undefined);
      // Lines are read in order: once this later one is answered, the query has been read and is running.
      await ok(d, { op: 'has_handler', message_type: 'stuck' });
      const status = await (d as ProcessDriver).endInput(EXIT_BOUND_MS);
      if (status === null) throw new CaseFailure(`the adapter still runs ${EXIT_BOUND_MS} ms after its standard input ended, a query it had read still open`, 'exit status 0', 'still running');
      if (status.code !== 0) throw new CaseFailure(`the adapter exited with ${status.signal ?? `status ${status.code}`} when its standard input ended, a query still open`, 'exit status 0', String(status.signal ?? status.code));
    },
  },
];
