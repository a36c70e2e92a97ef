// Typed exceptions of the Concord C++ client. Every codec fault is a ProtocolError carrying an
// error registry code (spec/errors.json through the generated protocol.hpp), never a hand-written
// name; the subclasses say which check step of spec section 8 found it.
#pragma once

#include <concord/protocol.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace concord {

using json = nlohmann::json;
using Bytes = std::vector<std::uint8_t>;
using protocol::ErrorCode;
using protocol::MessageType;

/// A protocol fault: registry code, message, and details (`path`, `rule`, `limit`, ...).
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(ErrorCode code, const std::string& message, json details = json::object());

  ErrorCode code() const noexcept { return code_; }
  /// The registry name (`MALFORMED_FRAME`, ...).
  std::string name() const { return std::string(protocol::error_name(code_)); }
  bool closes() const noexcept { return protocol::error_closes(code_); }
  bool definite() const noexcept { return protocol::error_definite(code_); }
  const json& details() const noexcept { return details_; }
  /// details.path, or nullopt when the fault names none.
  std::optional<std::string> path() const;
  /// details.rule, or nullopt.
  std::optional<std::string> rule() const;
  /// The faulty frame's id when its header was readable (the ERROR's `re`).
  const std::optional<std::string>& frame_id() const noexcept { return frame_id_; }
  void set_frame_id(std::string id) { frame_id_ = std::move(id); }
  /// The ERROR payload reporting this fault: {code, message, definite, details?}.
  json to_payload() const;

 private:
  ErrorCode code_;
  json details_;
  std::optional<std::string> frame_id_;
};

/// Steps 1-2: length, prefix (MALFORMED_FRAME, FRAME_TOO_LARGE); the connection closes.
class FramingError : public ProtocolError { using ProtocolError::ProtocolError; };
/// Step 3: INVALID_HEADER.
class HeaderError : public ProtocolError { using ProtocolError::ProtocolError; };
/// Steps 4-5: UNKNOWN_TYPE, UNSUPPORTED_ENCODING.
class EnvelopeError : public ProtocolError { using ProtocolError::ProtocolError; };
/// Step 6: INVALID_PAYLOAD.
class PayloadError : public ProtocolError { using ProtocolError::ProtocolError; };
/// Step 7: INVALID_ARRAY (details.rule is the ndarray rule name).
class ArrayError : public ProtocolError { using ProtocolError::ProtocolError; };
/// Step 8: SCHEMA_VIOLATION (details.rule is the schema keyword, `int64`, `empty` or `contains`).
class SchemaError : public ProtocolError { using ProtocolError::ProtocolError; };

/// Throws the ProtocolError subclass matching `code`.
[[noreturn]] void raise(ErrorCode code, const std::string& message, json details = json::object());

/// An ERROR frame received from the peer (its code may be one this build does not know, ERR-10).
class RemoteError : public std::runtime_error {
 public:
  explicit RemoteError(json payload);
  const std::string& code() const noexcept { return code_; }
  bool definite() const noexcept { return definite_; }
  const json& payload() const noexcept { return payload_; }
  json details() const { return payload_.value("details", json::object()); }

 private:
  json payload_;
  std::string code_;
  bool definite_;
};

/// A request that got no answer within its timeout (the request may have had an effect).
class TimeoutError : public std::runtime_error { using std::runtime_error::runtime_error; };
/// The connection is not open, could not be opened, or ended before the answer.
class ConnectionError : public std::runtime_error { using std::runtime_error::runtime_error; };

/// JSON Pointer segment append (RFC 6901 escaping).
std::string pointer(const std::string& parent, const std::string& key);
std::string pointer(const std::string& parent, std::size_t index);

}  // namespace concord
