#include <concord/envelope.hpp>
#include <concord/text.hpp>

#include <cstring>

namespace concord {

namespace {

[[noreturn]] void bad(const std::string& key, const std::string& message, json extra = json::object()) {
  json details = {{"path", key.empty() ? std::string("/header") : "/header/" + key}};
  for (auto& [k, v] : extra.items()) details[k] = v;
  raise(ErrorCode::InvalidHeader, "header " + (key.empty() ? std::string("block") : key) + ": " + message, details);
}

bool is_name(const std::string& s) {
  for (unsigned char c : s) if (c < 0x20 || c == 0x7F) return false;
  return true;
}

void check_string(const json& h, const char* key, std::uint64_t max, bool name) {
  auto it = h.find(key);
  if (it == h.end()) return;
  if (!it->is_string()) bad(key, "must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > max) bad(key, "must be 1 to " + std::to_string(max) + " bytes of UTF-8, has " + std::to_string(s.size()));
  if (name && !is_name(s)) bad(key, "must not contain control characters");
}

bool is_u64_decimal(const std::string& s) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s) if (c < '0' || c > '9') return false;
  if (s.size() > 1 && s[0] == '0') return false;
  if (s.size() == 20 && s > "18446744073709551615") return false;
  return true;
}

}  // namespace

json decode_header(const std::uint8_t* bytes, std::size_t size, std::uint64_t max_header) {
  if (size > max_header) bad("", "of " + std::to_string(size) + " bytes exceeds max_header " + std::to_string(max_header), {{"limit", max_header}});
  if (size == 0) bad("", "is empty (the id is required)");
  std::string why;
  auto parsed = parse_json_strict(bytes, size, &why);
  if (!parsed) bad("", "is not UTF-8 JSON (" + why + ")");
  const json& h = *parsed;
  if (!h.is_object()) bad("", "is not a JSON object");
  if (!h.contains("id")) bad("id", "is required");
  check_string(h, "id", protocol::kMaxIdBytes, false);
  // From here the id is readable: a fault of another key is answered with `re` set to it (ERR-3).
  try {
    check_string(h, "re", protocol::kMaxIdBytes, false);
    check_string(h, "src", protocol::kMaxNameBytes, true);
    check_string(h, "dst", protocol::kMaxNameBytes, true);
    auto ts = h.find("ts");
    if (ts != h.end() && (!ts->is_string() || !is_u64_decimal(ts->get<std::string>()))) bad("ts", "must be a decimal string of a u64");
  } catch (ProtocolError& e) {
    e.set_frame_id(h["id"].get<std::string>());
    throw;
  }
  return std::move(*parsed);
}

Envelope decode_envelope(const std::uint8_t* body, std::size_t size, std::uint64_t max_header) {
  if (size < protocol::kBodyPrefixBytes) {
    raise(ErrorCode::MalformedFrame, "body of " + std::to_string(size) + " bytes is shorter than its 4-byte prefix", {{"rule", "short-body"}});
  }
  Envelope e;
  e.type = body[0];
  e.flags = body[1];
  if (e.flags & protocol::kReservedFlagsMask) raise(ErrorCode::MalformedFrame, "reserved flag bits set", {{"rule", "reserved-flags"}});
  std::size_t hlen = (std::size_t(body[2]) << 8) | body[3];
  if (hlen > size - protocol::kBodyPrefixBytes) {
    raise(ErrorCode::MalformedFrame, "header length " + std::to_string(hlen) + " overruns the " + std::to_string(size - 4) + " bytes after the prefix",
          {{"rule", "hlen-overrun"}});
  }
  e.encoding_bits = e.flags & protocol::kEncodingMask;
  e.header = decode_header(body + protocol::kBodyPrefixBytes, hlen, max_header);
  e.payload_offset = protocol::kBodyPrefixBytes + hlen;
  e.payload_size = size - e.payload_offset;
  return e;
}

Bytes encode_envelope(std::uint8_t type, protocol::Encoding encoding, const json& header, const std::uint8_t* payload, std::size_t payload_size) {
  std::string h = header.dump();
  if (h.size() > 0xFFFF) throw std::invalid_argument("encode_envelope: header exceeds 65535 bytes");
  Bytes body(4 + h.size() + payload_size);
  body[0] = type;
  body[1] = static_cast<std::uint8_t>(encoding);
  body[2] = static_cast<std::uint8_t>(h.size() >> 8);
  body[3] = static_cast<std::uint8_t>(h.size() & 0xFF);
  if (!h.empty()) std::memcpy(body.data() + 4, h.data(), h.size());
  if (payload_size) std::memcpy(body.data() + 4 + h.size(), payload, payload_size);
  return body;
}

std::optional<std::string> readable_id(const std::uint8_t* body, std::size_t size, std::uint64_t max_header) {
  try {
    auto e = decode_envelope(body, size, max_header);
    return e.header["id"].get<std::string>();
  } catch (const ProtocolError&) {
    return std::nullopt;
  }
}

}  // namespace concord
