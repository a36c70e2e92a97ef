// Writing whole frames to standard output, for the tools that speak frames on stdio (testee, engine).
#pragma once

#include <concord/errors.hpp>  // Bytes

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

/// The parent of `pid` from /proc/PID/stat, or -1 when it is gone or unreadable. The command name may
/// hold spaces and parentheses, so the fields are read after the last ')'.
inline pid_t parent_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return -1;
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 1));
  std::string state;
  long parent = -1;
  if (!(fields >> state >> parent)) return -1;
  return static_cast<pid_t>(parent);
}

/// STDIO-3: the child exits when its parent dies, even while its standard input stays open. A detached
/// thread polls getppid(), which changes when the parent dies and the child is re-parented; the main
/// thread may be blocked in read(), so the watcher ends the process itself. Not prctl(PR_SET_PDEATHSIG):
/// that fires when the *thread* that forked the child exits, which would end a testee started from a
/// short-lived thread of a living parent.
/// On Linux every ancestor is watched too (as reference/transport/parent.ts does): started through a
/// launcher (a shell script, `env`), the process whose parent died is the launcher, which waits on this
/// one and never notices. When any ancestor is re-parented this process ends, and the launchers with it.
inline void exit_with_parent() {
  constexpr std::size_t max_ancestors = 32;  // a chain this deep is a bug, not a launcher
  const pid_t parent = ::getppid();
  std::vector<std::pair<pid_t, pid_t>> chain;  // each ancestor with the parent it had at start
  for (pid_t pid = parent; pid > 1 && chain.size() < max_ancestors;) {
    const pid_t up = parent_of(pid);
    if (up < 0) break;
    chain.emplace_back(pid, up);
    pid = up;
  }
  std::thread([parent, chain] {
    const auto orphaned = [&] {
      if (::getppid() != parent) return true;
      for (const auto& [pid, up] : chain) {
        if (parent_of(pid) != up) return true;
      }
      return false;
    };
    while (!orphaned()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    ::_exit(0);
  }).detach();
}

}  // namespace concord::tools
