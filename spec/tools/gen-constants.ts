/**
 * Generates the protocol constants of the non-TypeScript peers from spec/: a C++17 header, a Python
 * module and a Perl module. No peer hand-writes a type code, an error name or a limit.
 */
import { BANNER } from './gen-ts.js';
import { derivedValues } from './derived.js';
import type { SpecModel, MessageSpec } from './model.js';

/** Framing constants of decisions D1-D3 (spec sections framing, body, encodings). */


/** The framing constants of spec/framing.json, in the shape the templates use. */
function framingOf(spec: SpecModel): { lengthPrefixBytes: number; bodyPrefixBytes: number; encodingMask: number; reservedFlagsMask: number; encodings: string[] } {
  return {
    lengthPrefixBytes: spec.framing.length_prefix.bytes,
    bodyPrefixBytes: spec.framing.body_prefix_bytes,
    encodingMask: spec.framing.encoding_mask,
    reservedFlagsMask: spec.framing.reserved_flags_mask,
    encodings: spec.framing.encodings.map((e) => e.name),
  };
}

/** INIT_ACK -> InitAck; max_frame -> MaxFrame. */
function pascal(name: string): string {
  return name.toLowerCase().split('_').filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0').toUpperCase()}`;

/** A string for a language whose literals we only fill with printable ASCII (C++). */
function asciiLiteral(text: string, where: string): string {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new Error(`gen-constants: ${where} is not printable ASCII: ${JSON.stringify(text)}`);
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A Python string literal: JSON's escapes are all valid Python escapes. */
const py = (text: string | null): string => (text === null ? 'None' : JSON.stringify(text));

/** A Perl string literal: single-quoted when plain ASCII, otherwise double-quoted with \x{...} escapes. */
function pl(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
  return `"${[...text].map((c) => {
    const cp = c.codePointAt(0)!;
    if (c === '\\' || c === '"' || c === '$' || c === '@') return `\\${c}`;
    return cp >= 0x20 && cp <= 0x7e ? c : `\\x{${cp.toString(16)}}`;
  }).join('')}"`;
}

/** Fails when two generated identifiers of one namespace collide. */
function unique(names: string[], where: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`gen-constants: ${where}: identifier ${n} is generated twice`);
    seen.add(n);
  }
}

function dtypeRows(spec: SpecModel): { code: string; name: string; kind: string; itemsize: number }[] {
  return spec.ndarray.dtypes.flatMap((d) => d.codes.map((code) => ({ code, name: d.name, kind: d.kind, itemsize: d.itemsize })));
}

function messagesByCode(spec: SpecModel): MessageSpec[] {
  return [...spec.messages].sort((a, b) => a.code - b.code);
}

function errorsById(spec: SpecModel): SpecModel['errorFile']['errors'] {
  return [...spec.errorFile.errors].sort((a, b) => a.id - b.id);
}

