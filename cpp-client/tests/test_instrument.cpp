// The C++ client drives the reference hardware mock through the reference broker (spec section 17):
// the broker and `concord instrument --broker` run as child processes (killed by PID at the end),
// the client receives the worker's ready event, sends INSTRUMENT_COMMANDs with dst = the worker and
// checks the answers: pong, settings read back (clamped), a float32 trace of 16,384 samples with dt,
// a typed INVALID_PARAMS, and shutdown acknowledged before the final event. Skipped without node.
#include <concord/concord.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

using namespace concord;
using namespace std::chrono_literals;

namespace {

const std::string kRepo = CONCORD_REPO_DIR;

/// A child process with its standard error readable; killed (SIGKILL) and reaped by the destructor.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    err_fd_ = fds[0];
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~Child() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    ::close(err_fd_);
  }

  /// Reads standard error until `pattern` matches (first group returned) or `limit` passes.
  std::string wait_for(const std::regex& pattern, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::smatch m;
    while (!std::regex_search(text_, m, pattern)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd p{err_fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) return "";
      char buf[4096];
      ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n <= 0) return "";
      text_.append(buf, static_cast<std::size_t>(n));
    }
    return m.size() > 1 ? m[1].str() : m[0].str();
  }

  /// The exit status once the process ends within `limit`, else -1.
  int wait_exit(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  const std::string& stderr_text() const { return text_; }

 private:
  pid_t pid_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  std::string text_;
};

bool has_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

/// The `concord` command: the built one when present, else the TypeScript source through tsx.
std::vector<std::string> concord_cli() {
  std::string dist = kRepo + "/dist/reference/cli.js";
  if (::access(dist.c_str(), R_OK) == 0) return {"node", dist};
  return {"node", "--import", "tsx", kRepo + "/reference/cli.ts"};
}

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
