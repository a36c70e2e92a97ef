// A C++ reasoning peer for cross-language tests and demos, on the seeds' IPCClient API.
//   concord-reasoning-peer --port N --serve ID
//       connects as ID, prints "ready ID" and answers every REASONING_REQUEST until its stdin closes
//       (so a parent that dies never leaves it behind);
//   concord-reasoning-peer --port N --ask DST [--count K] [--size N] [--seed S]
//       sends K requests of N float32 values (default 20 x 768) to DST, checks every answer bit for bit,
//       prints "ok K" and exits 0, or says what differed and exits 1.
// The answer rule (shared with the Python test): activations = the encoding reversed and negated,
// firing_pattern = encoding > 0, spike_count = its count, confidence = spike_count / size in float32.
// Reversal and negation are exact in IEEE 754, so any byte-order or layout slip shows.
#include <concord/messages.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>

using namespace concord;

namespace {

ReasoningResponse answer(const ReasoningRequest& req, const std::string& engine) {
  ReasoningResponse resp;
  resp.request_id = req.request_id;
  const std::size_t n = req.encoding.size();
  resp.firing_pattern.resize(n);
  std::vector<float> activations(n);
  for (std::size_t i = 0; i < n; ++i) {
    resp.firing_pattern[i] = req.encoding[i] > 0 ? 1 : 0;
    resp.spike_count += resp.firing_pattern[i];
    activations[i] = -req.encoding[n - 1 - i];
  }
  resp.activations = std::move(activations);
  resp.confidence = n == 0 ? 0.0f : static_cast<float>(resp.spike_count) / static_cast<float>(n);
  resp.engine = engine;
  return resp;
}

/// xorshift32: a stated generator so Python and C++ runs can be compared when a test fails.
std::vector<float> encoding_for(std::uint32_t& state, std::size_t size) {
  std::vector<float> v(size);
  for (auto& x : v) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    x = static_cast<float>(static_cast<std::int32_t>(state)) / 2147483648.0f;
  }
  return v;
}

bool same_bits(float a, float b) {
  std::uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

int usage() {
  std::cerr << "usage: concord-reasoning-peer --port N [--host H] (--serve ID | --ask DST [--count K] [--size N] [--seed S])\n";
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", serve, ask;
  int port = -1;
  long count = 20;
  long size = 768;
  std::uint32_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    try {
      if (a == "--host") host = v;
      else if (a == "--port") port = std::stoi(v);
      else if (a == "--serve") serve = v;
      else if (a == "--ask") ask = v;
      else if (a == "--count") count = std::stol(v);
      else if (a == "--size") size = std::stol(v);
      else if (a == "--seed") seed = static_cast<std::uint32_t>(std::stoul(v));
      else return usage();
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (port <= 0 || serve.empty() == ask.empty() || count < 1 || size < 1 || size > 65536 || seed == 0) return usage();

  if (!serve.empty()) {
    IPCClient peer(serve, "cpp", host, port);
    peer.on_reasoning_request([&](const ReasoningRequest& req) { return answer(req, "cpp:" + serve); });
    if (!peer.connect(10)) {
      std::cerr << "concord-reasoning-peer: no broker at " << host << ":" << port << "\n";
      return 69;
    }
    std::cout << "ready " << serve << std::endl;
    char buf[256];
    while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
    peer.disconnect();
    return 0;
  }

  IPCClient peer("cpp-asker-" + std::to_string(::getpid()), "cpp", host, port);
  if (!peer.connect(10)) {
    std::cerr << "concord-reasoning-peer: no broker at " << host << ":" << port << "\n";
    return 69;
  }
  std::uint32_t state = seed;
  int status = 0;
  for (long k = 0; k < count && status == 0; ++k) {
    ReasoningRequest req;
    req.encoding = encoding_for(state, static_cast<std::size_t>(size));
    req.context = "cross-language request " + std::to_string(k);
    req.dst = ask;
    try {
      const ReasoningResponse got = peer.request_reasoning(req).get();
      ReasoningRequest echo = req;
      const ReasoningResponse want = answer(echo, got.engine);
      bool ok = got.spike_count == want.spike_count && same_bits(got.confidence, want.confidence) &&
                got.firing_pattern == want.firing_pattern && got.activations && got.activations->size() == want.activations->size();
      for (std::size_t i = 0; ok && i < want.activations->size(); ++i) ok = same_bits((*got.activations)[i], (*want.activations)[i]);
      if (!ok) {
        std::cerr << "concord-reasoning-peer: answer " << k << " from " << got.engine << " differs (spike_count " << got.spike_count
                  << ", want " << want.spike_count << ")\n";
        status = 1;
      }
    } catch (const std::exception& e) {
      std::cerr << "concord-reasoning-peer: request " << k << " failed: " << e.what() << "\n";
      status = 1;
    }
  }
  peer.disconnect();
  if (status == 0) std::cout << "ok " << count << std::endl;
  return status;
}