export function generateCpp(spec: SpecModel): string {
  const FRAMING = framingOf(spec);
  const messages = messagesByCode(spec);
  const errors = errorsById(spec);
  const limits = spec.limitFile.limits;
  const dtypes = dtypeRows(spec);
  unique(messages.map((m) => pascal(m.name)), 'C++ MessageType');
  unique(errors.map((e) => pascal(e.name)), 'C++ ErrorCode');
  unique(limits.map((l) => `k${pascal(l.name)}`), 'C++ limits');
  const s = (text: string, where: string): string => asciiLiteral(text, where);
  const boolSwitch = (pick: (e: (typeof errors)[number]) => boolean): string => {
    const yes = errors.filter(pick);
    return yes.length === 0
      ? '  (void)code;\n  return false;'
      : `  switch (code) {\n${yes.map((e) => `    case ErrorCode::${pascal(e.name)}:`).join('\n')}\n      return true;\n    default:\n      return false;\n  }`;
  };
  const field = (f: SpecModel['ndarray']['fields'][number]): string =>
    `    NdarrayField{${s(f.name, 'field')}, ${s(f.type, 'field type')}, ${s(f.count ?? '', 'count')}, ${s(f.length ?? '', 'length')}},`;
  return `// ${BANNER}
// Constants of the Concord wire protocol for C++ peers (C++17, header only).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace concord::protocol {

/// Protocol version (MAJOR.MINOR) these constants describe.
inline constexpr char kProtocolVersion[] = ${s(spec.protocolVersion, 'protocol version')};

// ---- Message types (spec/messages/*.json), sorted by code ----

enum class MessageType : std::uint8_t {
${messages.map((m) => `  ${pascal(m.name)} = ${hex2(m.code)},`).join('\n')}
};

/// The catalog name of a type ("" for a value that is not in the catalog).
constexpr std::string_view message_name(MessageType type) {
  switch (type) {
${messages.map((m) => `    case MessageType::${pascal(m.name)}:\n      return ${s(m.name, 'name')};`).join('\n')}
  }
  return {};
}

struct MessageInfo {
  std::uint8_t code;
  std::string_view name;
  std::string_view kind;      // request, response, notification or error
  std::string_view response;  // "" if none
  std::uint32_t timeout_ms;   // 0 = the default (kRequestTimeoutMs)
};

inline constexpr std::array<MessageInfo, ${messages.length}> kMessages{{
${messages.map((m) => `    MessageInfo{${hex2(m.code)}, ${s(m.name, 'name')}, ${s(m.kind, 'kind')}, ${s(m.response ?? '', 'response')}, ${m.timeout_ms ?? 0}},`).join('\n')}
}};

// ---- Error registry (spec/errors.json), sorted by id ----

enum class ErrorCode : std::uint16_t {
${errors.map((e) => `  ${pascal(e.name)} = ${e.id},`).join('\n')}
};

/// The registry name an ERROR payload's \`code\` carries.
constexpr std::string_view error_name(ErrorCode code) {
  switch (code) {
${errors.map((e) => `    case ErrorCode::${pascal(e.name)}:\n      return ${s(e.name, 'error name')};`).join('\n')}
  }
  return {};
}

/// true when the sender of this ERROR closes the connection right after it.
constexpr bool error_closes(ErrorCode code) {
${boolSwitch((e) => e.closes)}
}

/// true when the failed request certainly had no effect.
constexpr bool error_definite(ErrorCode code) {
${boolSwitch((e) => e.definite)}
}

struct ErrorInfo {
  std::uint16_t id;
  std::string_view name;
  bool definite;
  bool closes;
};

inline constexpr std::array<ErrorInfo, ${errors.length}> kErrors{{
${errors.map((e) => `    ErrorInfo{${e.id}, ${s(e.name, 'error name')}, ${e.definite}, ${e.closes}},`).join('\n')}
}};

// ---- Limits (spec/limits.json): defaults ----

${limits.map((l) => `inline constexpr std::uint64_t k${pascal(l.name)} = ${l.default};  // ${l.unit}`).join('\n')}

struct LimitInfo {
  std::string_view name;
  std::uint64_t default_value;
  std::uint64_t min;
  std::uint64_t max;
  bool announced;  // announced in INIT / INIT_ACK
};

inline constexpr std::array<LimitInfo, ${limits.length}> kLimits{{
${limits.map((l) => `    LimitInfo{${s(l.name, 'limit')}, ${l.default}, ${l.min}, ${l.max}, ${l.announced}},`).join('\n')}
}};

// ---- Framing (sections framing, body, encodings) ----

inline constexpr std::uint32_t kLengthPrefixBytes = ${FRAMING.lengthPrefixBytes};  // u32 big-endian body length
inline constexpr std::uint32_t kBodyPrefixBytes = ${FRAMING.bodyPrefixBytes};    // u8 type | u8 flags | u16 hlen (big-endian)
inline constexpr std::uint8_t kEncodingMask = ${hex2(FRAMING.encodingMask)};
inline constexpr std::uint8_t kReservedFlagsMask = ${hex2(FRAMING.reservedFlagsMask)};

enum class Encoding : std::uint8_t {
${FRAMING.encodings.map((e, i) => `  ${pascal(e)} = ${i},`).join('\n')}
};

// ---- ndarray layout (spec/ndarray.json) ----

inline constexpr std::uint64_t kNdarrayMaxNdim = ${spec.ndarray.max_ndim};
inline constexpr std::uint64_t kNdarrayMaxDtypeLen = ${spec.ndarray.max_dtype_len};
inline constexpr std::string_view kNdarrayJsonWrapper = ${s(spec.ndarray.json_wrapper, 'json wrapper')};
inline constexpr std::uint64_t kNdarrayCborTag = ${spec.ndarray.cbor_tag};

/// One field of the layout, in order; count/length name the field that gives them ("" if fixed).
struct NdarrayField {
  std::string_view name;
  std::string_view type;
  std::string_view count;
  std::string_view length;
};

inline constexpr std::array<NdarrayField, ${spec.ndarray.fields.length}> kNdarrayFields{{
${spec.ndarray.fields.map(field).join('\n')}
}};

struct DtypeInfo {
  std::string_view code;  // numpy dtype.str, e.g. "<f4"
  std::string_view name;
  char kind;
  std::uint8_t itemsize;
};

inline constexpr std::array<DtypeInfo, ${dtypes.length}> kDtypes{{
${dtypes.map((d) => `    DtypeInfo{${s(d.code, 'dtype')}, ${s(d.name, 'dtype')}, '${d.kind}', ${d.itemsize}},`).join('\n')}
}};

}  // namespace concord::protocol
`;
}

export function generatePython(spec: SpecModel): string {
  const FRAMING = framingOf(spec);
  const messages = messagesByCode(spec);
  const errors = errorsById(spec);
  const limits = spec.limitFile.limits;
  const limitConsts = limits.map((l) => l.name.toUpperCase());
  const derived = derivedValues(spec);
  const fixed = ['PROTOCOL_VERSION', 'LENGTH_PREFIX_BYTES', 'BODY_PREFIX_BYTES', 'ENCODING_MASK', 'RESERVED_FLAGS_MASK', 'ENCODINGS',
    'NDARRAY_MAX_NDIM', 'NDARRAY_MAX_DTYPE_LEN', 'NDARRAY_JSON_WRAPPER', 'NDARRAY_CBOR_TAG', 'NDARRAY_FIELDS', 'DTYPES', 'MESSAGES', 'ERRORS', 'LIMITS',
    'ERROR_MESSAGE_MAX_LENGTH', 'DISPATCH_TIMEOUT_MS', 'DISPATCH_MAX_RETRIES', 'LIMIT_MIN'];
  unique([...fixed, ...limitConsts], 'Python module constants');
  const exported = ['MessageType', 'MessageName', 'MessageInfo', 'ErrorCode', 'ErrorInfo', ...fixed, ...limitConsts, 'dispatch_backoff_ms', 'ndarray_fields'];
  const pyBool = (b: boolean): string => (b ? 'True' : 'False');
  return `# ${BANNER}
