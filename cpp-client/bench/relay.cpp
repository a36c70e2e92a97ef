// concord-relay: the physical-limit baseline of the broker benchmark (bench/broker.ts, issue 3).
//
// A minimal router of Concord frames: epoll, non-blocking sockets, TCP_NODELAY, loopback only. The first
// frame of a connection must be INIT (its client_id registers the connection); every later frame is
// forwarded byte for byte to the connection registered under its header's `dst`; PING gets PONG. No
// validation, no correlation, no timeouts: it is a baseline, not a broker. Writes are batched: every
// frame queued for a connection during one epoll wakeup leaves in one write() after the wakeup.
//
// usage: concord-relay PORT     (0 = ephemeral; prints "listening PORT" on stdout when ready)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "epoll_writer.hpp"

namespace {

constexpr uint32_t kMaxFrame = 16777216;
constexpr size_t kReadChunk = 65536;
constexpr uint8_t kInit = 0x01, kPing = 0x03, kPong = 0x04, kInitAck = 0x05;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Conn {
  int fd = -1;
  std::string name;        // client id, once INIT is in
  std::vector<char> in;    // read buffer; in_len bytes are valid
  size_t in_len = 0;
  std::vector<char> out;   // bytes queued for this connection; out_off of them are written
  size_t out_off = 0;
  bool dirty = false;      // listed for the flush at the end of this wakeup
  bool want_out = false;   // EPOLLOUT armed
  bool dead = false;
};

int g_ep = -1;
std::unordered_set<Conn*> g_conns;
std::unordered_map<std::string, Conn*> g_names;
std::vector<Conn*> g_dirty;
std::vector<Conn*> g_graveyard;

uint32_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | uint32_t(u[3]);
}

// The string value of "key":"..." in a JSON text (no unescaping: the benchmark's ids and names are plain).
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

void close_conn(Conn* c) {
  if (c->dead) return;
  c->dead = true;
  epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  auto it = g_names.find(c->name);
  if (!c->name.empty() && it != g_names.end() && it->second == c) g_names.erase(it);
  g_conns.erase(c);
  g_graveyard.push_back(c);
}

void queue(Conn* c, const char* data, size_t n) {
  if (c->dead) return;
  c->out.insert(c->out.end(), data, data + n);
  if (!c->dirty) {
    c->dirty = true;
    g_dirty.push_back(c);
  }
}

void queue_message(Conn* c, uint8_t type, const std::string& header, const std::string& payload) {
  std::string f(8, '\0');
  uint32_t len = uint32_t(4 + header.size() + payload.size());
  f[0] = char(len >> 24), f[1] = char(len >> 16), f[2] = char(len >> 8), f[3] = char(len);
  f[4] = char(type), f[5] = 0, f[6] = char(header.size() >> 8), f[7] = char(header.size());
  f += header;
  f += payload;
  queue(c, f.data(), f.size());
}

void flush(Conn* c) { concord_bench::flush(g_ep, c, close_conn); }

