// Framing (spec section 2): a u32 big-endian length, then that many body bytes.
#pragma once

#include <concord/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace concord {

/// Prepends the 4-byte big-endian length to a body (which is never empty).
Bytes encode_frame(const Bytes& body);

/**
 * Incremental frame decoder: accepts any division of the stream into chunks (FRM-5). A length of 0
 * is MALFORMED_FRAME (FRM-2); a length above max_frame is FRAME_TOO_LARGE (FRM-3), refused on the
 * prefix alone, before any body byte is kept. Body storage grows with the bytes that actually
 * arrive, so an announced length costs nothing until its bytes come.
 */
class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint64_t max_frame = protocol::kMaxFrame) : max_frame_(max_frame) {}

  /**
   * Appends the bodies completed by `data` to `out`. On a framing fault, the bodies completed
   * before it are already in `out` (handle them first), then a FramingError is thrown; the decoder
   * stays failed and throws it again on every later push.
   */
  void push(const std::uint8_t* data, std::size_t size, std::vector<Bytes>& out);

  std::uint64_t max_frame() const noexcept { return max_frame_; }
  /// true when a frame has started but not finished (an end of stream now truncates it, FRM-7).
  bool mid_frame() const noexcept { return prefix_fill_ > 0 || in_body_; }
  /// Bytes held for the incomplete frame.
  std::size_t buffered_bytes() const noexcept { return prefix_fill_ + body_.size(); }
  bool failed() const noexcept { return failure_.has_value(); }

 private:
  [[noreturn]] void fail(ErrorCode code, const std::string& message, json details);
  std::uint32_t check_length(std::uint32_t length);

  std::uint64_t max_frame_;
  std::uint8_t prefix_[4] = {0, 0, 0, 0};
  std::size_t prefix_fill_ = 0;
  bool in_body_ = false;
  std::uint32_t body_length_ = 0;
  Bytes body_;
  std::optional<FramingError> failure_;
};

}  // namespace concord
