// Loading the language-neutral fixture files (fixtures/, spec section 14).
#pragma once

#include <concord/concord.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef CONCORD_FIXTURES_DIR
#define CONCORD_FIXTURES_DIR "fixtures"
#endif

namespace concord::testing {

/// One codec over the catalog for every test, loaded once.
inline const Codec& codec() {
  static Codec c(Catalog::load());
  return c;
}

inline json load_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

/// The vectors of one fixture file (relative to fixtures/).
inline std::vector<json> vectors(const std::string& file) {
  json doc = load_json_file(std::string(CONCORD_FIXTURES_DIR) + "/" + file);
  return doc.at("vectors").get<std::vector<json>>();
}

/// A gtest-friendly name for a vector id.
inline std::string test_name(const std::string& id) {
  std::string out;
  for (char c : id) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}


}  // namespace concord::testing
