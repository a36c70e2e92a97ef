// The C++ engine reproduces fixtures/engine/engine.json bit for bit; every step goes through real
// frames (encoded, decoded and validated by the codec), as on the wire.
#include <gtest/gtest.h>

#include "../engine/engine.hpp"
#include "fixtures.hpp"

#include <cmath>
#include <cstdio>

using namespace concord;
using concord::engine::Engine;
using concord::testing::codec;

namespace {

const json& fixtures() {
  static const json doc = concord::testing::load_json_file(std::string(CONCORD_FIXTURES_DIR) + "/engine/engine.json");
  return doc;
}

json f32(const json& values) {
  std::vector<float> v;
  for (const auto& x : values) v.push_back(x.is_string() ? static_cast<float>(std::strtod(x.get<std::string>().c_str(), nullptr)) : x.get<float>());
  return ndarray_value(NDArray::vector_f4(v));
}

json layer_weights(int layer, std::uint32_t seed) {
  engine::Xorshift32 rng(seed);
  auto w = engine::draw_layer(rng, layer);
  return ndarray_value(NDArray::from_values<std::int32_t>("<i4", {static_cast<std::uint64_t>(engine::kLayerSizes[layer]), static_cast<std::uint64_t>(engine::kLayerInputs[layer])}, w));
}

/// Through a frame and back, as a peer receives it.
Message wire(MessageType type, const json& payload) {
  Bytes frame = codec().encode_message_frame(type, {{"id", "x"}, {"re", "y"}}, payload);
  return codec().decode_message(Bytes(frame.begin() + 4, frame.end()));
}

std::pair<MessageType, json> request_of(const json& step) {
  const std::string op = step.at("op");
  if (op == "reason") return {MessageType::ReasoningRequest, {{"encoding", f32(step["encoding"])}, {"context", step["context"]}, {"source", "gtest"}}};
  if (op == "feedback") {
    json p = {{"encoding", f32(step["encoding"])}, {"reward", step["reward"]}};
    if (step.contains("learning_rate")) p["learning_rate"] = step["learning_rate"];
    return {MessageType::Feedback, p};
  }
  if (op == "parameter_sync") {
    json p = {{"parameters", step["parameters"]}};
    if (step.contains("state_version")) p["state_version"] = std::stoull(step["state_version"].get<std::string>());
    return {MessageType::ParameterSync, p};
  }
  if (op == "state_update") {
    return {MessageType::StateUpdate, {{"layer", step["layer"]}, {"weights", layer_weights(step["layer"], step["weights_seed"])}, {"state_version", std::stoull(step["state_version"].get<std::string>())}}};
  }
  if (op == "batch") {
    json items = json::array();
    for (const auto& it : step["items"]) {
      json item = {{"encoding", f32(it["encoding"])}};
      if (it.contains("context")) item["context"] = it["context"];
      items.push_back(item);
    }
    return {MessageType::BatchReasoningReq, {{"items", items}, {"source", "gtest"}}};
  }
  if (op == "memory_update") {
    json p = {{"key", step["key"]}, {"encoding", f32(step["encoding"])}};
    if (step.contains("content")) p["content"] = step["content"];
    return {MessageType::MemoryUpdate, p};
  }
  if (op == "encode") {
    json p = {{"text", step["text"]}};
    if (step.contains("dim")) p["dim"] = step["dim"];
    return {MessageType::EncodingReq, p};
  }
  json p = {{"coordination_id", step["coordination_id"]}, {"teacher_outputs", step["teacher_outputs"]}};
  if (step.contains("encoding")) p["encoding"] = f32(step["encoding"]);
  return {MessageType::MtlCoordinate, p};
}

/// The elements' bytes in hex: uint8 patterns as they are, float32 vectors little-endian (as the fixtures pin them).
std::string hex_of(const json& pattern) {
  NDArray a = ndarray_from_value(pattern);
  if (a.dtype() == ">f4") a = NDArray::vector_f4(engine::vector_of(pattern, "/"));
  std::string out;
  char b[3];
  for (auto v : a.data()) {
    std::snprintf(b, sizeof b, "%02x", v);
    out += b;
  }
  return out;
}

void check_reason(const json& want, const json& got, const std::string& where) {
  EXPECT_EQ(got.at("spike_count"), want.at("spike_count")) << where;
  EXPECT_EQ(got.at("confidence").get<double>(), want.at("confidence").get<double>()) << where;
  EXPECT_EQ(hex_of(got.at("firing_pattern")), want.at("firing_pattern_hex").get<std::string>()) << where;
  EXPECT_EQ(hex_of(got.at("activations")), want.at("activations_hex").get<std::string>()) << where;
  EXPECT_EQ(got.at("state_digest"), want.at("state_digest")) << where;
}

/// Applies one step; returns whether the engine's answer matched.
void run_step(Engine& eng, const json& step, const std::string& where) {
  auto [type, payload] = request_of(step);
  Message in = wire(type, payload);
  json answer;
  try {
    answer = eng.handle(in.message_type(), in.payload);
  } catch (const ProtocolError& e) {
    ASSERT_TRUE(step.contains("expect_error")) << where << ": refused " << e.name() << " " << e.what();
    EXPECT_EQ(e.name(), step["expect_error"].get<std::string>()) << where;
    return;
  }
  ASSERT_FALSE(step.contains("expect_error")) << where << ": expected ERROR " << step["expect_error"];
  const auto* spec = codec().catalog().by_name(in.name);
  json got = wire(codec().catalog().by_name(spec->response)->type(), answer).payload;
  const std::string op = step["op"];
  if (!step.contains("expect")) return;
  const json& want = step["expect"];
  if (op == "reason") {
    check_reason(want, got, where);
  } else if (op == "batch") {
    ASSERT_EQ(got["results"].size(), want.size()) << where;
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got["results"][i]["ok"], want[i]["ok"]) << where << " item " << i;
      if (want[i]["ok"].get<bool>()) check_reason(want[i]["result"], got["results"][i]["result"], where + " item " + std::to_string(i));
      else EXPECT_EQ(got["results"][i]["error"]["code"], want[i]["code"]) << where;
    }
  } else if (op == "encode") {
    EXPECT_EQ(got.at("model"), want.at("model")) << where;
    EXPECT_EQ(hex_of(got.at("encoding")), want.at("encoding_hex").get<std::string>()) << where;
  } else {
    EXPECT_EQ(got.at("state_digest"), want.at("state_digest")) << where;
    EXPECT_EQ(std::to_string(got.at("state_version").get<std::uint64_t>()), want.at("state_version").get<std::string>()) << where;
    if (op == "mtl") {
      EXPECT_EQ(got.at("teacher_count"), want.at("teacher_count")) << where;
      EXPECT_EQ(got.at("disagreement").get<double>(), want.at("disagreement").get<double>()) << where;
      for (auto it = want["learning_rates"].begin(); it != want["learning_rates"].end(); ++it) {
        EXPECT_EQ(got["learning_rates"][it.key()].get<double>(), it.value().get<double>()) << where << " rate of " << it.key();
      }
    }
  }
}

}  // namespace

