// The Concord client (spec sections 6 and 7): TCP connect with retries and backoff, INIT /
// INIT_ACK, sends, requests with timeouts (std::future or callback), handlers per type, a
// background receive thread, PONG for every PING, faulty frames answered with the ERROR of the
// first failing check, SHUTDOWN / SHUTDOWN_ACK in both directions, and a clean close.
#pragma once

#include <concord/codec.hpp>
#include <concord/frame.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace concord {

struct ClientOptions {
  std::string client_id;
  std::string language = "cpp";
  std::string role = "client";
  std::string host = "127.0.0.1";
  std::uint16_t port = 9999;
  /// Offered in INIT in order of preference; `json` is always included.
  std::vector<std::string> encodings = {"json", "cbor"};
  std::optional<std::string> token;
  std::string name = "concord-cpp";
  std::string version = "0.1.0";
  /// Spec directory for the catalog ("" = Catalog::default_dir()).
  std::string spec_dir;
  /// Largest body this client accepts (announced in INIT).
  std::uint64_t max_frame = protocol::kMaxFrame;
  /// Backoff before the r-th connect retry: min(initial x 2^(r-1), max).
  std::chrono::milliseconds backoff_initial{protocol::kReconnectBackoffBaseMs};
  std::chrono::milliseconds backoff_max{protocol::kReconnectBackoffMaxMs};
  /// How long connect() waits for INIT_ACK.
  std::chrono::milliseconds handshake_timeout{protocol::kHandshakeTimeoutMs};
  /// Log sink (default: standard error); never receives the token.
  std::function<void(const std::string&)> log;
};

struct SendOptions {
  std::string dst;                  // routed frames: destination client id or service name
  std::string re;                   // responses: the request's id
  std::optional<Encoding> encoding; // default JSON; CBOR only when INIT_ACK chose it
};

struct RequestOptions {
  std::string dst;
  /// Default: the type's catalog timeout_ms, else request_timeout_ms.
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<Encoding> encoding;
};

class Client {
 public:
  /**
   * A handler for one message type. For a request, the returned value is the payload of the
   * catalog response type (null for one without payload); throwing RemoteError or ProtocolError
   * answers that ERROR, any other exception answers INTERNAL. For a notification the return value
   * is ignored. Handlers run one at a time, in the order frames arrived, on a dispatcher thread
   * (so a handler may wait on a request() future).
   */
  using Handler = std::function<json(const Message&)>;
  using Callback = std::function<void(std::optional<Message> answer, std::exception_ptr error)>;

  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /**
   * Connects (retrying `retries` times with exponential backoff), sends INIT and waits for
   * INIT_ACK, then starts the receive thread. Throws ConnectionError, RemoteError (the broker
   * refused the INIT) or ProtocolError.
   */
  void connect(int retries = 5);
  bool connected() const noexcept { return connected_.load(); }
  /// True once SHUTDOWN was sent or received: a close after it is not a lost connection (HS-23).
  bool draining() const noexcept { return draining_.load(); }
  /// The broker's INIT_ACK payload.
  const json& init_ack() const noexcept { return ack_; }
  /// The encoding INIT_ACK chose (CBOR payloads may be sent only when it is CBOR).
  Encoding negotiated_encoding() const noexcept { return cbor_ ? Encoding::Cbor : Encoding::Json; }

  /// Registers the handler of a type (replacing an earlier one).
  void on(MessageType type, Handler handler);

  /// Sends a message (thread safe); returns its id.
  std::string send(MessageType type, const json& payload = nullptr, const SendOptions& options = {});
  /// Sends a request; the future holds its response, or a RemoteError / TimeoutError / ConnectionError.
  /// Always completed: a request that loses the race with the connection's end is either failed by the
  /// end or refused here (ConnectionError thrown), never left to a receiver that is gone.
  std::future<Message> request(MessageType type, const json& payload = nullptr, const RequestOptions& options = {});
  /// Same with a callback, called once on the receive thread (it must not block on other requests).
  std::string request(MessageType type, const json& payload, Callback callback, const RequestOptions& options = {});

  /**
   * Graceful close (HS-16): sends SHUTDOWN, goes on answering requests until SHUTDOWN_ACK arrives or
   * `drain` has passed, then closes. Returns the SHUTDOWN_ACK payload when one arrived.
   */
  std::optional<json> shutdown(const std::string& reason = "client closing", std::chrono::milliseconds drain = std::chrono::milliseconds(protocol::kShutdownDrainMs));
  /// Closes at once and joins the threads (idempotent; pending requests fail with ConnectionError).
  void close();
  /// Blocks until the connection has ended (the broker's SHUTDOWN, an error that closes, or EOF).
  void wait_closed();
  /// Like wait_closed() with a limit; true when closed.
  bool wait_closed_for(std::chrono::milliseconds limit);

  const Codec& codec() const noexcept { return codec_; }
  const ClientOptions& options() const noexcept { return options_; }

 private:
  struct Pending {
    std::uint8_t response_type;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds timeout;
    std::shared_ptr<std::promise<Message>> promise;
    Callback callback;
  };

  void log(const std::string& line) const;
  void write_frame(const Bytes& frame);
  std::string next_id();
  void send_error(const ProtocolError& e);
  void send_error_payload(const std::string& re, const json& payload);
  void receive_loop();
  void dispatcher_loop();
  void handle_body(const Bytes& body);
  void handle_message(Message m);
  void complete(const std::string& id, std::optional<Message> answer, std::exception_ptr error);
  void expire_requests();
  void end_connection(const std::string& why);
  void half_close_and_stop();
  void enqueue(std::function<void()> task);
  void begin_drain(const Message& shutdown);
  std::string start_request(MessageType type, const json& payload, const RequestOptions& options, std::shared_ptr<std::promise<Message>> promise, Callback callback);

  ClientOptions options_;
  Codec codec_;
  int fd_ = -1;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};  // SHUTDOWN sent or received
  bool cbor_ = false;
  std::uint64_t peer_max_frame_ = protocol::kMaxFrame;
  json ack_;
  FrameDecoder decoder_;
  std::deque<Bytes> early_bodies_;  // frames that arrived with INIT_ACK
  std::optional<FramingError> early_fault_;  // a framing fault right behind them

  std::mutex write_mutex_;
  mutable std::mutex mutex_;
  std::condition_variable closed_cv_;
  std::map<std::string, Pending> pending_;
  std::deque<std::string> abandoned_order_;
  std::set<std::string> abandoned_;
  std::map<std::uint8_t, Handler> handlers_;
  std::atomic<std::uint64_t> counter_{0};
  std::uint64_t open_incoming_ = 0;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;
  bool queue_stop_ = false;

  std::thread receiver_;
  std::thread dispatcher_;
};

}  // namespace concord
