/**
 * The stateful model of the bus (bus-semantics/prop/model): random sequences of subscribe,
 * unsubscribe, publish, send, query, register and middleware steps run against the bus under test and
 * against a model of rules BUS-19, BUS-21, BUS-22, BUS-23, BUS-24, BUS-25, BUS-26, BUS-27, BUS-28, BUS-30,
 * BUS-31, BUS-33 and BUS-35; every reply and every logged invocation is compared, and a
 * failing sequence is shrunk by fast-check (fc.commands) before it is reported with its seed.
 */
import fc from 'fast-check';
import { CaseFailure, CaseTimeout } from '../cases/model.js';
import type { Command, LogEntry, Reply } from '../../reference/bus/adapter/protocol.js';
import { ok, type BusDriver } from './driver.js';
import type { BusCaseDef } from './cases-model.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import type { ReceivedCode } from '../../reference/codec/catalog.js';

export type MwKind = { kind: 'pass' } | { kind: 'abort' } | { kind: 'replace'; payload: number } | { kind: 'result'; value: number };

export interface Model {
  subs: { handle: string; type: string; label: string; live: boolean }[];
  handlers: Map<string, { label: string; fail: boolean; value: number }>;
  middleware: { label: string; mw: MwKind }[];
}

export const FAIL: { code: ErrorName; message: string } = { code: 'HARDWARE_ERROR', message: 'model failure' };

/** What the model says an operation does: the reply and the log, middleware entries in order and the rest as a sorted multiset. */
export function simulate(m: Model, category: 'event' | 'command' | 'query', type: string, payload: number): { reply: { ok: true; value: unknown } | { ok: false; code: ErrorName | ReceivedCode }; mw: string[]; rest: string[] } {
  const mw: string[] = [];
  const rest: string[] = [];
  let p = payload;
  for (const { label, mw: k } of m.middleware) {
    mw.push(`${label}/before ${p}`);
    if (k.kind === 'abort') return { reply: category === 'event' ? { ok: true, value: null } : { ok: false, code: 'ABORTED' }, mw, rest };
    if (k.kind === 'replace') p = k.payload;
  }
  let result: unknown = null;
  let error: ErrorName | null = null;
  if (category === 'event') {
    for (const s of m.subs) if (s.live && s.type === type) rest.push(`${s.label}/subscriber ${p}`);
  } else {
    const h = m.handlers.get(type);
    if (h) {
      rest.push(`${h.label}/handler ${p}`);
      if (h.fail) error = FAIL.code;
      else if (category === 'query') result = h.value;
    } else if (category === 'query') {
      error = 'NO_HANDLER';
    }
  }
  for (const { label, mw: k } of [...m.middleware].reverse()) {
    // Which message an after hook receives no statement fixes (the one the handler got, or its own layer's
    // in an onion chain): only its order, the running result and the running error are compared (BUS-33).
    mw.push(`${label}/after result=${JSON.stringify(result)} error=${error}`);
    if (k.kind === 'result') result = k.value;
  }
  if (error) return { reply: { ok: false, code: error }, mw, rest: rest.sort() };
  return { reply: { ok: true, value: category === 'query' ? result : null }, mw, rest: rest.sort() };
}

/** An adapter's log as the model compares it: middleware entries in order, subscribers and handlers as a sorted multiset. */
export function split(log: LogEntry[]): { mw: string[]; rest: string[] } {
  const mw = log.filter((e) => e.role === 'before' || e.role === 'after').map((e) => (e.role === 'before' ? `${e.label}/before ${JSON.stringify(e.payload)}` : `${e.label}/after result=${JSON.stringify(e.result ?? null)} error=${e.error ?? null}`));
  const rest = log.filter((e) => e.role === 'subscriber' || e.role === 'handler').map((e) => `${e.label}/${e.role} ${JSON.stringify(e.payload)}`).sort();
  return { mw, rest };
}

/** A mismatch between the model and the bus, naming the statements whose rule the compared value follows. */
class Mismatch extends CaseFailure {
  constructor(readonly statements: string[], what: string, expected: string, actual: string) {
    super(`[${statements.join(', ')}] ${what}: the model expects ${expected}, the bus gave ${actual}`, expected, actual);
  }
}

function same<T>(statements: string[], what: string, expected: NoInfer<T>, actual: T): void {
  const e = JSON.stringify(expected);
  const a = JSON.stringify(actual);
  if (e !== a) throw new Mismatch(statements, what, e, a);
}

