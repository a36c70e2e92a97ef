/**
 * A peer's observable answer to one input, and how two answers are compared. What the spec leaves
 * to each implementation is not observable here: the ERROR `message` text, the answer's own `id`,
 * and the fields a kind names as free (an engine's name and latency). Payloads are compared as
 * values (D3), float32 fields after rounding both sides to binary32 (ENC-16).
 */
import type { Received } from '../wire/connection.js';
import { messageByName } from '../../reference/codec/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';
import { payloadToFixture } from '../../reference/codec/payload.js';
import { differences } from '../../reference/properties/equality.js';

export type Answer =
  | { kind: 'message'; type: MessageName; encoding: string; re: string | undefined; payload: unknown }
  | { kind: 'error'; code: unknown; definite: unknown; re: string | undefined; path: unknown; rule: unknown; param: unknown }
  | { kind: 'closed' }
  | { kind: 'silent'; ms: number }
  | { kind: 'undecodable'; code: string; message: string };

/** The answer a received item shows. */
export function answerOf(r: Received, waitedMs: number): Answer {
  switch (r.kind) {
    case 'timeout':
      return { kind: 'silent', ms: waitedMs };
    case 'closed':
      return { kind: 'closed' };
    case 'invalid':
      return { kind: 'undecodable', code: String(r.error.code), message: r.error.message };
    case 'message': {
      const m = r.message;
      if (m.name === 'ERROR') {
        const p = m.payload as { code?: unknown; definite?: unknown; details?: { path?: unknown; rule?: unknown; param?: unknown } };
        return { kind: 'error', code: p.code, definite: p.definite, re: m.header.re, path: p.details?.path, rule: p.details?.rule, param: p.details?.param };
      }
      return { kind: 'message', type: m.name, encoding: m.encoding, re: m.header.re, payload: m.payload };
    }
  }
}

/** Where two answers differ: `type`, `re`, `code`, `definite`, `details.path`, `details.rule`, `encoding` or payload pointers (`/x/y`). */
export function answerDifferences(a: Answer, b: Answer, free: readonly RegExp[] = []): string[] {
  if (a.kind !== b.kind) return ['kind'];
  if (a.kind === 'message' && b.kind === 'message') {
    if (a.type !== b.type) return ['type'];
    const out: string[] = [];
    if (a.re !== b.re) out.push('re');
    if (a.encoding !== b.encoding) out.push('encoding');
    const schema = messageByName(a.type).payload;
    out.push(...differences(a.payload, b.payload, { schema }).filter((p) => !free.some((f) => f.test(p))));
    return out;
  }
  if (a.kind === 'error' && b.kind === 'error') {
    const fields = [['code', a.code, b.code], ['definite', a.definite, b.definite], ['re', a.re, b.re], ['details.path', a.path, b.path], ['details.rule', a.rule, b.rule], ['details.param', a.param, b.param]] as const;
    return fields.filter(([, x, y]) => x !== y).map(([name]) => name);
  }
  if (a.kind === 'undecodable' && b.kind === 'undecodable') return a.code === b.code ? [] : ['code'];
  return [];
}

/** One line describing an answer, for the side-by-side table (payloads in the fixtures' typed JSON). */
export function showAnswer(a: Answer, width = 400): string {
  switch (a.kind) {
    case 'silent':
      return `no answer within ${a.ms} ms`;
    case 'closed':
      return 'closed the connection';
    case 'undecodable':
      return `an undecodable frame (${a.code}: ${a.message})`;
    case 'error':
      return `ERROR ${String(a.code)} definite=${JSON.stringify(a.definite)} re=${JSON.stringify(a.re)}${a.path !== undefined ? ` path=${JSON.stringify(a.path)}` : ''}${a.rule !== undefined ? ` rule=${JSON.stringify(a.rule)}` : ''}${a.param !== undefined ? ` param=${JSON.stringify(a.param)}` : ''}`;
    case 'message': {
      const payload = JSON.stringify(payloadToFixture(messageByName(a.type), a.payload), (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      const text = `${a.type} (${a.encoding}) re=${JSON.stringify(a.re)} ${payload ?? ''}`;
      return text.length > width ? `${text.slice(0, width)}...` : text;
    }
  }
}
