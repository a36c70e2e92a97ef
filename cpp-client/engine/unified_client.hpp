// The unified engine service from C++ (spec section engine, ENG-9 to ENG-15): a thin helper over a
// connected Client that routes engine requests to the service (`unified-engine` by default) with the
// `engine` hint, and reads its metrics and status (ENGINE_STATUS_REQ, protocol 1.1).
#pragma once

#include <concord/concord.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace concord::engine {

inline constexpr const char* kUnifiedEngineId = "unified-engine";

class UnifiedEngineClient {
 public:
  explicit UnifiedEngineClient(Client& client, std::string service = kUnifiedEngineId, std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : client_(client), service_(std::move(service)), timeout_(timeout) {}

  /// The chosen engine's REASONING_RESPONSE (with `cached`, and `engine_results`/`agreement` in redundant
  /// mode); throws RemoteError naming every engine tried (details.attempts) when none answered.
  json reason(const std::vector<float>& encoding, const std::string& context = "", const std::string& hint = "auto") {
    static const std::vector<std::string> hints{"auto", "typescript", "python", "cpp", "redundant"};
    if (std::find(hints.begin(), hints.end(), hint) == hints.end()) throw std::invalid_argument("UnifiedEngineClient::reason: unknown engine hint " + hint);
    return ask(MessageType::ReasoningRequest, {{"encoding", ndarray_value(NDArray::vector_f4(encoding))}, {"context", context}, {"source", "cpp"}, {"engine", hint}});
  }

  /// FEEDBACK applied by every engine behind the service; the ACK's state_digest and state_version.
  json feedback(const std::vector<float>& encoding, double reward) {
    return ask(MessageType::Feedback, {{"encoding", ndarray_value(NDArray::vector_f4(encoding))}, {"reward", reward}});
  }

  /// {"metrics": {...}, "status": {...}}: the service's getMetrics() and getStatus().
  json status() { return ask(MessageType::EngineStatusReq, json::object()); }

 private:
  json ask(MessageType type, const json& payload) {
    RequestOptions o;
    o.dst = service_;
    o.timeout = timeout_;
    return client_.request(type, payload, o).get().payload;
  }

  Client& client_;
  std::string service_;
  std::chrono::milliseconds timeout_;
};

}  // namespace concord::engine
