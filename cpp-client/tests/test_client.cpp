// The client against an in-process fake broker speaking through the library's own codec:
// handshake, PONG, handlers, requests (future, callback, timeout, late answers), faulty frames,
// SHUTDOWN both ways, connect retries.
#include "fixtures.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <mutex>
#include <thread>

using namespace concord;
using concord::testing::codec;
using namespace std::chrono_literals;

namespace {

class FakeBroker {
 public:
  FakeBroker() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 4) != 0) throw std::runtime_error("listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~FakeBroker() {
    if (fd_ >= 0) ::close(fd_);
    ::close(listen_fd_);
  }

  std::uint16_t port;

  void accept() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) throw std::runtime_error("no client connected");
    fd_ = ::accept(listen_fd_, nullptr, nullptr);
  }

  void send_raw(const Bytes& b) { ASSERT_EQ(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size())); }
  void send(MessageType t, json header, json payload = nullptr) { send_raw(codec().encode_message_frame(t, header, payload)); }

  /// The next message, or nullopt at end of stream / timeout.
  std::optional<Message> next(int timeout_ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (bodies_.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) != 1) return std::nullopt;
      std::uint8_t buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        return std::nullopt;
      }
      std::vector<Bytes> out;
      decoder_.push(buf, static_cast<std::size_t>(n), out);
      for (auto& b : out) bodies_.push_back(std::move(b));
    }
    Bytes b = std::move(bodies_.front());
    bodies_.erase(bodies_.begin());
    return codec().decode_message(b);
  }

  /// Half-closes towards the client (FIN): its receiver sees the end while its sends still succeed.
  void end_output() { ::shutdown(fd_, SHUT_WR); }

  bool closed(int timeout_ms = 3000) {
    auto m = next(timeout_ms);
    return !m && eof_;
  }

  Message handshake() {
    accept();
    auto init = next();
    if (!init || init->message_type() != MessageType::Init) throw std::runtime_error("no INIT");
    send(MessageType::InitAck, {{"id", "ack"}, {"re", init->id()}},
         {{"broker_id", "fake"}, {"client_id", init->payload["client_id"]}, {"protocol_version", "1.0"}, {"encoding", "cbor"},
          {"max_frame", protocol::kMaxFrame}, {"max_in_flight", 1024}, {"heartbeat_ms", 10000}});
    return *init;
  }

 private:
  int listen_fd_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  FrameDecoder decoder_;
  std::vector<Bytes> bodies_;
};

ClientOptions options_for(std::uint16_t port) {
  ClientOptions o;
  o.client_id = "test-client";
  o.port = port;
  o.log = [](const std::string&) {};
  return o;
}

