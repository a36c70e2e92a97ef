// The Concord reference engine in C++ (spec section engine): the integer computation of
// ENG-1..8, bit for bit the same as the TypeScript and Python engines. Payloads are the client
// library's application model (nlohmann::json, ndarray fields as ndarray values).
#pragma once

#include <concord/concord.hpp>

#include "memory.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace concord::engine {

inline constexpr int kInputWidth = 64;
inline constexpr std::array<int, 3> kLayerSizes{512, 256, 128};
inline constexpr std::array<int, 3> kLayerInputs{64, 512, 256};
inline constexpr int kNeurons = 512 + 256 + 128;
inline constexpr std::uint32_t kDefaultSeed = 42;
inline constexpr std::int32_t kDefaultLrQ = 655;
inline constexpr std::int64_t kWeightLimit = 1048576;

/// xorshift32; seed 0 is replaced by 0x9E3779B9 (0 would stay 0).
class Xorshift32 {
 public:
  explicit Xorshift32(std::uint32_t seed) : s_(seed ? seed : 0x9E3779B9u) {}
  std::uint32_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 17;
    s_ ^= s_ << 5;
    return s_;
  }

 private:
  std::uint32_t s_;
};

struct Forward {
  std::array<std::int64_t, kInputWidth> x{};
  std::vector<std::uint8_t> spikes;  // s0 || s1 || s2
  int spike_count = 0;
  int confidence_q = 0;  // fired output neurons x 512, over 65536
  std::vector<std::int64_t> output_sums;  // P2_n, the activations before scaling (ENG-18)
};

/// ENG-18: each output-layer sum clamped to +-2^24, over 2^24 (exact in float32).
std::vector<float> activations_of(const std::vector<std::int64_t>& output_sums);

/// Weights of one layer drawn like the engine's: (draw >> 16) - 32768, row by row.
std::vector<std::int32_t> draw_layer(Xorshift32& rng, int layer);

class Engine {
 public:
  explicit Engine(std::string name = "cpp", std::uint32_t seed = kDefaultSeed, std::size_t memory_max = protocol::kEngineMemoryMax);

  const std::string& digest() const noexcept { return digest_; }
  std::uint64_t version() const noexcept { return version_; }

  /// The response payload of an engine request; refusals throw ProtocolError (INVALID_ARRAY, INVALID_PARAMS, ...).
  json handle(MessageType type, const json& payload);

  Forward forward(const std::vector<float>& encoding) const;
  json reason(const std::vector<float>& encoding) const;
  json feedback(const std::vector<float>& encoding, double reward, std::optional<double> learning_rate);
  json state_update(int layer, const NDArray& weights, std::uint64_t version);
  json parameter_sync(const json& parameters, std::optional<std::uint64_t> version);
  json mtl_coordinate(const std::string& id, const json& teachers, const std::optional<std::vector<float>>& encoding);
  /// MEMORY_UPDATE (ENG-19): the state, and so its digest and version, stay as they are.
  json memory_update(const std::string& key, const std::vector<float>& encoding, std::optional<std::string> content);
  /// ENCODING_REQ (ENG-20): `dim` elements, 64 when absent.
  json encode(const std::string& text, std::optional<std::size_t> dim) const;

 private:
  void hebbian(const std::vector<float>& encoding, double reward, std::optional<double> learning_rate);
  json changed();
  std::string compute_digest() const;

  std::string name_;
  std::array<std::vector<std::int32_t>, 3> w_;
  std::array<std::int32_t, 3> thresholds_{0, 0, 0};
  std::int32_t lr_q_ = kDefaultLrQ;
  std::uint64_t version_ = 0;
  std::string digest_;
  EngineMemory memory_;
};

/// Float32 elements of a Vector field (either byte order).
std::vector<float> vector_of(const json& value, const std::string& path);

}  // namespace concord::engine
