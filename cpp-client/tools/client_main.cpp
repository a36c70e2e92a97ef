// concord-client: connects to a broker and stays connected, answering PINGs and faulty frames,
// until the broker's SHUTDOWN (answered with SHUTDOWN_ACK, exit 0) or the end of the connection.
//   concord-client --port N [--host H] [--client-id ID] [--retries R]
#include <concord/client.hpp>

#include <csignal>
#include <iostream>
#include <string>

using namespace concord;

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  ClientOptions options;
  int retries = 20;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "concord-client: " << a << " needs a value\n";
        std::exit(64);
      }
      return argv[++i];
    };
    try {
      if (a == "--port") { options.port = static_cast<std::uint16_t>(std::stoul(value())); have_port = true; }
      else if (a == "--host") options.host = value();
      else if (a == "--client-id") options.client_id = value();
      else if (a == "--retries") retries = std::stoi(value());
      else if (a == "--spec-dir") options.spec_dir = value();
      else throw std::invalid_argument(a);
    } catch (const std::exception&) {
      std::cerr << "usage: concord-client --port N [--host H] [--client-id ID] [--retries R] [--spec-dir DIR]\n";
      return 64;
    }
  }
  if (!have_port) {
    std::cerr << "usage: concord-client --port N [--host H] [--client-id ID] [--retries R] [--spec-dir DIR]\n";
    return 64;
  }
  try {
    Client client(options);
    client.connect(retries);
    std::cerr << "[concord-client] connected as " << client.options().client_id << "\n";
    client.wait_closed();
    std::cerr << "[concord-client] connection ended\n";
    client.close();
  } catch (const std::exception& e) {
    std::cerr << "[concord-client] " << e.what() << "\n";
    return 1;
  }
  return 0;
}
