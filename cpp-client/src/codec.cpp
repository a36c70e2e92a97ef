#include <concord/cbor.hpp>
#include <concord/codec.hpp>
#include <concord/envelope.hpp>
#include <concord/frame.hpp>
#include <concord/text.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

namespace concord {

std::string_view encoding_name(Encoding e) { return e == Encoding::Cbor ? "cbor" : "json"; }

namespace {

constexpr std::uint64_t kI64Max = 0x7FFFFFFFFFFFFFFFull;
constexpr std::uint64_t kInt64FaultSubtype = 0xC0C1;  // marks a 64-bit field in the wrong wire form

/// A value left where a 64-bit field had the wrong wire form: the schema's int64 keyword refuses it.
json int64_fault() { return json::binary({}, kInt64FaultSubtype); }

enum class Form { Json, Fixture };

/// Walk state: the first INVALID_ARRAY, reported only when no INVALID_PAYLOAD follows (step 6 before 7).
struct Walk {
  const Catalog& catalog;
  std::optional<ArrayError> array_fault;
};

[[noreturn]] void payload_fault(const std::string& path, const std::string& message) {
  raise(ErrorCode::InvalidPayload, (path.empty() ? std::string("/") : path) + ": " + message, {{"path", path}});
}

/// A schema that constrains nothing: the field allows any value (ARR-8 applies inside it).
bool is_any(const json& s) {
  if (s.is_boolean()) return s.get<bool>();
  if (!s.is_object()) return true;
  for (const char* k : {"type", "enum", "const", "$ref", "ndarray", "int64", "properties", "items", "additionalProperties",
                        "oneOf", "anyOf", "allOf", "not"}) {
    if (s.contains(k)) return false;
  }
  return true;
}

/// The schema of member `key` of an object schema; null when the key is not allowed,
/// `true` when it may hold anything.
json member_schema(const json& s, const std::string& key) {
  if (s.contains("properties") && s["properties"].contains(key)) return s["properties"][key];
  if (!s.contains("additionalProperties")) return true;
  const json& ap = s["additionalProperties"];
  if (ap.is_object()) return ap;
  if (ap.is_boolean() && ap.get<bool>()) return true;
  return nullptr;  // additionalProperties false: the validator refuses the key
}

void record_array_fault(Walk& w, const ArrayError& e) {
  if (!w.array_fault) w.array_fault.emplace(e);
}

std::optional<NDArray> unpack_field(Walk& w, const std::uint8_t* b, std::size_t n, const std::string& path, const json* rule) {
  try {
    NDArray a = NDArray::unpack(b, n, path);
    if (rule) check_ndarray_rule(a, *rule, path);
    return a;
  } catch (const ArrayError& e) {
    record_array_fault(w, e);
    return std::nullopt;
  }
}

void wrapper_fault(Walk& w, const std::string& path, const std::string& message) {
  record_array_fault(w, ArrayError(ErrorCode::InvalidArray, (path.empty() ? std::string("/") : path) + ": " + message,
                                   {{"path", path}, {"rule", "wrapper"}}));
}

// ---- JSON wire form -> application model (in place) ----

bool is_json_wrapper(const json& node) { return node.is_object() && node.size() == 1 && node.contains(std::string(protocol::kNdarrayJsonWrapper)); }

json ndarray_from_json_wire(Walk& w, const json& node, const std::string& path, const json* rule) {
  if (!is_json_wrapper(node) || !node.begin()->is_string()) {
    wrapper_fault(w, path, "must be an object {\"$ndarray\": \"<base64>\"}");
    return nullptr;
  }
  auto bytes = base64_decode_canonical(node.begin()->get_ref<const std::string&>());
  if (!bytes) {
    wrapper_fault(w, path, "is not canonical base64 (RFC 4648 section 4, padded, zero pad bits)");
    return nullptr;
  }
  auto a = unpack_field(w, bytes->data(), bytes->size(), path, rule);
  return a ? ndarray_value(*a) : json(nullptr);
}

void any_from_json(Walk& w, json& node, const std::string& path) {
  if (is_json_wrapper(node)) {
    node = ndarray_from_json_wire(w, node, path, nullptr);
  } else if (node.is_object()) {
    for (auto& [k, v] : node.items()) any_from_json(w, v, pointer(path, k));
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) any_from_json(w, node[i], pointer(path, i));
  }
}

bool parse_decimal(const std::string& s, bool is_signed, json& out) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg && !is_signed) return false;
  std::string digits = neg ? s.substr(1) : s;
  if (digits.empty() || digits.size() > 20) return false;
  for (char c : digits) if (c < '0' || c > '9') return false;
  if (digits.size() > 1 && digits[0] == '0') return false;
  if (neg && digits == "0") return false;  // never -0
  if (digits.size() == 20 && digits > "18446744073709551615") return false;
  std::uint64_t v = std::stoull(digits);
  if (!is_signed) { out = v; return true; }
  if (neg) {
    if (v > kI64Max + 1) return false;
    out = v == kI64Max + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(v);
    return true;
  }
  if (v > kI64Max) return false;
  out = static_cast<std::int64_t>(v);
  return true;
}

