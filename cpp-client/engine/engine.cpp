// The engine computation (spec section engine). Every sum is exact in int64 (magnitudes below
// 2^42); floor division is written out because C++ integer division truncates towards zero.
#include "engine.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string_view>

namespace concord::engine {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::int64_t clamp64(std::int64_t v, std::int64_t lo, std::int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }
double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

ProtocolError invalid_params(const std::string& param, const std::string& message) {
  return ProtocolError(ErrorCode::InvalidParams, message, {{"param", param}});
}

void put_le32(std::vector<std::uint8_t>& out, std::int32_t v) {
  auto u = static_cast<std::uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
}

std::uint32_t read32(const std::uint8_t* p, bool big) {
  std::uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<std::uint32_t>(p[big ? 3 - i : i]) << (8 * i);
  return u;
}

bool integral(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

// The layer of a parameter named exactly threshold.layer0, 1 or 2, else -1. A plain comparison rather
// than std::regex: under the sanitizers one regex instantiation cost this file half its build time.
int threshold_layer(std::string_view name) {
  constexpr std::string_view kPrefix = "threshold.layer";
  if (name.size() != kPrefix.size() + 1 || name.substr(0, kPrefix.size()) != kPrefix) return -1;
  const char digit = name.back();
  return digit >= '0' && digit <= '2' ? digit - '0' : -1;
}

float f32(double v) { return static_cast<float>(v); }

}  // namespace

std::vector<std::int32_t> draw_layer(Xorshift32& rng, int layer) {
  std::vector<std::int32_t> w(static_cast<std::size_t>(kLayerSizes[layer]) * kLayerInputs[layer]);
  for (auto& v : w) v = static_cast<std::int32_t>(rng.next() >> 16) - 32768;
  return w;
}

std::vector<float> vector_of(const json& value, const std::string& path) {
  if (!is_ndarray_value(value)) throw ProtocolError(ErrorCode::SchemaViolation, "encoding must be a float32 vector", {{"path", path}});
  NDArray a = ndarray_from_value(value);
  if (a.dtype() != "<f4" && a.dtype() != ">f4") throw ProtocolError(ErrorCode::SchemaViolation, "encoding must be float32", {{"path", path}});
  const bool big = a.dtype()[0] == '>';
  std::vector<float> out(a.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t u = read32(a.data().data() + 4 * i, big);
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

std::vector<float> activations_of(const std::vector<std::int64_t>& output_sums) {
  std::vector<float> out;
  out.reserve(output_sums.size());
  for (auto p : output_sums) out.push_back(static_cast<float>(static_cast<double>(clamp64(p, -16777216, 16777216)) / 16777216.0));
  return out;
}

Engine::Engine(std::string name, std::uint32_t seed, std::size_t memory_max) : name_(std::move(name)), memory_(memory_max) {
  Xorshift32 rng(seed);
  for (int l = 0; l < 3; ++l) w_[l] = draw_layer(rng, l);
  digest_ = compute_digest();
}

std::string Engine::compute_digest() const {
  std::vector<std::uint8_t> bytes;
  const char* prefix = "concord-engine/1";
  bytes.insert(bytes.end(), prefix, prefix + std::strlen(prefix));
  for (const auto& w : w_) for (auto v : w) put_le32(bytes, v);
  for (auto t : thresholds_) put_le32(bytes, t);
  put_le32(bytes, lr_q_);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) != 1) throw std::runtime_error("SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

json Engine::changed() {
  digest_ = compute_digest();
  return {{"state_digest", digest_}, {"state_version", version_}};
}

Forward Engine::forward(const std::vector<float>& encoding) const {
  Forward f;
  for (std::size_t i = 0; i < encoding.size(); ++i) {
    double e = encoding[i];
    if (!std::isfinite(e)) {
      throw ProtocolError(ErrorCode::InvalidArray, "encoding element " + std::to_string(i) + " is not finite", {{"path", "/encoding/" + std::to_string(i)}});
    }
    // Clamp before the conversion: a huge element (3.4e38 x 256) does not fit an integer.
    const double q = std::floor(e * 256.0);
    f.x[i % kInputWidth] += static_cast<std::int64_t>(q < -32768.0 ? -32768.0 : q > 32767.0 ? 32767.0 : q);
  }
  for (auto& x : f.x) x = clamp64(x, -32768, 32767);
  f.spikes.assign(kNeurons, 0);
  int fired_out = 0;
  // Layer 0 over the folded input.
  for (int n = 0; n < kLayerSizes[0]; ++n) {
    std::int64_t p = 0;
    const std::int32_t* row = w_[0].data() + static_cast<std::size_t>(n) * kInputWidth;
    for (int j = 0; j < kInputWidth; ++j) p += static_cast<std::int64_t>(row[j]) * f.x[j];
    f.spikes[n] = p > thresholds_[0];
  }
  // Layers 1 and 2 over the previous layer's spikes: sums of the weights of the inputs that fired.
  int offset_in = 0;
  int offset_out = kLayerSizes[0];
  for (int l = 1; l < 3; ++l) {
    std::vector<int> active;
    for (int k = 0; k < kLayerInputs[l]; ++k) if (f.spikes[offset_in + k]) active.push_back(k);
    for (int n = 0; n < kLayerSizes[l]; ++n) {
      std::int64_t p = 0;
      const std::int32_t* row = w_[l].data() + static_cast<std::size_t>(n) * kLayerInputs[l];
      for (int k : active) p += row[k];
      f.spikes[offset_out + n] = p > thresholds_[l];
      if (l == 2) {
        fired_out += f.spikes[offset_out + n];
        f.output_sums.push_back(p);
      }
    }
    offset_in = offset_out;
    offset_out += kLayerSizes[l];
  }
  for (auto s : f.spikes) f.spike_count += s;
  f.confidence_q = fired_out * 512;
  return f;
}

json Engine::reason(const std::vector<float>& encoding) const {
  auto started = std::chrono::steady_clock::now();
  Forward f = forward(encoding);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return {{"spike_count", f.spike_count},
          {"confidence", static_cast<double>(f.confidence_q) / 65536.0},
          {"firing_pattern", ndarray_value(NDArray::from_values<std::uint8_t>("|u1", {static_cast<std::uint64_t>(kNeurons)}, f.spikes))},
          {"activations", ndarray_value(NDArray::vector_f4(activations_of(f.output_sums)))},
          {"engine", name_},
          {"latency_ms", static_cast<double>(f32(ms))},
          {"state_digest", digest_}};
}

void Engine::hebbian(const std::vector<float>& encoding, double reward, std::optional<double> learning_rate) {
  if (!(reward >= -1 && reward <= 1)) throw invalid_params("reward", "reward is outside [-1, 1]");
  std::int64_t l_q = lr_q_;
  if (learning_rate) {
    if (!(*learning_rate > 0 && *learning_rate <= 1)) throw invalid_params("learning_rate", "learning_rate is outside (0, 1]");
    l_q = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(*learning_rate * 65536.0)));
  }
  Forward f = forward(encoding);
  const std::int64_t r_q = static_cast<std::int64_t>(std::floor(reward * 256.0));
  const std::int64_t delta = floor_div(r_q * l_q, 256);
  if (delta != 0) {
    const std::uint8_t* s0 = f.spikes.data();
    const std::uint8_t* s1 = s0 + kLayerSizes[0];
    const std::uint8_t* s2 = s1 + kLayerSizes[1];
    auto bump = [](std::int32_t& w, std::int64_t d) { w = static_cast<std::int32_t>(clamp64(w + d, -kWeightLimit, kWeightLimit)); };
    for (int n = 0; n < kLayerSizes[0]; ++n) {
      if (!s0[n]) continue;
      for (int j = 0; j < kInputWidth; ++j) bump(w_[0][static_cast<std::size_t>(n) * kInputWidth + j], delta * ((f.x[j] > 0) - (f.x[j] < 0)));
    }
    const std::uint8_t* pre[3] = {nullptr, s0, s1};
    const std::uint8_t* post[3] = {nullptr, s1, s2};
    for (int l = 1; l < 3; ++l) {
      for (int n = 0; n < kLayerSizes[l]; ++n) {
        if (!post[l][n]) continue;
        for (int k = 0; k < kLayerInputs[l]; ++k) if (pre[l][k]) bump(w_[l][static_cast<std::size_t>(n) * kLayerInputs[l] + k], delta);
      }
    }
  }
  ++version_;
}

json Engine::feedback(const std::vector<float>& encoding, double reward, std::optional<double> learning_rate) {
  hebbian(encoding, reward, learning_rate);
  return changed();
}

json Engine::state_update(int layer, const NDArray& weights, std::uint64_t version) {
  if (layer < 0 || layer > 2) throw invalid_params("layer", "layer " + std::to_string(layer) + " is not 0, 1 or 2");
  if (weights.dtype() != "<i4" && weights.dtype() != ">i4") throw invalid_params("weights", "weights must be int32, got " + weights.dtype());
  const auto rows = static_cast<std::uint64_t>(kLayerSizes[layer]);
  const auto cols = static_cast<std::uint64_t>(kLayerInputs[layer]);
  if (weights.shape() != std::vector<std::uint64_t>{rows, cols}) throw invalid_params("weights", "layer weights have the wrong shape");
  const bool big = weights.dtype()[0] == '>';
  std::vector<std::int32_t> w(rows * cols);
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = static_cast<std::int32_t>(read32(weights.data().data() + 4 * i, big));
    if (w[i] < -kWeightLimit || w[i] > kWeightLimit) throw invalid_params("weights", "weight " + std::to_string(i) + " is outside [-1048576, 1048576]");
  }
  w_[layer] = std::move(w);
  version_ = version;
  return changed();
}

