#include <concord/client.hpp>
#include <concord/envelope.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

namespace concord {

namespace {

constexpr std::size_t kMaxAbandoned = 4096;

std::string code_name(ErrorCode c) { return std::string(protocol::error_name(c)); }

int open_tcp(const std::string& host, std::uint16_t port, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    why = ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    why = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace

Client::Client(ClientOptions options)
    : options_(std::move(options)), codec_(Catalog::load(options_.spec_dir)), decoder_(options_.max_frame) {
  if (options_.client_id.empty()) options_.client_id = "cpp-client-" + std::to_string(::getpid());
  if (std::find(options_.encodings.begin(), options_.encodings.end(), "json") == options_.encodings.end()) options_.encodings.push_back("json");
}

Client::~Client() { close(); }

void Client::log(const std::string& line) const {
  if (options_.log) options_.log(line);
  else std::cerr << "[concord " << options_.client_id << "] " << line << "\n";
}

std::string Client::next_id() { return "c-" + std::to_string(++counter_); }

void Client::write_frame(const Bytes& frame) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (fd_ < 0) throw ConnectionError("not connected");
  std::size_t off = 0;
  while (off < frame.size()) {
    ssize_t n = ::send(fd_, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ConnectionError(std::string("send failed: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

void Client::connect(int retries) {
  if (connected_) return;
  std::string why = "no attempt";
  int fd = -1;
  for (int attempt = 0; attempt <= std::max(0, retries); ++attempt) {
    if (attempt > 0) {
      auto backoff = options_.backoff_initial * (1LL << std::min(attempt - 1, 20));
      std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(backoff, options_.backoff_max));
    }
    fd = open_tcp(options_.host, options_.port, why);
    if (fd >= 0) break;
  }
  if (fd < 0) throw ConnectionError("cannot connect to " + options_.host + ":" + std::to_string(options_.port) + ": " + why);
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    fd_ = fd;
  }
  decoder_ = FrameDecoder(options_.max_frame);
  early_bodies_.clear();
  early_fault_.reset();

  // INIT, in JSON, alone until INIT_ACK (HS-1, HS-8).
  json init = {{"client_id", options_.client_id}, {"language", options_.language}, {"role", options_.role},
               {"protocol_version", protocol::kProtocolVersion}, {"encodings", options_.encodings},
               {"max_frame", options_.max_frame}, {"name", options_.name}, {"version", options_.version}};
  if (options_.token) init["token"] = *options_.token;
  const std::string init_id = next_id();
  auto fail = [&](auto&& error) {
    std::lock_guard<std::mutex> lock(write_mutex_);
    ::close(fd_);
    fd_ = -1;
    throw error;
  };
  try {
    write_frame(codec_.encode_message_frame(MessageType::Init, {{"id", init_id}}, init));
  } catch (const std::exception& e) {
    fail(ConnectionError(e.what()));
  }
  auto deadline = std::chrono::steady_clock::now() + options_.handshake_timeout;
  std::vector<Bytes> bodies;
  std::vector<std::uint8_t> buf(1 << 16);
  while (bodies.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) fail(TimeoutError("no INIT_ACK within the handshake timeout"));
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) fail(ConnectionError(std::string("poll failed: ") + std::strerror(errno)));
    if (rc <= 0) continue;
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n <= 0) fail(ConnectionError("the broker closed the connection during the handshake"));
    try {
      decoder_.push(buf.data(), static_cast<std::size_t>(n), bodies);
    } catch (const FramingError& e) {
      // A fault right behind INIT_ACK in the same read: the receive thread answers it first.
      if (bodies.empty()) fail(e);
      early_fault_.emplace(e);
    }
  }
  Message ack;
  try {
    ack = codec_.decode_message(bodies.front(), DecodeOptions{protocol::kMaxHeader, false});
  } catch (const ProtocolError& e) {
    fail(e);
  }
  if (ack.message_type() == MessageType::Error) fail(RemoteError(ack.payload));
  if (ack.message_type() != MessageType::InitAck || ack.re() != init_id) {
    fail(ProtocolError(ErrorCode::ProtocolViolation, "expected INIT_ACK answering INIT, got " + ack.name));
  }
  ack_ = ack.payload;
  cbor_ = ack_.value("encoding", std::string("json")) == "cbor";
  peer_max_frame_ = ack_.value("max_frame", protocol::kMaxFrame);
  for (std::size_t i = 1; i < bodies.size(); ++i) early_bodies_.push_back(std::move(bodies[i]));
  stopping_ = false;
  draining_ = false;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_stop_ = false;
  }
  connected_ = true;
  dispatcher_ = std::thread([this] { dispatcher_loop(); });
  receiver_ = std::thread([this] { receive_loop(); });
}

void Client::on(MessageType type, Handler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  handlers_[static_cast<std::uint8_t>(type)] = std::move(handler);
}

std::string Client::send(MessageType type, const json& payload, const SendOptions& options) {
  if (!connected_) throw ConnectionError("not connected");
  Encoding enc = options.encoding.value_or(Encoding::Json);
  if (enc == Encoding::Cbor && !cbor_) throw std::invalid_argument("send: CBOR was not negotiated (ENC-2)");
  std::string id = next_id();
  json header = {{"id", id}};
  if (!options.re.empty()) header["re"] = options.re;
  if (!options.dst.empty()) header["dst"] = options.dst;
  Bytes body = codec_.encode_message(type, header, payload, enc);
  if (body.size() > peer_max_frame_) throw std::invalid_argument("send: the frame exceeds the broker's max_frame (FRM-4)");
  write_frame(encode_frame(body));
  return id;
}

std::string Client::start_request(MessageType type, const json& payload, const RequestOptions& options,
                                  std::shared_ptr<std::promise<Message>> promise, Callback callback) {
  if (!connected_) throw ConnectionError("not connected");
  const MessageSpec* spec = codec_.catalog().by_type(type);
  if (!spec || spec->kind != "request") throw std::invalid_argument("request: not a request type");
  const MessageSpec* response = codec_.catalog().by_name(spec->response);
  if (draining_ && type != MessageType::Ping && type != MessageType::Shutdown) throw ConnectionError("request after SHUTDOWN (HS-12)");
  Encoding enc = options.encoding.value_or(Encoding::Json);
  if (enc == Encoding::Cbor && !cbor_) throw std::invalid_argument("request: CBOR was not negotiated (ENC-2)");
  std::string id = next_id();
  json header = {{"id", id}};
  if (!options.dst.empty()) header["dst"] = options.dst;
  Bytes body = codec_.encode_message(type, header, payload, enc);
  if (body.size() > peer_max_frame_) throw std::invalid_argument("request: the frame exceeds the broker's max_frame (FRM-4)");
  auto timeout = options.timeout.value_or(std::chrono::milliseconds(spec->timeout_ms ? spec->timeout_ms : protocol::kRequestTimeoutMs));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Checked again under the lock that end_connection holds while it takes the requests it fails: a
    // request is either among those or refused here, never registered after the end, where no receiver
    // would answer or expire it and its future would wait for ever (the rare hang of
    // concord-reconnect-tests: its pinger's PING, started as the broker was killed).
    if (!connected_) throw ConnectionError("not connected");
    pending_[id] = Pending{response->code, std::chrono::steady_clock::now() + timeout, timeout, std::move(promise), std::move(callback)};
  }
  try {
    write_frame(encode_frame(body));
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.erase(id);
    throw;
  }
  return id;
}

