// The engine's memory and encoder (spec section engine, ENG-19 and ENG-20).
#include "memory.hpp"

#include <concord/concord.hpp>

#include <cmath>
#include <stdexcept>

#include "engine.hpp"

namespace concord::engine {

std::uint32_t fnv1a32(const std::string& bytes) {
  std::uint32_t h = 2166136261u;
  for (unsigned char b : bytes) h = (h ^ b) * 16777619u;
  return h;
}

std::vector<float> hash_encode(const std::string& text, std::size_t dim) {
  Xorshift32 rng(fnv1a32(text));
  std::vector<float> out(dim);
  for (auto& v : out) v = static_cast<float>((static_cast<std::int64_t>(rng.next() >> 8) - 8388608) / 8388608.0);
  return out;
}

EngineMemory::EngineMemory(std::size_t capacity) : capacity_(capacity) {
  if (capacity == 0) throw std::invalid_argument("EngineMemory: capacity 0");
}

void EngineMemory::store(const std::string& key, const std::vector<float>& elements, std::optional<std::string> content) {
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (!std::isfinite(elements[i])) {
      throw ProtocolError(ErrorCode::InvalidArray, "encoding element " + std::to_string(i) + " is not finite", {{"path", "/encoding/" + std::to_string(i)}});
    }
  }
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    order_.erase(it->second);
    by_key_.erase(it);
  } else if (order_.size() >= capacity_) {
    by_key_.erase(order_.front().key);
    order_.pop_front();
  }
  order_.push_back({key, elements, std::move(content)});
  by_key_[key] = std::prev(order_.end());
}

std::pair<std::vector<float>, std::string> EngineMemory::encode(const std::string& text, std::size_t dim) const {
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    if (it->content && *it->content == text) {
      std::vector<float> out(dim, 0.0f);
      for (std::size_t i = 0; i < dim && i < it->elements.size(); ++i) out[i] = it->elements[i];
      return {out, kMemoryModel};
    }
  }
  return {hash_encode(text, dim), kHashModel};
}

}  // namespace concord::engine