json Engine::parameter_sync(const json& parameters, std::optional<std::uint64_t> version) {
  std::optional<std::uint32_t> seed;
  std::optional<std::int32_t> lr_q;
  std::array<std::optional<std::int32_t>, 3> thresholds;
  for (auto it = parameters.begin(); it != parameters.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    const double d = v.get<double>();
    if (name == "seed") {
      if (!integral(v) || d < 0 || d > 4294967295.0) throw invalid_params(name, "parameter seed: not an integer 0 to 4294967295");
      seed = static_cast<std::uint32_t>(d);
    } else if (name == "learning_rate") {
      if (!(d > 0 && d <= 1)) throw invalid_params(name, "parameter learning_rate: outside (0, 1]");
      lr_q = static_cast<std::int32_t>(std::max(1.0, std::floor(d * 65536.0)));
    } else if (const int layer = threshold_layer(name); layer >= 0) {
      if (!integral(v) || d < -2147483648.0 || d > 2147483647.0) throw invalid_params(name, "parameter " + name + ": not an int32");
      thresholds[layer] = static_cast<std::int32_t>(d);
    } else {
      throw invalid_params(name, "parameter " + name + ": unknown parameter (known: seed, learning_rate, threshold.layer0, threshold.layer1, threshold.layer2)");
    }
  }
  if (seed) {
    Xorshift32 rng(*seed);
    for (int l = 0; l < 3; ++l) w_[l] = draw_layer(rng, l);
  }
  if (lr_q) lr_q_ = *lr_q;
  for (int i = 0; i < 3; ++i) if (thresholds[i]) thresholds_[i] = *thresholds[i];
  version_ = version ? *version : version_ + 1;
  return changed();
}

