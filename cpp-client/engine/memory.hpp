// An engine's memory and encoder (spec section engine, ENG-19 and ENG-20): MEMORY_UPDATE entries by
// key, ordered by when they were last stored, at most engine_memory_max of them; ENCODING_REQ recalls
// the most recent entry whose content is the text, else hashes the text (FNV-1a 32 seeding
// xorshift32). Exact in float32, so every engine gives the same bits.
#pragma once

#include <cstdint>
#include <iterator>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace concord::engine {

inline constexpr const char* kMemoryModel = "concord-memory";
inline constexpr const char* kHashModel = "concord-hash-encoder";

std::uint32_t fnv1a32(const std::string& bytes);
/// Element i = ((draw_i >> 8) - 2^23) / 2^23 over xorshift32 seeded by FNV-1a 32 of the text's bytes.
std::vector<float> hash_encode(const std::string& text, std::size_t dim);

class EngineMemory {
 public:
  explicit EngineMemory(std::size_t capacity);

  /// Stores (or replaces) an entry as the most recent; a new key when full evicts the least recently stored.
  /// A non-finite element is refused with INVALID_ARRAY and changes nothing.
  void store(const std::string& key, const std::vector<float>& elements, std::optional<std::string> content);
  /// The encoding of a text at `dim` elements and the name of the encoder that made it.
  std::pair<std::vector<float>, std::string> encode(const std::string& text, std::size_t dim) const;
  std::size_t size() const noexcept { return order_.size(); }

 private:
  struct Entry {
    std::string key;
    std::vector<float> elements;
    std::optional<std::string> content;
  };
  std::size_t capacity_;
  std::list<Entry> order_;  // least recently stored first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_key_;
};

}  // namespace concord::engine