std::future<Message> Client::request(MessageType type, const json& payload, const RequestOptions& options) {
  auto promise = std::make_shared<std::promise<Message>>();
  auto future = promise->get_future();
  start_request(type, payload, options, promise, nullptr);
  return future;
}

std::string Client::request(MessageType type, const json& payload, Callback callback, const RequestOptions& options) {
  return start_request(type, payload, options, nullptr, std::move(callback));
}

void Client::complete(const std::string& id, std::optional<Message> answer, std::exception_ptr error) {
  Pending p;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    p = std::move(it->second);
    pending_.erase(it);
  }
  closed_cv_.notify_all();
  if (p.promise) {
    if (error) p.promise->set_exception(error);
    else p.promise->set_value(std::move(*answer));
  }
  if (p.callback) {
    try {
      p.callback(std::move(answer), error);
    } catch (const std::exception& e) {
      log(std::string("request callback threw: ") + e.what());
    }
  }
}

void Client::expire_requests() {
  std::vector<std::pair<std::string, std::chrono::milliseconds>> expired;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, p] : pending_) if (p.deadline <= now) expired.emplace_back(id, p.timeout);
    for (const auto& [id, t] : expired) {
      // kept so that a late answer is discarded, not refused (REQ-16)
      abandoned_.insert(id);
      abandoned_order_.push_back(id);
      if (abandoned_order_.size() > kMaxAbandoned) {
        abandoned_.erase(abandoned_order_.front());
        abandoned_order_.pop_front();
      }
    }
  }
  for (const auto& [id, t] : expired) {
    complete(id, std::nullopt, std::make_exception_ptr(TimeoutError("request " + id + " got no answer within " + std::to_string(t.count()) + " ms")));
  }
}

