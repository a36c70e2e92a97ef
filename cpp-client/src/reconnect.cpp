#include <concord/errors.hpp>
#include <concord/reconnect.hpp>

#include <random>

namespace concord {

ReconnectingClient::ReconnectingClient(ClientOptions options, ReconnectOptions reconnect)
    : options_(std::move(options)), reconnect_(std::move(reconnect)) {}

ReconnectingClient::~ReconnectingClient() { close(); }

void ReconnectingClient::connect(int retries) {
  auto client = std::make_shared<Client>(options_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [type, handler] : handlers_) client->on(type, handler);
  }
  client->connect(retries);
  std::lock_guard<std::mutex> lock(mutex_);
  client_ = client;
  if (!watcher_.joinable()) watcher_ = std::thread([this] { watch(); });
}

bool ReconnectingClient::connected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return client_ && client_->connected();
}

int ReconnectingClient::reconnects() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reconnects_;
}

void ReconnectingClient::on(MessageType type, Client::Handler handler) {
  if (type == MessageType::BusEvent) {  // the application sees the subscription id it was given
    handler = [this, inner = std::move(handler)](const Message& m) {
      Message translated = m;
      translated.payload = session_.incoming(m.message_type(), m.payload);
      return inner(translated);
    };
  }
  std::shared_ptr<Client> client;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    handlers_[type] = handler;
    client = client_;
  }
  if (client) client->on(type, handler);
}

std::string ReconnectingClient::send(MessageType type, const json& payload, const SendOptions& options) {
  std::shared_ptr<Client> client;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    client = client_;
  }
  if (!client) throw ConnectionError("reconnecting: not sent");
  return client->send(type, payload, options);
}

std::shared_ptr<Client> ReconnectingClient::current(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait_until(lock, deadline, [this] { return stopping_ || (client_ && client_->connected()); });
  if (stopping_ || !client_) throw ConnectionError("not connected: not sent");
  return client_;
}

Message ReconnectingClient::request(MessageType type, const json& payload, const RequestOptions& options) {
  auto start = std::chrono::steady_clock::now();
  auto bound = options.timeout.value_or(std::chrono::milliseconds(protocol::kRequestTimeoutMs));
  auto client = current(start + bound);
  RequestOptions o = options;
  if (options.timeout) {  // the wait for the connection counts against the request's own timeout
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    o.timeout = std::max(std::chrono::milliseconds(1), *options.timeout - spent);
  }
  Message answer = client->request(type, session_.outgoing(type, payload), o).get();
  session_.accepted(type, payload, answer.payload);
  return answer;
}

void ReconnectingClient::close() {
  std::shared_ptr<Client> client;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !watcher_.joinable()) return;
    stopping_ = true;
    client = client_;
  }
  cv_.notify_all();
  if (client) end(client, true);
  if (watcher_.joinable()) watcher_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  client_.reset();
}

std::chrono::milliseconds ReconnectingClient::delay(int attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  auto base = std::min<long long>(reconnect_.backoff_max.count(), reconnect_.backoff_base.count() * (1LL << std::min(attempt - 1, 20)));
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(std::min<long long>(reconnect_.backoff_max.count(), static_cast<long long>(base * jitter(rng))));
}

void ReconnectingClient::end(const std::shared_ptr<Client>& client, bool graceful) {
  std::lock_guard<std::mutex> lock(close_mutex_);
  if (graceful && client->connected()) client->shutdown("closing");  // closes too
  client->close();  // idempotent when called one after another
}

std::shared_ptr<Client> ReconnectingClient::open_one() {
  auto client = std::make_shared<Client>(options_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [type, handler] : handlers_) client->on(type, handler);
  }
  client->connect(0);
  return client;
}

void ReconnectingClient::tell(const ConnectionEvent& event) {
  if (!reconnect_.on_connection) return;
  try {
    reconnect_.on_connection(event);
  } catch (...) {
    // a failing listener never breaks the client
  }
}

void ReconnectingClient::watch() {
  for (;;) {
    std::shared_ptr<Client> lost;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      lost = client_;
    }
    lost->wait_closed();
    end(lost, false);  // joins its threads; requests in flight have failed with ConnectionError (HS-25)
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      if (lost->draining()) {  // the broker's SHUTDOWN ends the client (HS-23: no reconnection)
        stopping_ = true;
        cv_.notify_all();
      }
    }
    if (lost->draining()) {
      tell({ConnectionEvent::Kind::GaveUp, 0, {}, "the broker shut down"});
      return;
    }
    tell({ConnectionEvent::Kind::Lost, 0, {}, "the connection to the broker was lost"});
    std::shared_ptr<Client> next;
    std::string error;
    int attempt = 0;
    while (!next) {
      ++attempt;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (cv_.wait_for(lock, delay(attempt), [this] { return stopping_; })) return;
      }
      try {
        next = open_one();
      } catch (const RemoteError& e) {  // an id not yet released (HS-19) is retried, any other refusal is final
        error = e.what();
        if (e.code() != protocol::error_name(protocol::ErrorCode::DuplicateClientId)) break;
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!next && reconnect_.max_attempts > 0 && attempt >= reconnect_.max_attempts) break;
    }
    if (!next) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
      }
      cv_.notify_all();
      tell({ConnectionEvent::Kind::GaveUp, attempt, {}, error});
      return;
    }
    // HS-24: restored before the application's requests go to the new connection.
    std::vector<RestoreFailure> failures;
    try {
      failures = session_.restore([&next](MessageType type, const json& payload) { return next->request(type, payload).get().payload; });
    } catch (const std::exception&) {  // lost again or timed out: reconnect again, the record kept
      end(next, false);
      std::lock_guard<std::mutex> lock(mutex_);
      client_ = next;  // closed: the loop's wait returns at once
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      client_ = next;
      ++reconnects_;
    }
    cv_.notify_all();
    tell({ConnectionEvent::Kind::Restored, attempt, std::move(failures), ""});
  }
}

}  // namespace concord
