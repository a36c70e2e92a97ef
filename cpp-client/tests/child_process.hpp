// Child processes for the tests that run the reference broker and engines (node) beside the C++
// client: spawned by PID with standard error read all along (a child that logs more than a pipe holds,
// 64 KiB, would otherwise block on its next log line and stop answering), stopped and reaped by PID.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace concord::testing {

inline const std::string kRepo = CONCORD_REPO_DIR;

/// A child process whose standard error a thread reads until it ends; killed (SIGKILL) and reaped by the destructor.
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
    if (rc != 0) {
      ::close(err_fd_);
      throw std::runtime_error("cannot start " + argv[0]);
    }
    reader_ = std::thread([this] { read_stderr(); });
  }
  ~Child() {
    kill();
    // A grandchild may hold the pipe open after the kill: the reader polls and stops on the flag.
    stopping_ = true;
    reader_.join();
    ::close(err_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// Sends `sig` to this process (by its PID) and reaps it, SIGKILL after `limit`.
  void stop(int sig, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    if (reaped_) return;
    ::kill(pid_, sig);
    if (wait_exit(limit) < 0) {
      ::kill(pid_, SIGKILL);
      wait_exit(limit);
    }
  }

  /// SIGKILL by PID (a crash: nothing is flushed or announced) and reap; idempotent.
  void kill() {
    if (reaped_) return;
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }

  /// Waits until standard error so far matches `pattern` (first group returned) or `limit` passes ("").
  std::string wait_for(const std::regex& pattern, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    std::smatch m;
    auto matched = [&] { return std::regex_search(text_, m, pattern); };
    if (!changed_.wait_for(lock, limit, [&] { return matched() || ended_; }) || !matched()) return "";
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
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  /// Standard error read so far.
  std::string stderr_text() const {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  void read_stderr() {
    char buf[4096];
    while (!stopping_) {
      pollfd p{err_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      ssize_t n = ::read(err_fd_, buf, sizeof buf);
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        ended_ = true;
        changed_.notify_all();
        return;
      }
      text_.append(buf, static_cast<std::size_t>(n));
      changed_.notify_all();
    }
  }

  pid_t pid_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool ended_ = false;
  std::string text_;
  std::thread reader_;
};

inline bool has_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

/// The `concord` command: the built one when present, else the TypeScript source through tsx.
inline std::vector<std::string> concord_cli() {
  std::string dist = kRepo + "/dist/reference/cli.js";
  if (::access(dist.c_str(), R_OK) == 0) return {"node", dist};
  return {"node", "--import", "tsx", kRepo + "/reference/cli.ts"};
}

}  // namespace concord::testing
