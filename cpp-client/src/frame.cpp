#include <concord/frame.hpp>

#include <algorithm>

namespace concord {

Bytes encode_frame(const Bytes& body) {
  if (body.empty()) throw std::invalid_argument("encode_frame: a body is never empty");
  if (body.size() > 0xFFFFFFFFull) throw std::invalid_argument("encode_frame: body exceeds 2^32 - 1 bytes");
  Bytes out;
  out.reserve(protocol::kLengthPrefixBytes + body.size());
  auto n = static_cast<std::uint32_t>(body.size());
  out.push_back(static_cast<std::uint8_t>(n >> 24));
  out.push_back(static_cast<std::uint8_t>(n >> 16));
  out.push_back(static_cast<std::uint8_t>(n >> 8));
  out.push_back(static_cast<std::uint8_t>(n));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void FrameDecoder::fail(ErrorCode code, const std::string& message, json details) {
  failure_.emplace(code, message, std::move(details));
  prefix_fill_ = 0;
  in_body_ = false;
  body_.clear();
  body_.shrink_to_fit();
  throw *failure_;
}

std::uint32_t FrameDecoder::check_length(std::uint32_t length) {
  if (length == 0) fail(ErrorCode::MalformedFrame, "frame length is 0", {{"rule", "zero-length"}});
  if (length > max_frame_) {
    fail(ErrorCode::FrameTooLarge, "frame length " + std::to_string(length) + " exceeds max_frame " + std::to_string(max_frame_),
         {{"rule", "max-frame"}, {"limit", max_frame_}});
  }
  return length;
}

void FrameDecoder::push(const std::uint8_t* data, std::size_t size, std::vector<Bytes>& out) {
  if (failure_) throw *failure_;
  std::size_t i = 0;
  while (i < size) {
    if (!in_body_) {
      std::size_t take = std::min<std::size_t>(4 - prefix_fill_, size - i);
      std::copy(data + i, data + i + take, prefix_ + prefix_fill_);
      prefix_fill_ += take;
      i += take;
      if (prefix_fill_ < 4) break;
      std::uint32_t length = (std::uint32_t(prefix_[0]) << 24) | (std::uint32_t(prefix_[1]) << 16) |
                             (std::uint32_t(prefix_[2]) << 8) | std::uint32_t(prefix_[3]);
      prefix_fill_ = 0;
      body_length_ = check_length(length);
      in_body_ = true;
      body_.clear();
      // Reserve only what is already here: a hostile length costs nothing until its bytes arrive.
      body_.reserve(std::min<std::size_t>(body_length_, size - i));
      continue;
    }
    std::size_t take = std::min<std::size_t>(body_length_ - body_.size(), size - i);
    body_.insert(body_.end(), data + i, data + i + take);
    i += take;
    if (body_.size() == body_length_) {
      out.push_back(std::move(body_));
      body_ = Bytes();
      in_body_ = false;
    }
  }
}

}  // namespace concord
