// Every vector of fixtures/frames/valid.json and invalid.json, fixtures/ndarray/arrays.json and
// fixtures/cbor/rfc8949-appendix-a.json (spec section 14, FIX-2, FIX-3).
#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

using namespace concord;
using namespace concord::testing;

namespace {

std::vector<Bytes> frames_of(const Bytes& bytes, std::uint64_t max_frame, std::size_t chunk) {
  FrameDecoder d(max_frame);
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < bytes.size(); i += chunk) d.push(bytes.data() + i, std::min(chunk, bytes.size() - i), out);
  EXPECT_FALSE(d.mid_frame());
  return out;
}

struct Named {
  std::string operator()(const ::testing::TestParamInfo<json>& info) const { return test_name(info.param.at("id").get<std::string>()); }
};

// ---- frames: valid ----

class ValidFrame : public ::testing::TestWithParam<json> {};

TEST_P(ValidFrame, DecodesToItsDecodedValue) {
  const json& v = GetParam();
  Bytes bytes = from_hex(v.at("hex").get<std::string>());
  for (std::size_t chunk : {bytes.size(), std::size_t{1}, std::size_t{7}}) {
    auto bodies = frames_of(bytes, protocol::kMaxFrame, chunk);
    ASSERT_EQ(bodies.size(), 1u);
    Message m = codec().decode_message(bodies[0]);
    EXPECT_EQ(codec().message_to_typed_json(m), v.at("decoded")) << "chunk " << chunk;
  }
}

TEST_P(ValidFrame, RoundTripsThroughBothEncodings) {
  const json& v = GetParam();
  Message m = codec().decode_message(frames_of(from_hex(v.at("hex").get<std::string>()), protocol::kMaxFrame, 1 << 20).at(0));
  for (Encoding enc : {Encoding::Json, Encoding::Cbor}) {
    Bytes body = codec().encode_message(m.message_type(), m.header, m.payload, enc);
    Message again = codec().decode_message(body);
    json expect = v.at("decoded");
    expect["encoding"] = std::string(encoding_name(enc));
    EXPECT_EQ(codec().message_to_typed_json(again), expect) << encoding_name(enc);
  }
}

TEST_P(ValidFrame, EncodesFromItsTypedJson) {
  const json& v = GetParam();
  const json& d = v.at("decoded");
  const MessageSpec* spec = codec().catalog().by_code(d.at("type").get<std::uint8_t>());
  ASSERT_NE(spec, nullptr);
  json payload = codec().payload_from_typed_json(*spec, d.at("payload"));
  Encoding enc = d.at("encoding") == "cbor" ? Encoding::Cbor : Encoding::Json;
  Message m = codec().decode_message(codec().encode_message(spec->type(), d.at("header"), payload, enc));
  EXPECT_EQ(codec().message_to_typed_json(m), d);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ValidFrame, ::testing::ValuesIn(vectors("frames/valid.json")), Named());

// ---- frames: invalid ----

class InvalidFrame : public ::testing::TestWithParam<json> {};