json Engine::mtl_coordinate(const std::string& id, const json& teachers, const std::optional<std::vector<float>>& encoding) {
  const std::size_t n = teachers.size();
  if (n < 2) throw ProtocolError(ErrorCode::SchemaViolation, "MTL_COORDINATE needs at least two teachers", {{"path", "/teacher_outputs"}});
  // float64 in the spec's order, like the other engines (IEEE operations round alike).
  double sum = 0;
  for (const auto& t : teachers) sum += t.at("confidence").get<double>();
  const double mean = sum / static_cast<double>(n);
  double sq = 0;
  for (const auto& t : teachers) {
    const double c = t.at("confidence").get<double>();
    sq += (c - mean) * (c - mean);
  }
  const double d = std::sqrt(sq / static_cast<double>(n));
  const double b = lr_q_ / 65536.0;
  json rates = json::object();
  for (const auto& t : teachers) rates[t.at("teacher_id").get<std::string>()] = clampd(b * (1 + (mean - t.at("confidence").get<double>())), 0, 1);
  if (encoding) hebbian(*encoding, clampd(1 - 4 * d, -1, 1), std::nullopt);
  json ack = changed();
  return {{"coordination_id", id}, {"teacher_count", n}, {"disagreement", static_cast<double>(f32(d))}, {"learning_rates", rates},
          {"state_version", ack["state_version"]}, {"state_digest", ack["state_digest"]}};
}

