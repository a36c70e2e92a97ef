// What a broker forgets when a connection closes (HS-19) and a reconnecting client restores (HS-24):
// bus subscriptions, bus handlers and registered services, recorded as the broker accepts them. The
// application keeps the subscription ids it was given: after a restore, BUS_UNSUBSCRIBE is
// translated to the new id and each BUS_EVENT back to the original one.
#pragma once

#include <concord/codec.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace concord {

/// A restoration the broker refused (reported to the application, never dropped silently).
struct RestoreFailure {
  MessageType type;
  json payload;
  std::string error;
};

class SessionRecord {
 public:
  /// Sends one request on the new connection and returns its answer's payload (throws on ERROR).
  using Request = std::function<json(MessageType, const json&)>;

  /// The payload to send: an unsubscription names the subscription's current id.
  json outgoing(MessageType type, const json& payload) const;
  /// Records a request the broker accepted (`payload` as the application gave it).
  void accepted(MessageType type, const json& payload, const json& answer);
  /// The payload the application sees: a BUS_EVENT names the subscription id it was given.
  json incoming(MessageType type, const json& payload) const;
  /// Replays every record (services, handlers, subscriptions); returns what the broker refused
  /// (RemoteError), each dropped from the record so that it is reported once. Any other exception
  /// (a lost connection, a timeout) propagates and keeps the record.
  std::vector<RestoreFailure> restore(const Request& request);

 private:
  struct Subscription {
    std::string event_type;
    std::string current_id;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Subscription> subscriptions_;  // original id -> current
  std::map<std::string, json> handlers_;               // message_type -> BUS_REGISTER_HANDLER payload
  std::map<std::string, json> services_;               // service name -> SERVICE_REGISTER payload
};

}  // namespace concord
