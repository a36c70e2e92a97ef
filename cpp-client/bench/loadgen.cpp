// concord-loadgen: the load generator of the broker benchmark (`npm run bench`, bench/broker.ts, issue 15).
//
// Written in C++ so that no target is capped by its client: one thread, epoll, non-blocking sockets,
// TCP_NODELAY, several connections, requests pipelined, and every frame queued for a connection during one
// wakeup leaves in one send() after it (the same batching the relay does). Loopback only.
//
//   concord-loadgen worker PORT RESPONSE_HEX
//       One connection `worker` (role engine) answering every REASONING_REQUEST with a REASONING_RESPONSE
//       whose payload is RESPONSE_HEX, `re` the request's id and `dst` its `src`. Prints "ready" once
//       registered, "errors N" after each ERROR frame; runs until SIGTERM or until the target closes.
//   concord-loadgen clients PORT N
//       N connections `c0`.. (role client), then one command a line on stdin, one answer line on stdout:
//         payload HEX                 the REASONING_REQUEST payload of later runs        -> "ok"
//         run INFLIGHT WARMUP_MS MEASURE_MS LATENCY PID...
//                                     INFLIGHT requests kept open per connection to `worker` (the header
//                                     carries `src`, so routers that never rewrite headers work too);
//                                     counts only the MEASURE_MS window after WARMUP_MS; samples the CPU
//                                     and read/write system calls of each PID (the target, the worker)
//                                     at the window's edges;
//                                     stops sending, waits (bounded) for the open requests  -> one JSON line
//         quit
//
// Every run is bounded in time (warm-up + measure + a 5 s drain) and in count (kMaxRequestsPerRun).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "concord/protocol.hpp"

#include "epoll_writer.hpp"

