// Example: a REASONING_REQUEST carrying a 768-element float32 vector travels through a broker to a
// second client ("teacher") that answers with a REASONING_RESPONSE, using the seeds' IPCClient API.
//   npx concord broker --port 9999 &      (or any Concord broker)
//   cpp-client/build/example [--host H] [--port N]
#include <concord/messages.hpp>

#include <unistd.h>

#include <cmath>
#include <iostream>
#include <numeric>

using namespace concord;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9999;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--host") host = argv[i + 1];
    else if (a == "--port") port = std::stoi(argv[i + 1]);
  }
  const std::string suffix = std::to_string(::getpid());
  IPCClient teacher("cpp-teacher-" + suffix, "cpp", host, port);
  IPCClient requester("cpp-requester-" + suffix, "cpp", host, port);

  // The teacher answers every REASONING_REQUEST: spikes where the input is positive.
  teacher.on_reasoning_request([](const ReasoningRequest& req) {
    ReasoningResponse resp;
    resp.request_id = req.request_id;
    resp.firing_pattern.resize(req.encoding.size());
    for (std::size_t i = 0; i < req.encoding.size(); ++i) resp.firing_pattern[i] = req.encoding[i] > 0 ? 1 : 0;
    resp.spike_count = std::accumulate(resp.firing_pattern.begin(), resp.firing_pattern.end(), std::uint64_t{0});
    resp.confidence = static_cast<float>(resp.spike_count) / static_cast<float>(req.encoding.size());
    resp.engine = "cpp:teacher";
    resp.latency_ms = 0.25f;
    return resp;
  });

  if (!teacher.connect(10) || !requester.connect(10)) {
    std::cerr << "example: no broker at " << host << ":" << port << " (start one: npx concord broker --port " << port << ")\n";
    return 1;
  }

  ReasoningRequest req;
  req.encoding.resize(768);
  for (std::size_t i = 0; i < req.encoding.size(); ++i) req.encoding[i] = static_cast<float>(std::sin(0.1 * static_cast<double>(i)));
  req.context = "example: 768-element float32 encoding";
  req.source = "cpp";
  req.priority = "normal";
  req.dst = "cpp-teacher-" + suffix;

  int status = 0;
  try {
    ReasoningResponse resp = requester.request_reasoning(req).get();
    std::cout << "REASONING_RESPONSE from " << resp.engine << ": spike_count " << resp.spike_count << ", confidence " << resp.confidence
              << ", firing_pattern of " << resp.firing_pattern.size() << " neurons\n";
    if (resp.firing_pattern.size() != 768) status = 1;
  } catch (const std::exception& e) {
    std::cerr << "example: request failed: " << e.what() << "\n";
    status = 1;
  }
  requester.disconnect();
  teacher.disconnect();
  return status;
}
