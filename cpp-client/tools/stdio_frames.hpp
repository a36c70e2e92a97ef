// Writing whole frames to standard output, for the tools that speak frames on stdio (testee, engine).
#pragma once

#include <concord/errors.hpp>  // Bytes

#include <unistd.h>

#include <cerrno>

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

}  // namespace concord::tools
