#include <concord/catalog.hpp>
#include <concord/ndarray.hpp>
#include <concord/text.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#ifndef CONCORD_DEFAULT_SPEC_DIR
#define CONCORD_DEFAULT_SPEC_DIR "spec"
#endif

namespace concord {

namespace fs = std::filesystem;

bool MessageSpec::allows(std::string_view direction) const {
  for (const auto& d : directions) if (d == direction) return true;
  return false;
}

namespace {

json read_json_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("concord: cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

[[noreturn]] void violation(const std::string& path, const std::string& rule, const std::string& message) {
  raise(ErrorCode::SchemaViolation, (path.empty() ? std::string("/") : path) + " " + message, {{"path", path}, {"rule", rule}});
}

bool is_integral_number(const json& d) {
  if (d.is_number_integer()) return true;
  if (!d.is_number_float()) return false;
  double v = d.get<double>();
  return std::isfinite(v) && std::floor(v) == v;
}

bool type_matches(const std::string& t, const json& d) {
  if (t == "object") return d.is_object();
  if (t == "array") return d.is_array();
  if (t == "string") return d.is_string();
  if (t == "boolean") return d.is_boolean();
  if (t == "null") return d.is_null();
  if (t == "integer") return is_integral_number(d);
  if (t == "number") return d.is_number() && (!d.is_number_float() || std::isfinite(d.get<double>()));
  return false;
}

bool has_any(const json& s, std::initializer_list<const char*> keys) {
  for (const char* k : keys) if (s.contains(k)) return true;
  return false;
}

const std::initializer_list<const char*> kNumberRules = {"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf"};
const std::initializer_list<const char*> kStringRules = {"maxLength", "minLength", "pattern", "format", "maxBytes"};
const std::initializer_list<const char*> kArrayRules = {"maxItems", "minItems", "uniqueItems", "items", "additionalItems", "contains"};
const std::initializer_list<const char*> kObjectRules = {"maxProperties", "minProperties", "required", "propertyNames",
                                                          "additionalProperties", "properties", "patternProperties", "dependencies"};

bool group_used(const std::string& type, const json& s) {
  if (type == "number") return has_any(s, kNumberRules);
  if (type == "string") return has_any(s, kStringRules);
  if (type == "array") return has_any(s, kArrayRules);
  if (type == "object") return has_any(s, kObjectRules);
  return false;
}

constexpr std::uint64_t kI64Max = 0x7FFFFFFFFFFFFFFFull;

}  // namespace

std::string Catalog::default_dir() {
  const char* env = std::getenv("CONCORD_SPEC_DIR");
  if (env && *env) return env;
  return CONCORD_DEFAULT_SPEC_DIR;
}

std::string Catalog::catalog_file(const std::string& dir_in) {
  if (dir_in.empty()) {
    const char* env = std::getenv("CONCORD_CATALOG");
    if (env && *env) return env;
  }
  return (fs::path(dir_in.empty() ? default_dir() : dir_in) / "generated" / "catalog.json").string();
}

std::shared_ptr<const Catalog> Catalog::load(const std::string& dir_in) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Catalog>> cache;
  const std::string dir = dir_in.empty() ? default_dir() : dir_in;
  const std::string file = catalog_file(dir_in);
  std::lock_guard<std::mutex> lock(mutex);
  auto hit = cache.find(file);
  if (hit != cache.end()) return hit->second;

