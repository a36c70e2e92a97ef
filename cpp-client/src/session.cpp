#include <concord/errors.hpp>
#include <concord/session.hpp>

namespace concord {

namespace {
std::string text(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

json SessionRecord::outgoing(MessageType type, const json& payload) const {
  if (type != MessageType::BusUnsubscribe || !payload.is_object()) return payload;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = subscriptions_.find(text(payload, "subscription_id"));
  if (it == subscriptions_.end()) return payload;
  json out = payload;
  out["subscription_id"] = it->second.current_id;
  return out;
}

void SessionRecord::accepted(MessageType type, const json& payload, const json& answer) {
  if (!payload.is_object()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  switch (type) {
    case MessageType::BusSubscribe:
      if (answer.is_object()) subscriptions_[text(answer, "subscription_id")] = {text(payload, "event_type"), text(answer, "subscription_id")};
      break;
    case MessageType::BusUnsubscribe: subscriptions_.erase(text(payload, "subscription_id")); break;
    case MessageType::BusRegisterHandler: handlers_[text(payload, "message_type")] = payload; break;
    case MessageType::BusUnregisterHandler: handlers_.erase(text(payload, "message_type")); break;
    case MessageType::ServiceRegister:
      if (payload.contains("service") && payload["service"].is_object()) services_[text(payload["service"], "name")] = payload;
      break;
    case MessageType::ServiceUnregister: services_.erase(text(payload, "name")); break;
    default: break;
  }
}

json SessionRecord::incoming(MessageType type, const json& payload) const {
  if (type != MessageType::BusEvent || !payload.is_object()) return payload;
  const std::string current = text(payload, "subscription_id");
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [original, sub] : subscriptions_) {
    if (sub.current_id != current) continue;
    json out = payload;
    out["subscription_id"] = original;
    return out;
  }
  return payload;
}

std::vector<RestoreFailure> SessionRecord::restore(const Request& request) {
  std::map<std::string, json> services, handlers;
  std::map<std::string, Subscription> subscriptions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    services = services_;
    handlers = handlers_;
    subscriptions = subscriptions_;
  }
  std::vector<RestoreFailure> failures;
  auto replay = [&](MessageType type, const json& payload, json& answer) {
    try {
      answer = request(type, payload);
      return true;
    } catch (const RemoteError& e) {  // the broker refused; a lost connection or a timeout propagates and keeps the record
      failures.push_back({type, payload, e.what()});
      return false;
    }
  };
  json answer;
  for (const auto& [name, payload] : services) {
    if (!replay(MessageType::ServiceRegister, payload, answer)) {
      std::lock_guard<std::mutex> lock(mutex_);
      services_.erase(name);
    }
  }
  for (const auto& [message_type, payload] : handlers) {
    if (!replay(MessageType::BusRegisterHandler, payload, answer)) {
      std::lock_guard<std::mutex> lock(mutex_);
      handlers_.erase(message_type);
    }
  }
  for (const auto& [original, sub] : subscriptions) {
    bool ok = replay(MessageType::BusSubscribe, json{{"event_type", sub.event_type}}, answer);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!ok) subscriptions_.erase(original);
    else if (auto it = subscriptions_.find(original); it != subscriptions_.end()) it->second.current_id = text(answer, "subscription_id");
  }
  return failures;
}

}  // namespace concord
