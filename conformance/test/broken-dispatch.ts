/**
 * Broker variants whose SERVICE_DISPATCH breaks one rule of section registry in a way a frame-rewriting
 * proxy cannot make (when the broker retries, how long it waits): the reference broker with its
 * dispatcher's start replaced by a copy that has the defect. Test-only; the broker itself has no hook.
 */
import { ProtocolError, MessageType, type Message } from '../../reference/codec/index.js';
import { dispatchBackoffMs, DISPATCH_MAX_RETRIES, DISPATCH_TIMEOUT_MS } from '../../reference/broker/dispatch.js';
import type { Broker } from '../../reference/broker/index.js';
import type { ServiceDispatchPayload } from '../../spec/generated/types.js';

export type DispatchDefect =
  /** REG-7: retries at once. */
  | 'no-backoff'
  /** REG-6: never retries. */
  | 'no-retries'
  /** REG-5: retries an attempt that timed out. */
  | 'retries-timeouts'
  /** REG-12: retries when the service disconnected (and then finds no service). */
  | 'retries-peer-gone'
  /** REG-9: a failed dispatch leaves its load in place. */
  | 'load-kept-on-failure';

interface Internals {
  deps: { calls: { call(c: unknown, type: string, p: unknown, ms: number, src: string): Promise<Message> }; services: { entry(name: string): { owner: unknown; load: number; descriptor: { max_concurrent?: number } } | undefined } };
  fail(conn: unknown, re: string, e: ProtocolError): void;
  reply(conn: unknown, re: string, payload: unknown): void;
  start(conn: { clientId?: string }, re: string, p: ServiceDispatchPayload): Promise<void>;
}

export function breakDispatch(broker: Broker, defect: DispatchDefect): void {
  const d = (broker as unknown as { router: { deps: { dispatcher: Internals } } }).router.deps.dispatcher;
  d.start = async function (this: Internals, conn, re, p) {
    const entry = this.deps.services.entry(p.service_name);
    if (!entry) return this.fail(conn, re, new ProtocolError('SERVICE_NOT_FOUND', `${p.service_name} is gone`));
    const limit = entry.descriptor.max_concurrent ?? 0;
    if (limit > 0 && entry.load >= limit) return this.fail(conn, re, new ProtocolError('OVERLOADED', 'busy', { limit }));
    entry.load++;
    let failed = false;
    try {
      const maxRetries = defect === 'no-retries' ? 0 : p.max_retries ?? DISPATCH_MAX_RETRIES;
      let last: unknown;
      for (let attempt = 1; attempt <= maxRetries + 1; attempt++) {
        if (attempt > 1 && defect !== 'no-backoff') await new Promise((r) => setTimeout(r, dispatchBackoffMs(attempt - 1)));
        const target = this.deps.services.entry(p.service_name);
        if (!target) return this.fail(conn, re, new ProtocolError('SERVICE_NOT_FOUND', `${p.service_name} is gone`));
        let answer: Message;
        try {
          answer = await this.deps.calls.call(target.owner, 'SERVICE_DISPATCH', p, p.timeout_ms ?? DISPATCH_TIMEOUT_MS, conn.clientId!);
        } catch (e) {
          const code = (e as ProtocolError).code;
          if ((defect === 'retries-timeouts' && code === 'TIMEOUT') || (defect === 'retries-peer-gone' && code === 'PEER_GONE')) {
            last = { code, message: (e as Error).message, definite: false };
            continue;
          }
          failed = true;
          return this.fail(conn, re, e as ProtocolError);
        }
        if (answer.type !== MessageType.ERROR) return this.reply(conn, re, { result: (answer.payload as { result?: unknown }).result, attempts: attempt });
        last = answer.payload;
      }
      failed = true;
      this.fail(conn, re, new ProtocolError('HANDLER_FAILED', 'every attempt failed', { error: last }));
    } finally {
      if (!(failed && defect === 'load-kept-on-failure')) entry.load--;
    }
  };
}