namespace {

using concord::protocol::MessageType;

constexpr uint32_t kMaxFrame = 16777216;
constexpr size_t kReadChunk = 65536;
constexpr size_t kRing = 4096;                     // send times by request id; far above INFLIGHT
constexpr size_t kLatencyCap = 2'000'000;          // latencies kept per run
constexpr uint64_t kMaxRequestsPerRun = 100'000'000;
constexpr double kDrainMs = 5000;
constexpr double kConnectMs = 10000;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

uint8_t code(MessageType t) { return static_cast<uint8_t>(t); }

struct Conn {
  int fd = -1;
  std::string name;
  std::vector<char> in;
  size_t in_len = 0;
  std::vector<char> out;
  size_t out_off = 0;
  bool dirty = false;
  bool want_out = false;
  bool dead = false;
  bool acked = false;
  // client side
  uint64_t seq = 0;
  uint64_t inflight = 0;
  double sent_at[kRing] = {};
  std::string header_tail;  // `","dst":"worker","src":"cN"}`
};

int g_ep = -1;
std::vector<Conn*> g_dirty;
bool g_worker_role = false;
std::string g_response;  // worker: response payload
std::string g_request;   // clients: request payload
uint64_t g_worker_n = 0;
uint64_t g_errors = 0;
// run state (clients)
bool g_sending = false;
uint64_t g_want = 0;
uint64_t g_completed = 0;
uint64_t g_sent_this_run = 0;
bool g_recording = false;
std::vector<double> g_latencies;

void die(const char* what) {
  std::fprintf(stderr, "concord-loadgen: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

bool find_str(std::string_view json, std::string_view pattern, std::string_view& value) {
  size_t i = json.find(pattern);
  if (i == std::string_view::npos) return false;
  i += pattern.size();
  size_t j = i;
  while (j < json.size() && !(json[j] == '"' && json[j - 1] != '\\')) j++;
  if (j >= json.size()) return false;
  value = json.substr(i, j - i);
  return true;
}

void mark_dirty(Conn* c) {
  if (!c->dirty) {
    c->dirty = true;
    g_dirty.push_back(c);
  }
}

void queue_frame(Conn* c, uint8_t type, std::string_view header, std::string_view payload) {
  uint32_t len = uint32_t(4 + header.size() + payload.size());
  char p[8] = {char(len >> 24), char(len >> 16), char(len >> 8), char(len), char(type), 0, char(header.size() >> 8), char(header.size())};
  c->out.insert(c->out.end(), p, p + 8);
  c->out.insert(c->out.end(), header.begin(), header.end());
  c->out.insert(c->out.end(), payload.begin(), payload.end());
  mark_dirty(c);
}

void flush(Conn* c) { concord_bench::flush(g_ep, c, [](Conn* d) { d->dead = true; }); }

void flush_dirty() {
  for (Conn* c : g_dirty) {
    c->dirty = false;
    flush(c);
  }
  g_dirty.clear();
}

void send_request(Conn* c) {
  uint64_t id = ++c->seq;
  c->sent_at[id & (kRing - 1)] = now_ms();
  c->inflight++;
  g_sent_this_run++;
  std::string header = "{\"id\":\"" + std::to_string(id) + c->header_tail;
  queue_frame(c, code(MessageType::ReasoningRequest), header, g_request);
}

void handle_frame(Conn* c, uint8_t type, std::string_view header, std::string_view payload) {
  std::string_view id, src, re;
  if (!c->acked) {
    if (type != code(MessageType::InitAck)) {
      std::fprintf(stderr, "concord-loadgen: %s: expected INIT_ACK, got type 0x%02x: %.*s\n", c->name.c_str(), type, int(payload.size()), payload.data());
      std::exit(1);
    }
    c->acked = true;
    return;
  }
  if (type == code(MessageType::Ping)) {
    if (find_str(header, "\"id\":\"", id)) queue_frame(c, code(MessageType::Pong), "{\"id\":\"pong" + std::to_string(++g_worker_n) + "\",\"re\":\"" + std::string(id) + "\"}", "");
    return;
  }
  if (type == code(MessageType::Error)) {
    g_errors++;
    if (g_errors <= 3) std::fprintf(stderr, "concord-loadgen: %s got ERROR %.*s\n", c->name.c_str(), int(std::min<size_t>(payload.size(), 200)), payload.data());
    if (g_worker_role) {
      std::printf("errors %llu\n", static_cast<unsigned long long>(g_errors));
      std::fflush(stdout);
    } else if (c->inflight > 0) {
      c->inflight--;  // an answer too
    }
    return;
  }
  if (g_worker_role) {
    if (type != code(MessageType::ReasoningRequest) || !find_str(header, "\"id\":\"", id) || !find_str(header, "\"src\":\"", src)) return;
    std::string h = "{\"id\":\"w" + std::to_string(++g_worker_n) + "\",\"re\":\"" + std::string(id) + "\",\"dst\":\"" + std::string(src) + "\"}";
    queue_frame(c, code(MessageType::ReasoningResponse), h, g_response);
    return;
  }
  if (type != code(MessageType::ReasoningResponse) || !find_str(header, "\"re\":\"", re)) return;
  uint64_t n = std::strtoull(std::string(re).c_str(), nullptr, 10);
  if (c->inflight > 0) c->inflight--;
  g_completed++;
  if (g_recording && g_latencies.size() < kLatencyCap) g_latencies.push_back(now_ms() - c->sent_at[n & (kRing - 1)]);
  if (g_sending && c->inflight < g_want && g_sent_this_run < kMaxRequestsPerRun) send_request(c);
}

uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | uint32_t(u[3]);
}

void on_readable(Conn* c) {
  for (;;) {
    if (c->in.size() - c->in_len < kReadChunk) c->in.resize(c->in_len + kReadChunk);
    ssize_t r = read(c->fd, c->in.data() + c->in_len, kReadChunk);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      c->dead = true;
      return;
    }
    if (r < 0) break;
    c->in_len += size_t(r);
    if (size_t(r) < kReadChunk) break;
  }
  size_t off = 0;
  while (c->in_len - off >= 4) {
    uint32_t len = be32(c->in.data() + off);
    if (len < 4 || len > kMaxFrame) {
      std::fprintf(stderr, "concord-loadgen: %s: frame length %u refused\n", c->name.c_str(), len);
      std::exit(1);
    }
    if (c->in_len - off - 4 < len) break;
    const char* body = c->in.data() + off + 4;
    size_t hlen = (size_t(uint8_t(body[2])) << 8) | uint8_t(body[3]);
    if (4 + hlen > len) {
      std::fprintf(stderr, "concord-loadgen: %s: header length %zu past the frame\n", c->name.c_str(), hlen);
      std::exit(1);
    }
    handle_frame(c, uint8_t(body[0]), std::string_view(body + 4, hlen), std::string_view(body + 4 + hlen, len - 4 - hlen));
    off += size_t(len) + 4;
  }
  if (off == 0) return;
  std::memmove(c->in.data(), c->in.data() + off, c->in_len - off);
  c->in_len -= off;
}

// One epoll pass: reads, handles, then one send per connection written to.
void poll_once(int timeout_ms) {
  epoll_event evs[64];
  int n = epoll_wait(g_ep, evs, 64, timeout_ms);
  if (n < 0 && errno != EINTR) die("epoll_wait");
  for (int i = 0; i < n; i++) {
    auto* c = static_cast<Conn*>(evs[i].data.ptr);
    if (c->dead) continue;
    if (evs[i].events & EPOLLIN) on_readable(c);
    else if (evs[i].events & (EPOLLERR | EPOLLHUP)) c->dead = true;
    if (!c->dead && (evs[i].events & EPOLLOUT)) mark_dirty(c);
  }
  flush_dirty();
}

Conn* connect_as(int port, const std::string& name, const char* role) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) < 0) die("fcntl");
  auto* c = new Conn;
  c->fd = fd;
  c->name = name;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = c;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev);
  std::string payload = "{\"client_id\":\"" + name + "\",\"language\":\"cpp\",\"role\":\"" + role +
                        "\",\"protocol_version\":\"1.0\",\"encodings\":[\"json\"],\"max_frame\":16777216,\"name\":\"concord-loadgen\"}";
  queue_frame(c, code(MessageType::Init), "{\"id\":\"init-" + name + "\"}", payload);
  return c;
}