void handle_frame(Conn* c, const char* frame, size_t total) {
  const char* body = frame + 4;
  size_t blen = total - 4;
  if (blen < 4) return close_conn(c);
  uint8_t type = uint8_t(body[0]);
  size_t hlen = (size_t(uint8_t(body[2])) << 8) | uint8_t(body[3]);
  if (4 + hlen > blen) return close_conn(c);
  std::string_view header(body + 4, hlen), payload(body + 4 + hlen, blen - 4 - hlen);
  std::string_view id;
  if (c->name.empty()) {
    std::string_view client_id;
    if (type != kInit || !find_str(payload, "\"client_id\":\"", client_id) || client_id.empty() || !find_str(header, "\"id\":\"", id)) {
      std::fprintf(stderr, "concord-relay: the first frame is not a usable INIT; closing\n");
      return close_conn(c);
    }
    std::string name(client_id);
    if (g_names.count(name)) {
      std::fprintf(stderr, "concord-relay: client id %s is taken; closing\n", name.c_str());
      return close_conn(c);
    }
    c->name = name;
    g_names[name] = c;
    queue_message(c, kInitAck, "{\"id\":\"ack\",\"re\":\"" + std::string(id) + "\"}",
                  "{\"broker_id\":\"cpp-relay\",\"client_id\":\"" + name +
                      "\",\"protocol_version\":\"1.0\",\"encoding\":\"json\",\"max_frame\":16777216,"
                      "\"max_in_flight\":1024,\"heartbeat_ms\":10000}");
    return;
  }
  std::string_view dst;
  if (type == kPing && !find_str(header, "\"dst\":\"", dst)) {
    if (find_str(header, "\"id\":\"", id)) queue_message(c, kPong, "{\"id\":\"pong\",\"re\":\"" + std::string(id) + "\"}", "");
    return;
  }
  if (!find_str(header, "\"dst\":\"", dst)) {
    std::fprintf(stderr, "concord-relay: frame of type 0x%02x from %s has no dst; dropped\n", type, c->name.c_str());
    return;
  }
  auto it = g_names.find(std::string(dst));
  if (it == g_names.end()) {
    std::fprintf(stderr, "concord-relay: no client %.*s; frame dropped\n", int(dst.size()), dst.data());
    return;
  }
  queue(it->second, frame, total);
}

void on_readable(Conn* c) {
  for (;;) {
    if (c->in.size() - c->in_len < kReadChunk) c->in.resize(c->in_len + kReadChunk);
    ssize_t r = read(c->fd, c->in.data() + c->in_len, kReadChunk);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return close_conn(c);
    if (r < 0) break;
    c->in_len += size_t(r);
    if (size_t(r) < kReadChunk) break;  // level-triggered: anything left wakes us again
  }
  size_t off = 0;
  while (!c->dead && c->in_len - off >= 4) {
    uint32_t len = be32(c->in.data() + off);
    if (len == 0 || len > kMaxFrame) {
      std::fprintf(stderr, "concord-relay: frame length %u refused; closing\n", len);
      return close_conn(c);
    }
    if (c->in_len - off - 4 < len) break;
    handle_frame(c, c->in.data() + off, size_t(len) + 4);
    off += size_t(len) + 4;
  }
  if (c->dead || off == 0) return;
  std::memmove(c->in.data(), c->in.data() + off, c->in_len - off);
  c->in_len -= off;
}

void on_accept(int lfd) {
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new Conn;
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev);
    g_conns.insert(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: concord-relay PORT\n");
    return 64;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: epoll_wait returns EINTR and the loop ends
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(std::atoi(argv[1])));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof addr;
  if (lfd < 0 || bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(lfd, 128) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) {
    std::fprintf(stderr, "concord-relay: cannot listen on 127.0.0.1:%s: %s\n", argv[1], std::strerror(errno));
    return 78;
  }
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &lev);
  std::printf("listening %d\n", int(ntohs(addr.sin_port)));
  std::fflush(stdout);

  epoll_event evs[256];
  while (!g_stop) {
    int n = epoll_wait(g_ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("concord-relay: epoll_wait");
      break;
    }
    for (int i = 0; i < n; i++) {
      auto* c = static_cast<Conn*>(evs[i].data.ptr);
      if (c == nullptr) {
        on_accept(lfd);
        continue;
      }
      if (c->dead) continue;
      if (evs[i].events & EPOLLIN) on_readable(c);
      else if (evs[i].events & (EPOLLERR | EPOLLHUP)) close_conn(c);
      if (!c->dead && (evs[i].events & EPOLLOUT) && !c->dirty) {
        c->dirty = true;
        g_dirty.push_back(c);
      }
    }
    for (Conn* c : g_dirty) {
      c->dirty = false;
      flush(c);
    }
    g_dirty.clear();
    for (Conn* c : g_graveyard) delete c;
    g_graveyard.clear();
  }
  for (Conn* c : std::vector<Conn*>(g_conns.begin(), g_conns.end())) close_conn(c);
  for (Conn* c : g_graveyard) delete c;
  close(lfd);
  close(g_ep);
  return 0;
}