TEST(Engine, Xorshift32Draws) {
  for (const auto& p : fixtures()["prng"]) {
    engine::Xorshift32 rng(p["seed"].get<std::uint32_t>());
    for (const auto& d : p["draws"]) EXPECT_EQ(rng.next(), d.get<std::uint32_t>());
  }
}

TEST(Engine, InitialDigest) {
  EXPECT_EQ(Engine("cpp", fixtures()["seed"].get<std::uint32_t>()).digest(), fixtures()["initial_digest"].get<std::string>());
}

TEST(Engine, EveryFixtureScenario) {
  for (const auto& sc : fixtures()["scenarios"]) {
    Engine eng("cpp", fixtures()["seed"].get<std::uint32_t>());
    std::size_t i = 0;
    for (const auto& step : sc["steps"]) run_step(eng, step, sc["id"].get<std::string>() + " step " + std::to_string(i++));
  }
}

TEST(Engine, APerturbedEngineIsCaught) {
  Engine eng("cpp", fixtures()["seed"].get<std::uint32_t>());
  eng.parameter_sync({{"threshold.layer2", 1}}, std::nullopt);
  json step = fixtures()["scenarios"][0]["steps"][3];
  auto [type, payload] = request_of(step);
  json got = eng.handle(type, wire(type, payload).payload);
  EXPECT_NE(got["state_digest"], step["expect"]["state_digest"]);
}
