#include <concord/errors.hpp>

namespace concord {

ProtocolError::ProtocolError(ErrorCode code, const std::string& message, json details)
    : std::runtime_error(message), code_(code), details_(details.is_object() ? std::move(details) : json::object()) {}

std::optional<std::string> ProtocolError::path() const {
  auto it = details_.find("path");
  if (it == details_.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::string> ProtocolError::rule() const {
  auto it = details_.find("rule");
  if (it == details_.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

json ProtocolError::to_payload() const {
  std::string message = what();
  if (message.size() > 4000) message.resize(4000);
  // keep the message valid UTF-8 after the cut
  while (!message.empty() && (static_cast<unsigned char>(message.back()) & 0xC0) == 0x80) message.pop_back();
  if (!message.empty() && static_cast<unsigned char>(message.back()) >= 0xC0) message.pop_back();
  json p = {{"code", name()}, {"message", message}, {"definite", definite()}};
  if (!details_.empty()) p["details"] = details_;
  return p;
}

void raise(ErrorCode code, const std::string& message, json details) {
  switch (code) {
    case ErrorCode::MalformedFrame:
    case ErrorCode::FrameTooLarge:
      throw FramingError(code, message, std::move(details));
    case ErrorCode::InvalidHeader:
      throw HeaderError(code, message, std::move(details));
    case ErrorCode::UnknownType:
    case ErrorCode::UnsupportedEncoding:
      throw EnvelopeError(code, message, std::move(details));
    case ErrorCode::InvalidPayload:
      throw PayloadError(code, message, std::move(details));
    case ErrorCode::InvalidArray:
      throw ArrayError(code, message, std::move(details));
    case ErrorCode::SchemaViolation:
      throw SchemaError(code, message, std::move(details));
    default:
      throw ProtocolError(code, message, std::move(details));
  }
}

static std::string remote_what(const json& p) {
  std::string code = p.is_object() && p.contains("code") && p["code"].is_string() ? p["code"].get<std::string>() : "?";
  std::string msg = p.is_object() && p.contains("message") && p["message"].is_string() ? p["message"].get<std::string>() : "";
  return code + ": " + msg;
}

RemoteError::RemoteError(json payload)
    : std::runtime_error(remote_what(payload)), payload_(std::move(payload)) {
  code_ = payload_.is_object() && payload_.contains("code") && payload_["code"].is_string() ? payload_["code"].get<std::string>() : "";
  definite_ = payload_.is_object() && payload_.contains("definite") && payload_["definite"].is_boolean() && payload_["definite"].get<bool>();
}

std::string pointer(const std::string& parent, const std::string& key) {
  std::string out = parent;
  out.push_back('/');
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out.push_back(c);
  }
  return out;
}

std::string pointer(const std::string& parent, std::size_t index) { return parent + "/" + std::to_string(index); }

}  // namespace concord
