/**
 * Secrets the harness must never write (the token): registered once per run, blanked out of wire
 * bytes before they are logged and out of every text a report or the terminal shows.
 */
const secrets = new Set<string>();

/** Registers a secret for this process; empty strings are ignored. */
export function registerSecret(secret: string | undefined): void {
  if (secret) secrets.add(secret);
}

export function forgetSecrets(): void {
  secrets.clear();
}

const MARK = '[redacted]';

/** The text with every registered secret replaced. */
export function redactText(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(MARK);
  return out;
}

/** A copy of `bytes` with every occurrence of a secret's UTF-8 bytes overwritten by `*` (lengths kept, so frames still parse). */
export function redactBytes(bytes: Uint8Array): Uint8Array {
  if (secrets.size === 0) return bytes;
  let copy: Buffer | undefined;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const s of secrets) {
    const needle = Buffer.from(s, 'utf8');
    let at = view.indexOf(needle);
    while (at >= 0) {
      copy ??= Buffer.from(view);
      copy.fill(0x2a, at, at + needle.length);
      at = view.indexOf(needle, at + needle.length);
    }
  }
  return copy ?? bytes;
}

/** A deep copy of a JSON-like value with every string redacted. */
export function redactDeep<T>(value: T): T {
  if (secrets.size === 0) return value;
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  return value;
}
