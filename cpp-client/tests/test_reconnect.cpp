// A reference broker killed (SIGKILL, by PID) and started again on the same port under traffic
// (HS-23 .. HS-25): the C++ clients reconnect with backoff, tell the application, restore their bus
// subscriptions (same ids for the application), bus handlers and services; a request in flight at
// the drop fails with ConnectionError (never hangs) and traffic carries on. Skipped without node.
// Every wait is a hang guard, not a timing assertion.
#include <concord/concord.hpp>

#include "child_process.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

using namespace concord;
using namespace concord::testing;
using namespace std::chrono_literals;

namespace {

constexpr auto kBound = 30s;

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

std::unique_ptr<Child> start_broker(std::uint16_t port) {
  auto argv = concord_cli();
  for (const std::string& a : {std::string("broker"), std::string("--port"), std::to_string(port)}) argv.push_back(a);
  auto child = std::make_unique<Child>(argv);
  if (child->wait_for(std::regex("\"msg\":\"listening\""), 60s).empty()) throw std::runtime_error("the broker did not start: " + child->stderr_text());
  return child;
}

/// The connection events one client reported, awaitable.
struct Events {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<ConnectionEvent> seen;

  void operator()(const ConnectionEvent& e) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(e);
    cv.notify_all();
  }
  std::optional<ConnectionEvent> wait_for(ConnectionEvent::Kind kind) {
    std::unique_lock<std::mutex> lock(mutex);
    auto find = [&]() -> const ConnectionEvent* {
      for (const auto& e : seen) if (e.kind == kind) return &e;
      return nullptr;
    };
    if (!cv.wait_for(lock, kBound, [&] { return find() != nullptr; })) return std::nullopt;
    return *find();
  }
};

ClientOptions options(const std::string& id, std::uint16_t port) {
  ClientOptions o;
  o.client_id = id + "-" + std::to_string(::getpid());
  o.port = port;
  o.encodings = {"json"};
  o.log = [](const std::string&) {};
  return o;
}

}  // namespace

