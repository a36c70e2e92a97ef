/**
 * What a session may carry at the version it negotiated (VER-3): a message type, or a payload field, whose
 * `since` is later than that version must not be sent on it. The catalog gives each type's `since`, and each
 * field added after its type its own `since` (an annotation of the payload schema).
 */
import { PROTOCOL_VERSION, type MessageName } from '../../spec/generated/catalog.js';
import { messageByName } from './catalog.js';
import { resolve } from './plan.js';

type SchemaNode = Readonly<Record<string, unknown>>;

const isNode = (x: unknown): x is SchemaNode => typeof x === 'object' && x !== null && !Array.isArray(x);
const VERSION = /^([0-9]+)\.([0-9]+)$/;

/** Whether `version` is later than `negotiated`, both `MAJOR.MINOR` compared as decimal integers (VER-2). */
export function isLaterVersion(version: string, negotiated: string): boolean {
  const a = VERSION.exec(version);
  const b = VERSION.exec(negotiated);
  if (!a || !b) throw new RangeError(`not a MAJOR.MINOR version: ${a ? negotiated : version}`);
  const major = Number(a[1]) - Number(b[1]);
  return major > 0 || (major === 0 && Number(a[2]) > Number(b[2]));
}

/** A part of a message later than the negotiated version: the type itself (pointer null) or a field. */
export interface LaterPart {
  /** JSON pointer of the field in the payload; null when the type itself is later. */
  readonly pointer: string | null;
  readonly since: string;
}

/** The fields of `value` whose schema (`node`) says they came after `negotiated`, in document order. */
function laterFields(node: SchemaNode, value: unknown, pointer: string, negotiated: string, out: LaterPart[]): void {
  const s = resolve(node);
  const since = s['since'];
  if (typeof since === 'string' && isLaterVersion(since, negotiated)) {
    out.push({ pointer, since });
    return;
  }
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const branches = s[key];
    if (Array.isArray(branches)) for (const b of branches) if (isNode(b)) laterFields(b, value, pointer, negotiated, out);
  }
  if (Array.isArray(value)) {
    const items = s['items'];
    if (isNode(items)) value.forEach((v, i) => laterFields(items, v, `${pointer}/${i}`, negotiated, out));
    return;
  }
  if (!isNode(value) || Object.getPrototypeOf(value) !== Object.prototype) return; // scalars, ndarrays
  const props = isNode(s['properties']) ? s['properties'] : {};
  const extra = s['additionalProperties'];
  for (const [k, v] of Object.entries(value)) {
    const field = Object.hasOwn(props, k) ? props[k] : extra;
    if (isNode(field)) laterFields(field, v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, negotiated, out);
  }
}

/**
 * The parts of a message a session of version `negotiated` must not carry (VER-3): the type when its `since`
 * is later, else each payload field present whose `since` is later. Empty when the message fits the version.
 */
export function partsLaterThan(name: MessageName, payload: unknown, negotiated: string): LaterPart[] {
  const m = messageByName(name);
  if (isLaterVersion(m.since, negotiated)) return [{ pointer: null, since: m.since }];
  const out: LaterPart[] = [];
  if (m.payload !== null) laterFields(m.payload, payload, '', negotiated, out);
  return out;
}

/** The parts in words, for a verdict: `STATS_RESPONSE /cluster (since 1.1)`. */
export function describeLaterParts(name: MessageName, parts: readonly LaterPart[]): string {
  return parts.map((p) => (p.pointer === null ? `${name} (since ${p.since})` : `${name} ${p.pointer} (since ${p.since})`)).join(', ');
}

/**
 * The version a broker of version `own` answers to an INIT offering `offered` (VER-2): its own major with the
 * smaller minor. An offer that is not `MAJOR.MINOR` of the same major gives `own` (VER-1 refuses it instead).
 */
export function negotiatedVersion(offered: unknown, own: string = PROTOCOL_VERSION): string {
  const [major, minor] = own.split('.');
  const o = typeof offered === 'string' ? VERSION.exec(offered) : null;
  if (!o || Number(o[1]) !== Number(major)) return own;
  return `${major}.${Math.min(Number(minor), Number(o[2]))}`;
}
