/**
 * A deliberately broken bus adapter for the harness's own tests: the reference in-process adapter with
 * one defect. Run as `tsx broken-adapter.ts <defect>`.
 *   accepts-over-limit   the coordinator ignores max_concurrent (a second dispatch is accepted, SVC-3)
 *   queues-over-limit    a dispatch beyond max_concurrent waits for a slot instead of being refused (SVC-3)
 *   stdout-noise         a log line on standard output before each reply (BUSA-1)
 *   double-reply         every reply written twice (BUSA-1)
 *   serial               a line is handled only once the previous one is answered (BUSA-2)
 *   own-codes            errors carry the implementation's class name as their code (BUSA-3)
 *   messageless-errors   error replies leave out `message` (spec/bus/adapter.schema.json, BUSA-1)
 *   exit-1-at-eof        exits with status 1 when its input ends (BUSA-4)
 *   exit-when-timers-end at the end of its input it only sets the exit status, so it runs on until the timer of
 *                        a query still open fires (30 s), as the reference adapter did before (BUSA-4)
 *   replacing-handlers   a second handler for a type replaces the first (BUS-19)
 *   unsubscribe-true     unsubscribe answers the value true instead of null (no statement fixes it: a spec gap)
 *   unsubscribe-first-of-function   a handle ends the first subscription of its function, so a second call ends another (BUS-22)
 *   onion-middleware     a failing before hook unwinds through the after hooks of the middleware before it (BUS-32)
 *   publish-never-fails  publish swallows every failure, a before hook's included (BUS-32)
 *   load-kept-on-failure a failed or timed-out dispatch keeps its slot of the service's load (SVC-5)
 *   listing-without-load list_services gives every service current_load 0 (SVC-2)
 *   zero-retries-means-default   max_retries 0 taken as absent, 3 retries made (SVC-7)
 *   absent-retries-means-none    an absent max_retries taken as 0 (SVC-7)
 *   absent-priority-first        a dispatch without priority ranked before realtime ones (SVC-10)
 *   publish-routes-after-middleware   subscribers looked up by the type a before hook left (BUS-34)
 *   send-routes-after-middleware      the command handler looked up by the type a before hook left (BUS-34)
 *   after-error-only-replaces-an-error   an after hook's error dropped when the handler succeeded (BUS-33)
 *   load-checked-before-health   an unhealthy service at its max_concurrent refused OVERLOADED (SVC-3)
 *   zero-timeout-clamped-to-one  a dispatch's timeout_ms 0 bounds the attempt at 1 ms (SVC-6)
 *   zero-timeout-expires-now     a dispatch's timeout_ms 0 expires at once (SVC-6)
 *   handler-checked-before-health  an unhealthy service without a handler refused NO_HANDLER, not SERVICE_UNHEALTHY (SVC-3)
 *   missing-handler-as-failure   a dispatch to a service without a handler fails HANDLER_FAILED, not NO_HANDLER (SVC-3)
 */
import { createInterface } from 'node:readline';
import { AdapterSession } from '../../reference/bus/adapter/session.js';
import { TS_FEATURES } from '../../reference/bus/adapter/command.js';
import { Coordinator, InMemoryBus } from '../../reference/bus/index.js';
import type { Reply, Request } from '../../reference/bus/adapter/protocol.js';
import * as broken from './broken-buses.js';
import { receivedCode } from '../../reference/codec/catalog.js';

const defect = process.argv[2] ?? '';
/** The defects of the bus, and of the coordinator, by name. */
const BUSES: Record<string, new () => InMemoryBus> = {
  'replacing-handlers': broken.ReplacingHandlers,
  'unsubscribe-first-of-function': broken.UnsubscribeFirstOfFunction,
  'onion-middleware': broken.OnionMiddleware,
  'publish-never-fails': broken.PublishNeverFails,
  'publish-routes-after-middleware': broken.PublishRoutesAfterMiddleware,
  'send-routes-after-middleware': broken.SendRoutesAfterMiddleware,
  'after-error-only-replaces-an-error': broken.AfterErrorOnlyReplacesAnError,
};
const COORDINATORS: Record<string, typeof Coordinator> = {
  'accepts-over-limit': broken.UnboundedCoordinator,
  'queues-over-limit': broken.QueueingCoordinator,
  'load-kept-on-failure': broken.LoadKeptOnFailure,
  'listing-without-load': broken.ListingWithoutLoad,
  'zero-retries-means-default': broken.ZeroRetriesMeansDefault,
  'absent-retries-means-none': broken.AbsentRetriesMeansNone,
  'absent-priority-first': broken.AbsentPriorityFirst,
  'handler-checked-before-health': broken.HandlerCheckedBeforeHealth,
  'missing-handler-as-failure': broken.MissingHandlerAsFailure,
  'load-checked-before-health': broken.LoadCheckedBeforeHealth,
  'zero-timeout-clamped-to-one': broken.ZeroTimeoutClampedToOne,
  'zero-timeout-expires-now': broken.ZeroTimeoutExpiresNow,
};

const session = new AdapterSession(async () => {
  const bus = new (BUSES[defect] ?? InMemoryBus)();
  const Coord = COORDINATORS[defect] ?? Coordinator;
  const coordinator = new Coord(bus, { backoffBaseMs: 10 });
  return { bus, members: [bus], coordinator, close: async () => undefined };
}, { name: `broken-${defect}`, language: 'typescript', version: '0', features: TS_FEATURES });

/** The op of each request not answered yet, by seq. */
const ops = new Map<number, string>();

function write(r: Reply): void {
  if (defect === 'unsubscribe-true' && r.ok && ops.get(r.seq) === 'unsubscribe') r = { ...r, value: true };
  ops.delete(r.seq);
  if (defect === 'stdout-noise') process.stdout.write(`handling seq ${r.seq}\n`);
  if (defect === 'own-codes' && !r.ok) r = { ...r, error: { ...r.error, code: receivedCode('BusError') } };
  if (defect === 'messageless-errors' && !r.ok) r = { ...r, error: { code: r.error.code } as typeof r.error };
  const line = `${JSON.stringify(r)}\n`;
  process.stdout.write(defect === 'double-reply' ? line + line : line);
}

let previous: Promise<void> = Promise.resolve();
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  const req = JSON.parse(line) as Request;
  ops.set(req.seq, req.op);
  const handled = (): Promise<void> => session.handle(req).then(write);
  if (defect === 'serial') previous = previous.then(handled);
  else void handled();
});
rl.on('close', () => {
  void session.close().then(() => {
    if (defect === 'exit-when-timers-end') process.exitCode = 0; // the event loop lives on while a query's timer runs
    else process.exit(defect === 'exit-1-at-eof' ? 1 : 0);
  });
});
