// Payloads and whole messages: every check of spec section 8 steps 1-8 in its order, and the
// application model (nlohmann::json) to and from the wire forms.
//
// Application model of a payload: plain JSON values; an ndarray field is a binary value with
// subtype 49344 holding the D4 layout (see ndarray_value()); a 64-bit integer field is a JSON
// integer (number_unsigned or number_integer). On the wire, JSON writes them as
// {"$ndarray": "<base64>"} and decimal strings, CBOR as tag 49344 on a byte string and integers.
#pragma once

#include <concord/catalog.hpp>
#include <concord/errors.hpp>
#include <concord/ndarray.hpp>

#include <memory>
#include <string>

namespace concord {

using protocol::Encoding;

std::string_view encoding_name(Encoding e);

/// A decoded message.
struct Message {
  std::uint8_t type = 0;
  std::string name;
  Encoding encoding = Encoding::Json;
  json header;
  json payload;  // null for types without payload

  MessageType message_type() const { return static_cast<MessageType>(type); }
  std::string id() const { return header.value("id", std::string()); }
  std::optional<std::string> re() const {
    if (header.contains("re") && header["re"].is_string()) return header["re"].get<std::string>();
    return std::nullopt;
  }
};

struct DecodeOptions {
  std::uint64_t max_header = protocol::kMaxHeader;
  /// false on a connection that did not negotiate CBOR (ENC-3).
  bool allow_cbor = true;
};

class Codec {
 public:
  /// Uses Catalog::load() when `catalog` is null.
  explicit Codec(std::shared_ptr<const Catalog> catalog = nullptr);

  const Catalog& catalog() const noexcept { return *catalog_; }
  std::shared_ptr<const Catalog> catalog_ptr() const noexcept { return catalog_; }

  /**
   * Decodes a payload: parse (INVALID_PAYLOAD, with the path of a data-model fault), ndarray
   * fields (INVALID_ARRAY), schema with 64-bit forms (SCHEMA_VIOLATION), in that order.
   */
  json decode_payload(const MessageSpec& spec, Encoding encoding, const std::uint8_t* bytes, std::size_t size) const;
  /// Validates an application-model payload and encodes it.
  Bytes encode_payload(const MessageSpec& spec, Encoding encoding, const json& payload) const;

  /// Decodes a frame body through steps 2-8; errors after the header carry frame_id().
  Message decode_message(const std::uint8_t* body, std::size_t size, const DecodeOptions& options = {}) const;
  Message decode_message(const Bytes& body, const DecodeOptions& options = {}) const { return decode_message(body.data(), body.size(), options); }

  /// Encodes a message to a body (validating the payload first).
  Bytes encode_message(MessageType type, const json& header, const json& payload = nullptr, Encoding encoding = Encoding::Json) const;
  /// Same, with the length prefix.
  Bytes encode_message_frame(MessageType type, const json& header, const json& payload = nullptr, Encoding encoding = Encoding::Json) const;

  /// A payload in the fixtures' typed JSON: ndarrays expanded, 64-bit integers as decimal strings.
  json payload_to_typed_json(const MessageSpec& spec, const json& payload) const;
  /// A message as a frame vector's `decoded` value: {type, name, encoding, header, payload}.
  json message_to_typed_json(const Message& m) const;
  /// The application model of a typed-JSON payload (catalog examples, fixture `decoded` values).
  json payload_from_typed_json(const MessageSpec& spec, const json& typed) const;

 private:
  std::shared_ptr<const Catalog> catalog_;
};

}  // namespace concord