TEST(Client, HandshakeHandlersRequestsAndBrokerShutdown) {
  FakeBroker broker;
  Client client(options_for(broker.port));
  auto connecting = std::async(std::launch::async, [&] { client.connect(3); });
  Message init = broker.handshake();
  connecting.get();
  EXPECT_EQ(init.encoding, Encoding::Json);
  EXPECT_EQ(init.payload["language"], "cpp");
  EXPECT_EQ(client.negotiated_encoding(), Encoding::Cbor);

  // PING -> PONG with re
  broker.send(MessageType::Ping, {{"id", "ünïcødé"}});
  auto pong = broker.next();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->message_type(), MessageType::Pong);
  EXPECT_EQ(pong->re(), "ünïcødé");

  // A routed request handled by a handler
  client.on(MessageType::ReasoningRequest, [](const Message& m) {
    auto v = ndarray_from_value(m.payload["encoding"]).values<float>();
    ReasoningResponse r;
    r.spike_count = v.size();
    r.confidence = 0.5f;
    r.firing_pattern = std::vector<std::uint8_t>(v.size(), 1);
    return r.to_payload();
  });
  ReasoningRequest rq;
  rq.encoding = std::vector<float>(768, 1.0f);
  rq.context = "t";
  broker.send_raw(codec().encode_message_frame(MessageType::ReasoningRequest, {{"id", "r1"}, {"src", "peer"}}, rq.to_payload(), Encoding::Cbor));
  auto answer = broker.next();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->message_type(), MessageType::ReasoningResponse);
  EXPECT_EQ(answer->re(), "r1");
  EXPECT_EQ(answer->payload["spike_count"], 768);

  // A request of ours answered by the broker (future)
  MtlCoordinate sig;
  sig.coordination_id = "m1";
  sig.teacher_outputs = {{"a", 0.5f, 1, std::nullopt}, {"b", 0.25f, 2, std::nullopt}};
  RequestOptions ro;
  ro.dst = "coordinator";
  auto fut = client.request(MessageType::MtlCoordinate, sig.to_payload(), ro);
  auto req = broker.next();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->header["dst"], "coordinator");
  broker.send(MessageType::TeacherSync, {{"id", "s1"}, {"re", req->id()}},
              {{"coordination_id", "m1"}, {"teacher_count", 2}, {"disagreement", 0.125}, {"learning_rates", {{"a", 0.1}, {"b", 0.1}}}, {"state_version", 7u}});
  Message sync = fut.get();
  EXPECT_EQ(TeacherSync::from_message(sync).state_version, 7u);

  // Callback overload, answered by an ERROR
  std::promise<std::string> code;
  client.request(MessageType::MtlCoordinate, sig.to_payload(), [&](std::optional<Message>, std::exception_ptr err) {
    try {
      std::rethrow_exception(err);
    } catch (const RemoteError& e) {
      code.set_value(e.code());
    } catch (...) {
      code.set_value("other");
    }
  }, ro);
  auto req2 = broker.next();
  ASSERT_TRUE(req2);
  broker.send(MessageType::Error, {{"id", "e1"}, {"re", req2->id()}}, {{"code", "UNKNOWN_DESTINATION"}, {"message", "no"}, {"definite", true}});
  EXPECT_EQ(code.get_future().get(), "UNKNOWN_DESTINATION");

  // Timeout, then a late answer is discarded silently (REQ-16)
  RequestOptions quick = ro;
  quick.timeout = 100ms;
  auto late = client.request(MessageType::MtlCoordinate, sig.to_payload(), quick);
  auto req3 = broker.next();
  ASSERT_TRUE(req3);
  EXPECT_THROW(late.get(), TimeoutError);
  broker.send(MessageType::TeacherSync, {{"id", "s2"}, {"re", req3->id()}},
              {{"coordination_id", "m1"}, {"teacher_count", 2}, {"disagreement", 0.125}, {"learning_rates", {{"a", 0.1}}}});
  broker.send(MessageType::Ping, {{"id", "after-late"}});
  auto p2 = broker.next();
  ASSERT_TRUE(p2);
  EXPECT_EQ(p2->message_type(), MessageType::Pong);

  // An uncorrelated response, an unknown type, a schema fault: ERRORs with re; an ERROR is never answered
  broker.send(MessageType::Ack, {{"id", "stray"}, {"re", "never-sent"}}, json::object());
  auto e1 = broker.next();
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->payload["code"], std::string(protocol::error_name(ErrorCode::UnexpectedMessage)));
  EXPECT_EQ(e1->re(), "stray");
  broker.send_raw(encode_frame(encode_envelope(0x0a, Encoding::Json, {{"id", "odd"}}, Bytes{})));
  auto e2 = broker.next();
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->payload["code"], std::string(protocol::error_name(ErrorCode::UnknownType)));
  EXPECT_EQ(e2->re(), "odd");
  broker.send(MessageType::Error, {{"id", "err"}, {"re", "nothing"}}, {{"code", "INTERNAL"}, {"message", "x"}, {"definite", false}});
  broker.send(MessageType::Ping, {{"id", "p3"}});
  auto p3 = broker.next();
  ASSERT_TRUE(p3);
  EXPECT_EQ(p3->message_type(), MessageType::Pong);

  // A notification type without handler: UNSUPPORTED
  broker.send(MessageType::DisagreementSignal, {{"id", "d1"}},
              {{"coordination_id", "m1"}, {"disagreement_score", 0.5}, {"threshold", 0.2}});
  auto e3 = broker.next();
  ASSERT_TRUE(e3);
  EXPECT_EQ(e3->message_type(), MessageType::Error);

  // The broker's SHUTDOWN: SHUTDOWN_ACK, then the close
  broker.send(MessageType::Shutdown, {{"id", "bye"}}, {{"reason", "test"}, {"drain_ms", 500}});
  auto ack = broker.next();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->message_type(), MessageType::ShutdownAck);
  EXPECT_EQ(ack->re(), "bye");
  EXPECT_TRUE(broker.closed());
  EXPECT_TRUE(client.wait_closed_for(3s));
  EXPECT_THROW(client.send(MessageType::Ping), ConnectionError);
}

TEST(Client, OversizedLengthIsRefusedAndCloses) {
  FakeBroker broker;
  Client client(options_for(broker.port));
  auto connecting = std::async(std::launch::async, [&] { client.connect(3); });
  broker.handshake();
  connecting.get();
  broker.send_raw(Bytes{0xff, 0xff, 0xff, 0xff});
  auto e = broker.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->payload["code"], std::string(protocol::error_name(ErrorCode::FrameTooLarge)));
  EXPECT_TRUE(broker.closed());
  EXPECT_TRUE(client.wait_closed_for(3s));
}

TEST(Client, FaultInTheSameReadAsInitAck) {
  FakeBroker broker;
  Client client(options_for(broker.port));
  auto connecting = std::async(std::launch::async, [&] { client.connect(3); });
  broker.accept();
  auto init = broker.next();
  ASSERT_TRUE(init);
  Bytes both = codec().encode_message_frame(MessageType::InitAck, {{"id", "ack"}, {"re", init->id()}},
                                            {{"broker_id", "fake"}, {"client_id", "test-client"}, {"protocol_version", "1.0"}, {"encoding", "json"},
                                             {"max_frame", protocol::kMaxFrame}, {"max_in_flight", 1024}, {"heartbeat_ms", 10000}});
  both.insert(both.end(), {0xff, 0xff, 0xff, 0xff});
  broker.send_raw(both);
  connecting.get();
  auto e = broker.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->payload["code"], std::string(protocol::error_name(ErrorCode::FrameTooLarge)));
  EXPECT_TRUE(broker.closed());
}

