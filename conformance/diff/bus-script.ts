/**
 * Bus scripts for `conformance diff --kind bus`: generated sequences of adapter commands (section
 * bus-adapter) run against each bus adapter from a fresh bus, what each step shows (its reply, and
 * for publish, send and query what ran: middleware in order, subscribers and handlers as a set), and
 * what the spec requires of each step, from the bus model of the bus suite (bus-semantics/prop/model).
 * Handles are each adapter's own; a value no statement fixes is left open.
 */
import fc from 'fast-check';
import type { Command, LogEntry, Reply } from '../../reference/bus/adapter/protocol.js';
import type { BusDriver } from '../bus/driver.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import { FAIL, RULES, replyShape, simulate, split, type Model, type MwKind } from '../bus/model-case.js';

export type BusStep =
  | { op: 'subscribe'; type: string; label: string }
  | { op: 'unsubscribe'; index: number }
  | { op: 'publish' | 'send' | 'query'; type: string; payload: number }
  | { op: 'register'; type: string; label: string; fail: boolean; value: number }
  | { op: 'middleware'; mw: MwKind }
  | { op: 'subscriber_count'; type: string }
  | { op: 'registered_types' };

/** What one step shows: the reply (a handle as `<handle>`), and for an operation on messages what ran. */
export interface Observation {
  reply: unknown;
  mw?: string[];
  rest?: string[];
}

/** The spec's observation of a step, the statements that decide it, and the fields it leaves open. */
export interface BusExpected {
  observation: Observation;
  statements: string[];
  /** `reply.value` where the spec fixes only that the step succeeds (the value of unsubscribe or add_middleware). */
  open?: readonly string[];
}

/** Middleware a script adds at most (as the bus model does). */
const MAX_MIDDLEWARE = 3;
const payload = fc.integer({ min: 0, max: 99 });

export function busSteps(): fc.Arbitrary<BusStep[]> {
  const step = fc.oneof(
    fc.record({ type: fc.constantFrom('e1', 'e2'), label: fc.constantFrom('s1', 's2', 's3') }).map((s): BusStep => ({ op: 'subscribe', ...s })),
    fc.nat(20).map((index): BusStep => ({ op: 'unsubscribe', index })),
    fc.record({ type: fc.constantFrom('e1', 'e2'), payload }).map((s): BusStep => ({ op: 'publish', ...s })),
    fc.record({ type: fc.constantFrom('c1', 'q1', 'c9'), payload }).map((s): BusStep => ({ op: 'send', ...s })),
    fc.record({ type: fc.constantFrom('q1', 'q2', 'c1', 'q9'), payload }).map((s): BusStep => ({ op: 'query', ...s })),
    fc.record({ type: fc.constantFrom('c1', 'q1', 'q2'), label: fc.constantFrom('h1', 'h2'), fail: fc.boolean(), value: payload }).map((s): BusStep => ({ op: 'register', ...s })),
    fc.oneof(
      { arbitrary: fc.constant<MwKind>({ kind: 'pass' }), weight: 3 },
      { arbitrary: fc.constant<MwKind>({ kind: 'abort' }), weight: 1 },
      { arbitrary: payload.map<MwKind>((p) => ({ kind: 'replace', payload: p })), weight: 2 },
      { arbitrary: payload.map<MwKind>((v) => ({ kind: 'result', value: v })), weight: 2 },
    ).map((mw): BusStep => ({ op: 'middleware', mw })),
    fc.constantFrom('e1', 'e2').map((type): BusStep => ({ op: 'subscriber_count', type })),
    fc.constant<BusStep>({ op: 'registered_types' }),
  );
  return fc.array(step, { minLength: 1, maxLength: 25 });
}

export function showStep(s: BusStep): string {
  switch (s.op) {
    case 'subscribe': return `subscribe(${s.type}, ${s.label})`;
    case 'unsubscribe': return `unsubscribe(#${s.index} of the handles so far)`;
    case 'publish':
    case 'send':
    case 'query':
      return `${s.op}(${s.type}, ${s.payload})`;
    case 'register': return `register(${s.type}, ${s.label}, ${s.fail ? 'fails' : `returns ${s.value}`})`;
    case 'middleware': return `middleware(${JSON.stringify(s.mw)})`;
    case 'subscriber_count': return `subscriber_count(${s.type})`;
    case 'registered_types': return 'registered_types()';
  }
}

/** A script's state on one adapter: the handles it gave, the middleware added. */
export interface ScriptState {
  handles: string[];
  middleware: number;
}

function shown(r: Reply): unknown {
  return r.ok && typeof r.value === 'string' ? { ok: true, value: '<handle>' } : replyShape(r);
}