"""Constants of the Concord wire protocol for Python peers (standard library only)."""

import enum
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = [
${exported.map((n) => `    ${py(n)},`).join('\n')}
]

#: Protocol version (MAJOR.MINOR) these constants describe.
PROTOCOL_VERSION = ${py(spec.protocolVersion)}


class MessageType(enum.IntEnum):
    """Message type codes (spec/messages/*.json), sorted by code."""

${messages.map((m) => `    ${m.name} = ${hex2(m.code)}`).join('\n')}


class MessageName:
    """Message type names (plain strings), the names frames carry in peers."""

${messages.map((m) => `    ${m.name} = ${py(m.name)}`).join('\n')}


@dataclass(frozen=True)
class MessageInfo:
    """One catalog entry; timeout_ms is None when the type uses REQUEST_TIMEOUT_MS."""

    code: int
    name: str
    kind: str
    response: Optional[str]
    timeout_ms: Optional[int]
    level: str
    section: str


#: The message catalog by type code.
MESSAGES: Dict[int, MessageInfo] = {
${messages.map((m) => `    ${hex2(m.code)}: MessageInfo(${hex2(m.code)}, ${py(m.name)}, ${py(m.kind)}, ${py(m.response)}, ${m.timeout_ms ?? 'None'}, ${py(m.level)}, ${py(m.section)}),`).join('\n')}
}


