/**
 * The one escaping function for everything the harness prints to a terminal: peer-controlled text
 * (messages, stderr excerpts, ids) must not move the cursor, retitle or clear the screen.
 */

/**
 * Control characters (C0 except LF and TAB, DEL, C1) and the Unicode line/paragraph separators and
 * bidirectional overrides become visible escapes: ESC prints as the six characters `\u001b`
 * (a form that is also a valid escape inside a JSON string, so JSON output stays parseable).
 */
export function printable(text: string, options: { keepNewlines?: boolean } = {}): string {
  const keep = options.keepNewlines ?? true;
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\n' && keep) return c;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}