json Engine::memory_update(const std::string& key, const std::vector<float>& encoding, std::optional<std::string> content) {
  memory_.store(key, encoding, std::move(content));
  return {{"state_digest", digest_}, {"state_version", version_}};
}

json Engine::encode(const std::string& text, std::optional<std::size_t> dim) const {
  auto [elements, model] = memory_.encode(text, dim.value_or(kInputWidth));
  return {{"encoding", ndarray_value(NDArray::vector_f4(elements))}, {"model", model}};
}

json Engine::handle(MessageType type, const json& p) {
  switch (type) {
    case MessageType::ReasoningRequest:
      return reason(vector_of(p.at("encoding"), "/encoding"));
    case MessageType::BatchReasoningReq: {
      json results = json::array();
      const json& items = p.at("items");
      for (std::size_t i = 0; i < items.size(); ++i) {
        try {
          results.push_back({{"ok", true}, {"result", reason(vector_of(items[i].at("encoding"), "/items/" + std::to_string(i) + "/encoding"))}});
        } catch (const ProtocolError& e) {
          results.push_back({{"ok", false}, {"error", {{"code", e.name()}, {"message", e.what()}}}});
        }
      }
      return {{"results", results}};
    }
    case MessageType::Feedback: {
      std::optional<double> lr;
      if (p.contains("learning_rate")) lr = p["learning_rate"].get<double>();
      return feedback(vector_of(p.at("encoding"), "/encoding"), p.at("reward").get<double>(), lr);
    }
    case MessageType::StateUpdate:
      return state_update(p.at("layer").get<int>(), ndarray_from_value(p.at("weights")), p.at("state_version").get<std::uint64_t>());
    case MessageType::ParameterSync: {
      std::optional<std::uint64_t> v;
      if (p.contains("state_version")) v = p["state_version"].get<std::uint64_t>();
      return parameter_sync(p.at("parameters"), v);
    }
    case MessageType::MtlCoordinate: {
      std::optional<std::vector<float>> enc;
      if (p.contains("encoding")) enc = vector_of(p["encoding"], "/encoding");
      return mtl_coordinate(p.at("coordination_id").get<std::string>(), p.at("teacher_outputs"), enc);
    }
    case MessageType::MemoryUpdate: {
      std::optional<std::string> content;
      if (p.contains("content")) content = p["content"].get<std::string>();
      return memory_update(p.at("key").get<std::string>(), vector_of(p.at("encoding"), "/encoding"), std::move(content));
    }
    case MessageType::EncodingReq: {
      std::optional<std::size_t> dim;
      if (p.contains("dim")) dim = p["dim"].get<std::size_t>();
      return encode(p.at("text").get<std::string>(), dim);
    }
    default:
      throw ProtocolError(ErrorCode::Unsupported, "an engine does not handle this type");
  }
}

}  // namespace concord::engine
