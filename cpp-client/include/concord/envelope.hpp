// The frame body (spec section 3): u8 type | u8 flags | u16 hlen | header | payload.
#pragma once

#include <concord/errors.hpp>

#include <cstddef>
#include <cstdint>

namespace concord {

struct Envelope {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  /// Raw encoding bits: 0 json, 1 cbor, 2 and 3 reserved.
  std::uint8_t encoding_bits = 0;
  json header;
  /// The payload: bytes [payload_offset, payload_offset + payload_size) of the body.
  std::size_t payload_offset = 0;
  std::size_t payload_size = 0;
};

/**
 * Checks the prefix (MALFORMED_FRAME: body shorter than 4 bytes, reserved flag bits, hlen overrun)
 * and the header (INVALID_HEADER with /header or /header/KEY), in the order of spec section 8.
 */
Envelope decode_envelope(const std::uint8_t* body, std::size_t size, std::uint64_t max_header = protocol::kMaxHeader);

/// Parses and checks header bytes (BODY-2 .. BODY-5).
json decode_header(const std::uint8_t* bytes, std::size_t size, std::uint64_t max_header = protocol::kMaxHeader);

/// Assembles a body.
Bytes encode_envelope(std::uint8_t type, protocol::Encoding encoding, const json& header, const std::uint8_t* payload, std::size_t payload_size);
inline Bytes encode_envelope(std::uint8_t type, protocol::Encoding encoding, const json& header, const Bytes& payload) {
  return encode_envelope(type, encoding, header, payload.data(), payload.size());
}

/// The readable id of a body, if its prefix and header pass (used to set `re` on errors).
std::optional<std::string> readable_id(const std::uint8_t* body, std::size_t size, std::uint64_t max_header = protocol::kMaxHeader);

}  // namespace concord