void Client::send_error_payload(const std::string& re, const json& payload) {
  json header = {{"id", next_id()}};
  if (!re.empty()) header["re"] = re;
  try {
    write_frame(codec_.encode_message_frame(MessageType::Error, header, payload));
  } catch (const std::exception& e) {
    log(std::string("could not send ERROR: ") + e.what());
  }
}

void Client::send_error(const ProtocolError& e) { send_error_payload(e.frame_id().value_or(""), e.to_payload()); }

void Client::half_close_and_stop() {
  stopping_ = true;
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void Client::receive_loop() {
  while (!early_bodies_.empty() && !stopping_) {
    Bytes b = std::move(early_bodies_.front());
    early_bodies_.pop_front();
    handle_body(b);
  }
  std::vector<std::uint8_t> buf(1 << 16);
  std::string why = "closed";
  if (early_fault_ && !stopping_) {
    send_error(*early_fault_);
    half_close_and_stop();
    why = std::string("framing fault: ") + early_fault_->what();
  }
  while (!stopping_) {
    int wait_ms = 200;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto now = std::chrono::steady_clock::now();
      for (const auto& [id, p] : pending_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(p.deadline - now).count();
        wait_ms = static_cast<int>(std::max<long long>(0, std::min<long long>(wait_ms, left + 1)));
      }
    }
    pollfd p{fd_, POLLIN, 0};
    int rc = ::poll(&p, 1, wait_ms);
    expire_requests();
    if (rc < 0) {
      if (errno == EINTR) continue;
      why = std::string("poll failed: ") + std::strerror(errno);
      break;
    }
    if (rc == 0) continue;
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      why = n == 0 ? (decoder_.mid_frame() ? "the stream ended inside a frame" : "the broker closed the connection") : std::strerror(errno);
      break;
    }
    std::vector<Bytes> bodies;
    try {
      decoder_.push(buf.data(), static_cast<std::size_t>(n), bodies);
    } catch (const FramingError& e) {
      for (const auto& b : bodies) if (!stopping_) handle_body(b);
      if (!stopping_) {
        send_error(e);
        half_close_and_stop();
      }
      why = std::string("framing fault: ") + e.what();
      break;
    }
    for (const auto& b : bodies) {
      if (stopping_) break;
      handle_body(b);
    }
  }
  end_connection(why);
}