TEST(Client, GracefulShutdownFromTheClient) {
  FakeBroker broker;
  Client client(options_for(broker.port));
  auto connecting = std::async(std::launch::async, [&] { client.connect(3); });
  broker.handshake();
  connecting.get();
  auto closing = std::async(std::launch::async, [&] { return client.shutdown("done", 2000ms); });
  auto sd = broker.next();
  ASSERT_TRUE(sd);
  EXPECT_EQ(sd->message_type(), MessageType::Shutdown);
  broker.send(MessageType::ShutdownAck, {{"id", "sa"}, {"re", sd->id()}}, {{"drained", 0}, {"timed_out", 0}});
  auto result = closing.get();
  ASSERT_TRUE(result);
  EXPECT_EQ((*result)["drained"], 0);
  EXPECT_FALSE(client.connected());
}

TEST(Client, ConnectRetriesWithBackoffThenFails) {
  std::uint16_t port;
  {
    FakeBroker gone;  // a port that was just free
    port = gone.port;
  }
  ClientOptions o = options_for(port);
  o.backoff_initial = 20ms;
  Client client(o);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(client.connect(2), ConnectionError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 60ms);  // 20 + 40 ms of backoff
  IPCClient seeds("seed-client", "cpp", "127.0.0.1", port);
  EXPECT_FALSE(seeds.connect(0));
}

TEST(Client, BrokerRefusalIsARemoteError) {
  FakeBroker broker;
  Client client(options_for(broker.port));
  auto connecting = std::async(std::launch::async, [&] { client.connect(3); });
  broker.accept();
  auto init = broker.next();
  ASSERT_TRUE(init);
  broker.send(MessageType::Error, {{"id", "no"}, {"re", init->id()}}, {{"code", "DUPLICATE_CLIENT_ID"}, {"message", "taken"}, {"definite", true}});
  try {
    connecting.get();
    FAIL();
  } catch (const RemoteError& e) {
    EXPECT_EQ(e.code(), "DUPLICATE_CLIENT_ID");
  }
}

// A request started while the connection ends is either failed by the end or refused, never left
// waiting for an answer that no receiver will read nor expire. Several threads send PINGs while the
// broker ends the connection (FIN, so that sends still succeed): before the fix a request that passed
// the `connected` check just before the end was registered just after it, its future never became
// ready, and concord-reconnect-tests' pinger hung at the broker's kill. Rounds repeat the race; the
// waits are hang guards, not timing assertions.
TEST(Client, RequestsStartedAsTheConnectionEndsAllComplete) {
  constexpr int kRounds = 20;
  constexpr int kSenders = 4;
  constexpr int kMaxPerSender = 100000;
  const auto guard = std::chrono::steady_clock::now() + 30s;
  RequestOptions o;
  o.timeout = std::chrono::minutes(10);  // only the connection's end completes these requests
  int hung = 0, failed = 0, refused = 0;
  for (int round = 0; round < kRounds && hung == 0; ++round) {
    FakeBroker broker;
    Client client(options_for(broker.port));
    auto connecting = std::async(std::launch::async, [&] { client.connect(3); });
    broker.handshake();
    connecting.get();
    std::mutex mutex;
    std::vector<std::future<Message>> answers;
    std::vector<std::thread> senders;
    for (int t = 0; t < kSenders; ++t) {
      senders.emplace_back([&] {
        for (int i = 0; i < kMaxPerSender; ++i) {  // ends at the first refusal, soon after the broker's FIN
          try {
            auto f = client.request(MessageType::Ping, nullptr, o);
            std::lock_guard<std::mutex> lock(mutex);
            answers.push_back(std::move(f));
          } catch (const ConnectionError&) {
            std::lock_guard<std::mutex> lock(mutex);
            ++refused;
            return;
          }
        }
      });
    }
    EXPECT_TRUE(broker.next());  // requests are flowing
    broker.end_output();
    for (auto& s : senders) s.join();
    for (auto& f : answers) {
      if (f.wait_until(guard) != std::future_status::ready) {
        ++hung;
        continue;
      }
      try {
        f.get();
        ADD_FAILURE() << "a PING was answered by a broker that answers nothing";
      } catch (const ConnectionError&) {
        ++failed;
      }
    }
  }
  EXPECT_EQ(hung, 0) << "requests left waiting for ever (" << failed << " failed at the end, " << refused << " refused)";
  EXPECT_GT(failed, 0);  // the race was run: requests were in flight at the end
}

}  // namespace
