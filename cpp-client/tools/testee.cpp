// concord-testee: the testee profile of spec section 15. Frames on standard input, frames on
// standard output (nothing else), logs on standard error. Every frame after INIT_ACK is answered
// with its echo (same type and encoding, payload re-encoded from the decoded value, fresh id, re =
// the frame's id) or with the ERROR of the first failing check; closing errors end the output.
#include <concord/concord.hpp>

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "stdio_frames.hpp"

using namespace concord;

namespace {

using tools::write_all;

}  // namespace

int main(int argc, char** argv) {
  tools::exit_with_parent();  // STDIO-3: the parent's death ends the testee
  std::signal(SIGPIPE, SIG_IGN);
  std::string spec_dir;
  bool json_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--spec-dir" && i + 1 < argc) spec_dir = argv[++i];
    else if (a == "--json-only") json_only = true;
    else {
      std::cerr << "usage: concord-testee [--spec-dir DIR] [--json-only]\n";
      return 64;
    }
  }
  std::unique_ptr<Codec> codec;
  try {
    codec = std::make_unique<Codec>(Catalog::load(spec_dir));
  } catch (const std::exception& e) {
    std::cerr << "concord-testee: " << e.what() << "\n";
    return 70;
  }
  const bool cbor = !json_only;
  json encodings = cbor ? json::array({"json", "cbor"}) : json::array({"json"});
  json init = {{"client_id", "testee-cpp-" + std::to_string(::getpid())},
               {"language", "cpp"},
               {"role", "testee"},
               {"protocol_version", protocol::kProtocolVersion},
               {"encodings", encodings},
               {"max_frame", protocol::kMaxFrame},
               {"name", "concord-cpp-testee"},
               {"version", "0.1.0"},
               {"features", cbor ? json::array({"cbor"}) : json::array()}};
  if (!write_all(codec->encode_message_frame(MessageType::Init, {{"id", "testee-init"}}, init))) return 0;

  FrameDecoder decoder(protocol::kMaxFrame);
  DecodeOptions options;
  options.allow_cbor = cbor;
  std::uint64_t count = 0;
  bool handshaken = false;
  bool closed = false;

  auto refuse = [&](const ProtocolError& e) {
    json header = {{"id", "err-" + std::to_string(++count)}};
    if (e.frame_id()) header["re"] = *e.frame_id();
    write_all(codec->encode_message_frame(MessageType::Error, header, e.to_payload()));
    if (e.closes()) closed = true;
  };

  auto answer = [&](const Bytes& body) {
    Message m;
    try {
      m = codec->decode_message(body, options);
    } catch (const ProtocolError& e) {
      refuse(e);
      return;
    }
    if (!handshaken) {
      // The harness's INIT_ACK: the one frame a testee does not echo.
      handshaken = m.message_type() == MessageType::InitAck;
      // CBOR only when INIT_ACK chose it (ENC-2): otherwise a CBOR frame is refused, never echoed.
      if (handshaken) options.allow_cbor = cbor && m.payload.value("encoding", "json") == "cbor";
      if (handshaken) return;
    }
    try {
      json header = {{"id", "echo-" + std::to_string(++count)}, {"re", m.id()}};
      write_all(codec->encode_message_frame(m.message_type(), header, m.payload, m.encoding));
    } catch (const std::exception& e) {
      // A value our decoder accepted but our encoder refuses is our own fault: say so.
      std::string message = std::string("echo failed: ") + e.what();
      if (message.size() > 4000) message.resize(4000);
      if (!is_utf8(message)) message = "echo failed";
      json header = {{"id", "err-" + std::to_string(++count)}, {"re", m.id()}};
      write_all(codec->encode_message_frame(MessageType::Error, header,
                                            {{"code", std::string(protocol::error_name(ErrorCode::Internal))}, {"message", message}, {"definite", false}}));
    }
  };

  std::vector<std::uint8_t> buf(1 << 16);
  while (!closed) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    std::vector<Bytes> bodies;
    try {
      decoder.push(buf.data(), static_cast<std::size_t>(n), bodies);
    } catch (const FramingError& e) {
      for (const auto& b : bodies) if (!closed) answer(b);
      if (!closed) refuse(e);
      break;
    }
    for (const auto& b : bodies) {
      if (closed) break;
      answer(b);
    }
  }
  ::close(STDOUT_FILENO);
  return 0;
}