void Client::end_connection(const std::string& why) {
  std::vector<std::string> ids;
  {
    // One step under the lock: from here start_request refuses, so the requests taken here are all
    // that this connection will ever have to fail.
    std::lock_guard<std::mutex> lock(mutex_);
    connected_ = false;
    for (const auto& [id, p] : pending_) ids.push_back(id);
  }
  for (const auto& id : ids) complete(id, std::nullopt, std::make_exception_ptr(ConnectionError("connection ended: " + why)));
  closed_cv_.notify_all();
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_stop_ = true;
  }
  queue_cv_.notify_all();
}

void Client::handle_body(const Bytes& body) {
  Message m;
  try {
    m = codec_.decode_message(body, DecodeOptions{protocol::kMaxHeader, cbor_});
  } catch (const ProtocolError& e) {
    if (!body.empty() && body[0] == static_cast<std::uint8_t>(MessageType::Error)) {
      // ERR-6: a faulty ERROR is logged, never answered; a closing fault closes silently.
      log("faulty ERROR ignored: " + e.name() + " " + e.what());
      if (e.closes()) half_close_and_stop();
      return;
    }
    send_error(e);
    if (e.closes()) half_close_and_stop();
    return;
  }
  handle_message(std::move(m));
}

void Client::handle_message(Message m) {
  const MessageSpec* spec = codec_.catalog().by_code(m.type);
  const std::string id = m.id();
  auto refuse_re = [&](ErrorCode code, const std::string& message) {
    ProtocolError e(code, message);
    e.set_frame_id(id);
    send_error(e);
  };
  // Step 9: nothing new once SHUTDOWN was sent or received, PING excepted (HS-13).
  if (spec->kind == "request" && m.message_type() != MessageType::Ping && draining_) {
    refuse_re(ErrorCode::ShuttingDown, m.name + " after SHUTDOWN");
    return;
  }
  // Step 10: direction.
  if (!spec->allows("broker-to-client") && !spec->allows("routed")) {
    if (m.message_type() == MessageType::Error) return;
    refuse_re(ErrorCode::UnexpectedMessage, m.name + " does not travel from a broker to a client");
    return;
  }
  if (spec->kind == "error") {
    auto re = m.re();
    bool known = false;
    if (re) {
      std::lock_guard<std::mutex> lock(mutex_);
      known = pending_.count(*re) > 0;
    }
    if (known) complete(*re, std::nullopt, std::make_exception_ptr(RemoteError(m.payload)));
    else log("ERROR received: " + m.payload.dump());
    return;
  }
  if (spec->kind == "response") {
    auto re = m.re();
    std::optional<std::uint8_t> expected;
    bool abandoned = false;
    if (re) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = pending_.find(*re);
      if (it != pending_.end()) expected = it->second.response_type;
      abandoned = abandoned_.count(*re) > 0;
    }
    if (expected && *expected == m.type) {
      complete(*re, std::move(m), nullptr);
    } else if (expected) {
      refuse_re(ErrorCode::UnexpectedMessage, m.name + " does not answer the request " + *re + " (it stays open)");
    } else if (abandoned) {
      log("late " + m.name + " for " + *re + " discarded (REQ-16)");
    } else {
      refuse_re(ErrorCode::UnexpectedMessage, m.name + (re ? " answers no open request" : " without re"));
    }
    return;
  }
  if (m.message_type() == MessageType::Ping) {
    try {
      write_frame(codec_.encode_message_frame(MessageType::Pong, {{"id", next_id()}, {"re", id}}));
    } catch (const std::exception& e) {
      log(std::string("could not send PONG: ") + e.what());
    }
    return;
  }
  if (m.message_type() == MessageType::Shutdown) {
    begin_drain(m);
    return;
  }
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = handlers_.find(m.type);
    if (it != handlers_.end()) handler = it->second;
  }
  if (!handler) {
    refuse_re(ErrorCode::Unsupported, "this client does not implement " + m.name);
    return;
  }
  bool is_request = spec->kind == "request";
  if (is_request) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++open_incoming_;
  }
  std::string response_name = spec->response;
  enqueue([this, handler, is_request, response_name, m = std::move(m)]() {
    const std::string rid = m.id();
    json result;
    json error;
    try {
      result = handler(m);
    } catch (const RemoteError& e) {
      error = e.payload();
    } catch (const ProtocolError& e) {
      error = e.to_payload();
    } catch (const std::exception& e) {
      error = {{"code", code_name(ErrorCode::Internal)}, {"message", std::string("handler failed: ") + e.what()}, {"definite", false}};
    }
    if (is_request) {
      if (!error.is_null()) {
        send_error_payload(rid, error);
      } else {
        const MessageSpec* rs = codec_.catalog().by_name(response_name);
        try {
          write_frame(codec_.encode_message_frame(rs->type(), {{"id", next_id()}, {"re", rid}}, result));
        } catch (const ProtocolError& e) {
          send_error_payload(rid, {{"code", code_name(ErrorCode::Internal)}, {"message", std::string("invalid response: ") + e.what()}, {"definite", false}});
        } catch (const std::exception& e) {
          log(std::string("could not answer ") + rid + ": " + e.what());
        }
      }
      std::lock_guard<std::mutex> lock(mutex_);
      --open_incoming_;
    }
  });
}

