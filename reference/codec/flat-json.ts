/**
 * A fast path for the header JSON every routed frame carries (issue 15): a flat object of string values
 * written without whitespace or escapes, `{"id":"7","dst":"worker"}`, is read by one scan, in about
 * half of JSON.parse's time. Anything else (whitespace, an escape, a number, a nested value, a
 * `__proto__` key, invalid JSON) is left to JSON.parse: the fast path returns undefined, never a
 * different result.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

/** Index of the closing quote of a string starting after `from`, or -1 when it has an escape, a control character or no end. */
function stringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

/**
 * The key between `start` and `end`: the routing keys as their literals (already internalised, so the
 * property store skips hashing a fresh slice on every frame), any other key as a slice.
 */
function keyAt(text: string, start: number, end: number): string {
  const c = text.charCodeAt(start);
  switch (end - start) {
    case 2:
      if (c === 0x69 && text.charCodeAt(start + 1) === 0x64) return 'id';
      if (c === 0x72 && text.charCodeAt(start + 1) === 0x65) return 're';
      if (c === 0x74 && text.charCodeAt(start + 1) === 0x73) return 'ts';
      break;
    case 3:
      if (c === 0x64 && text.charCodeAt(start + 1) === 0x73 && text.charCodeAt(start + 2) === 0x74) return 'dst';
      if (c === 0x73 && text.charCodeAt(start + 1) === 0x72 && text.charCodeAt(start + 2) === 0x63) return 'src';
      break;
  }
  return text.slice(start, end);
}

/** What JSON.parse(text) gives when `text` is a compact flat object of plain strings; undefined otherwise (then call JSON.parse). */
export function parseFlatStringObject(text: string): Record<string, string> | undefined {
  const n = text.length;
  if (n < 2 || text.charCodeAt(0) !== OPEN || text.charCodeAt(n - 1) !== CLOSE) return undefined;
  const out: Record<string, string> = {};
  if (n === 2) return out;
  let i = 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return undefined;
    const keyEnd = stringEnd(text, i + 1);
    if (keyEnd < 0 || text.charCodeAt(keyEnd + 1) !== COLON || text.charCodeAt(keyEnd + 2) !== QUOTE) return undefined;
    const valueEnd = stringEnd(text, keyEnd + 3);
    if (valueEnd < 0) return undefined;
    const key = keyAt(text, i + 1, keyEnd);
    // JSON.parse makes `__proto__` an own key; an assignment would set the prototype instead.
    if (key === '__proto__') return undefined;
    out[key] = text.slice(keyEnd + 3, valueEnd);
    const next = text.charCodeAt(valueEnd + 1);
    if (next === CLOSE) return valueEnd + 2 === n ? out : undefined;
    if (next !== COMMA) return undefined;
    i = valueEnd + 2;
  }
}