void await_acks(const std::vector<Conn*>& conns) {
  flush_dirty();
  double until = now_ms() + kConnectMs;
  while (!g_stop) {
    bool all = true;
    for (Conn* c : conns) {
      if (c->dead) {
        std::fprintf(stderr, "concord-loadgen: %s: connection closed during the handshake\n", c->name.c_str());
        std::exit(1);
      }
      all = all && c->acked;
    }
    if (all) return;
    if (now_ms() > until) {
      std::fprintf(stderr, "concord-loadgen: no INIT_ACK within %.0f ms\n", kConnectMs);
      std::exit(1);
    }
    poll_once(50);
  }
}

std::string unhex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(char(std::strtoul(hex.substr(i, 2).c_str(), nullptr, 16)));
  return out;
}

long g_clk_tck = 100;

// User + system CPU time of a process, in microseconds (-1 when it cannot be read).
double pid_cpu_us(long pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  p += 2;
  // fields after the command: state(3) ... utime(14) stime(15): skip 11 fields from state
  for (int i = 0; i < 11 && p; i++) {
    p = std::strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return -1;
  char* end = nullptr;
  double ut = std::strtod(p, &end);
  double st = std::strtod(end, nullptr);
  return (ut + st) * 1e6 / double(g_clk_tck);
}

// Read + write system calls of a process so far (/proc/PID/io syscr + syscw; -1 when unreadable).
double pid_syscalls(long pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%ld/io", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char key[32];
  unsigned long long v = 0;
  double n = 0;
  int found = 0;
  while (std::fscanf(f, "%31s %llu", key, &v) == 2) {
    if (std::strcmp(key, "syscr:") == 0 || std::strcmp(key, "syscw:") == 0) {
      n += double(v);
      found++;
    }
  }
  std::fclose(f);
  return found == 2 ? n : -1;
}

double self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double quantile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return -1;
  return sorted[std::min(sorted.size() - 1, size_t(q * double(sorted.size())))];
}