void Client::begin_drain(const Message& shutdown) {
  draining_ = true;
  std::uint64_t drained;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    drained = open_incoming_;
  }
  std::uint64_t drain_ms = protocol::kShutdownDrainMs;
  if (shutdown.payload.is_object() && shutdown.payload.contains("drain_ms")) drain_ms = std::min<std::uint64_t>(drain_ms, shutdown.payload["drain_ms"].get<std::uint64_t>());
  const std::string sid = shutdown.id();
  // Runs after every handler queued before the SHUTDOWN: those requests are answered by then (HS-14).
  enqueue([this, drained, drain_ms, sid]() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      closed_cv_.wait_until(lock, deadline, [this] { return pending_.empty() || !connected_; });
    }
    try {
      write_frame(codec_.encode_message_frame(MessageType::ShutdownAck, {{"id", next_id()}, {"re", sid}},
                                              {{"drained", drained}, {"timed_out", 0}}));
    } catch (const std::exception& e) {
      log(std::string("could not send SHUTDOWN_ACK: ") + e.what());
    }
    half_close_and_stop();
  });
}

void Client::enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(std::move(task));
  }
  queue_cv_.notify_one();
}

void Client::dispatcher_loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return queue_stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      log(std::string("dispatcher task failed: ") + e.what());
    }
  }
}

std::optional<json> Client::shutdown(const std::string& reason, std::chrono::milliseconds drain) {
  if (!connected_) return std::nullopt;
  std::optional<json> ack;
  try {
    RequestOptions o;
    o.timeout = drain;
    auto f = request(MessageType::Shutdown, {{"reason", reason}, {"drain_ms", drain.count()}}, o);
    draining_ = true;
    ack = f.get().payload;
  } catch (const std::exception& e) {
    log(std::string("SHUTDOWN: ") + e.what());
  }
  close();
  return ack;
}

void Client::close() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  }
  auto self = std::this_thread::get_id();
  if (receiver_.joinable() && receiver_.get_id() != self) receiver_.join();
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_stop_ = true;
  }
  queue_cv_.notify_all();
  if (dispatcher_.joinable() && dispatcher_.get_id() != self) dispatcher_.join();
  if (receiver_.joinable() || dispatcher_.joinable()) return;  // called from our own thread: the destructor finishes
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  connected_ = false;
}

void Client::wait_closed() {
  std::unique_lock<std::mutex> lock(mutex_);
  closed_cv_.wait(lock, [this] { return !connected_.load(); });
}

bool Client::wait_closed_for(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mutex_);
  return closed_cv_.wait_for(lock, limit, [this] { return !connected_.load(); });
}

}  // namespace concord
