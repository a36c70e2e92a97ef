/**
 * Runs adapter commands (section bus-adapter) against a bus and a coordinator: behaviours become
 * handlers, every invocation is logged, gates let the harness hold handlers open. The same session
 * drives the in-process bus (`concord bus-adapter`, the unit tests, the broken variants) and the wire
 * bus (the bus suite against a broker), so they are checked by the same cases.
 */
import { BusError, asBusError } from '../errors.js';
import type { BusMessage, CommandBus, Handler, Middleware } from '../types.js';
import type { DispatchHandler, ServiceCoordinator } from '../coordinator.js';
import type { AfterBehaviour, BeforeBehaviour, Behaviour, Command, Hello, LogEntry, Reply, Request, WireErr } from './protocol.js';

/** One bus under test: the bus operations go to `bus`; subscriptions and handlers rotate over `members`. */
export interface BusUnderTest {
  bus: CommandBus;
  /** Where subscriptions and handlers are placed, in turn (over the wire: several clients). */
  members: CommandBus[];
  coordinator: ServiceCoordinator;
  close(): Promise<void>;
}

export type BusFactory = () => Promise<BusUnderTest>;

class Gate {
  private opened = false;
  private waiters: (() => void)[] = [];
  open(): void {
    this.opened = true;
    for (const w of this.waiters.splice(0)) w();
  }
  wait(): Promise<void> {
    return this.opened ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

export class AdapterSession {
  private current: BusUnderTest | undefined;
  private log: LogEntry[] = [];
  private gates = new Map<string, Gate>();
  private subscriptions = new Map<string, () => Promise<void>>();
  private counter = 0;
  private placement = 0;

  constructor(private readonly factory: BusFactory, readonly hello: Hello) {}

  async handle(req: Request): Promise<Reply> {
    try {
      return { seq: req.seq, ok: true, value: (await this.run(req)) ?? null };
    } catch (e) {
      const err = asBusError(e);
      const error: WireErr = { code: err.code, message: err.message };
      if (Object.keys(err.details).length > 0) error.details = err.details;
      return { seq: req.seq, ok: false, error };
    }
  }

  async close(): Promise<void> {
    for (const g of this.gates.values()) g.open(); // nothing stays parked on a gate
    await this.current?.close();
    this.current = undefined;
  }

  private async under(): Promise<BusUnderTest> {
    this.current ??= await this.factory();
    return this.current;
  }

  private next(u: BusUnderTest): CommandBus {
    return u.members[this.placement++ % u.members.length]!;
  }

  private gate(name: string): Gate {
    let g = this.gates.get(name);
    if (!g) this.gates.set(name, (g = new Gate()));
    return g;
  }

  private async run(c: Command): Promise<unknown> {
    if (c.op === 'hello') return this.hello;
    if (c.op === 'reset') {
      await this.close();
      this.log = [];
      this.gates = new Map();
      this.subscriptions.clear();
      this.byLabel.clear();
      this.placement = 0;
      await this.under();
      return null;
    }
    if (c.op === 'log') return this.log.splice(0);
    if (c.op === 'open_gate') return this.gate(c.gate).open();
    const u = await this.under();
    switch (c.op) {
      case 'subscribe': {
        const off = await this.next(u).subscribe(c.event_type, this.handler(c.label, 'subscriber', c.behaviour ?? { kind: 'return', value: null }));
        const handle = `s${++this.counter}`;
        this.subscriptions.set(handle, off);
        return handle;
      }
      case 'unsubscribe':
        return this.subscriptions.get(c.handle)?.();
      case 'publish':
        return u.bus.publish(c.event_type, c.payload);
      case 'register_handler':
        return this.next(u).registerHandler(c.message_type, c.category, this.handler(c.label, 'handler', c.behaviour));
      case 'send':
        return u.bus.send(c.message_type, c.payload);
      case 'query':
        return u.bus.query(c.message_type, c.payload, c.timeout_ms !== undefined ? { timeoutMs: c.timeout_ms } : {});
      case 'add_middleware':
        return u.bus.use(this.middleware(c.label, c.before, c.after));
      case 'has_handler':
        return u.members.some((b) => b.hasHandler(c.message_type));
      case 'subscriber_count':
        return u.members.reduce((n, b) => n + b.subscriberCount(c.event_type), 0);
      case 'registered_types':
        return [...new Set(u.members.flatMap((b) => b.registeredTypes()))].sort();
      case 'clear':
        for (const b of u.members) await b.clear();
        this.subscriptions.clear();
        return null;
      case 'register_service':
        // Without a behaviour, a service without a dispatch handler (feature handler-check, SVC-3).
        return u.coordinator.registerService(c.service, c.behaviour === undefined ? undefined : this.service(c.label, c.behaviour));
      case 'unregister_service':
        return u.coordinator.unregisterService(c.name);
      case 'set_health':
        return u.coordinator.setHealth(c.name, c.healthy);
      case 'get_service':
        return (await u.coordinator.getService(c.name)) ?? null;
      case 'list_services':
        return u.coordinator.listServices({ ...(c.service_type !== undefined ? { service_type: c.service_type } : {}), ...(c.healthy_only !== undefined ? { healthy_only: c.healthy_only } : {}) });
      case 'dispatch':
        return u.coordinator.dispatch(c.target, c.payload);
      case 'dispatch_batch': {
        const all = c.items.map((i) => u.coordinator.dispatch(i.target, i.payload));
        const settled = await Promise.allSettled(all);
        return settled.map((s) => (s.status === 'fulfilled' ? { ok: true, value: s.value } : { ok: false, error: { code: asBusError(s.reason).code, message: asBusError(s.reason).message } }));
      }
      case 'broadcast':
        return u.coordinator.broadcast(c.event_type, c.payload);
      case 'request':
        return u.coordinator.request(c.service_name, c.query_type, c.payload, c.timeout_ms);
      default:
        throw new BusError('UNSUPPORTED', `unknown op ${(c as { op: string }).op}`);
    }
  }

  private async behave(b: Behaviour, payload: unknown, calls: number): Promise<unknown> {
    switch (b.kind) {
      case 'return':
        return b.value;
      case 'echo':
        return payload;
      case 'fail':
        throw new BusError(b.code, b.message);
      case 'fail_first':
        if (calls <= b.times) throw new BusError(b.code, b.message);
        return b.value;
      case 'gate':
        await this.gate(b.gate).wait();
        return 'value' in b ? b.value : payload;
      case 'never':
        return new Promise(() => undefined);
    }
  }

  /** Subscribers of one label are one function, so subscribing a label twice subscribes the same function twice (BUS-21). */
  private readonly byLabel = new Map<string, Handler>();

  private handler(label: string, role: 'subscriber' | 'handler', b: Behaviour): Handler {
    const key = `${role}:${label}:${JSON.stringify(b)}`;
    const known = this.byLabel.get(key);
    if (known && role === 'subscriber') return known;
    let calls = 0;
    const h = (m: BusMessage): Promise<unknown> => {
      this.log.push({ label, role, type: m.type, payload: m.payload ?? null });
      return this.behave(b, m.payload, ++calls);
    };
    this.byLabel.set(key, h);
    return h;
  }

  private service(label: string, b: Behaviour): DispatchHandler {
    let calls = 0;
    return (call) => {
      this.log.push({ label, role: 'service', type: label, method: call.method, payload: call.payload ?? null, attempt: call.attempt });
      return this.behave(b, call.payload, ++calls);
    };
  }

  private middleware(label: string, before: BeforeBehaviour | undefined, after: AfterBehaviour | undefined): Middleware {
    const m: Middleware = {};
    if (before && before.kind !== 'pass') {
      m.before = (ctx, message) => {
        this.log.push({ label, role: 'before', type: ctx.messageType, payload: message.payload ?? null });
        if (before.kind === 'abort') return undefined;
        if (before.kind === 'fail') throw new BusError(before.code, before.message);
        return { ...message, type: before.type ?? message.type, payload: before.payload };
      };
    } else {
      m.before = (ctx, message) => (this.log.push({ label, role: 'before', type: ctx.messageType, payload: message.payload ?? null }), message);
    }
    m.after = (ctx, message, result, error) => {
      this.log.push({ label, role: 'after', type: ctx.messageType, payload: message.payload ?? null, result: result ?? null, error: error?.code ?? null });
      if (!after || after.kind === 'pass') return undefined;
      if (after.kind === 'result') return { result: after.value };
      if (after.kind === 'recover') return { result: after.value, error: null };
      return { error: new BusError(after.code, after.message) };
    };
    return m;
  }
}