void from_json_wire(Walk& w, const json& schema_in, json& node, const std::string& path) {
  if (schema_in.is_null()) return;
  const json& s = w.catalog.resolve(schema_in);
  if (is_any(s)) return any_from_json(w, node, path);
  if (s.contains("ndarray")) {
    node = ndarray_from_json_wire(w, node, path, &s["ndarray"]);
    return;
  }
  if (s.contains("int64")) {
    json v;
    if (node.is_string() && parse_decimal(node.get<std::string>(), s["int64"] == "int64", v)) node = v;
    else node = int64_fault();
    return;
  }
  if (node.is_object()) {
    for (auto& [k, v] : node.items()) from_json_wire(w, member_schema(s, k), v, pointer(path, k));
  } else if (node.is_array() && s.contains("items") && s["items"].is_object()) {
    for (std::size_t i = 0; i < node.size(); ++i) from_json_wire(w, s["items"], node[i], pointer(path, i));
  }
}

// ---- CBOR item -> application model ----

json cbor_integer(const CborItem& it, const std::string& path) {
  if (it.kind == CborItem::Kind::Unsigned) {
    std::uint64_t v = it.number;
    if (v > (1ull << 53)) {
      double d = static_cast<double>(v);
      if (d >= 18446744073709551616.0 || static_cast<std::uint64_t>(d) != v) payload_fault(path, "integer " + std::to_string(v) + " has no exact double value outside a 64-bit field");
    }
    return v;
  }
  // Negative: the value is -1 - n
  unsigned __int128 mag = static_cast<unsigned __int128>(it.number) + 1;
  if (mag > (static_cast<unsigned __int128>(1) << 53)) {
    double d = static_cast<double>(mag);
    if (static_cast<unsigned __int128>(d) != mag) payload_fault(path, "integer has no exact double value outside a 64-bit field");
    if (mag > (static_cast<unsigned __int128>(1) << 63)) return -d;
  }
  if (mag == (static_cast<unsigned __int128>(1) << 63)) return std::numeric_limits<std::int64_t>::min();
  return -static_cast<std::int64_t>(static_cast<std::uint64_t>(mag));
}

json from_cbor_wire(Walk& w, const json& schema_in, const CborItem& node, const std::string& path);

json plain_from_cbor(Walk& w, const CborItem& it, const std::string& path, bool any) {
  using K = CborItem::Kind;
  switch (it.kind) {
    case K::Unsigned:
    case K::Negative: return cbor_integer(it, path);
    case K::Text: return it.text;
    case K::Bool: return it.boolean;
    case K::Null: return nullptr;
    case K::Float:
      if (!std::isfinite(it.real)) payload_fault(path, "a non-finite float is not a JSON number");
      return it.real;
    case K::Bytes: payload_fault(path, "a byte string is allowed only in an ndarray field");
    case K::Undefined: payload_fault(path, "undefined is not in the payload data model");
    case K::Simple: payload_fault(path, "simple value " + std::to_string(it.number) + " is not in the payload data model");
    case K::Tag:
      if (any && it.number == protocol::kNdarrayCborTag) return from_cbor_wire(w, json{{"ndarray", json::object()}, {"$any", true}}, it, path);
      payload_fault(path, "tag " + std::to_string(it.number) + " is not allowed here");
    case K::Array: {
      json a = json::array();
      for (std::size_t i = 0; i < it.items.size(); ++i) a.push_back(plain_from_cbor(w, it.items[i], pointer(path, i), any));
      return a;
    }
    case K::Map: {
      json o = json::object();
      for (const auto& [k, v] : it.entries) {
        if (k.kind != K::Text) payload_fault(path, "a map key is not a text string");
        o[k.text] = plain_from_cbor(w, v, pointer(path, k.text), any);
      }
      return o;
    }
  }
  return nullptr;
}

