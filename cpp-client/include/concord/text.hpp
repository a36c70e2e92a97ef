// Text helpers shared by the codec: UTF-8 checks, strict JSON parsing (spec section 4, ENC-6) and
// canonical base64 (RFC 4648 section 4, ARR-4).
#pragma once

#include <concord/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace concord {

/// Deepest nesting of arrays and objects the codec parses (a bound on recursion, not a spec limit).
inline constexpr std::size_t kMaxNesting = 512;

/// true when the JSON text nests arrays and objects at most `limit` deep (strings skipped); no recursion.
bool nesting_within(const std::uint8_t* s, std::size_t n, std::size_t limit);

/// true when `bytes` is well-formed UTF-8 (no surrogates, no overlongs, at most U+10FFFF).
bool is_utf8(const std::uint8_t* bytes, std::size_t size);
inline bool is_utf8(std::string_view s) { return is_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

/// Number of Unicode code points of a UTF-8 string (what JSON Schema's maxLength counts).
std::size_t utf8_length(std::string_view s);

/// UTF-8 to UTF-32 (for pattern matching); the input must be valid UTF-8.
std::u32string utf8_to_utf32(std::string_view s);

/**
 * Parses exactly one RFC 8259 JSON value from UTF-8 bytes: no byte order mark, nothing but
 * whitespace after the value, no number beyond binary64, nesting within kMaxNesting. Returns
 * nullopt (with a reason in `error`) instead of throwing.
 */
std::optional<json> parse_json_strict(const std::uint8_t* bytes, std::size_t size, std::string* error = nullptr);

/// Standard base64 with padding.
std::string base64_encode(const std::uint8_t* bytes, std::size_t size);
/// Decodes canonical base64 only (standard alphabet, padding, no line breaks, zero pad bits).
std::optional<Bytes> base64_decode_canonical(std::string_view text);

/// Lowercase hex and back (fixtures).
std::string to_hex(const std::uint8_t* bytes, std::size_t size);
inline std::string to_hex(const Bytes& b) { return to_hex(b.data(), b.size()); }
Bytes from_hex(std::string_view hex);

}  // namespace concord
