// The C++ client drives the reference hardware mock through the reference broker (spec section 17):
// the broker and `concord instrument --broker` run as child processes (killed by PID at the end),
// the client receives the worker's ready event, sends INSTRUMENT_COMMANDs with dst = the worker and
// checks the answers: pong, settings read back (clamped), a float32 trace of 16,384 samples with dt,
// a typed INVALID_PARAMS, and shutdown acknowledged before the final event. Skipped without node.
#include <concord/concord.hpp>

#include "child_process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <regex>
#include <string>
#include <vector>

using namespace concord;
using namespace concord::testing;
using namespace std::chrono_literals;

namespace {

json command(Client& client, const std::string& worker, const std::string& name, json params = nullptr) {
  json payload{{"command", name}};
  if (!params.is_null()) payload["params"] = std::move(params);
  RequestOptions o;
  o.dst = worker;
  o.timeout = 10s;
  Message m = client.request(MessageType::InstrumentCommand, payload, o).get();
  EXPECT_EQ(m.type, static_cast<std::uint8_t>(MessageType::InstrumentResponse));
  EXPECT_EQ(m.payload.at("command"), name);
  return m.payload;
}

}  // namespace

TEST(Instrument, CppClientDrivesTheMockThroughTheBroker) {
  if (!has_node()) GTEST_SKIP() << "node is not installed";
  auto cli = concord_cli();
  std::vector<std::string> broker_argv = cli;
  for (const char* a : {"broker", "--port", "0", "--log-level", "info"}) broker_argv.emplace_back(a);
  Child broker(broker_argv);
  std::string port = broker.wait_for(std::regex("\"msg\":\"listening\".*?\"port\":(\\d+)"), 30s);
  ASSERT_FALSE(port.empty()) << broker.stderr_text();

  ClientOptions options;
  options.client_id = "cpp-instrument-test-" + std::to_string(::getpid());
  options.port = static_cast<std::uint16_t>(std::stoi(port));
  options.log = [](const std::string&) {};
  Client client(options);
  std::promise<json> ready, final_event;
  client.on(MessageType::InstrumentEvent, [&](const Message& m) {
    if (m.payload.at("event") == "ready") ready.set_value(m.payload);
    if (m.payload.at("event") == "final") final_event.set_value(m.payload);
    return json(nullptr);
  });
  client.connect();

  const std::string worker = "instrument-mock-for-cpp";
  std::vector<std::string> worker_argv = cli;
  for (const std::string& a : {std::string("instrument"), std::string("--broker"), "127.0.0.1:" + port, std::string("--id"), worker,
                               std::string("--notify"), options.client_id, std::string("--seed"), std::string("11")}) worker_argv.push_back(a);
  Child mock(worker_argv);
  auto ready_future = ready.get_future();
  ASSERT_EQ(ready_future.wait_for(30s), std::future_status::ready) << mock.stderr_text();
  json r = ready_future.get();
  EXPECT_EQ(r.at("worker"), worker);
  EXPECT_EQ(r.at("mock"), true);

  EXPECT_EQ(command(client, worker, "ping").at("data"), "pong");
  command(client, worker, "pid_set_setpoint", {{"channel", "pid1"}, {"value", 7.5}});
  EXPECT_EQ(command(client, worker, "pid_get_setpoint", {{"channel", "pid1"}}).at("data").get<double>(), 8191.0 / 8192.0);

  json acquired = command(client, worker, "scope_acquire", {{"decimation", 16}, {"input_channel", "in1"}});
  const json& trace = acquired.at("trace");
  NDArray samples = ndarray_from_value(trace.at("samples"));
  EXPECT_EQ(samples.shape(), std::vector<std::uint64_t>{16384});
  EXPECT_EQ(samples.dtype(), "<f4");
  EXPECT_EQ(trace.at("dt").get<double>(), 16 * 8e-9);
  EXPECT_EQ(trace.at("t0").get<double>(), -8192 * 16 * 8e-9);
  const float* v = reinterpret_cast<const float*>(samples.data().data());
  float lo = 1, hi = -1;
  for (std::size_t i = 0; i < 16384; ++i) {
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  EXPECT_GE(lo, -1.0f);
  EXPECT_LT(hi, 1.0f);
  EXPECT_GT(hi - lo, 0.0f);  // a 1 kHz sine plus noise, not a constant

  RequestOptions o;
  o.dst = worker;
  try {
    client.request(MessageType::InstrumentCommand, json{{"command", "scope_set_decimation"}, {"params", {{"value", 3}}}}, o).get();
    ADD_FAILURE() << "decimation 3 was accepted";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.code(), "INVALID_PARAMS");
    EXPECT_EQ(e.details().at("param"), "value");
  }

  auto final_future = final_event.get_future();
  EXPECT_TRUE(command(client, worker, "shutdown").at("data").is_null());
  ASSERT_EQ(final_future.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(final_future.get().at("exit_code"), 0);
  EXPECT_EQ(mock.wait_exit(10s), 0) << mock.stderr_text();
  client.close();
}
