// concord-engine: the C++ reference engine as a process. --stdio: frames on standard input and
// output (the engine suite, ENG-17); --port N: attached to a broker under --id, reconnecting with
// backoff when the connection is lost (ENG-16) until SIGTERM or SIGINT.
#include "../engine/engine.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "stdio_frames.hpp"

using namespace concord;

namespace {

std::atomic<bool> g_stop{false};

using tools::write_all;

// The request types an engine answers (spec section engine): one list for stdio and the broker.
constexpr MessageType kEngineRequests[] = {MessageType::ReasoningRequest, MessageType::BatchReasoningReq, MessageType::Feedback,
                                           MessageType::StateUpdate,      MessageType::ParameterSync,     MessageType::MtlCoordinate,
                                           MessageType::MemoryUpdate,     MessageType::EncodingReq};

bool is_engine_request(MessageType t) {
  for (MessageType e : kEngineRequests) if (e == t) return true;
  return false;
}

int serve_stdio(engine::Engine& eng, const std::string& spec_dir) {
  Codec codec(Catalog::load(spec_dir));
  std::uint64_t count = 0;
  auto send = [&](MessageType type, const std::optional<std::string>& re, const json& payload, Encoding enc) {
    json header = {{"id", "e" + std::to_string(++count)}};
    if (re) header["re"] = *re;
    write_all(codec.encode_message_frame(type, header, payload, enc));
  };
  json init = {{"client_id", "engine-cpp-" + std::to_string(::getpid())}, {"language", "cpp"}, {"role", "testee"},
               {"protocol_version", protocol::kProtocolVersion}, {"encodings", json::array({"json", "cbor"})},
               {"max_frame", protocol::kMaxFrame}, {"name", "concord-cpp-engine"}, {"version", "0.1.0"},
               {"features", json::array({"cbor", "engine"})}};
  send(MessageType::Init, std::nullopt, init, Encoding::Json);
  FrameDecoder decoder(protocol::kMaxFrame);
  DecodeOptions decode_options;
  bool acked = false;
  std::vector<std::uint8_t> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::vector<Bytes> bodies;
    try {
      decoder.push(buf.data(), static_cast<std::size_t>(n), bodies);
    } catch (const FramingError& e) {
      send(MessageType::Error, std::nullopt, e.to_payload(), Encoding::Json);
      break;
    }
    for (const auto& body : bodies) {
      Message m;
      try {
        m = codec.decode_message(body, decode_options);
      } catch (const ProtocolError& e) {
        // A faulty ERROR is never answered (ERR-6); a fault that closes ends the output either way.
        if (body.empty() || body[0] != static_cast<std::uint8_t>(MessageType::Error)) send(MessageType::Error, e.frame_id(), e.to_payload(), Encoding::Json);
        if (e.closes()) {
          ::close(STDOUT_FILENO);
          return 0;
        }
        continue;
      }
      const auto* spec = codec.catalog().by_name(m.name);
      if (m.message_type() == MessageType::Error) continue;
      // The harness's first INIT_ACK is the one answer an engine awaits; it says whether CBOR was chosen (ENC-3).
      if (m.message_type() == MessageType::InitAck && !acked) {
        acked = true;
        decode_options.allow_cbor = m.payload.value("encoding", std::string()) == "cbor";
        continue;
      }
      const auto refuse = [&](ErrorCode code, const std::string& message) {
        send(MessageType::Error, m.id(), ProtocolError(code, message).to_payload(), Encoding::Json);
      };
      const auto travels = [&](const char* direction) {
        return spec && std::find(spec->directions.begin(), spec->directions.end(), direction) != spec->directions.end();
      };
      if (!travels("broker-to-client") && !travels("routed")) {
        refuse(ErrorCode::UnexpectedMessage, m.name + " never travels from a broker to a client (REQ-6)");
      } else if (spec && spec->kind == "response") {
        refuse(ErrorCode::UnexpectedMessage, m.name + " answers no request of this engine (REQ-5)");
      } else if (m.message_type() == MessageType::Ping) {
        send(MessageType::Pong, m.id(), nullptr, m.encoding);
      } else if (!is_engine_request(m.message_type())) {
        refuse(ErrorCode::Unsupported, "an engine does not handle " + m.name);
      } else {
        try {
          json response = eng.handle(m.message_type(), m.payload);
          send(codec.catalog().by_name(spec->response)->type(), m.id(), response, m.encoding);
        } catch (const ProtocolError& e) {
          send(MessageType::Error, m.id(), e.to_payload(), Encoding::Json);
        }
      }
    }
  }
  ::close(STDOUT_FILENO);
  return 0;
}

int serve_broker(engine::Engine& eng, ClientOptions options) {
  std::mutex state;  // handlers may overlap; the engine state is one
  int failures = 0;     // consecutive failed connections, bounded
  while (!g_stop) {
    auto client = std::make_unique<Client>(options);
    for (MessageType t : kEngineRequests) {
      client->on(t, [&eng, &state](const Message& m) {
        std::lock_guard<std::mutex> lock(state);
        return eng.handle(m.message_type(), m.payload);
      });
    }
    try {
      client->connect(600);  // about ten minutes at the 1 s backoff cap
      failures = 0;
    } catch (const std::exception& e) {
      // A handshake cut short (a broker restarting) is retried too, a bounded number of times.
      std::cerr << "concord-engine: " << e.what() << "\n";
      if (++failures > 50) return 69;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    while (!g_stop && !client->wait_closed_for(std::chrono::milliseconds(200))) {
    }
    if (g_stop) {
      client->close();
      return 0;
    }
    std::cerr << "concord-engine: connection lost; reconnecting\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  bool stdio = false;
  std::string spec_dir;
  ClientOptions options;
  options.role = "engine";
  options.encodings = {"json"};
  options.name = "concord-cpp-engine";
  options.backoff_initial = std::chrono::milliseconds(50);
  options.backoff_max = std::chrono::milliseconds(1000);
  std::uint32_t seed = engine::kDefaultSeed;
  int port = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--stdio") stdio = true;
      else if (a == "--port") port = std::stoi(value());
      else if (a == "--host") options.host = value();
      else if (a == "--id") options.client_id = value();
      else if (a == "--token") options.token = value();
      else if (a == "--seed") seed = static_cast<std::uint32_t>(std::stoul(value()));
      else if (a == "--spec-dir") spec_dir = value();
      else throw std::invalid_argument("unknown argument " + a);
    } catch (const std::exception& e) {
      std::cerr << "concord-engine: " << e.what() << "\nusage: concord-engine --stdio | --port N [--host H] [--id NAME] [--token T] [--seed N] [--spec-dir DIR]\n";
      return 64;
    }
  }
  if (!stdio && (port < 1 || port > 65535)) {
    std::cerr << "concord-engine: --stdio or --port 1..65535 is required\n";
    return 64;
  }
  if (options.client_id.empty()) options.client_id = "engine-cpp-" + std::to_string(::getpid());
  if (stdio) concord::tools::exit_with_parent();  // STDIO-3: the parent's death ends the stdio engine
  try {
    engine::Engine eng(stdio ? "cpp" : options.client_id, seed);
    if (stdio) return serve_stdio(eng, spec_dir);
    std::signal(SIGTERM, [](int) { g_stop = true; });
    std::signal(SIGINT, [](int) { g_stop = true; });
    options.port = static_cast<std::uint16_t>(port);
    options.spec_dir = spec_dir;
    return serve_broker(eng, options);
  } catch (const std::exception& e) {
    std::cerr << "concord-engine: " << e.what() << "\n";
    return 70;
  }
}