json from_cbor_wire(Walk& w, const json& schema_in, const CborItem& node, const std::string& path) {
  using K = CborItem::Kind;
  if (schema_in.is_null()) return plain_from_cbor(w, node, path, false);
  const json& s = w.catalog.resolve(schema_in);
  if (is_any(s)) return plain_from_cbor(w, node, path, true);
  if (s.contains("ndarray")) {
    bool any_field = s.contains("$any");
    if (node.kind != K::Tag || node.number != protocol::kNdarrayCborTag || node.items.front().kind != K::Bytes) {
      wrapper_fault(w, path, "must be a byte string under tag 49344");
      return nullptr;
    }
    const std::string& b = node.items.front().text;
    auto a = unpack_field(w, reinterpret_cast<const std::uint8_t*>(b.data()), b.size(), path, any_field ? nullptr : &s["ndarray"]);
    return a ? ndarray_value(*a) : json(nullptr);
  }
  if (s.contains("int64")) {
    bool is_signed = s["int64"] == "int64";
    if (node.kind == K::Unsigned) {
      if (is_signed && node.number > kI64Max) return int64_fault();
      return node.number;
    }
    if (node.kind == K::Negative) {
      if (!is_signed || node.number > kI64Max) return int64_fault();
      return -static_cast<std::int64_t>(node.number) - 1;
    }
    plain_from_cbor(w, node, path, false);  // data-model faults first (INVALID_PAYLOAD)
    return int64_fault();
  }
  if (node.kind == K::Map) {
    json o = json::object();
    for (const auto& [k, v] : node.entries) {
      if (k.kind != K::Text) payload_fault(path, "a map key is not a text string");
      o[k.text] = from_cbor_wire(w, member_schema(s, k.text), v, pointer(path, k.text));
    }
    return o;
  }
  if (node.kind == K::Array && s.contains("items") && s["items"].is_object()) {
    json a = json::array();
    for (std::size_t i = 0; i < node.items.size(); ++i) a.push_back(from_cbor_wire(w, s["items"], node.items[i], pointer(path, i)));
    return a;
  }
  return plain_from_cbor(w, node, path, false);
}

// ---- application model -> JSON wire form or typed JSON ----

json to_wire(const Catalog& c, const json& schema_in, const json& value, Form form) {
  if (is_ndarray_value(value)) {
    if (form == Form::Fixture) return ndarray_from_value(value).to_typed_json();
    const auto& b = value.get_binary();
    return {{std::string(protocol::kNdarrayJsonWrapper), base64_encode(b.data(), b.size())}};
  }
  const json& s = schema_in.is_null() ? schema_in : c.resolve(schema_in);
  if (s.is_object() && s.contains("int64") && value.is_number_integer()) {
    return value.is_number_unsigned() ? std::to_string(value.get<std::uint64_t>()) : std::to_string(value.get<std::int64_t>());
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : value.items()) out[k] = to_wire(c, s.is_object() ? member_schema(s, k) : json(), v, form);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    const json items = s.is_object() && s.contains("items") ? s["items"] : json();
    for (const auto& v : value) out.push_back(to_wire(c, items, v, form));
    return out;
  }
  return value;
}

// ---- typed JSON (fixtures) -> application model ----

json from_typed(const Catalog& c, const json& schema_in, const json& value) {
  if (value.is_object() && value.size() == 1 && value.contains("$ndarray") && value["$ndarray"].is_object()) {
    return ndarray_value(NDArray::from_typed_json(value));
  }
  const json& s = schema_in.is_null() ? schema_in : c.resolve(schema_in);
  if (s.is_object() && s.contains("int64") && value.is_string()) {
    json v;
    if (parse_decimal(value.get<std::string>(), s["int64"] == "int64", v)) return v;
    return value;
  }
  if (value.is_object()) {
    if (value.size() == 1 && value.contains("$map")) {
      json out = json::object();
      for (const auto& kv : value["$map"]) out[kv[0].get<std::string>()] = from_typed(c, s.is_object() ? member_schema(s, kv[0].get<std::string>()) : json(), kv[1]);
      return out;
    }
    json out = json::object();
    for (const auto& [k, v] : value.items()) out[k] = from_typed(c, s.is_object() ? member_schema(s, k) : json(), v);
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    const json items = s.is_object() && s.contains("items") ? s["items"] : json();
    for (const auto& v : value) out.push_back(from_typed(c, items, v));
    return out;
  }
  return value;
}

}  // namespace

namespace {
/// Levels of a decoded CBOR item (arrays, maps and tags each add one); the decoder bounds the recursion.
std::size_t cbor_depth(const CborItem& it) {
  std::size_t inner = 0;
  for (const auto& c : it.items) inner = std::max(inner, cbor_depth(c));
  for (const auto& [k, v] : it.entries) inner = std::max(inner, cbor_depth(v));
  bool container = it.kind == CborItem::Kind::Array || it.kind == CborItem::Kind::Map || it.kind == CborItem::Kind::Tag;
  return container ? inner + 1 : inner;
}

[[noreturn]] void too_deep() {
  raise(ErrorCode::InvalidPayload, "payload nests deeper than max_payload_depth (" + std::to_string(protocol::kMaxPayloadDepth) + ")",
        {{"path", ""}, {"rule", "max-depth"}, {"limit", protocol::kMaxPayloadDepth}});
}
}  // namespace