/** The statements each compared value follows, by operation. */
export const RULES = {
  event: { reply: ['BUS-24', 'BUS-25', 'BUS-31'], rest: ['BUS-21', 'BUS-22', 'BUS-23', 'BUS-24', 'BUS-31'] },
  command: { reply: ['BUS-26', 'BUS-27', 'BUS-31', 'BUS-33'], rest: ['BUS-26', 'BUS-27', 'BUS-31'] },
  query: { reply: ['BUS-27', 'BUS-28', 'BUS-31', 'BUS-33'], rest: ['BUS-27', 'BUS-28', 'BUS-31'] },
  middleware: ['BUS-30', 'BUS-31', 'BUS-33'],
};

/** A reply as the model compares it: the value, or only the error's code. */
export function replyShape(r: Reply): { ok: true; value: unknown } | { ok: false; code: ErrorName | ReceivedCode } {
  return r.ok ? { ok: true, value: r.value } : { ok: false, code: r.error.code };
}

type Cmd = fc.AsyncCommand<Model, BusDriver>;

/** An operation on messages, checked against the model. */
class Operation implements Cmd {
  constructor(readonly category: 'event' | 'command' | 'query', readonly type: string, readonly payload: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, d: BusDriver): Promise<void> {
    const cmd: Command = this.category === 'event' ? { op: 'publish', event_type: this.type, payload: this.payload } : this.category === 'command' ? { op: 'send', message_type: this.type, payload: this.payload } : { op: 'query', message_type: this.type, payload: this.payload };
    const want = simulate(m, this.category, this.type, this.payload);
    const reply = await d.call(cmd);
    const got = split(await ok<LogEntry[]>(d, { op: 'log' }));
    same(RULES[this.category].reply, `${this} reply`, want.reply, replyShape(reply));
    same(RULES.middleware, `${this} middleware`, want.mw, got.mw);
    same(RULES[this.category].rest, `${this} handlers and subscribers`, want.rest, got.rest);
  }
  toString(): string {
    return `${this.category === 'event' ? 'publish' : this.category === 'command' ? 'send' : 'query'}(${this.type}, ${this.payload})`;
  }
}

class Subscribe implements Cmd {
  constructor(readonly type: string, readonly label: string) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, d: BusDriver): Promise<void> {
    const handle = await ok<string>(d, { op: 'subscribe', event_type: this.type, label: this.label });
    m.subs.push({ handle, type: this.type, label: this.label, live: true });
  }
  toString(): string {
    return `subscribe(${this.type}, ${this.label})`;
  }
}

class Unsubscribe implements Cmd {
  constructor(readonly index: number) {}
  check(m: Readonly<Model>): boolean {
    return m.subs.length > 0;
  }
  async run(m: Model, d: BusDriver): Promise<void> {
    const s = m.subs[this.index % m.subs.length]!;
    await ok(d, { op: 'unsubscribe', handle: s.handle });
    s.live = false; // a second unsubscribe of the same handle is a no-op (BUS-22)
    same(['BUS-22', 'BUS-35'], `${this} subscriber_count(${s.type})`, m.subs.filter((x) => x.live && x.type === s.type).length, await ok(d, { op: 'subscriber_count', event_type: s.type }));
  }
  toString(): string {
    return `unsubscribe(#${this.index})`;
  }
}

class Register implements Cmd {
  constructor(readonly type: string, readonly label: string, readonly fail: boolean, readonly value: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, d: BusDriver): Promise<void> {
    const reply = await d.call({ op: 'register_handler', message_type: this.type, category: this.type.startsWith('q') ? 'query' : 'command', label: this.label, behaviour: this.fail ? { kind: 'fail', ...FAIL } : { kind: 'return', value: this.value } });
    const exists = m.handlers.has(this.type);
    same(['BUS-19'], `${this}`, exists ? { ok: false, code: 'HANDLER_EXISTS' } : { ok: true, value: null }, replyShape(reply));
    if (!exists) m.handlers.set(this.type, { label: this.label, fail: this.fail, value: this.value });
    same(['BUS-19', 'BUS-35'], `${this} registered_types`, [...m.handlers.keys()].sort(), await ok(d, { op: 'registered_types' }));
  }
  toString(): string {
    return `register(${this.type}, ${this.label}, ${this.fail ? 'fails' : `returns ${this.value}`})`;
  }
}