@dataclass(frozen=True)
class ErrorInfo:
    """One error registry entry (spec/errors.json)."""

    id: int
    name: str
    definite: bool
    closes: bool
    meaning: str


class ErrorCode(str, enum.Enum):
    """Error registry names, the values of an ERROR payload's \`code\`."""

${errors.map((e) => `    ${e.name} = ${py(e.name)}`).join('\n')}


#: The error registry by name, sorted by id.
ERRORS: Dict[str, ErrorInfo] = {
${errors.map((e) => `    ${py(e.name)}: ErrorInfo(${e.id}, ${py(e.name)}, ${pyBool(e.definite)}, ${pyBool(e.closes)}, ${py(e.meaning)}),`).join('\n')}
}

#: Default of every limit (spec/limits.json), by name.
LIMITS: Dict[str, int] = {
${limits.map((l) => `    ${py(l.name)}: ${l.default},`).join('\n')}
}

${limits.map((l) => `${l.name.toUpperCase()} = ${l.default}  # ${l.unit}`).join('\n')}

#: Smallest legal value of every limit, by name.
LIMIT_MIN: Dict[str, int] = {
${limits.map((l) => `    ${py(l.name)}: ${l.min},`).join('\n')}
}

#: Longest ERROR \`message\` in characters (the ERROR payload schema's maxLength).
ERROR_MESSAGE_MAX_LENGTH = ${derived.errorMessageMaxLength}
#: SERVICE_DISPATCH defaults: one attempt's timeout (catalog) and max_retries (payload schema default).
DISPATCH_TIMEOUT_MS = ${derived.dispatch.timeoutMs}
DISPATCH_MAX_RETRIES = ${derived.dispatch.maxRetries}


def dispatch_backoff_ms(retry: int, base_ms: int = DISPATCH_BACKOFF_BASE_MS) -> int:
    """The wait before the r-th retry (r >= 1) of a dispatch: min(base x 2^(r-1), DISPATCH_BACKOFF_MAX_MS)."""
    return min(base_ms * 2 ** (retry - 1), DISPATCH_BACKOFF_MAX_MS)

# Framing (sections framing, body, encodings).
LENGTH_PREFIX_BYTES = ${FRAMING.lengthPrefixBytes}
BODY_PREFIX_BYTES = ${FRAMING.bodyPrefixBytes}
ENCODING_MASK = ${hex2(FRAMING.encodingMask)}
RESERVED_FLAGS_MASK = ${hex2(FRAMING.reservedFlagsMask)}
#: Encoding names, indexed by their flag value.
ENCODINGS: Tuple[str, ...] = (${FRAMING.encodings.map(py).join(', ')})

# ndarray layout (spec/ndarray.json).
NDARRAY_MAX_NDIM = ${spec.ndarray.max_ndim}
NDARRAY_MAX_DTYPE_LEN = ${spec.ndarray.max_dtype_len}
NDARRAY_JSON_WRAPPER = ${py(spec.ndarray.json_wrapper)}
NDARRAY_CBOR_TAG = ${spec.ndarray.cbor_tag}