  auto c = std::make_shared<Catalog>();
  c->dir_ = dir;
  if (!fs::is_regular_file(file)) throw std::runtime_error("concord: no catalog " + file + " (set CONCORD_SPEC_DIR or CONCORD_CATALOG)");
  // The generated catalog: payload schemas are standalone (no $ref), records as spec/catalog.schema.json says.
  json doc = read_json_file(file);
  c->defs_ = doc.at("defs");
  for (const auto& m : doc.at("messages")) {
    MessageSpec s;
    s.code = m.at("code").get<std::uint8_t>();
    s.name = m.at("name").get<std::string>();
    s.kind = m.at("kind").get<std::string>();
    s.directions = m.at("directions").get<std::vector<std::string>>();
    s.response = m.at("response").is_string() ? m["response"].get<std::string>() : "";
    s.timeout_ms = m.at("timeout_ms").is_number_unsigned() ? m["timeout_ms"].get<std::uint32_t>() : 0;
    s.schema = m.at("payload");
    s.has_payload = s.schema.is_object();
    s.record = m;
    c->messages_.push_back(std::move(s));
  }
  std::sort(c->messages_.begin(), c->messages_.end(), [](const MessageSpec& a, const MessageSpec& b) { return a.code < b.code; });
  for (const auto& s : c->messages_) c->by_code_[s.code] = &s;
  // The data files and the generated constants must agree (CONV-1: the data files rule; a
  // stale header is a build defect, reported here rather than silently mis-coding frames).
  if (c->messages_.size() != protocol::kMessages.size()) throw std::runtime_error("concord: " + dir + " has a different message count than protocol.hpp");
  for (const auto& info : protocol::kMessages) {
    const MessageSpec* s = c->by_code_[info.code];
    if (!s || s->name != info.name || s->kind != info.kind || s->response != info.response) {
      throw std::runtime_error("concord: " + dir + " disagrees with protocol.hpp on type " + std::string(info.name));
    }
  }
  for (const auto& s : c->messages_) if (s.has_payload) c->compile_patterns(s.schema);
  for (const auto& [name, schema] : c->defs_.items()) c->compile_patterns(schema);
  cache[file] = c;
  return c;
}

void Catalog::compile_patterns(const json& schema) {
  if (schema.is_object()) {
    auto p = schema.find("pattern");
    if (p != schema.end() && p->is_string() && !patterns_.count(p->get<std::string>())) {
      std::u32string u = utf8_to_utf32(p->get<std::string>());
      std::wstring w(u.begin(), u.end());
      patterns_.emplace(p->get<std::string>(), std::wregex(w, std::regex::ECMAScript));
    }
    for (const auto& [k, v] : schema.items()) if (k != "enum" && k != "const" && k != "examples") compile_patterns(v);
  } else if (schema.is_array()) {
    for (const auto& v : schema) compile_patterns(v);
  }
}

bool Catalog::pattern_matches(const std::string& pattern, const std::string& text) const {
  auto it = patterns_.find(pattern);
  if (it == patterns_.end()) throw std::runtime_error("concord: pattern not compiled: " + pattern);
  std::u32string u = utf8_to_utf32(text);
  std::wstring w(u.begin(), u.end());
  return std::regex_search(w, it->second);
}

const MessageSpec* Catalog::by_code(std::uint8_t code) const { return by_code_[code]; }

const MessageSpec* Catalog::by_name(std::string_view name) const {
  for (const auto& s : messages_) if (s.name == name) return &s;
  return nullptr;
}

const json& Catalog::resolve(const json& schema) const {
  const json* s = &schema;
  for (int guard = 0; guard < 32 && s->is_object() && s->contains("$ref"); ++guard) {
    std::string ref = (*s)["$ref"].get<std::string>();
    const std::string prefix = "#/$defs/";
    if (ref.compare(0, prefix.size(), prefix) != 0 || !defs_.contains(ref.substr(prefix.size()))) {
      throw std::runtime_error("concord: unresolved $ref " + ref);
    }
    s = &defs_[ref.substr(prefix.size())];
  }
  return *s;
}

void Catalog::validate(const MessageSpec& spec, const json& payload) const {
  if (!spec.has_payload) {
    if (!payload.is_null()) violation("", "empty", spec.name + " carries no payload");
    return;
  }
  validate_schema(spec.schema, payload, "");
}

// Mirrors ajv's evaluation order (allErrors false): the type check first unless the schema has
// rules of that type's group; then $ref, const, enum, ndarray, int64; then the typed groups.
void Catalog::validate_schema(const json& s, const json& d, const std::string& path) const {
  if (s.is_boolean()) {
    if (!s.get<bool>()) violation(path, "false schema", "is not allowed");
    return;
  }
  if (!s.is_object()) return;
  std::string type = s.contains("type") && s["type"].is_string() ? s["type"].get<std::string>() : "";
  bool deferred = !type.empty() && group_used(type, s);
  if (!type.empty() && !deferred && !type_matches(type, d)) violation(path, "type", "must be " + type);

  if (s.contains("$ref")) {
    validate_schema(resolve(s), d, path);
  }
  if (s.contains("const") && !(d == s["const"])) violation(path, "const", "must be equal to constant " + s["const"].dump());
  if (s.contains("enum")) {
    bool found = false;
    for (const auto& e : s["enum"]) if (d == e) { found = true; break; }
    if (!found) violation(path, "enum", "must be equal to one of the allowed values");
  }
  if (s.contains("ndarray")) {
    if (!is_ndarray_value(d)) raise(ErrorCode::InvalidArray, (path.empty() ? "/" : path) + ": must be an ndarray", {{"path", path}, {"rule", "wrapper"}});
    const auto& b = d.get_binary();
    NDArray a = NDArray::unpack(b.data(), b.size(), path);
    check_ndarray_rule(a, s["ndarray"], path);
  }
  if (s.contains("int64")) {
    bool ok = false;
    if (s["int64"] == "uint64") ok = d.is_number_unsigned() || (d.is_number_integer() && d.get<std::int64_t>() >= 0);
    else ok = d.is_number_integer() && (!d.is_number_unsigned() || d.get<std::uint64_t>() <= kI64Max);
    if (!ok) violation(path, "int64", "must be a " + s["int64"].get<std::string>() + " (a decimal string in JSON, an integer in CBOR)");
  }
  if (deferred && !type_matches(type, d)) violation(path, "type", "must be " + type);

  if (d.is_number()) {
    double v = d.get<double>();
    if (s.contains("maximum") && !(v <= s["maximum"].get<double>())) violation(path, "maximum", "must be <= " + s["maximum"].dump());
    if (s.contains("minimum") && !(v >= s["minimum"].get<double>())) violation(path, "minimum", "must be >= " + s["minimum"].dump());
    if (s.contains("exclusiveMaximum") && !(v < s["exclusiveMaximum"].get<double>())) violation(path, "exclusiveMaximum", "must be < " + s["exclusiveMaximum"].dump());
    if (s.contains("exclusiveMinimum") && !(v > s["exclusiveMinimum"].get<double>())) violation(path, "exclusiveMinimum", "must be > " + s["exclusiveMinimum"].dump());
  } else if (d.is_string()) {
    const auto& str = d.get_ref<const std::string&>();
    std::size_t len = s.contains("maxLength") || s.contains("minLength") ? utf8_length(str) : 0;
    if (s.contains("maxLength") && len > s["maxLength"].get<std::size_t>()) violation(path, "maxLength", "must NOT have more than " + s["maxLength"].dump() + " characters");
    if (s.contains("minLength") && len < s["minLength"].get<std::size_t>()) violation(path, "minLength", "must NOT have fewer than " + s["minLength"].dump() + " characters");
    if (s.contains("pattern") && !pattern_matches(s["pattern"].get<std::string>(), str)) violation(path, "pattern", "must match pattern " + s["pattern"].dump());
    // LIM-6: a length in bytes of UTF-8, where maxLength counts characters.
    if (s.contains("maxBytes") && str.size() > s["maxBytes"].get<std::size_t>()) violation(path, "maxBytes", "must NOT be longer than " + s["maxBytes"].dump() + " bytes of UTF-8");
  } else if (d.is_array()) {
    if (s.contains("maxItems") && d.size() > s["maxItems"].get<std::size_t>()) violation(path, "maxItems", "must NOT have more than " + s["maxItems"].dump() + " items");
    if (s.contains("minItems") && d.size() < s["minItems"].get<std::size_t>()) violation(path, "minItems", "must NOT have fewer than " + s["minItems"].dump() + " items");
    if (s.contains("uniqueItems") && s["uniqueItems"] == true) {
      for (std::size_t i = 0; i < d.size(); ++i)
        for (std::size_t j = i + 1; j < d.size(); ++j)
          if (d[i] == d[j]) violation(path, "uniqueItems", "must NOT have duplicate items (items ## " + std::to_string(j) + " and " + std::to_string(i) + " are identical)");
    }
    if (s.contains("items") && s["items"].is_object()) {
      for (std::size_t i = 0; i < d.size(); ++i) validate_schema(s["items"], d[i], pointer(path, i));
    }
    if (s.contains("contains")) {
      bool any = false;
      for (const auto& item : d) {
        try {
          validate_schema(s["contains"], item, path);
          any = true;
          break;
        } catch (const ProtocolError&) {
        }
      }
      if (!any) violation(path, "contains", "must contain at least 1 valid item");
    }
  } else if (d.is_object()) {
    if (s.contains("maxProperties") && d.size() > s["maxProperties"].get<std::size_t>()) violation(path, "maxProperties", "must NOT have more than " + s["maxProperties"].dump() + " properties");
    if (s.contains("minProperties") && d.size() < s["minProperties"].get<std::size_t>()) violation(path, "minProperties", "must NOT have fewer than " + s["minProperties"].dump() + " properties");
    if (s.contains("required")) {
      for (const auto& r : s["required"]) {
        const auto& key = r.get_ref<const std::string&>();
        if (!d.contains(key)) violation(pointer(path, key), "required", "must have required property '" + key + "'");
      }
    }
    if (s.contains("propertyNames")) {
      for (const auto& [k, v] : d.items()) validate_schema(s["propertyNames"], json(k), path);
    }
    const json* props = s.contains("properties") ? &s["properties"] : nullptr;
    if (s.contains("additionalProperties")) {
      const json& ap = s["additionalProperties"];
      for (const auto& [k, v] : d.items()) {
        if (props && props->contains(k)) continue;
        if (ap.is_boolean() && !ap.get<bool>()) violation(pointer(path, k), "additionalProperties", "is not a field of this type");
        if (ap.is_object()) validate_schema(ap, v, pointer(path, k));
      }
    }
    if (props) {
      for (const auto& [k, sub] : props->items()) {
        auto it = d.find(k);
        if (it != d.end()) validate_schema(sub, *it, pointer(path, k));
      }
    }
  }
}

}  // namespace concord
