/** The C++17 header of the protocol constants (spec/generated/cpp/concord/protocol.hpp). */
import { BANNER } from '../gen-ts.js';
import type { SpecModel } from '../model.js';
import { framingOf, pascal, hex2, asciiLiteral, unique, dtypeRows, messagesByCode, errorsById } from './shared.js';

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