#: dtype code -> (name, kind, itemsize).
DTYPES: Dict[str, Tuple[str, str, int]] = {
${dtypeRows(spec).map((d) => `    ${py(d.code)}: (${py(d.name)}, ${py(d.kind)}, ${d.itemsize}),`).join('\n')}
}

#: The layout's fields in order: (name, type, count field or None, length field or None).
NDARRAY_FIELDS: Tuple[Tuple[str, str, Optional[str], Optional[str]], ...] = (
${spec.ndarray.fields.map((f) => `    (${py(f.name)}, ${py(f.type)}, ${py(f.count ?? null)}, ${py(f.length ?? null)}),`).join('\n')}
)
ndarray_fields = NDARRAY_FIELDS
`;
}

export function generatePerl(spec: SpecModel): string {
  const FRAMING = framingOf(spec);
  const messages = messagesByCode(spec);
  const errors = errorsById(spec);
  const limits = spec.limitFile.limits;
  const msgConsts = messages.map((m) => `MSG_${m.name}`);
  const errConsts = errors.map((e) => `ERR_${e.name}`);
  const limitConsts = limits.map((l) => `LIMIT_${l.name.toUpperCase()}`);
  const nameConsts = messages.map((m) => `NAME_${m.name}`);
  const derived = derivedValues(spec);
  const dispatch = ['ERROR_MESSAGE_MAX_LENGTH', 'DISPATCH_TIMEOUT_MS', 'DISPATCH_MAX_RETRIES'];
  const framing = ['LENGTH_PREFIX_BYTES', 'BODY_PREFIX_BYTES', 'ENCODING_MASK', 'RESERVED_FLAGS_MASK',
    ...FRAMING.encodings.map((e) => `ENCODING_${e.toUpperCase()}`), '@ENCODINGS'];
  const ndarray = ['NDARRAY_MAX_NDIM', 'NDARRAY_MAX_DTYPE_LEN', 'NDARRAY_JSON_WRAPPER', 'NDARRAY_CBOR_TAG', '%DTYPES', '@NDARRAY_FIELDS'];
  unique([...msgConsts, ...nameConsts, ...errConsts, ...limitConsts, ...dispatch, ...framing, ...ndarray], 'Perl constants');
  const tags: [string, string[]][] = [
    ['messages', [...msgConsts, '%MESSAGE_NAME', '%MESSAGE_CODE', '%RESPONSE_OF']],
    ['errors', [...errConsts, '%ERRORS']],
    ['names', nameConsts],
    ['limits', [...limitConsts, '%LIMITS', ...dispatch]],
    ['framing', framing],
    ['ndarray', ndarray],
  ];
  const words = (list: string[]): string => list.map((w) => `        ${w}`).join('\n');
  const constants = (pairs: [string, string][]): string => {
    const width = Math.max(...pairs.map(([k]) => k.length));
    return `use constant {\n${pairs.map(([k, v]) => `    ${k.padEnd(width)} => ${v},`).join('\n')}\n};`;
  };
  const b = (x: boolean): string => (x ? '1' : '0');
  return `# ${BANNER}
package Concord::Protocol;

# Constants of the Concord wire protocol for Perl peers (core modules only).

use strict;
use warnings;
use Exporter 'import';

# Protocol version (MAJOR.MINOR) these constants describe.
our $PROTOCOL_VERSION = ${pl(spec.protocolVersion)};

# Message types (spec/messages/*.json), sorted by code.
${constants(messages.map((m) => [`MSG_${m.name}`, hex2(m.code)]))}

# Message type names, the names frames carry in peers.
${constants(messages.map((m) => [`NAME_${m.name}`, pl(m.name)]))}

# Code -> name, name -> code, request name -> response name.
our %MESSAGE_NAME = (
${messages.map((m) => `    ${hex2(m.code)} => ${pl(m.name)},`).join('\n')}
);
our %MESSAGE_CODE = reverse %MESSAGE_NAME;
our %RESPONSE_OF = (
${messages.filter((m) => m.response !== null).map((m) => `    ${m.name} => ${pl(m.response!)},`).join('\n')}
);

