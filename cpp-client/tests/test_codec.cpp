// Unit tests of the codec layers: base64, framing limits, header checks, 64-bit fields, the error
// precedence of section 8, ndarray fields in any-value positions, catalog examples, spec loading.
#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <unistd.h>

using namespace concord;
using namespace concord::testing;

namespace {

Bytes body_of(MessageType type, const std::string& payload_json, Encoding enc = Encoding::Json, json header = {{"id", "t"}}) {
  Bytes p(payload_json.begin(), payload_json.end());
  return encode_envelope(static_cast<std::uint8_t>(type), enc, header, p);
}

ProtocolError refusal(const Bytes& body) {
  try {
    codec().decode_message(body);
  } catch (const ProtocolError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted";
  return ProtocolError(ErrorCode::Internal, "accepted");
}

std::string b64_vector(const std::vector<float>& v) {
  Bytes packed = NDArray::vector_f4(v).pack();
  return base64_encode(packed.data(), packed.size());
}

TEST(Base64, CanonicalOnly) {
  const std::string text = "hello world!?";
  std::string enc = base64_encode(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  EXPECT_EQ(enc, "aGVsbG8gd29ybGQhPw==");
  auto dec = base64_decode_canonical(enc);
  ASSERT_TRUE(dec);
  EXPECT_EQ(std::string(dec->begin(), dec->end()), text);
  EXPECT_FALSE(base64_decode_canonical("aGVsbG8gd29ybGQhPx=="));  // non-zero pad bits
  EXPECT_FALSE(base64_decode_canonical("aGVsbG8gd29ybGQhPw"));    // no padding
  EXPECT_FALSE(base64_decode_canonical("aGVs\nbG8="));            // line break
  EXPECT_FALSE(base64_decode_canonical("a-_s"));                  // base64url
  EXPECT_FALSE(base64_decode_canonical("aG=s"));                  // data after padding
  EXPECT_TRUE(base64_decode_canonical(""));
}

TEST(Frame, RefusesOversizedLengthOnThePrefixAlone) {
  FrameDecoder d(65536);
  std::vector<Bytes> out;
  const std::uint8_t prefix[] = {0x00, 0x01, 0x11, 0x70};  // 70000
  try {
    d.push(prefix, 4, out);
    FAIL();
  } catch (const FramingError& e) {
    EXPECT_EQ(e.code(), ErrorCode::FrameTooLarge);
    EXPECT_EQ(e.details().at("limit"), 65536);
    EXPECT_TRUE(e.closes());
  }
  EXPECT_TRUE(d.failed());
  EXPECT_THROW(d.push(prefix, 1, out), FramingError);
}

TEST(Frame, ZeroLengthIsMalformed) {
  FrameDecoder d;
  std::vector<Bytes> out;
  const std::uint8_t bytes[] = {0, 0, 0, 0};
  try {
    d.push(bytes, 4, out);
    FAIL();
  } catch (const FramingError& e) {
    EXPECT_EQ(e.code(), ErrorCode::MalformedFrame);
  }
}

TEST(Frame, FramesBeforeAFaultAreDelivered) {
  Bytes a = encode_frame(codec().encode_message(MessageType::Ping, {{"id", "a"}}));
  Bytes stream = a;
  stream.insert(stream.end(), {0xff, 0xff, 0xff, 0xff});
  FrameDecoder d;
  std::vector<Bytes> out;
  EXPECT_THROW(d.push(stream.data(), stream.size(), out), FramingError);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(codec().decode_message(out[0]).id(), "a");
}

TEST(Frame, SeveralFramesInOneReadAndSplitsAnywhere) {
  Bytes stream;
  for (int i = 0; i < 5; ++i) {
    Bytes f = encode_frame(codec().encode_message(MessageType::Ping, {{"id", "p" + std::to_string(i)}}));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (std::size_t split = 1; split < stream.size(); ++split) {
    FrameDecoder d;
    std::vector<Bytes> out;
    d.push(stream.data(), split, out);
    d.push(stream.data() + split, stream.size() - split, out);
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(codec().decode_message(out[4]).id(), "p4");
  }
}

TEST(Header, ChecksInOrder) {
  auto header_error = [](const std::string& h) -> ProtocolError {
    try {
      decode_header(reinterpret_cast<const std::uint8_t*>(h.data()), h.size());
    } catch (const ProtocolError& e) {
      return e;
    }
    ADD_FAILURE() << "accepted " << h;
    return ProtocolError(ErrorCode::Internal, "");
  };
  EXPECT_EQ(header_error("\xEF\xBB\xBF{\"id\":\"x\"}").path(), "/header");
  EXPECT_EQ(header_error("{\"re\":\"x\"}").path(), "/header/id");
  EXPECT_EQ(header_error("{\"id\":\"x\",\"ts\":\"18446744073709551616\"}").path(), "/header/ts");
  EXPECT_EQ(header_error("{\"id\":\"x\",\"dst\":\"a\\u007fb\"}").path(), "/header/dst");
  EXPECT_EQ(header_error("{\"id\":\"" + std::string(43, '\xE2') + "\"}").path(), "/header");  // not UTF-8
  std::string ok = "{\"id\":\"x\",\"ts\":\"18446744073709551615\",\"other\":[1]}";
  EXPECT_NO_THROW(decode_header(reinterpret_cast<const std::uint8_t*>(ok.data()), ok.size()));
}

TEST(Int64, TeacherSyncStateVersion) {
  const MessageSpec* spec = codec().catalog().by_type(MessageType::TeacherSync);
  json payload = {{"coordination_id", "m"}, {"teacher_count", 2}, {"disagreement", 0.5}, {"learning_rates", {{"a", 0.1}}},
                  {"state_version", std::uint64_t{18446744073709551615ull}}};
  Bytes j = codec().encode_payload(*spec, Encoding::Json, payload);
  EXPECT_NE(std::string(j.begin(), j.end()).find("\"state_version\":\"18446744073709551615\""), std::string::npos);
  EXPECT_EQ(codec().decode_payload(*spec, Encoding::Json, j.data(), j.size()), payload);
  Bytes c = codec().encode_payload(*spec, Encoding::Cbor, payload);
  EXPECT_EQ(codec().decode_payload(*spec, Encoding::Cbor, c.data(), c.size()), payload);
  for (const char* bad : {R"("state_version":9)", R"("state_version":"09")", R"("state_version":"-1")", R"("state_version":"18446744073709551616")"}) {
    std::string text = std::string(R"({"coordination_id":"m","teacher_count":2,"disagreement":0.5,"learning_rates":{"a":0.1},)") + bad + "}";
    auto e = refusal(body_of(MessageType::TeacherSync, text));
    EXPECT_EQ(e.code(), ErrorCode::SchemaViolation) << bad;
    EXPECT_EQ(e.rule(), "int64") << bad;
    EXPECT_EQ(e.path(), "/state_version") << bad;
  }
}

TEST(Precedence, PayloadBeforeArrayBeforeSchema) {
  // An ndarray fault and a schema fault: INVALID_ARRAY (step 7 before 8).
  std::string text = R"({"encoding":{"$ndarray":"AAAA"},"context":5,"source":"s"})";
  auto e = refusal(body_of(MessageType::ReasoningRequest, text));
  EXPECT_EQ(e.code(), ErrorCode::InvalidArray);
  EXPECT_EQ(e.path(), "/encoding");
  // In CBOR, an ndarray fault first in the map and a data-model fault after it: INVALID_PAYLOAD (step 6 before 7).
  Bytes payload = {0xa3};
  auto text_item = [](const std::string& s) {
    // Sized first and filled: GCC 12 at -O3 warns (array-bounds) on an insert into a one-element vector here.
    Bytes b(1 + s.size());
    b[0] = static_cast<std::uint8_t>(0x60 + s.size());
    std::copy(s.begin(), s.end(), b.begin() + 1);
    return b;
  };
  for (auto& part : {text_item("encoding"), Bytes{0xd9, 0xc0, 0xc0, 0x43, 1, 2, 3}, text_item("context"), Bytes{0xf7}, text_item("source"), text_item("s")}) {
    payload.insert(payload.end(), part.begin(), part.end());
  }
  Bytes body = encode_envelope(static_cast<std::uint8_t>(MessageType::ReasoningRequest), Encoding::Cbor, {{"id", "x"}}, payload);
  auto e2 = refusal(body);
  EXPECT_EQ(e2.code(), ErrorCode::InvalidPayload) << e2.what();
  EXPECT_EQ(e2.path(), "/context");
  EXPECT_EQ(e2.frame_id(), "x");
}

TEST(Validator, InitEncodingsContainsJson) {
  std::string text = R"({"client_id":"c","language":"cpp","role":"client","protocol_version":"1.0","encodings":["cbor"],"max_frame":65536})";
  auto e = refusal(body_of(MessageType::Init, text));
  EXPECT_EQ(e.code(), ErrorCode::SchemaViolation);
  EXPECT_EQ(e.path(), "/encodings");
  EXPECT_EQ(e.rule(), "contains");
  std::string integral = R"({"client_id":"c","language":"cpp","role":"client","protocol_version":"1.0","encodings":["json"],"max_frame":65536.0})";
  EXPECT_NO_THROW(codec().decode_message(body_of(MessageType::Init, integral)));  // ENC-14
}

TEST(Validator, NamesAreLimitedInBytes) {
  // LIM-6: 100 characters of 2 bytes each are 200 bytes, above max_name_bytes.
  std::string name;
  for (int i = 0; i < 100; ++i) name += "\xC3\xA9";
  json init = {{"client_id", name}, {"language", "cpp"}, {"role", "client"}, {"protocol_version", "1.0"}, {"encodings", {"json"}}, {"max_frame", 65536}};
  try {
    codec().catalog().validate(*codec().catalog().by_type(MessageType::Init), init);
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_EQ(e.path(), "/client_id");
    EXPECT_EQ(e.rule(), "maxBytes");
  }
}

TEST(Ndarray, AnyValueFieldsHoldArrays) {
  // ARR-8: in BUS_PUBLISH's any-value payload, {"$ndarray": ...} is an ndarray, checked by rules 1-13.
  const MessageSpec* spec = codec().catalog().by_type(MessageType::BusPublish);
  ASSERT_NE(spec, nullptr);
  json payload;
  {
    std::string text = std::string(R"({"event_type":"e","payload":{"trace":{"$ndarray":")") + b64_vector({1, 2, 3}) + "\"}}}";
    payload = codec().decode_payload(*spec, Encoding::Json, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
  }
  EXPECT_TRUE(is_ndarray_value(payload["payload"]["trace"]));
  EXPECT_EQ(ndarray_from_value(payload["payload"]["trace"]).values<float>(), (std::vector<float>{1, 2, 3}));
  Bytes c = codec().encode_payload(*spec, Encoding::Cbor, payload);
  EXPECT_EQ(codec().decode_payload(*spec, Encoding::Cbor, c.data(), c.size()), payload);
  std::string bad = R"({"event_type":"e","payload":{"$ndarray":"AAAA"}})";
  auto e = refusal(body_of(MessageType::BusPublish, bad));
  EXPECT_EQ(e.code(), ErrorCode::InvalidArray);
  EXPECT_EQ(e.path(), "/payload");
}

TEST(Ndarray, EveryDtypeBothOrders) {
  for (const auto& d : protocol::kDtypes) {
    Bytes raw(3 * d.itemsize);
    for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = d.kind == 'b' ? static_cast<std::uint8_t>(i % 2) : static_cast<std::uint8_t>(i * 37 + 1);
    NDArray a(std::string(d.code), {3}, raw, {{"k", 1}});
    NDArray b = NDArray::unpack(a.pack());
    EXPECT_EQ(a, b) << d.code;
    EXPECT_EQ(a.to_typed_json(), NDArray::from_typed_json(a.to_typed_json()).to_typed_json()) << d.code;
  }
  NDArray zero_d("<f8", {}, Bytes(8, 0));
  EXPECT_EQ(NDArray::unpack(zero_d.pack()).size(), 1u);
  std::vector<std::uint64_t> dims(32, 1);
  NDArray deep("|u1", dims, Bytes{7});
  EXPECT_EQ(NDArray::unpack(deep.pack()).ndim(), 32u);
  NDArray empty("<i4", {2, 0, 3}, Bytes{});
  EXPECT_EQ(NDArray::unpack(empty.pack()).size(), 0u);
}

TEST(Ndarray, SpecTableOrder) {
  // dtype_len above 16 on a truncated input: rule 5 (dtype-unknown) comes before rule 6 (truncated).
  Bytes b(8, 0);                      // ndim 0
  b.insert(b.end(), {100, 0, 0, 0, 0, 0, 0, 0});  // dtype_len 100, then nothing
  try {
    NDArray::unpack(b);
    FAIL();
  } catch (const ArrayError& e) {
    EXPECT_EQ(e.rule(), "dtype-unknown");
  }
}

TEST(Catalog, ExamplesRoundTripInBothEncodings) {
  int checked = 0;
  for (const auto& spec : codec().catalog().messages()) {
    for (const auto& example : spec.record.at("examples")) {
      json value = codec().payload_from_typed_json(spec, example);
      for (Encoding enc : {Encoding::Json, Encoding::Cbor}) {
        Bytes body = codec().encode_message(spec.type(), {{"id", "ex"}}, value, enc);
        Message got = codec().decode_message(body);
        EXPECT_EQ(codec().payload_to_typed_json(spec, got.payload), codec().payload_to_typed_json(spec, value)) << spec.name;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 40);
}

TEST(Catalog, LoadsTheGeneratedCatalogWithStandalonePayloads) {
  auto c = Catalog::load();
  EXPECT_EQ(Catalog::catalog_file(), (std::filesystem::path(Catalog::default_dir()) / "generated" / "catalog.json").string());
  for (const auto& s : c->messages()) {
    EXPECT_EQ(s.record.at("name"), s.name);
    if (s.has_payload) {
      EXPECT_EQ(s.schema.dump().find("\"$ref\""), std::string::npos) << s.name;
    }
  }
}

TEST(Catalog, CatalogFileFromEnvironment) {
  const std::string real = Catalog::catalog_file();
  ::setenv("CONCORD_CATALOG", "/nonexistent/catalog.json", 1);
  EXPECT_EQ(Catalog::catalog_file(), "/nonexistent/catalog.json");
  EXPECT_THROW(Catalog::load(), std::runtime_error);
  // A copy elsewhere, as an installed package holds it, is loaded on its own.
  const auto copy = std::filesystem::temp_directory_path() / ("concord-catalog-" + std::to_string(::getpid()) + ".json");
  std::filesystem::copy_file(real, copy, std::filesystem::copy_options::overwrite_existing);
  ::setenv("CONCORD_CATALOG", copy.c_str(), 1);
  auto c = Catalog::load();
  EXPECT_NE(c->by_name("INIT"), nullptr);
  ::unsetenv("CONCORD_CATALOG");
  std::filesystem::remove(copy);
}

TEST(Catalog, AgreesWithGeneratedConstants) {
  auto c = Catalog::load();
  for (const auto& info : protocol::kMessages) {
    const MessageSpec* s = c->by_code(info.code);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->name, info.name);
  }
  EXPECT_EQ(c->by_code(0x0a), nullptr);
}

TEST(Catalog, SpecDirFromEnvironment) {
  const std::string real = Catalog::default_dir();
  ::setenv("CONCORD_SPEC_DIR", "/nonexistent/concord-spec", 1);
  EXPECT_EQ(Catalog::default_dir(), "/nonexistent/concord-spec");
  EXPECT_THROW(Catalog::load(), std::runtime_error);
  ::unsetenv("CONCORD_SPEC_DIR");
  EXPECT_NO_THROW(Catalog::load(real));
}

TEST(Errors, PayloadCarriesRegistryValues) {
  ProtocolError e(ErrorCode::InvalidHeader, "bad", {{"path", "/header/id"}});
  json p = e.to_payload();
  EXPECT_EQ(p["code"], std::string(protocol::error_name(ErrorCode::InvalidHeader)));
  EXPECT_EQ(p["definite"], protocol::error_definite(ErrorCode::InvalidHeader));
  EXPECT_EQ(p["details"]["path"], "/header/id");
  EXPECT_FALSE(e.closes());
  EXPECT_THROW(raise(ErrorCode::InvalidArray, "x"), ArrayError);
  EXPECT_THROW(raise(ErrorCode::SchemaViolation, "x"), SchemaError);
  EXPECT_THROW(raise(ErrorCode::MalformedFrame, "x"), FramingError);
}

TEST(Messages, TypedStructsRoundTrip) {
  ReasoningRequest r;
  r.encoding = std::vector<float>(768, 0.25f);
  r.context = "c";
  r.source = "cpp";
  Message m;
  m.type = static_cast<std::uint8_t>(MessageType::ReasoningRequest);
  m.header = {{"id", "q1"}};
  m.payload = codec().decode_payload(*codec().catalog().by_type(MessageType::ReasoningRequest), Encoding::Cbor,
                                     codec().encode_payload(*codec().catalog().by_type(MessageType::ReasoningRequest), Encoding::Cbor, r.to_payload()).data(),
                                     codec().encode_payload(*codec().catalog().by_type(MessageType::ReasoningRequest), Encoding::Cbor, r.to_payload()).size());
  ReasoningRequest back = ReasoningRequest::from_message(m);
  EXPECT_EQ(back.encoding, r.encoding);
  EXPECT_EQ(back.request_id, "q1");
  ReasoningResponse resp;
  resp.confidence = 0.85f;
  resp.firing_pattern = {1, 0, 1};
  json p = resp.to_payload();
  EXPECT_EQ(p["confidence"].get<double>(), 0.8500000238418579);  // ENC-15
  EXPECT_NO_THROW(codec().catalog().validate(*codec().catalog().by_type(MessageType::ReasoningResponse), p));
  MtlCoordinate sig;
  sig.coordination_id = "mtl_001";
  sig.teacher_outputs = {{"a", 0.8f, 4, std::nullopt}, {"b", 0.7f, 3, std::vector<std::uint8_t>{1, 0}}};
  sig.disagreement_score = 0.15f;
  EXPECT_NO_THROW(codec().catalog().validate(*codec().catalog().by_type(MessageType::MtlCoordinate), sig.to_payload()));
}

}  // namespace
