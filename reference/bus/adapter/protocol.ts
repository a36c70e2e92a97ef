/**
 * The bus adapter protocol (section bus-adapter): one JSON object per line each way. The harness
 * describes handlers, subscribers and hooks as behaviours, since functions cannot cross a process
 * boundary, and reads what ran from the adapter's log. Any language implements it in a few hundred
 * lines (peers/python/concord_bus/adapter.py is one).
 */

/** What a subscriber, command or query handler, or service handler does when invoked. */
export type Behaviour =
  | { kind: 'return'; value: unknown }
  /** Returns the payload it received. */
  | { kind: 'echo' }
  | { kind: 'fail'; code: string; message: string }
  /** Fails its first `times` invocations with `code`, then returns `value`. */
  | { kind: 'fail_first'; times: number; code: string; message: string; value: unknown }
  /** Waits until the gate is opened (op `open_gate`), then returns `value` (the payload when absent). */
  | { kind: 'gate'; gate: string; value?: unknown }
  /** Never finishes (for timeouts). */
  | { kind: 'never' };

export type BeforeBehaviour =
  | { kind: 'pass' }
  | { kind: 'abort' }
  | { kind: 'fail'; code: string; message: string }
  /** Replaces the message: its type (when given) and payload. */
  | { kind: 'replace'; type?: string; payload: unknown };

export type AfterBehaviour =
  | { kind: 'pass' }
  | { kind: 'result'; value: unknown }
  | { kind: 'error'; code: string; message: string }
  /** Replaces the result and clears the error. */
  | { kind: 'recover'; value: unknown };

export interface DescriptorIn {
  name: string;
  service_type: string;
  version?: string;
  capabilities?: string[];
  max_concurrent?: number;
  healthy?: boolean;
  metadata?: Record<string, unknown>;
}

export interface TargetIn {
  service_name: string;
  method: string;
  priority?: 'realtime' | 'high' | 'normal' | 'low' | 'idle';
  timeout_ms?: number;
  max_retries?: number;
}

export type Command =
  | { op: 'hello' }
  | { op: 'reset' }
  | { op: 'subscribe'; event_type: string; label: string; behaviour?: Behaviour }
  | { op: 'unsubscribe'; handle: string }
  | { op: 'publish'; event_type: string; payload: unknown }
  | { op: 'register_handler'; message_type: string; category: 'command' | 'query'; label: string; behaviour: Behaviour }
  | { op: 'send'; message_type: string; payload: unknown }
  | { op: 'query'; message_type: string; payload: unknown; timeout_ms?: number }
  | { op: 'add_middleware'; label: string; before?: BeforeBehaviour; after?: AfterBehaviour }
  | { op: 'has_handler'; message_type: string }
  | { op: 'subscriber_count'; event_type: string }
  | { op: 'registered_types' }
  | { op: 'clear' }
  | { op: 'log' }
  | { op: 'open_gate'; gate: string }
  | { op: 'register_service'; service: DescriptorIn; label: string; behaviour: Behaviour }
  | { op: 'unregister_service'; name: string }
  | { op: 'set_health'; name: string; healthy: boolean }
  | { op: 'get_service'; name: string }
  | { op: 'list_services'; service_type?: string; healthy_only?: boolean }
  | { op: 'dispatch'; target: TargetIn; payload: unknown }
  /** Starts every dispatch in one turn (SVC-10) and answers with their outcomes in the given order. */
  | { op: 'dispatch_batch'; items: { target: TargetIn; payload: unknown }[] }
  | { op: 'broadcast'; event_type: string; payload: unknown }
  | { op: 'request'; service_name: string; query_type: string; payload: unknown; timeout_ms?: number };

export type Request = Command & { seq: number };

export interface WireErr {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export type Reply = { seq: number; ok: true; value: unknown } | { seq: number; ok: false; error: WireErr };

/** One invocation, in the order it started. */
export interface LogEntry {
  label: string;
  role: 'subscriber' | 'handler' | 'service' | 'before' | 'after';
  type: string;
  payload: unknown;
  /** after hooks: what they received. */
  result?: unknown;
  error?: string | null;
  /** service handlers: the attempt number. */
  attempt?: number;
  method?: string;
}

/** What `hello` answers: who the adapter is and what it implements. */
export interface Hello {
  name: string;
  language: string;
  version: string;
  /**
   * Optional features: `same-turn` (dispatch_batch starts in one turn, SVC-10), `handler-check`
   * (services registered without handler are refused with NO_HANDLER, SVC-3). Every adapter
   * implements the rest.
   */
  features: string[];
}
