/** Helpers every constants generator shares: literals per language, sorted tables, name checks. */
import type { SpecModel, MessageSpec } from '../model.js';

/** The framing constants of spec/framing.json, in the shape the templates use. */
export function framingOf(spec: SpecModel): { lengthPrefixBytes: number; bodyPrefixBytes: number; encodingMask: number; reservedFlagsMask: number; encodings: string[] } {
  return {
    lengthPrefixBytes: spec.framing.length_prefix.bytes,
    bodyPrefixBytes: spec.framing.body_prefix_bytes,
    encodingMask: spec.framing.encoding_mask,
    reservedFlagsMask: spec.framing.reserved_flags_mask,
    encodings: spec.framing.encodings.map((e) => e.name),
  };
}

/** INIT_ACK -> InitAck; max_frame -> MaxFrame. */
export function pascal(name: string): string {
  return name.toLowerCase().split('_').filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

export const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;

/** A string for a language whose literals we only fill with printable ASCII (C++). */
export function asciiLiteral(text: string, where: string): string {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new Error(`constants: ${where} is not printable ASCII: ${JSON.stringify(text)}`);
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A Python string literal: JSON's escapes are all valid Python escapes. */
export const py = (text: string | null): string => (text === null ? 'None' : JSON.stringify(text));

/** A Perl string literal: single-quoted when plain ASCII, otherwise double-quoted with \x{...} escapes. */
export function pl(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
  return `"${[...text].map((c) => {
    const cp = c.codePointAt(0)!;
    if (c === '\\' || c === '"' || c === '$' || c === '@') return `\\${c}`;
    return cp >= 0x20 && cp <= 0x7e ? c : `\\x{${cp.toString(16)}}`;
  }).join('')}"`;
}

/** Fails when two generated identifiers of one namespace collide. */
export function unique(names: string[], where: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`constants: ${where}: identifier ${n} is generated twice`);
    seen.add(n);
  }
}

export function dtypeRows(spec: SpecModel): { code: string; name: string; kind: string; itemsize: number }[] {
  return spec.ndarray.dtypes.flatMap((d) => d.codes.map((code) => ({ code, name: d.name, kind: d.kind, itemsize: d.itemsize })));
}

export function messagesByCode(spec: SpecModel): MessageSpec[] {
  return [...spec.messages].sort((a, b) => a.code - b.code);
}

export function errorsById(spec: SpecModel): SpecModel['errorFile']['errors'] {
  return [...spec.errorFile.errors].sort((a, b) => a.id - b.id);
}
