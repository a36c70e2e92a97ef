// A client that survives a broker restart (HS-23 .. HS-25): when its connection is lost it
// reconnects with backoff, registers its handlers again, restores its bus subscriptions, bus
// handlers and services (SessionRecord), and tells the application through `on_connection`.
// Requests in flight at the drop fail with ConnectionError (the broker's PEER_GONE, definite
// false); a request started while reconnecting waits for the connection within its timeout, then
// fails with ConnectionError.
#pragma once

#include <concord/client.hpp>
#include <concord/session.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace concord {

struct ConnectionEvent {
  enum class Kind { Lost, Restored, GaveUp };
  Kind kind;
  int attempts = 0;                      // Restored, GaveUp: attempts of this reconnection
  std::vector<RestoreFailure> failures;  // Restored: restorations the broker refused
  std::string error;                     // Lost, GaveUp: why
};

struct ReconnectOptions {
  /// Before the r-th attempt: min(base x 2^(r-1), max), scaled by a factor within +-20 % (HS-23).
  std::chrono::milliseconds backoff_base{protocol::kReconnectBackoffBaseMs};
  std::chrono::milliseconds backoff_max{protocol::kReconnectBackoffMaxMs};
  /// Attempts per loss before giving up; 0: until close().
  int max_attempts = 0;
  /// Told on the reconnecting thread; must not block on a request of this client.
  std::function<void(const ConnectionEvent&)> on_connection;
};

class ReconnectingClient {
 public:
  explicit ReconnectingClient(ClientOptions options, ReconnectOptions reconnect = {});
  ~ReconnectingClient();
  ReconnectingClient(const ReconnectingClient&) = delete;
  ReconnectingClient& operator=(const ReconnectingClient&) = delete;

  /// The first connection, as Client::connect (throws ConnectionError, RemoteError, ProtocolError).
  void connect(int retries = 5);
  bool connected() const;
  /// Registers the handler of a type, on this and every later connection.
  void on(MessageType type, Client::Handler handler);
  /// Sends on the current connection; throws ConnectionError while reconnecting.
  std::string send(MessageType type, const json& payload = nullptr, const SendOptions& options = {});
  /// Sends a request and waits for its response (RemoteError, TimeoutError or ConnectionError).
  Message request(MessageType type, const json& payload = nullptr, const RequestOptions& options = {});
  /// Graceful close (SHUTDOWN, drain) and no further reconnection; idempotent.
  void close();
  /// Successful reconnections so far.
  int reconnects() const;

 private:
  std::shared_ptr<Client> current(std::chrono::steady_clock::time_point deadline);
  std::shared_ptr<Client> open_one();
  void watch();
  void tell(const ConnectionEvent& event);
  std::chrono::milliseconds delay(int attempt);
  /// Closes `client` (gracefully: SHUTDOWN first); Client::close is not safe to call from two threads at once.
  void end(const std::shared_ptr<Client>& client, bool graceful);

  ClientOptions options_;
  ReconnectOptions reconnect_;
  SessionRecord session_;
  mutable std::mutex mutex_;
  std::mutex close_mutex_;  // serializes the closes of one Client by the watcher and close()
  std::condition_variable cv_;
  std::shared_ptr<Client> client_;
  std::map<MessageType, Client::Handler> handlers_;
  bool stopping_ = false;
  int reconnects_ = 0;
  std::thread watcher_;
};

}  // namespace concord
