// CBOR (RFC 8949) for payloads. Decoding goes through a generic item tree so that every
// data-model fault of ENC-11 can be reported with the JSON Pointer of the faulty value; encoding
// uses nlohmann::json::to_cbor (definite lengths, text keys; an ndarray value, a binary with
// subtype 49344, is written as tag 49344 on its byte string).
#pragma once

#include <concord/errors.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace concord {

/// One decoded CBOR data item, as read (no interpretation beyond RFC 8949's generic data model).
struct CborItem {
  enum class Kind { Unsigned, Negative, Bytes, Text, Array, Map, Tag, Simple, Bool, Null, Undefined, Float };
  Kind kind = Kind::Null;
  /// Unsigned: the value; Negative: n where the value is -1 - n; Tag: the tag number; Simple: the value.
  std::uint64_t number = 0;
  double real = 0;       // Float
  bool boolean = false;  // Bool
  std::string text;      // Text, and Bytes (raw bytes)
  std::vector<CborItem> items;                          // Array; Tag: one item
  std::vector<std::pair<CborItem, CborItem>> entries;   // Map, in order
};

/**
 * Decodes exactly one well-formed CBOR item (definite or indefinite lengths; indefinite strings
 * are joined), refusing trailing bytes, reserved additional information, misplaced breaks,
 * invalid UTF-8 in text strings and nesting beyond kMaxNesting. Throws std::runtime_error.
 */
CborItem cbor_decode(const std::uint8_t* bytes, std::size_t size);

/**
 * The typed-JSON notation of spec section 14 for an item: $bigint beyond 2^53, $bytes, $float for
 * non-finite values and -0, $undefined, $simple, $tag (tags 2 and 3 on byte strings become
 * $bigint), $map for maps with a non-text key.
 */
json cbor_to_typed_json(const CborItem& item);

/// Encodes an application-model value (see codec.hpp) as one CBOR item.
Bytes cbor_encode(const json& value);

}  // namespace concord