Codec::Codec(std::shared_ptr<const Catalog> catalog) : catalog_(catalog ? std::move(catalog) : Catalog::load()) {}

json Codec::decode_payload(const MessageSpec& spec, Encoding encoding, const std::uint8_t* bytes, std::size_t size) const {
  if (!spec.has_payload) {
    if (size > 0) raise(ErrorCode::SchemaViolation, spec.name + " carries no payload, got " + std::to_string(size) + " bytes", {{"path", ""}, {"rule", "empty"}});
    return nullptr;
  }
  if (size == 0) raise(ErrorCode::InvalidPayload, spec.name + ": payload is empty", {{"path", ""}});
  Walk w{*catalog_, std::nullopt};
  json value;
  if (encoding == Encoding::Json) {
    if (!nesting_within(bytes, size, protocol::kMaxPayloadDepth)) too_deep();  // LIM-15, before the parser
    std::string why;
    auto parsed = parse_json_strict(bytes, size, &why);
    if (!parsed) raise(ErrorCode::InvalidPayload, spec.name + ": payload is not JSON (" + why + ")", {{"path", ""}});
    value = std::move(*parsed);
    from_json_wire(w, spec.schema, value, "");
  } else {
    CborItem item;
    try {
      item = cbor_decode(bytes, size);
    } catch (const std::exception& e) {
      raise(ErrorCode::InvalidPayload, spec.name + ": payload is not one well-formed CBOR item (" + e.what() + ")", {{"path", ""}});
    }
    if (cbor_depth(item) > protocol::kMaxPayloadDepth) too_deep();  // LIM-15
    value = from_cbor_wire(w, spec.schema, item, "");
  }
  if (w.array_fault) throw *w.array_fault;
  catalog_->validate(spec, value);
  return value;
}

Bytes Codec::encode_payload(const MessageSpec& spec, Encoding encoding, const json& payload) const {
  catalog_->validate(spec, payload);
  if (!spec.has_payload) return {};
  if (encoding == Encoding::Cbor) return cbor_encode(payload);
  std::string text = to_wire(*catalog_, spec.schema, payload, Form::Json).dump();
  return Bytes(text.begin(), text.end());
}

Message Codec::decode_message(const std::uint8_t* body, std::size_t size, const DecodeOptions& options) const {
  Envelope e = decode_envelope(body, size, options.max_header);
  try {
    const MessageSpec* spec = catalog_->by_code(e.type);
    if (!spec) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", e.type);
      raise(ErrorCode::UnknownType, std::string("type code ") + hex + " is not in the catalog", {{"rule", "type"}});
    }
    if (e.encoding_bits > 1) raise(ErrorCode::UnsupportedEncoding, "payload encoding " + std::to_string(e.encoding_bits) + " is reserved", {{"rule", "encoding"}});
    auto encoding = static_cast<Encoding>(e.encoding_bits);
    if (encoding == Encoding::Cbor && !options.allow_cbor) raise(ErrorCode::UnsupportedEncoding, "payload encoding cbor was not negotiated", {{"rule", "encoding"}});
    Message m;
    m.type = e.type;
    m.name = spec->name;
    m.encoding = encoding;
    m.payload = decode_payload(*spec, encoding, body + e.payload_offset, e.payload_size);
    m.header = std::move(e.header);
    return m;
  } catch (ProtocolError& err) {
    err.set_frame_id(e.header["id"].get<std::string>());
    throw;
  }
}

Bytes Codec::encode_message(MessageType type, const json& header, const json& payload, Encoding encoding) const {
  const MessageSpec* spec = catalog_->by_type(type);
  if (!spec) throw std::invalid_argument("encode_message: unknown type");
  Bytes p = encode_payload(*spec, encoding, payload);
  return encode_envelope(spec->code, encoding, header, p);
}

Bytes Codec::encode_message_frame(MessageType type, const json& header, const json& payload, Encoding encoding) const {
  return encode_frame(encode_message(type, header, payload, encoding));
}

json Codec::payload_to_typed_json(const MessageSpec& spec, const json& payload) const {
  if (!spec.has_payload) return nullptr;
  return to_wire(*catalog_, spec.schema, payload, Form::Fixture);
}

json Codec::message_to_typed_json(const Message& m) const {
  const MessageSpec* spec = catalog_->by_code(m.type);
  return {{"type", m.type}, {"name", m.name}, {"encoding", std::string(encoding_name(m.encoding))}, {"header", m.header},
          {"payload", spec ? payload_to_typed_json(*spec, m.payload) : json()}};
}

json Codec::payload_from_typed_json(const MessageSpec& spec, const json& typed) const {
  if (!spec.has_payload) return nullptr;
  return from_typed(*catalog_, spec.schema, typed);
}

}  // namespace concord
