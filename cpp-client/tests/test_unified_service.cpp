// A C++ client uses the unified engine service (`concord engine serve --unified`) through the
// TypeScript broker: the cpp_first strategy and the `engine` hint, cache hits, FEEDBACK to every
// engine, redundant agreement, failover when the C++ engine process is killed, and redundant fallback
// (ENG-9 to ENG-15). Every process is started here and stopped by its PID. Skipped without node.
#include <gtest/gtest.h>

#include "../engine/engine.hpp"
#include "../engine/unified_client.hpp"

#include <chrono>
#include <regex>
#include <thread>

#include "child_process.hpp"

using namespace concord;
using namespace concord::testing;
using concord::engine::UnifiedEngineClient;

namespace {

const char* kCppEngine = "svc-engine-cpp";
const char* kTsEngine = "svc-engine-typescript";

std::vector<std::string> cli(std::vector<std::string> args) {
  std::vector<std::string> argv = concord_cli();
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::vector<float> encoding(std::uint32_t seed, std::size_t n = 768) {
  engine::Xorshift32 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(static_cast<int>(rng.next() >> 20) - 2048) / 512.0f;
  return v;
}

/// Retries `attempt` until it stops throwing RemoteError, bounded (60 s).
template <typename F>
json wait_for(const std::string& what, F attempt) {
  for (int i = 0;; ++i) {
    try {
      return attempt();
    } catch (const RemoteError& e) {
      if (i >= 300) throw std::runtime_error(what + " did not answer within 60 s: " + e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace

TEST(UnifiedService, StrategiesCacheFeedbackRedundancyAndFailover) {
  if (!has_node()) GTEST_SKIP() << "node is not installed";
  Child broker(cli({"broker", "--port", "0"}));
  const std::string p = broker.wait_for(std::regex("\"msg\":\"listening\".*?\"port\":(\\d+)"), std::chrono::seconds(60));
  ASSERT_FALSE(p.empty()) << broker.stderr_text();
  const int port = std::stoi(p);
  Child cpp_engine({CONCORD_ENGINE_BIN, "--port", p, "--id", kCppEngine});
  Child ts_engine(cli({"engine", "serve", "--port", p, "--id", kTsEngine}));

  ClientOptions o;
  o.client_id = "cpp-unified-user-" + std::to_string(::getpid());
  o.port = static_cast<std::uint16_t>(port);
  o.log = [](const std::string&) {};
  Client client(o);
  client.connect(50);
  for (const char* id : {kCppEngine, kTsEngine}) {
    wait_for(id, [&] {
      RequestOptions ro;
      ro.dst = id;
      ro.timeout = std::chrono::seconds(10);
      return client.request(MessageType::ReasoningRequest, {{"encoding", ndarray_value(NDArray::vector_f4({0.5f}))}, {"context", "attach"}, {"source", "cpp"}}, ro).get().payload;
    });
  }
  Child service(cli({"engine", "serve", "--unified", "--port", p, "--strategy", "cpp_first", "--engines",
                          std::string(kCppEngine) + ":cpp," + kTsEngine + ":typescript"}));
  UnifiedEngineClient unified(client);
  wait_for("the unified engine service", [&] { return unified.status(); });

  // cpp_first over a C++ and a TypeScript engine: calls 0-3 of every 5 to C++, call 4 to TypeScript.
  int cpp = 0, ts = 0;
  for (std::uint32_t i = 0; i < 10; ++i) {
    const std::string who = unified.reason(encoding(100 + i))["engine"];
    cpp += who == kCppEngine;
    ts += who == kTsEngine;
  }
  EXPECT_EQ(cpp, 8);
  EXPECT_EQ(ts, 2);
  EXPECT_EQ(unified.reason(encoding(200), "", "typescript")["engine"], kTsEngine);
  EXPECT_EQ(unified.reason(encoding(201), "", "cpp")["engine"], kCppEngine);

  // A repeated call is a cache hit, counted in the metrics.
  json before = unified.status()["metrics"];
  json first = unified.reason(encoding(300), "cache");
  json again = unified.reason(encoding(300), "cache");
  EXPECT_EQ(first["cached"], false);
  EXPECT_EQ(again["cached"], true);
  EXPECT_EQ(again["spike_count"], first["spike_count"]);
  json after = unified.status()["metrics"];
  EXPECT_EQ(after["cache_hits"].get<double>(), before["cache_hits"].get<double>() + 1);

  // FEEDBACK reaches both engines: the next answer is computed again, on the new state.
  json ack = unified.feedback(encoding(300), 0.75);
  json third = unified.reason(encoding(300), "cache");
  EXPECT_EQ(third["cached"], false);
  EXPECT_EQ(third["state_digest"], ack["state_digest"]);

  // Redundant: both engines answer, each one's confidence reported, in agreement.
  json red = unified.reason(encoding(400), "", "redundant");
  ASSERT_EQ(red["engine_results"].size(), 2u) << red.dump();
  EXPECT_EQ(red["engine_results"][0]["engine"], kCppEngine);
  EXPECT_EQ(red["engine_results"][1]["engine"], kTsEngine);
  EXPECT_EQ(red["agreement"], true);

  // Kill the C++ engine process: a call for cpp fails over to the TypeScript engine.
  const double failovers = unified.status()["metrics"]["failovers"].get<double>();
  cpp_engine.stop(SIGKILL);
  EXPECT_EQ(unified.reason(encoding(500), "", "cpp")["engine"], kTsEngine);
  EXPECT_GT(unified.status()["metrics"]["failovers"].get<double>(), failovers);

  // Redundant with one engine gone: the survivor's answer, without a comparison.
  json alone = unified.reason(encoding(501), "", "redundant");
  EXPECT_EQ(alone["engine"], kTsEngine);
  EXPECT_FALSE(alone.contains("agreement"));
  client.close();
}