TEST_P(InvalidFrame, IsRefusedWithItsCode) {
  const json& v = GetParam();
  Bytes bytes = from_hex(v.at("hex").get<std::string>());
  std::uint64_t max_frame = v.value("max_frame", protocol::kMaxFrame);
  const std::string want = v.at("error").get<std::string>();
  std::optional<ProtocolError> error;
  FrameDecoder d(max_frame);
  std::vector<Bytes> bodies;
  try {
    d.push(bytes.data(), bytes.size(), bodies);
  } catch (const FramingError& e) {
    error = e;
  }
  if (!error) {
    ASSERT_EQ(bodies.size(), 1u) << "the fixture holds one frame";
    try {
      codec().decode_message(bodies[0]);
    } catch (const ProtocolError& e) {
      error = e;
    }
  }
  ASSERT_TRUE(error.has_value()) << "accepted";
  EXPECT_EQ(error->name(), want) << error->what();
  if (v.contains("closes")) {
    EXPECT_EQ(error->closes(), v["closes"].get<bool>());
  }
  if (v.contains("path")) {
    EXPECT_EQ(error->path().value_or("<none>"), v["path"].get<std::string>()) << error->what();
  }
  if (v.contains("rule")) {
    EXPECT_EQ(error->rule().value_or("<none>"), v["rule"].get<std::string>()) << error->what();
  }
  if (want == "FRAME_TOO_LARGE") {
    EXPECT_EQ(error->details().at("limit").get<std::uint64_t>(), max_frame);
    EXPECT_EQ(d.buffered_bytes(), 0u) << "no body byte is kept (FRM-3)";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, InvalidFrame, ::testing::ValuesIn(vectors("frames/invalid.json")), Named());

// ---- ndarray ----

class NdarrayVector : public ::testing::TestWithParam<json> {};

TEST_P(NdarrayVector, DecodesOrIsRefused) {
  const json& v = GetParam();
  Bytes bytes = from_hex(v.at("hex").get<std::string>());
  if (v.at("result") == "valid") {
    NDArray a = NDArray::unpack(bytes);
    EXPECT_EQ(a.to_typed_json().at("$ndarray"), v.at("decoded"));
    // re-encoding: the same bytes when meta is empty (the meta's JSON spelling is free otherwise)
    if (a.meta().empty()) {
      EXPECT_EQ(to_hex(a.pack()), v.at("hex").get<std::string>());
    }
    EXPECT_EQ(NDArray::unpack(a.pack()), a);
    // from the typed-JSON form
    EXPECT_EQ(NDArray::from_typed_json(json{{"$ndarray", v.at("decoded")}}).to_typed_json(), a.to_typed_json());
  } else {
    try {
      NDArray::unpack(bytes, "/x");
      FAIL() << "accepted";
    } catch (const ArrayError& e) {
      EXPECT_EQ(e.name(), v.at("error").get<std::string>());
      EXPECT_EQ(e.path().value_or(""), "/x");
      // the first rule broken in the check table's order (ARR-7)
      ASSERT_TRUE(v.contains("rule")) << "every invalid ndarray vector names its rule";
      EXPECT_EQ(e.rule().value_or("<none>"), v["rule"].get<std::string>()) << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NdarrayVector, ::testing::ValuesIn(vectors("ndarray/arrays.json")), Named());

// ---- CBOR, RFC 8949 Appendix A ----

class CborVector : public ::testing::TestWithParam<json> {};

// Our decoder reads every vector of the appendix into the generic data model.
TEST_P(CborVector, DecodesToItsDecodedValue) {
  const json& v = GetParam();
  Bytes bytes = from_hex(v.at("hex").get<std::string>());
  CborItem item = cbor_decode(bytes.data(), bytes.size());
  EXPECT_EQ(cbor_to_typed_json(item), v.at("decoded"));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CborVector, ::testing::ValuesIn(vectors("cbor/rfc8949-appendix-a.json")), Named());

// nlohmann::json::from_cbor (which the payload encoder's output must satisfy too) reads the
// appendix except for the vectors below; the list is checked both ways so that it cannot go stale.
const std::map<std::string, std::string>& nlohmann_exceptions() {
  static const std::map<std::string, std::string> m = {
      {"cbor/rfc8949/nint-neg-18446744073709551616", "below -2^63: nlohmann's signed integer is int64_t"},
      {"cbor/rfc8949/bignum-18446744073709551616", "tag 2: nlohmann keeps tags only on byte strings, as binary subtypes"},
      {"cbor/rfc8949/bignum-neg-18446744073709551617", "tag 3: as above"},
      {"cbor/rfc8949/float16-neg-zero", "typed JSON -0: nlohmann's value compares equal to 0, the $float form cannot be produced"},
      {"cbor/rfc8949/float16-infinity", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float16-nan", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float16-neg-infinity", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float32-infinity", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float32-nan", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float32-neg-infinity", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float64-infinity", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float64-nan", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/float64-neg-infinity", "non-finite floats are not JSON values"},
      {"cbor/rfc8949/undefined", "nlohmann refuses undefined (0xf7)"},
      {"cbor/rfc8949/simple-16", "nlohmann refuses simple values"},
      {"cbor/rfc8949/simple-255", "nlohmann refuses simple values"},
      {"cbor/rfc8949/tag-0-datetime-string", "tags on non-byte-strings are refused (tag handler store)"},
      {"cbor/rfc8949/tag-1-epoch-int", "tags on non-byte-strings are refused (tag handler store)"},
      {"cbor/rfc8949/tag-1-epoch-float", "tags on non-byte-strings are refused (tag handler store)"},
      {"cbor/rfc8949/tag-23-base16", "a tagged byte string becomes a binary with subtype, not the $tag form"},
      {"cbor/rfc8949/tag-24-embedded-cbor", "a tagged byte string becomes a binary with subtype, not the $tag form"},
      {"cbor/rfc8949/tag-32-uri", "tags on non-byte-strings are refused (tag handler store)"},
      {"cbor/rfc8949/map-int-keys", "nlohmann maps take text keys only"},
  };
  return m;
}

json nlohmann_typed(const json& j) {
  if (j.is_binary()) {
    const auto& b = j.get_binary();
    return {{"$bytes", to_hex(b.data(), b.size())}};
  }
  if (j.is_number_unsigned() && j.get<std::uint64_t>() > (1ull << 53) - 1) return {{"$bigint", std::to_string(j.get<std::uint64_t>())}};
  if (j.is_number_integer() && !j.is_number_unsigned() && (j.get<std::int64_t>() < -((1ll << 53) - 1))) return {{"$bigint", std::to_string(j.get<std::int64_t>())}};
  if (j.is_array()) {
    json out = json::array();
    for (const auto& x : j) out.push_back(nlohmann_typed(x));
    return out;
  }
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [k, x] : j.items()) out[k] = nlohmann_typed(x);
    return out;
  }
  return j;
}

TEST(CborNlohmann, ReadsTheAppendixExceptListedVectors) {
  std::set<std::string> seen;
  for (const json& v : vectors("cbor/rfc8949-appendix-a.json")) {
    const std::string id = v.at("id").get<std::string>();
    seen.insert(id);
    Bytes bytes = from_hex(v.at("hex").get<std::string>());
    bool ok = false;
    try {
      json j = json::from_cbor(bytes, true, true, json::cbor_tag_handler_t::store);
      ok = nlohmann_typed(j) == v.at("decoded") && !(j.is_number_float() && std::signbit(j.get<double>()) && j.get<double>() == 0);
      if (j.is_number_float() && !std::isfinite(j.get<double>())) ok = false;
    } catch (const json::exception&) {
      ok = false;
    }
    bool listed = nlohmann_exceptions().count(id) > 0;
    EXPECT_EQ(ok, !listed) << id << (listed ? ": listed as an exception but nlohmann reads it (stale entry)" : ": nlohmann fails on it but it is not listed");
  }
  for (const auto& [id, reason] : nlohmann_exceptions()) EXPECT_TRUE(seen.count(id)) << "exception " << id << " names no vector";
}

}  // namespace