void run(std::vector<Conn*>& conns, uint64_t inflight, double warmup_ms, double measure_ms, bool latency, const std::vector<long>& pids) {
  g_want = inflight;
  g_sending = true;
  g_recording = false;
  g_sent_this_run = 0;
  g_latencies.clear();
  uint64_t errors0 = g_errors;
  for (Conn* c : conns)
    while (c->inflight < g_want) send_request(c);
  flush_dirty();
  double t_start = now_ms();
  double warm_end = t_start + warmup_ms;
  while (!g_stop && now_ms() < warm_end) poll_once(std::max(1, int(warm_end - now_ms())));
  std::vector<double> cpu0, sys0;
  for (long p : pids) cpu0.push_back(pid_cpu_us(p)), sys0.push_back(pid_syscalls(p));
  double self0 = self_cpu_us();
  uint64_t done0 = g_completed;
  g_recording = latency;
  double t0 = now_ms();
  double end = t0 + measure_ms;
  while (!g_stop && now_ms() < end) poll_once(std::max(1, int(end - now_ms())));
  double elapsed = now_ms() - t0;
  uint64_t done = g_completed - done0;
  double self1 = self_cpu_us();
  std::vector<double> cpu1, sys1;
  for (long p : pids) cpu1.push_back(pid_cpu_us(p)), sys1.push_back(pid_syscalls(p));
  g_recording = false;
  g_sending = false;
  double drain_end = now_ms() + kDrainMs;
  auto open = [&]() {
    uint64_t n = 0;
    for (Conn* c : conns) n += c->dead ? 0 : c->inflight;
    return n;
  };
  while (!g_stop && open() > 0 && now_ms() < drain_end) poll_once(10);
  std::sort(g_latencies.begin(), g_latencies.end());
  std::ostringstream o;
  o << "{\"done\":" << done << ",\"elapsed_ms\":" << elapsed << ",\"req_per_s\":" << (double(done) * 1000.0 / elapsed)
    << ",\"p50_us\":" << (latency ? quantile(g_latencies, 0.5) * 1000 : -1) << ",\"p99_us\":" << (latency ? quantile(g_latencies, 0.99) * 1000 : -1)
    << ",\"self_cpu_share\":" << ((self1 - self0) / 1000.0 / elapsed) << ",\"pid_cpu_us\":[";
  for (size_t i = 0; i < pids.size(); i++) o << (i ? "," : "") << ((cpu0[i] < 0 || cpu1[i] < 0) ? -1 : cpu1[i] - cpu0[i]);
  o << "],\"pid_io_syscalls\":[";
  for (size_t i = 0; i < pids.size(); i++) o << (i ? "," : "") << ((sys0[i] < 0 || sys1[i] < 0) ? -1 : sys1[i] - sys0[i]);
  o << "],\"errors\":" << (g_errors - errors0) << ",\"stuck\":" << open() << ",\"dead\":" << std::count_if(conns.begin(), conns.end(), [](Conn* c) { return c->dead; }) << "}";
  std::cout << o.str() << std::endl;
}

int usage() {
  std::fprintf(stderr, "usage: concord-loadgen worker PORT RESPONSE_HEX | concord-loadgen clients PORT N\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return usage();
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  g_clk_tck = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) die("epoll_create1");
  std::string mode = argv[1];
  int port = std::atoi(argv[2]);
  if (mode == "worker") {
    g_worker_role = true;
    g_response = unhex(argv[3]);
    Conn* w = connect_as(port, "worker", "engine");
    await_acks({w});
    std::printf("ready\n");
    std::fflush(stdout);
    while (!g_stop && !w->dead) poll_once(-1);
    return 0;
  }
  if (mode != "clients") return usage();
  int n = std::atoi(argv[3]);
  if (n < 1 || n > 1024) return usage();
  std::vector<Conn*> conns;
  for (int i = 0; i < n; i++) {
    Conn* c = connect_as(port, "c" + std::to_string(i), "client");
    c->header_tail = "\",\"dst\":\"worker\",\"src\":\"" + c->name + "\"}";
    conns.push_back(c);
  }
  await_acks(conns);
  std::cout << "ready" << std::endl;
  std::string line;
  while (!g_stop && std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "quit") break;
    if (cmd == "payload") {
      std::string hex;
      in >> hex;
      g_request = unhex(hex);
      std::cout << "ok" << std::endl;
    } else if (cmd == "run") {
      uint64_t inflight = 0;
      double warm = 0, measure = 0;
      int latency = 0;
      in >> inflight >> warm >> measure >> latency;
      std::vector<long> pids;
      long p;
      while (in >> p) pids.push_back(p);
      if (inflight < 1 || inflight >= kRing || warm < 0 || measure <= 0 || measure > 600000) {
        std::cout << "{\"error\":\"bad run command\"}" << std::endl;
        continue;
      }
      run(conns, inflight, warm, measure, latency != 0, pids);
    } else {
      std::cout << "{\"error\":\"unknown command\"}" << std::endl;
    }
  }
  for (Conn* c : conns) close(c->fd);
  return 0;
}
