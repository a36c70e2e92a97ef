// Writing whole frames to standard output, for the tools that speak frames on stdio (testee, engine).
#pragma once

#include <concord/errors.hpp>  // Bytes

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace concord::tools {

/// Writes every byte of `b` to standard output, retrying after EINTR; false when the reader is gone.
inline bool write_all(const Bytes& b) {
  std::size_t off = 0;
  while (off < b.size()) {
    ssize_t n = ::write(STDOUT_FILENO, b.data() + off, b.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

/// STDIO-3: the child exits when its parent dies, even while its standard input stays open. A detached
/// thread polls getppid(), which changes when the parent dies and the child is re-parented; the main
/// thread may be blocked in read(), so the watcher ends the process itself. Not prctl(PR_SET_PDEATHSIG):
/// that fires when the *thread* that forked the child exits, which would end a testee started from a
/// short-lived thread of a living parent.
inline void exit_with_parent() {
  const pid_t parent = ::getppid();
  std::thread([parent] {
    while (::getppid() == parent) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    ::_exit(0);
  }).detach();
}

}  // namespace concord::tools
