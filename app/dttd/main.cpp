// dttd: runs one dtt node from a CAF INI config file (and --key=value flags), joins the
// configured topic, prints every event as one JSON line on stdout and broadcasts every line it
// reads on stdin. Stops on SIGINT/SIGTERM or at the end of stdin (with --dttd.exit-on-eof).
#include "actors/log.hpp"
#include "actors/runtime.hpp"
#include "config/caf_options.hpp"

#include <caf/actor_system.hpp>
#include <caf/config_option_adder.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested = true; }

struct daemon_config : dtt::system_config {
  std::string topic = "dtt";
  std::string secret;
  std::string key_file;
  std::string dht_bind = "0.0.0.0";
  uint16_t dht_port = 0;
  std::vector<std::string> dht_bootstrap;
  bool dht_server = false;
  std::string gossip_bind = "0.0.0.0";
  uint16_t gossip_port = 0;
  std::vector<std::string> advertise;
  bool exit_on_eof = false;

  daemon_config() {
    caf::config_option_adder{custom_options_, "dttd"}
      .add(topic, "topic", "topic name")
      .add(secret, "secret", "shared secret of the topic")
      .add(key_file, "key-file", "file with the node's 32-byte Ed25519 seed as hex (created if missing)")
      .add(exit_on_eof, "exit-on-eof", "stop when stdin ends");
    caf::config_option_adder{custom_options_, "dttd.dht"}
      .add(dht_bind, "bind", "UDP bind address")
      .add(dht_port, "port", "UDP port (0: any)")
      .add(dht_bootstrap, "bootstrap", "bootstrap nodes host:port (default: mainline routers)")
      .add(dht_server, "server", "answer DHT queries and store items (BEP 43 off)");
    caf::config_option_adder{custom_options_, "dttd.gossip"}
      .add(gossip_bind, "bind", "TCP bind address of the peer transport")
      .add(gossip_port, "port", "TCP port (0: any)");
  }
};

dtt::result<dtt::crypto::signing_key> load_or_create_key(const std::string& path) {
  using namespace dtt;
  if (path.empty())
    return crypto::signing_key::generate();
  std::ifstream in(path);
  if (in) {
    std::string hex;
    in >> hex;
    auto seed = array_from_hex<32>(hex);
    if (!seed)
      return error{errc::malformed, "key file " + path + " does not hold 64 hex digits"};
    return crypto::signing_key::from_seed(*seed);
  }
  auto key = crypto::signing_key::generate();
  std::ofstream out(path);
  if (!out)
    return error{errc::io_error, "cannot write key file " + path};
  out << to_hex(key.seed()) << "\n";
  return key;
}

std::string kind_name(dtt::gossip::event::kind k) {
  switch (k) {
    case dtt::gossip::event::kind::neighbor_up: return "neighbor_up";
    case dtt::gossip::event::kind::neighbor_down: return "neighbor_down";
    case dtt::gossip::event::kind::received: return "received";
    case dtt::gossip::event::kind::lagged: return "lagged";
  }
  return "unknown";
}

} // namespace

int main(int argc, char** argv) {
  using namespace dtt;
  daemon_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "dttd: bad configuration: " << caf::to_string(err) << std::endl;
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.secret.empty()) {
    std::cerr << "dttd: dttd.secret is required" << std::endl;
    return 2;
  }
  auto key = load_or_create_key(cfg.key_file);
  if (!key) {
    std::cerr << "dttd: " << key.err().message() << std::endl;
    return 2;
  }
  auto tracker_cfg = load_config(cfg);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  caf::actor_system sys{cfg};
  runtime_options ro;
  ro.dht.bind_address = cfg.dht_bind;
  ro.dht.port = cfg.dht_port;
  if (!cfg.dht_bootstrap.empty())
    ro.dht.bootstrap = cfg.dht_bootstrap;
  ro.dht.read_only = !cfg.dht_server;
  ro.gossip.transport.bind = {cfg.gossip_bind, cfg.gossip_port};
  auto rt = runtime::start(sys, *key, ro);
  if (!rt) {
    std::cerr << "dttd: " << rt.err().message() << std::endl;
    return 1;
  }
  auto& node = (*rt)->node();
  std::cout << nlohmann::json{{"event", "started"}, {"id", to_hex(node.id())}}.dump() << std::endl;
  auto t = std::make_unique<topic>(node.join_no_wait(cfg.topic, byte_view::of(cfg.secret),
                                                     tracker_cfg));
  std::atomic<bool> input_done{false};
  std::thread input([&] {
    std::string line;
    while (!stop_requested && std::getline(std::cin, line)) {
      if (auto st = t->broadcast(bytes(line.begin(), line.end())); !st)
        log::warn("broadcast failed: {}", st.err().message());
    }
    input_done = true;
  });
  while (!stop_requested && !(cfg.exit_on_eof && input_done)) {
    auto ev = t->next(std::chrono::milliseconds(200));
    if (!ev)
      continue;
    nlohmann::json j{{"event", kind_name(ev->k)}, {"peer", to_hex(ev->peer)}};
    if (ev->k == gossip::event::kind::received)
      j["content"] = std::string(ev->content.begin(), ev->content.end());
    std::cout << j.dump() << std::endl;
  }
  stop_requested = true;
  if (input.joinable())
    input.detach(); // blocked in getline; the process is exiting
  t.reset();
  rt->reset();
  return 0;
}