# Error registry (spec/errors.json), sorted by id.
${constants(errors.map((e) => [`ERR_${e.name}`, pl(e.name)]))}

our %ERRORS = (
${errors.map((e) => `    ${e.name} => { id => ${e.id}, definite => ${b(e.definite)}, closes => ${b(e.closes)},\n        meaning => ${pl(e.meaning)} },`).join('\n')}
);

# Limits (spec/limits.json): defaults.
${constants(limits.map((l) => [`LIMIT_${l.name.toUpperCase()}`, String(l.default)]))}

our %LIMITS = (
${limits.map((l) => `    ${l.name} => ${l.default},`).join('\n')}
);

# Longest ERROR \`message\` in characters; SERVICE_DISPATCH defaults (catalog timeout_ms, schema max_retries).
${constants([
    ['ERROR_MESSAGE_MAX_LENGTH', String(derived.errorMessageMaxLength)],
    ['DISPATCH_TIMEOUT_MS', String(derived.dispatch.timeoutMs)],
    ['DISPATCH_MAX_RETRIES', String(derived.dispatch.maxRetries)],
  ])}

# Framing (sections framing, body, encodings).
${constants([
    ['LENGTH_PREFIX_BYTES', String(FRAMING.lengthPrefixBytes)],
    ['BODY_PREFIX_BYTES', String(FRAMING.bodyPrefixBytes)],
    ['ENCODING_MASK', hex2(FRAMING.encodingMask)],
    ['RESERVED_FLAGS_MASK', hex2(FRAMING.reservedFlagsMask)],
    ...FRAMING.encodings.map((e, i): [string, string] => [`ENCODING_${e.toUpperCase()}`, String(i)]),
  ])}
# Encoding names, indexed by their flag value.
our @ENCODINGS = (${FRAMING.encodings.map(pl).join(', ')});

# ndarray layout (spec/ndarray.json).
${constants([
    ['NDARRAY_MAX_NDIM', String(spec.ndarray.max_ndim)],
    ['NDARRAY_MAX_DTYPE_LEN', String(spec.ndarray.max_dtype_len)],
    ['NDARRAY_JSON_WRAPPER', pl(spec.ndarray.json_wrapper)],
    ['NDARRAY_CBOR_TAG', String(spec.ndarray.cbor_tag)],
  ])}

# dtype code -> [name, kind, itemsize].
our %DTYPES = (
${dtypeRows(spec).map((d) => `    ${pl(d.code)} => [${pl(d.name)}, ${pl(d.kind)}, ${d.itemsize}],`).join('\n')}
);

# The layout's fields in order: [name, type, count field or undef, length field or undef].
our @NDARRAY_FIELDS = (
${spec.ndarray.fields.map((f) => `    [${pl(f.name)}, ${pl(f.type)}, ${f.count === undefined ? 'undef' : pl(f.count)}, ${f.length === undefined ? 'undef' : pl(f.length)}],`).join('\n')}
);

our %EXPORT_TAGS = (
${tags.map(([tag, list]) => `    ${tag} => [qw(\n${words(list)}\n    )],`).join('\n')}
);
our @EXPORT_OK = ('$PROTOCOL_VERSION', map { @{ $EXPORT_TAGS{$_} } } sort keys %EXPORT_TAGS);
$EXPORT_TAGS{all} = [@EXPORT_OK];

1;
`;
}

/** Stage-2 entry point: the three constants files. */
export function generate(spec: SpecModel, _earlier: Map<string, string>): Map<string, string> {
  return new Map([
    ['spec/generated/cpp/concord/protocol.hpp', generateCpp(spec)],
    ['spec/generated/python/concord_protocol.py', generatePython(spec)],
    ['spec/generated/perl/Concord/Protocol.pm', generatePerl(spec)],
  ]);
}
