// Typed messages for the reasoning and multi-teacher types (catalog sections 9.2 and 9.4) and the
// seeds' IPCClient API on top of concord::Client.
#pragma once

#include <concord/client.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace concord {

/// REASONING_REQUEST (0x10), routed to an engine or teacher.
struct ReasoningRequest {
  std::string request_id;        // the frame id it was received with (set by from_message)
  std::vector<float> encoding;   // float32 vector, 1 .. 65,536 elements
  std::string context;
  std::string source = "cpp";
  std::optional<std::string> priority;  // realtime, high, normal, low, idle
  std::optional<std::string> engine;    // auto, typescript, python, cpp, redundant
  std::string dst;                      // destination client id or service name
  std::string src;                      // the requester (set by the broker on receipt)

  json to_payload() const;
  static ReasoningRequest from_message(const Message& m);
};

/// REASONING_RESPONSE (0x11): the answer to a REASONING_REQUEST.
struct ReasoningResponse {
  std::string request_id;  // the id of the request it answers (`re`)
  std::uint64_t spike_count = 0;
  float confidence = 0;    // float32, [0, 1]
  std::vector<std::uint8_t> firing_pattern;  // one 0/1 per neuron, sent as `|u1`
  std::optional<std::vector<float>> activations;
  std::string engine = "cpp";
  float latency_ms = 0;
  std::optional<std::string> state_digest;

  json to_payload() const;
  static ReasoningResponse from_message(const Message& m);
};

struct TeacherOutput {
  std::string teacher_id;
  float confidence = 0;
  std::uint64_t spike_count = 0;
  std::optional<std::vector<std::uint8_t>> firing_pattern;
};

/// MTL_COORDINATE (0x30), answered by TEACHER_SYNC; the seeds' MTLCoordinationSignal.
struct MtlCoordinate {
  std::string coordination_id;
  std::vector<TeacherOutput> teacher_outputs;  // 2 .. 64
  std::optional<std::vector<float>> encoding;
  std::optional<float> disagreement_score;
  std::string dst;  // the coordinator

  json to_payload() const;
  static MtlCoordinate from_message(const Message& m);
};
using MTLCoordinationSignal = MtlCoordinate;

/// TEACHER_SYNC (0x31).
struct TeacherSync {
  std::string coordination_id;
  std::uint64_t teacher_count = 0;
  float disagreement = 0;
  std::map<std::string, double> learning_rates;
  std::optional<std::uint64_t> state_version;
  std::optional<std::string> state_digest;

  json to_payload() const;
  static TeacherSync from_message(const Message& m);
};

/// FEEDBACK (0x20), answered by ACK: a reward for the connections an encoding made fire.
struct Feedback {
  std::vector<float> encoding;
  float reward = 0;  // [-1, 1]
  std::optional<float> learning_rate;
  std::optional<std::string> request_ref;
  std::string dst;

  json to_payload() const;
  static Feedback from_message(const Message& m);
};

/// STATE_UPDATE (0x21), answered by ACK: one layer's weights (rows = neurons, columns = inputs).
struct StateUpdate {
  std::uint32_t layer = 0;
  std::uint64_t rows = 0, columns = 0;
  std::vector<float> weights;  // row-major, rows x columns
  std::uint64_t state_version = 0;
  std::optional<std::string> state_digest;
  std::string dst;

  json to_payload() const;
  static StateUpdate from_message(const Message& m);
};

/// PARAMETER_SYNC (0x22), answered by ACK.
struct ParameterSync {
  std::map<std::string, double> parameters;  // 1 .. 256
  std::optional<std::uint64_t> state_version;
  std::string dst;

  json to_payload() const;
  static ParameterSync from_message(const Message& m);
};

/**
 * The seeds' C++ API over a Concord connection. connect() returns false instead of throwing;
 * the other calls throw ConnectionError when not connected.
 */
class IPCClient {
 public:
  IPCClient(std::string client_id, std::string language = "cpp", std::string host = "127.0.0.1", int port = 9999);

  /// Connects with `retries` retries and exponential backoff; false when it fails.
  bool connect(int retries = 5);
  /// SHUTDOWN, drain, close.
  void disconnect();
  bool connected() const { return client_.connected(); }

  /// Sends REASONING_REQUEST to `req.dst`; the future holds the REASONING_RESPONSE.
  std::future<ReasoningResponse> request_reasoning(const ReasoningRequest& req);
  /// Answers a received REASONING_REQUEST (re = resp.request_id).
  void send_response(const ReasoningResponse& resp);
  /// Sends MTL_COORDINATE to `signal.dst`; the future holds the TEACHER_SYNC.
  std::future<TeacherSync> send_mtl_signal(const MtlCoordinate& signal);

  /// Sends FEEDBACK, STATE_UPDATE, PARAMETER_SYNC to `dst`; each future holds the ACK's payload.
  std::future<json> send_feedback(const Feedback& feedback);
  std::future<json> send_state_update(const StateUpdate& update);
  std::future<json> send_parameter_sync(const ParameterSync& sync);

  /// Any message by type: a request waits for its answer and returns its payload (throws
  /// RemoteError, TimeoutError, ConnectionError); a notification returns null once written.
  json send(MessageType type, const json& payload = nullptr, const std::string& dst = "");
  /// A request; returns the response payload.
  json request(MessageType type, const json& payload = nullptr, const std::string& dst = "", std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// The handler of incoming `type` (see Client::Handler), replacing an earlier one.
  void register_handler(MessageType type, Client::Handler handler) { client_.on(type, std::move(handler)); }

  /// Answers every REASONING_REQUEST with `compute` (on the dispatcher thread).
  void on_reasoning_request(std::function<ReasoningResponse(const ReasoningRequest&)> compute);

  Client& client() { return client_; }

 private:
  static ClientOptions make_options(std::string client_id, std::string language, std::string host, int port);
  Client client_;
};

}  // namespace concord
