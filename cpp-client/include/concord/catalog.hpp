// The message catalog and payload schemas, loaded at run time from the generated catalog
// (spec/generated/catalog.json, records as spec/catalog.schema.json describes them), checked against
// the generated constants, and the validator for the JSON Schema subset the catalog uses plus the
// extensions ndarray, int64, float32 and maxBytes.
#pragma once

#include <concord/errors.hpp>

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace concord {

struct MessageSpec {
  std::uint8_t code = 0;
  std::string name;
  std::string kind;                     // request, response, notification, error
  std::vector<std::string> directions;  // client-to-broker, broker-to-client, routed
  std::string response;                 // "" when none
  std::uint32_t timeout_ms = 0;         // 0: request_timeout_ms
  bool has_payload = false;
  json schema;                          // the payload schema (null when the type has none)
  json record;                          // the whole catalog record (examples, level, summary, ...)

  MessageType type() const { return static_cast<MessageType>(code); }
  bool allows(std::string_view direction) const;
};

class Catalog {
 public:
  /**
   * Loads the generated catalog: `dir`/generated/catalog.json when `dir` is not empty, else the file
   * $CONCORD_CATALOG names, else generated/catalog.json under $CONCORD_SPEC_DIR or the source tree's
   * spec/ (compile definition CONCORD_DEFAULT_SPEC_DIR). Results are cached per file. Throws
   * std::runtime_error when the file is missing or disagrees with protocol.hpp.
   */
  static std::shared_ptr<const Catalog> load(const std::string& dir = "");
  /// The spec directory load("") would use.
  static std::string default_dir();
  /// The catalog file load(dir) would read.
  static std::string catalog_file(const std::string& dir = "");

  const std::string& dir() const noexcept { return dir_; }
  const MessageSpec* by_code(std::uint8_t code) const;
  const MessageSpec* by_type(MessageType type) const { return by_code(static_cast<std::uint8_t>(type)); }
  const MessageSpec* by_name(std::string_view name) const;
  const std::vector<MessageSpec>& messages() const noexcept { return messages_; }

  /// Follows `$ref` to `#/$defs/NAME`.
  const json& resolve(const json& schema) const;

  /**
   * Checks an application-model payload against its type's schema. Throws SchemaError
   * (details.path, details.rule = the keyword, `int64` or `empty`) or, for an ndarray keyword,
   * ArrayError. The first fault in the order ajv (the reference validator) evaluates is reported.
   */
  void validate(const MessageSpec& spec, const json& payload) const;
  void validate_schema(const json& schema, const json& data, const std::string& path) const;

  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;
  Catalog() = default;

 private:
  void compile_patterns(const json& schema);
  bool pattern_matches(const std::string& pattern, const std::string& text) const;

  std::string dir_;
  std::vector<MessageSpec> messages_;
  const MessageSpec* by_code_[256] = {};
  json defs_;
  std::map<std::string, std::wregex> patterns_;
};

}  // namespace concord