/** The command of a step on an adapter (undefined: the step does not apply there, e.g. no handle yet). */
function commandOf(s: BusStep, state: ScriptState): Command | undefined {
  switch (s.op) {
    case 'subscribe': return { op: 'subscribe', event_type: s.type, label: s.label };
    case 'unsubscribe': return state.handles.length === 0 ? undefined : { op: 'unsubscribe', handle: state.handles[s.index % state.handles.length]! };
    case 'publish': return { op: 'publish', event_type: s.type, payload: s.payload };
    case 'send': return { op: 'send', message_type: s.type, payload: s.payload };
    case 'query': return { op: 'query', message_type: s.type, payload: s.payload };
    case 'register': return { op: 'register_handler', message_type: s.type, category: s.type.startsWith('q') ? 'query' : 'command', label: s.label, behaviour: s.fail ? { kind: 'fail', ...FAIL } : { kind: 'return', value: s.value } };
    case 'middleware': {
      if (state.middleware >= MAX_MIDDLEWARE) return undefined;
      const k = s.mw;
      return {
        op: 'add_middleware', label: `m${state.middleware + 1}`,
        ...(k.kind === 'abort' ? { before: { kind: 'abort' as const } } : k.kind === 'replace' ? { before: { kind: 'replace' as const, payload: k.payload } } : {}),
        ...(k.kind === 'result' ? { after: { kind: 'result' as const, value: k.value } } : {}),
      };
    }
    case 'subscriber_count': return { op: 'subscriber_count', event_type: s.type };
    case 'registered_types': return { op: 'registered_types' };
  }
}

/** Runs one step on an adapter and returns what it shows (null: the step did not apply). */
export async function observe(d: BusDriver, s: BusStep, state: ScriptState): Promise<Observation | null> {
  const cmd = commandOf(s, state);
  if (!cmd) return null;
  const r = await d.call(cmd);
  if (s.op === 'subscribe' && r.ok && typeof r.value === 'string') state.handles.push(r.value);
  if (s.op === 'middleware') state.middleware++;
  if (s.op !== 'publish' && s.op !== 'send' && s.op !== 'query') return { reply: shown(r) };
  const log = await d.call({ op: 'log' });
  const ran = log.ok ? split(log.value as LogEntry[]) : { mw: [`log failed: ${log.error.code}`], rest: [] };
  return { reply: shown(r), mw: ran.mw, rest: ran.rest };
}

/**
 * The spec's observation of every step of a script, from the bus model (null where the step does not
 * apply, as `observe` decides it for an adapter that followed the spec so far).
 */
export function expectedSteps(steps: BusStep[]): (BusExpected | null)[] {
  const m: Model = { subs: [], handlers: new Map(), middleware: [] };
  let handles = 0;
  return steps.map((s): BusExpected | null => {
    switch (s.op) {
      case 'subscribe':
        m.subs.push({ handle: String(handles++), type: s.type, label: s.label, live: true });
        return { observation: { reply: { ok: true, value: '<handle>' } }, statements: ['BUS-20'] };
      case 'unsubscribe': {
        if (m.subs.length === 0) return null;
        m.subs[s.index % m.subs.length]!.live = false;
        return { observation: { reply: { ok: true, value: null } }, statements: ['BUS-22'], open: ['reply.value'] };
      }
      case 'publish': case 'send': case 'query': {
        const category = s.op === 'publish' ? 'event' : s.op === 'send' ? 'command' : 'query';
        const want = simulate(m, category, s.type, s.payload);
        return { observation: { reply: want.reply, mw: want.mw, rest: want.rest }, statements: [...new Set([...RULES[category].reply, ...RULES[category].rest, ...RULES.middleware])] };
      }
      case 'register': {
        const exists = m.handlers.has(s.type);
        if (!exists) m.handlers.set(s.type, { label: s.label, fail: s.fail, value: s.value });
        return { observation: { reply: exists ? { ok: false, code: 'HANDLER_EXISTS' satisfies ErrorName } : { ok: true, value: null } }, statements: ['BUS-19'], open: exists ? [] : ['reply.value'] };
      }
      case 'middleware':
        if (m.middleware.length >= MAX_MIDDLEWARE) return null;
        m.middleware.push({ label: `m${m.middleware.length + 1}`, mw: s.mw });
        return { observation: { reply: { ok: true, value: null } }, statements: ['BUS-30'], open: ['reply.value'] };
      case 'subscriber_count':
        return { observation: { reply: { ok: true, value: m.subs.filter((x) => x.live && x.type === s.type).length } }, statements: ['BUS-21', 'BUS-22', 'BUS-35'] };
      case 'registered_types':
        return { observation: { reply: { ok: true, value: [...m.handlers.keys()].sort() } }, statements: ['BUS-19', 'BUS-35'] };
    }
  });
}

/** The fields (`reply`, `reply.value`, `mw`, `rest`) in which two observations differ. */
export function observationDifferences(a: Observation | null, b: Observation | null): string[] {
  if (a === null || b === null) return a === b ? [] : ['applies'];
  const out: string[] = [];
  const ra = a.reply as { ok?: unknown; value?: unknown };
  const rb = b.reply as { ok?: unknown; value?: unknown };
  if (JSON.stringify(a.reply) !== JSON.stringify(b.reply)) out.push(ra.ok === true && rb.ok === true ? 'reply.value' : 'reply');
  if (JSON.stringify(a.mw) !== JSON.stringify(b.mw)) out.push('mw');
  if (JSON.stringify(a.rest) !== JSON.stringify(b.rest)) out.push('rest');
  return out;
}
