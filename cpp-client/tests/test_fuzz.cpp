// Seeded random fuzzing: the invalid (and valid) fixtures mutated, and random bytes, fed to the
// frame decoder, the message decoder, the ndarray decoder and the CBOR decoder in random chunks.
// Only typed errors may come out: never a crash (run under CONCORD_SANITIZE=ON for memory errors),
// never another exception type. Replay with CONCORD_FUZZ_SEED=N, scale with CONCORD_FUZZ_ITERATIONS;
// CONCORD_FUZZ_SECONDS (default 120) bounds the run in time too, so a slow sanitizer build still ends.
#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>

using namespace concord;
using namespace concord::testing;

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

Bytes mutate(Bytes b, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % n); };
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 7) {
      case 0:  // flip a bit
        if (!b.empty()) b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // random byte
        if (!b.empty()) b[pick(b.size())] = static_cast<std::uint8_t>(rng());
        break;
      case 2:  // insert bytes
        for (int k = 0, n = 1 + static_cast<int>(rng() % 8); k < n; ++k) b.insert(b.begin() + static_cast<long>(pick(b.size() + 1)), static_cast<std::uint8_t>(rng()));
        break;
      case 3:  // delete a range
        if (!b.empty()) {
          std::size_t at = pick(b.size());
          std::size_t n = std::min<std::size_t>(b.size() - at, 1 + rng() % 16);
          b.erase(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + n));
        }
        break;
      case 4:  // truncate
        b.resize(pick(b.size() + 1));
        break;
      case 5:  // interesting values
        if (b.size() >= 4) {
          static const std::uint8_t values[] = {0x00, 0xff, 0x7f, 0x80, 0x1f, 0x20, 0x3f, 0x5f, 0x9f, 0xbf, 0xd9, 0xf7, 0xf9, 0xfb};
          b[pick(b.size())] = values[rng() % sizeof values];
        }
        break;
      default:  // duplicate a slice
        if (!b.empty()) {
          std::size_t at = pick(b.size());
          std::size_t n = std::min<std::size_t>(b.size() - at, 1 + rng() % 32);
          Bytes slice(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + n));
          b.insert(b.begin() + static_cast<long>(pick(b.size() + 1)), slice.begin(), slice.end());
        }
    }
  }
  return b;
}

TEST(Fuzz, DecodersOnlyThrowTypedErrors) {
  const std::uint64_t seed = env_or("CONCORD_FUZZ_SEED", 20261123);
  const std::uint64_t iterations = env_or("CONCORD_FUZZ_ITERATIONS", 20000);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(env_or("CONCORD_FUZZ_SECONDS", 120));
  std::cout << "[fuzz] seed " << seed << ", " << iterations << " iterations (replay: CONCORD_FUZZ_SEED=" << seed << ")\n";
  std::mt19937_64 rng(seed);
  Codec codec(Catalog::load());

  std::vector<Bytes> frames, arrays, cbors;
  for (const char* f : {"frames/invalid.json", "frames/valid.json"})
    for (const auto& v : vectors(f)) frames.push_back(from_hex(v.at("hex").get<std::string>()));
  for (const auto& v : vectors("ndarray/arrays.json")) arrays.push_back(from_hex(v.at("hex").get<std::string>()));
  for (const auto& v : vectors("cbor/rfc8949-appendix-a.json")) cbors.push_back(from_hex(v.at("hex").get<std::string>()));

  std::uint64_t refused = 0, accepted = 0;
  std::uint64_t done = 0;
  for (std::uint64_t i = 0; i < iterations && std::chrono::steady_clock::now() < deadline; ++i, ++done) {
    Bytes input;
    int target = static_cast<int>(rng() % 10);
    if (rng() % 8 == 0) {
      input.resize(rng() % 64);
      for (auto& byte : input) byte = static_cast<std::uint8_t>(rng());
    } else if (target < 6) {
      input = mutate(frames[rng() % frames.size()], rng);
    } else if (target < 9) {
      input = mutate(arrays[rng() % arrays.size()], rng);
    } else {
      input = mutate(cbors[rng() % cbors.size()], rng);
    }
    try {
      if (target < 6) {
        FrameDecoder d(rng() % 2 ? protocol::kMaxFrame : 65536);
        std::vector<Bytes> bodies;
        std::size_t chunk = 1 + rng() % 17;
        try {
          for (std::size_t at = 0; at < input.size(); at += chunk) d.push(input.data() + at, std::min(chunk, input.size() - at), bodies);
        } catch (const FramingError&) {
          ++refused;
        }
        for (const auto& body : bodies) {
          try {
            Message m = codec.decode_message(body, DecodeOptions{protocol::kMaxHeader, rng() % 4 != 0});
            // what decodes must re-encode and decode to the same value
            Bytes again = codec.encode_message(m.message_type(), m.header, m.payload, m.encoding);
            ASSERT_EQ(codec.message_to_typed_json(codec.decode_message(again)), codec.message_to_typed_json(m)) << "iteration " << i;
            ++accepted;
          } catch (const ProtocolError&) {
            ++refused;
          }
        }
      } else if (target < 9) {
        try {
          NDArray a = NDArray::unpack(input, "/f");
          ASSERT_EQ(NDArray::unpack(a.pack()), a) << "iteration " << i;
          ++accepted;
        } catch (const ArrayError& e) {
          ASSERT_EQ(e.code(), ErrorCode::InvalidArray);
          ++refused;
        }
      } else {
        try {
          CborItem item = cbor_decode(input.data(), input.size());
          (void)cbor_to_typed_json(item);
          ++accepted;
        } catch (const std::runtime_error&) {
          ++refused;
        }
      }
    } catch (const std::exception& e) {
      FAIL() << "iteration " << i << " (seed " << seed << "): untyped exception " << e.what() << " on input " << to_hex(input);
    }
  }
  std::cout << "[fuzz] " << done << " inputs: " << accepted << " accepted, " << refused << " refused\n";
  EXPECT_GT(done, 0u);
  EXPECT_GT(refused, done / 4);
}

}  // namespace
