#include <concord/messages.hpp>

#include <iostream>

namespace concord {

namespace {

json f32(float v) { return static_cast<double>(v); }  // ENC-15: the binary64 value of the binary32

json vector_value(const std::vector<float>& v) { return ndarray_value(NDArray::vector_f4(v)); }

json bytes_value(const std::vector<std::uint8_t>& v) { return ndarray_value(NDArray::from_values<std::uint8_t>("|u1", {v.size()}, v)); }

std::vector<float> floats_of(const json& v) {
  NDArray a = ndarray_from_value(v);
  if (a.kind() != 'f' || a.itemsize() != 4) throw std::invalid_argument("not a float32 ndarray");
  return a.values<float>();
}

std::vector<std::uint8_t> bytes_of(const json& v) { return ndarray_from_value(v).values<std::uint8_t>(); }

std::future<ReasoningResponse> map_future(std::future<Message> f) {
  return std::async(std::launch::deferred, [f = std::move(f)]() mutable { return ReasoningResponse::from_message(f.get()); });
}

}  // namespace

json ReasoningRequest::to_payload() const {
  json p = {{"encoding", vector_value(encoding)}, {"context", context}, {"source", source}};
  if (priority) p["priority"] = *priority;
  if (engine) p["engine"] = *engine;
  return p;
}

ReasoningRequest ReasoningRequest::from_message(const Message& m) {
  ReasoningRequest r;
  r.request_id = m.id();
  r.src = m.header.value("src", std::string());
  r.encoding = floats_of(m.payload.at("encoding"));
  r.context = m.payload.at("context").get<std::string>();
  r.source = m.payload.at("source").get<std::string>();
  if (m.payload.contains("priority")) r.priority = m.payload["priority"].get<std::string>();
  if (m.payload.contains("engine")) r.engine = m.payload["engine"].get<std::string>();
  return r;
}

json ReasoningResponse::to_payload() const {
  json p = {{"spike_count", spike_count}, {"confidence", f32(confidence)}, {"firing_pattern", bytes_value(firing_pattern)},
            {"engine", engine}, {"latency_ms", f32(latency_ms)}};
  if (activations) p["activations"] = vector_value(*activations);
  if (state_digest) p["state_digest"] = *state_digest;
  return p;
}

ReasoningResponse ReasoningResponse::from_message(const Message& m) {
  ReasoningResponse r;
  r.request_id = m.re().value_or("");
  const json& p = m.payload;
  r.spike_count = p.at("spike_count").get<std::uint64_t>();
  r.confidence = static_cast<float>(p.at("confidence").get<double>());
  r.firing_pattern = bytes_of(p.at("firing_pattern"));
  if (p.contains("activations")) r.activations = floats_of(p["activations"]);
  r.engine = p.at("engine").get<std::string>();
  r.latency_ms = static_cast<float>(p.at("latency_ms").get<double>());
  if (p.contains("state_digest")) r.state_digest = p["state_digest"].get<std::string>();
  return r;
}

json MtlCoordinate::to_payload() const {
  json outputs = json::array();
  for (const auto& t : teacher_outputs) {
    json o = {{"teacher_id", t.teacher_id}, {"confidence", f32(t.confidence)}, {"spike_count", t.spike_count}};
    if (t.firing_pattern) o["firing_pattern"] = bytes_value(*t.firing_pattern);
    outputs.push_back(o);
  }
  json p = {{"coordination_id", coordination_id}, {"teacher_outputs", outputs}};
  if (encoding) p["encoding"] = vector_value(*encoding);
  if (disagreement_score) p["disagreement_score"] = f32(*disagreement_score);
  return p;
}

MtlCoordinate MtlCoordinate::from_message(const Message& m) {
  MtlCoordinate c;
  const json& p = m.payload;
  c.coordination_id = p.at("coordination_id").get<std::string>();
  for (const auto& o : p.at("teacher_outputs")) {
    TeacherOutput t;
    t.teacher_id = o.at("teacher_id").get<std::string>();
    t.confidence = static_cast<float>(o.at("confidence").get<double>());
    t.spike_count = o.at("spike_count").get<std::uint64_t>();
    if (o.contains("firing_pattern")) t.firing_pattern = bytes_of(o["firing_pattern"]);
    c.teacher_outputs.push_back(std::move(t));
  }
  if (p.contains("encoding")) c.encoding = floats_of(p["encoding"]);
  if (p.contains("disagreement_score")) c.disagreement_score = static_cast<float>(p["disagreement_score"].get<double>());
  return c;
}

json TeacherSync::to_payload() const {
  json p = {{"coordination_id", coordination_id}, {"teacher_count", teacher_count}, {"disagreement", f32(disagreement)},
            {"learning_rates", learning_rates}};
  if (state_version) p["state_version"] = *state_version;
  if (state_digest) p["state_digest"] = *state_digest;
  return p;
}

TeacherSync TeacherSync::from_message(const Message& m) {
  TeacherSync s;
  const json& p = m.payload;
  s.coordination_id = p.at("coordination_id").get<std::string>();
  s.teacher_count = p.at("teacher_count").get<std::uint64_t>();
  s.disagreement = static_cast<float>(p.at("disagreement").get<double>());
  for (const auto& [k, v] : p.at("learning_rates").items()) s.learning_rates[k] = v.get<double>();
  if (p.contains("state_version")) s.state_version = p["state_version"].get<std::uint64_t>();
  if (p.contains("state_digest")) s.state_digest = p["state_digest"].get<std::string>();
  return s;
}

json Feedback::to_payload() const {
  json p = {{"encoding", vector_value(encoding)}, {"reward", f32(reward)}};
  if (learning_rate) p["learning_rate"] = f32(*learning_rate);
  if (request_ref) p["request_ref"] = *request_ref;
  return p;
}

Feedback Feedback::from_message(const Message& m) {
  const json& p = m.payload;
  Feedback f;
  f.encoding = floats_of(p.at("encoding"));
  f.reward = p.at("reward").get<float>();
  if (p.contains("learning_rate")) f.learning_rate = p["learning_rate"].get<float>();
  if (p.contains("request_ref")) f.request_ref = p["request_ref"].get<std::string>();
  return f;
}

json StateUpdate::to_payload() const {
  json p = {{"layer", layer}, {"weights", ndarray_value(NDArray::from_values<float>("<f4", {rows, columns}, weights))}, {"state_version", state_version}};
  if (state_digest) p["state_digest"] = *state_digest;
  return p;
}

StateUpdate StateUpdate::from_message(const Message& m) {
  const json& p = m.payload;
  StateUpdate s;
  s.layer = p.at("layer").get<std::uint32_t>();
  NDArray w = ndarray_from_value(p.at("weights"));
  if (w.kind() != 'f' || w.itemsize() != 4 || w.shape().size() != 2) throw std::invalid_argument("STATE_UPDATE weights: not a float32 matrix");
  s.rows = w.shape()[0];
  s.columns = w.shape()[1];
  s.weights = w.values<float>();
  s.state_version = p.at("state_version").get<std::uint64_t>();
  if (p.contains("state_digest")) s.state_digest = p["state_digest"].get<std::string>();
  return s;
}

json ParameterSync::to_payload() const {
  json p = {{"parameters", parameters}};
  if (state_version) p["state_version"] = *state_version;
  return p;
}

ParameterSync ParameterSync::from_message(const Message& m) {
  ParameterSync s;
  s.parameters = m.payload.at("parameters").get<std::map<std::string, double>>();
  if (m.payload.contains("state_version")) s.state_version = m.payload["state_version"].get<std::uint64_t>();
  return s;
}

ClientOptions IPCClient::make_options(std::string client_id, std::string language, std::string host, int port) {
  ClientOptions o;
  o.client_id = std::move(client_id);
  o.language = std::move(language);
  o.host = host == "localhost" ? std::string("127.0.0.1") : std::move(host);
  o.port = static_cast<std::uint16_t>(port);
  return o;
}

IPCClient::IPCClient(std::string client_id, std::string language, std::string host, int port)
    : client_(make_options(std::move(client_id), std::move(language), std::move(host), port)) {}

bool IPCClient::connect(int retries) {
  try {
    client_.connect(retries);
    return true;
  } catch (const std::exception& e) {
    std::cerr << "[concord] connect failed: " << e.what() << "\n";
    return false;
  }
}

void IPCClient::disconnect() { client_.shutdown("disconnect", std::chrono::milliseconds(2000)); }

std::future<ReasoningResponse> IPCClient::request_reasoning(const ReasoningRequest& req) {
  RequestOptions o;
  o.dst = req.dst;
  return map_future(client_.request(MessageType::ReasoningRequest, req.to_payload(), o));
}

void IPCClient::send_response(const ReasoningResponse& resp) {
  SendOptions o;
  o.re = resp.request_id;
  client_.send(MessageType::ReasoningResponse, resp.to_payload(), o);
}

std::future<TeacherSync> IPCClient::send_mtl_signal(const MtlCoordinate& signal) {
  RequestOptions o;
  o.dst = signal.dst;
  auto f = client_.request(MessageType::MtlCoordinate, signal.to_payload(), o);
  return std::async(std::launch::deferred, [f = std::move(f)]() mutable { return TeacherSync::from_message(f.get()); });
}

namespace {
std::future<json> ack_payload(std::future<Message> f) {
  return std::async(std::launch::deferred, [f = std::move(f)]() mutable { return f.get().payload; });
}
}  // namespace

std::future<json> IPCClient::send_feedback(const Feedback& feedback) {
  RequestOptions o;
  o.dst = feedback.dst;
  return ack_payload(client_.request(MessageType::Feedback, feedback.to_payload(), o));
}

std::future<json> IPCClient::send_state_update(const StateUpdate& update) {
  RequestOptions o;
  o.dst = update.dst;
  return ack_payload(client_.request(MessageType::StateUpdate, update.to_payload(), o));
}

std::future<json> IPCClient::send_parameter_sync(const ParameterSync& sync) {
  RequestOptions o;
  o.dst = sync.dst;
  return ack_payload(client_.request(MessageType::ParameterSync, sync.to_payload(), o));
}

json IPCClient::request(MessageType type, const json& payload, const std::string& dst, std::optional<std::chrono::milliseconds> timeout) {
  RequestOptions o;
  o.dst = dst;
  o.timeout = timeout;
  return client_.request(type, payload, o).get().payload;
}

json IPCClient::send(MessageType type, const json& payload, const std::string& dst) {
  const MessageSpec* spec = client_.codec().catalog().by_type(type);
  if (spec && spec->kind == "request") return request(type, payload, dst);
  SendOptions o;
  o.dst = dst;
  client_.send(type, payload, o);
  return nullptr;
}

void IPCClient::on_reasoning_request(std::function<ReasoningResponse(const ReasoningRequest&)> compute) {
  client_.on(MessageType::ReasoningRequest, [compute](const Message& m) { return compute(ReasoningRequest::from_message(m)).to_payload(); });
}

}  // namespace concord