TEST(Reconnect, CppClientsCarryOnAcrossABrokerRestart) {
  if (!has_node()) GTEST_SKIP() << "node is not installed";
  const std::uint16_t port = free_port();
  auto broker = start_broker(port);

  Events worker_events, caller_events;
  ReconnectOptions rw, rc;
  rw.on_connection = [&](const ConnectionEvent& e) { worker_events(e); };
  rc.on_connection = [&](const ConnectionEvent& e) { caller_events(e); };
  ReconnectingClient worker(options("cpp-rc-worker", port), rw);
  ReconnectingClient caller(options("cpp-rc-caller", port), rc);
  std::mutex mutex;
  std::vector<std::pair<std::string, json>> delivered;
  std::promise<void> slow_started;
  std::promise<void> release;
  auto released = release.get_future().share();
  worker.on(MessageType::BusEvent, [&](const Message& m) {
    std::lock_guard<std::mutex> lock(mutex);
    delivered.emplace_back(m.payload.at("subscription_id").get<std::string>(), m.payload.at("payload"));
    return json::object();
  });
  worker.on(MessageType::BusQuery, [&](const Message& m) {
    if (m.payload.at("message_type") == "rc.slow") {
      slow_started.set_value();
      released.wait_for(kBound);
    }
    return json{{"result", {{"echo", m.payload.value("payload", json())}}}};
  });
  worker.on(MessageType::ServiceDispatch, [](const Message& m) { return json{{"result", {{"method", m.payload.at("method")}}}}; });
  worker.connect(20);
  caller.connect(20);

  const std::string sid = worker.request(MessageType::BusSubscribe, {{"event_type", "rc.tick"}}).payload.at("subscription_id");
  worker.request(MessageType::BusRegisterHandler, {{"message_type", "rc.echo"}, {"category", "query"}});
  worker.request(MessageType::BusRegisterHandler, {{"message_type", "rc.gone"}, {"category", "query"}});
  worker.request(MessageType::BusUnregisterHandler, {{"message_type", "rc.gone"}});  // forgotten: not restored
  worker.request(MessageType::BusRegisterHandler, {{"message_type", "rc.slow"}, {"category", "query"}});
  worker.request(MessageType::ServiceRegister, {{"service", {{"name", "cpp-rc-svc"}, {"service_type", "test"}, {"version", "1.0.0"}, {"max_concurrent", 2}}}});

  std::atomic<bool> stop{false};
  std::atomic<int> ok_after{0}, lost{0};
  std::thread pinger([&] {
    RequestOptions o;
    o.timeout = 5s;
    for (int i = 0; i < 100000 && !stop; ++i) {  // bounded in count and by stop
      try {
        caller.request(MessageType::Ping, nullptr, o);
        if (caller.reconnects() > 0) ++ok_after;
      } catch (const ConnectionError&) {
        ++lost;
      } catch (const TimeoutError&) {  // held while reconnecting beyond its own timeout (HS-25)
        ++lost;
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  struct Joiner {  // stops and joins the pinger on every way out, an early ASSERT included
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joiner() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } joiner{stop, pinger};
  auto slow = std::async(std::launch::async, [&] {
    RequestOptions o;
    o.timeout = kBound;
    try {
      caller.request(MessageType::BusQuery, {{"message_type", "rc.slow"}, {"payload", 1}}, o);
      return std::string("answered");
    } catch (const ConnectionError&) {
      return std::string("ConnectionError");
    } catch (const std::exception& e) {
      return std::string("other: ") + e.what();
    }
  });
  ASSERT_EQ(slow_started.get_future().wait_for(kBound), std::future_status::ready);

  broker->kill();
  ASSERT_EQ(slow.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(slow.get(), "ConnectionError");  // HS-25: failed at the drop, not resent
  release.set_value();  // handlers run one at a time: the worker's dispatcher is free again
  ASSERT_TRUE(worker_events.wait_for(ConnectionEvent::Kind::Lost));
  broker = start_broker(port);
  auto w = worker_events.wait_for(ConnectionEvent::Kind::Restored);
  auto c = caller_events.wait_for(ConnectionEvent::Kind::Restored);
  ASSERT_TRUE(w && c);
  EXPECT_TRUE(w->failures.empty());
  EXPECT_TRUE(c->failures.empty());

  EXPECT_EQ(caller.request(MessageType::BusPublish, {{"event_type", "rc.tick"}, {"payload", 7}}).payload, (json{{"delivered", 1}, {"failed", 0}}));
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(delivered[0].first, sid);  // the id the application was given
    EXPECT_EQ(delivered[0].second, 7);
  }
  EXPECT_EQ(caller.request(MessageType::BusQuery, {{"message_type", "rc.echo"}, {"payload", 3}}).payload, (json{{"result", {{"echo", 3}}}}));
  try {
    caller.request(MessageType::BusQuery, {{"message_type", "rc.gone"}, {"payload", 3}});
    ADD_FAILURE() << "rc.gone was restored although it was unregistered";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.code(), "NO_HANDLER");
  }
  EXPECT_EQ(caller.request(MessageType::ServiceDispatch, {{"service_name", "cpp-rc-svc"}, {"method", "m"}, {"timeout_ms", 10000}}).payload,
            (json{{"result", {{"method", "m"}}}, {"attempts", 1}}));
  worker.request(MessageType::BusUnsubscribe, {{"subscription_id", sid}});  // the original id still names it
  EXPECT_EQ(caller.request(MessageType::BusPublish, {{"event_type", "rc.tick"}, {"payload", 8}}).payload, (json{{"delivered", 0}, {"failed", 0}}));
  EXPECT_EQ(worker.reconnects(), 1);

  auto deadline = std::chrono::steady_clock::now() + kBound;
  while (ok_after == 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  stop = true;
  pinger.join();
  EXPECT_GT(ok_after.load(), 0);  // the traffic carried on after the restart
  worker.close();
  caller.close();
}

// The seeds' IPCClient names: connect, register_handler, send, request and the typed helpers for
// FEEDBACK, STATE_UPDATE and PARAMETER_SYNC, between two C++ clients through the reference broker.
TEST(IPCClient, SeedNamesCarryTypedLearningMessages) {
  if (!has_node()) GTEST_SKIP() << "node is not installed";
  const std::uint16_t port = free_port();
  auto broker = start_broker(port);
  const std::string learner_id = "cpp-ipc-learner-" + std::to_string(::getpid());
  IPCClient learner(learner_id, "cpp", "localhost", port);
  IPCClient teacher("cpp-ipc-teacher-" + std::to_string(::getpid()), "python", "127.0.0.1", port);  // the language is the caller's choice
  ASSERT_TRUE(learner.connect(20));
  ASSERT_TRUE(teacher.connect(20));
  std::mutex mutex;
  std::vector<Feedback> feedback;
  std::vector<StateUpdate> updates;
  std::vector<ParameterSync> syncs;
  learner.register_handler(MessageType::Feedback, [&](const Message& m) {
    std::lock_guard<std::mutex> lock(mutex);
    feedback.push_back(Feedback::from_message(m));
    return json::object();
  });
  learner.register_handler(MessageType::StateUpdate, [&](const Message& m) {
    std::lock_guard<std::mutex> lock(mutex);
    updates.push_back(StateUpdate::from_message(m));
    return json::object();
  });
  learner.register_handler(MessageType::ParameterSync, [&](const Message& m) {
    std::lock_guard<std::mutex> lock(mutex);
    syncs.push_back(ParameterSync::from_message(m));
    return json::object();
  });

  Feedback f;
  f.encoding = {0.5f, -0.25f, 1.0f};
  f.reward = 0.75f;
  f.request_ref = "req-1";
  f.dst = learner_id;
  EXPECT_EQ(teacher.send_feedback(f).get(), json::object());
  StateUpdate u;
  u.layer = 1;
  u.rows = 2;
  u.columns = 3;
  u.weights = {1, 2, 3, 4, 5, 6};
  u.state_version = 9;
  u.dst = learner_id;
  EXPECT_EQ(teacher.send_state_update(u).get(), json::object());
  ParameterSync s;
  s.parameters = {{"learning_rate", 0.125}, {"threshold", 0.5}};
  s.state_version = 10;
  s.dst = learner_id;
  EXPECT_EQ(teacher.send_parameter_sync(s).get(), json::object());
  // send() of a request type waits for its answer; request() returns the response payload.
  EXPECT_EQ(teacher.send(MessageType::ParameterSync, s.to_payload(), learner_id), json::object());
  json stats = teacher.request(MessageType::StatsRequest, {{"client_id", learner_id}});
  EXPECT_EQ(stats.at("clients").at(0).at("language"), "cpp");
  ReasoningRequest unhandled;
  unhandled.encoding = {1.0f};
  unhandled.context = "no handler";
  try {
    teacher.request(MessageType::ReasoningRequest, unhandled.to_payload(), learner_id, 10s);
    ADD_FAILURE() << "REASONING_REQUEST was answered without a handler";
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.code(), "UNSUPPORTED");  // ERR-8, as an exception of request()
  }

  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(feedback.size(), 1u);
  EXPECT_EQ(feedback[0].encoding, f.encoding);
  EXPECT_EQ(feedback[0].reward, 0.75f);
  EXPECT_EQ(feedback[0].request_ref, std::optional<std::string>("req-1"));
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].rows, 2u);
  EXPECT_EQ(updates[0].columns, 3u);
  EXPECT_EQ(updates[0].weights, u.weights);
  EXPECT_EQ(updates[0].state_version, 9u);
  ASSERT_EQ(syncs.size(), 2u);
  EXPECT_EQ(syncs[0].parameters, s.parameters);
  EXPECT_EQ(syncs[0].state_version, std::optional<std::uint64_t>(10));
  teacher.disconnect();
  learner.disconnect();
}

// The broker children of these tests log to a pipe: after the line a test waits for, a child that logs
// more than the pipe holds (64 KiB) must not block on its next write and stop answering.
TEST(ChildProcess, StandardErrorIsReadPastAPipefulAfterTheAwaitedLine) {
  Child child({"sh", "-c", "echo ready >&2; head -c 262144 /dev/zero >&2; exit 3"});
  ASSERT_FALSE(child.wait_for(std::regex("ready"), kBound).empty()) << child.stderr_text();
  EXPECT_EQ(child.wait_exit(kBound), 3) << "the child blocked writing its standard error";
}
