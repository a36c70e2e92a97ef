// The buffered writer the relay and the load generator share: one send per connection per wakeup,
// and EPOLLOUT asked for only while the kernel has not taken everything queued.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace concord_bench {

// Conn needs: int fd; bool want_out, dead; a byte container `out` and a size_t `out_off`.
template <class Conn>
void set_events(int ep, Conn* c, bool want_out) {
  if (c->want_out == want_out) return;
  c->want_out = want_out;
  epoll_event ev{};
  ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

// Sends what is queued; on a socket error calls `on_error(c)` (the caller decides what a dead connection is).
template <class Conn, class OnError>
void flush(int ep, Conn* c, OnError on_error) {
  if (c->dead || c->out_off == c->out.size()) return;
  ssize_t w = send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    on_error(c);
    return;
  }
  if (w > 0) c->out_off += std::size_t(w);
  if (c->out_off == c->out.size()) {
    c->out.clear();
    c->out_off = 0;
    set_events(ep, c, false);
  } else {
    set_events(ep, c, true);
  }
}

}  // namespace concord_bench