class AddMiddleware implements Cmd {
  constructor(readonly mw: MwKind) {}
  check(m: Readonly<Model>): boolean {
    return m.middleware.length < 3;
  }
  async run(m: Model, d: BusDriver): Promise<void> {
    const label = `m${m.middleware.length + 1}`;
    const k = this.mw;
    await ok(d, {
      op: 'add_middleware', label,
      ...(k.kind === 'abort' ? { before: { kind: 'abort' as const } } : k.kind === 'replace' ? { before: { kind: 'replace' as const, payload: k.payload } } : {}),
      ...(k.kind === 'result' ? { after: { kind: 'result' as const, value: k.value } } : {}),
    });
    m.middleware.push({ label, mw: k });
  }
  toString(): string {
    return `middleware(${JSON.stringify(this.mw)})`;
  }
}

const payload = fc.integer({ min: 0, max: 99 });
const commands = [
  fc.tuple(fc.constantFrom('e1', 'e2'), fc.constantFrom('s1', 's2', 's3')).map(([t, l]) => new Subscribe(t, l)),
  fc.nat(20).map((i) => new Unsubscribe(i)),
  fc.tuple(fc.constantFrom('e1', 'e2'), payload).map(([t, p]) => new Operation('event', t, p)),
  fc.tuple(fc.constantFrom('c1', 'q1', 'c9'), payload).map(([t, p]) => new Operation('command', t, p)),
  fc.tuple(fc.constantFrom('q1', 'q2', 'c1', 'q9'), payload).map(([t, p]) => new Operation('query', t, p)),
  fc.tuple(fc.constantFrom('c1', 'q1', 'q2'), fc.constantFrom('h1', 'h2'), fc.boolean(), payload).map(([t, l, f, v]) => new Register(t, l, f, v)),
  fc.oneof(
    { arbitrary: fc.constant<MwKind>({ kind: 'pass' }), weight: 3 },
    { arbitrary: fc.constant<MwKind>({ kind: 'abort' }), weight: 1 },
    { arbitrary: payload.map<MwKind>((p) => ({ kind: 'replace', payload: p })), weight: 2 },
    { arbitrary: payload.map<MwKind>((v) => ({ kind: 'result', value: v })), weight: 2 },
  ).map((k) => new AddMiddleware(k)),
];

/** Runs per case; each run starts from a fresh bus (op reset). */
export const MODEL_RUNS = 15;

const fresh = async (d: BusDriver): Promise<{ model: Model; real: BusDriver }> => {
  await ok(d, { op: 'reset' });
  return { model: { subs: [], handlers: new Map(), middleware: [] }, real: d };
};

/**
 * Runs the model; on a failure reports the mismatch fast-check recorded for the shrunk counterexample
 * (with the statements it breaks), the counterexample, and that counterexample's own exchanges with
 * the adapter, replayed once more on a fresh bus so they are its and no other run's.
 */
export const MODEL_CASE: BusCaseDef = {
  id: 'bus-semantics/prop/model',
  statements: ['BUS-19', 'BUS-21', 'BUS-22', 'BUS-23', 'BUS-24', 'BUS-25', 'BUS-26', 'BUS-27', 'BUS-28', 'BUS-30', 'BUS-31', 'BUS-33', 'BUS-35'],
  async run(d, env) {
    const details = await fc.check(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), async (cmds) => fc.asyncModelRun(() => fresh(d), cmds)),
      { seed: env.seed, numRuns: env.modelRuns ?? MODEL_RUNS },
    );
    if (!details.failed) return;
    const [cmds] = details.counterexample ?? [];
    const cause = details.errorInstance;
    const replay = cmds ? await d.capture(() => fc.asyncModelRun(() => fresh(d), cmds)) : { error: undefined, exchanges: [] };
    const header = `the bus departs from the model (seed ${details.seed}, path ${details.counterexamplePath ?? '?'}, ${details.numShrinks} shrinks; replay with --seed ${env.seed})`;
    const mismatch = cause instanceof CaseFailure ? cause.message : cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const exchanges = replay.error === undefined
      ? 'replayed alone, the counterexample passed (the bus is not deterministic)'
      : `its exchanges with the adapter:\n${replay.exchanges.slice(-120).join('\n')}`;
    const message = `${header}:\n${mismatch}\nCounterexample: ${cmds ? [...cmds].map(String).join(', ') : '(none)'}\n${exchanges}`;
    if (cause instanceof CaseTimeout) throw new CaseTimeout(message);
    throw new CaseFailure(message, cause instanceof CaseFailure ? cause.expected : undefined, cause instanceof CaseFailure ? cause.actual : undefined);
  },
};
