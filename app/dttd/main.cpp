// dttd: runs one dtt node from a CAF INI config file (and --key=value flags), joins the
// configured topic, prints every event as one JSON line on stdout and broadcasts every line it
// reads on stdin. Stops on SIGINT/SIGTERM or at the end of stdin (with --dttd.exit-on-eof).
#include "actors/endpoint_record.hpp"
#include "actors/log.hpp"
#include "actors/runtime.hpp"
#include "config/caf_options.hpp"

#include <caf/actor_system.hpp>
#include <caf/config_option_adder.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested = true; }

// dttd's own options. CAF 0.17 does not write INI values of nested sections ([dttd.dht]) into
// variables bound with config_option_adder::add(ref, ...), so, as config/caf_options.cpp does,
// the options are declared and their values read back from the parsed config.
struct daemon_config : dtt::system_config {
  daemon_config() {
    caf::config_option_adder{custom_options_, "dttd"}
      .add<std::string>("topic", "topic name (default \"dtt\")")
      .add<std::string>("secret", "shared secret of the topic (required)")
      .add<std::string>("key-file",
                        "file with the node's 32-byte Ed25519 seed as hex (created if missing)")
      .add<bool>("exit-on-eof", "stop when stdin ends")
      .add<std::string>("state-dir", "directory for the peer cache (empty: none)");
    caf::config_option_adder{custom_options_, "dttd.dht"}
      .add<std::string>("bind", "UDP bind address (default 0.0.0.0)")
      .add<uint16_t>("port", "UDP port (default 0: any)")
      .add<std::vector<std::string>>("bootstrap",
                                     "bootstrap nodes host:port (default: mainline routers)")
      .add<bool>("server", "answer DHT queries and store items (default false)");
    caf::config_option_adder{custom_options_, "dttd.gossip"}
      .add<std::string>("bind", "TCP bind address of the peer transport (default 0.0.0.0)")
      .add<uint16_t>("port", "TCP port (default 0: any)")
      .add<std::vector<std::string>>("advertise",
                                     "ip:port or [ipv6]:port to publish instead of the "
                                     "interface addresses (e.g. a forwarded public port)");
  }
};

struct daemon_settings {
  std::string topic = "dtt";
  std::string secret;
  std::string key_file;
  bool exit_on_eof = false;
  std::string state_dir;
  std::string dht_bind = "0.0.0.0";
  uint16_t dht_port = 0;
  std::vector<std::string> dht_bootstrap;
  bool dht_server = false;
  std::string gossip_bind = "0.0.0.0";
  uint16_t gossip_port = 0;
  std::vector<std::string> advertise;
};

template <class T>
void read(const caf::actor_system_config& cfg, const char* key, T& out) {
  if (auto v = caf::get_if<T>(&cfg, key))
    out = *v;
}

daemon_settings read_settings(const caf::actor_system_config& cfg) {
  daemon_settings s;
  read(cfg, "dttd.topic", s.topic);
  read(cfg, "dttd.secret", s.secret);
  read(cfg, "dttd.key-file", s.key_file);
  read(cfg, "dttd.exit-on-eof", s.exit_on_eof);
  read(cfg, "dttd.state-dir", s.state_dir);
  read(cfg, "dttd.dht.bind", s.dht_bind);
  read(cfg, "dttd.dht.port", s.dht_port);
  read(cfg, "dttd.dht.bootstrap", s.dht_bootstrap);
  read(cfg, "dttd.dht.server", s.dht_server);
  read(cfg, "dttd.gossip.bind", s.gossip_bind);
  read(cfg, "dttd.gossip.port", s.gossip_port);
  read(cfg, "dttd.gossip.advertise", s.advertise);
  return s;
}

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
  auto set = read_settings(cfg);
  if (set.secret.empty()) {
    std::cerr << "dttd: dttd.secret is required" << std::endl;
    return 2;
  }
  auto key = load_or_create_key(set.key_file);
  if (!key) {
    std::cerr << "dttd: " << key.err().message() << std::endl;
    return 2;
  }
  auto tracker_cfg = load_config(cfg);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  caf::actor_system sys{cfg};
  runtime_options ro;
  ro.dht.bind_address = set.dht_bind;
  ro.dht.port = set.dht_port;
  if (!set.dht_bootstrap.empty())
    ro.dht.bootstrap = set.dht_bootstrap;
  ro.dht.read_only = !set.dht_server;
  ro.state_dir = set.state_dir;
  ro.gossip.transport.bind = {set.gossip_bind, set.gossip_port};
  if (!set.advertise.empty()) {
    std::string text; // the endpoint record's own syntax and checks
    for (auto& a : set.advertise)
      text += (text.empty() ? "" : " ") + a;
    auto addrs = decode_endpoint_record(byte_view::of(text));
    if (!addrs) {
      std::cerr << "dttd: dttd.gossip.advertise: " << addrs.err().message() << std::endl;
      return 2;
    }
    ro.advertise = std::move(*addrs);
  }
  log::info("DHT on {}:{} ({}), bootstrapping from {} address(es); gossip on {}:{}",
            ro.dht.bind_address, ro.dht.port, ro.dht.read_only ? "client" : "server",
            ro.dht.bootstrap.size(), set.gossip_bind, set.gossip_port);
  auto rt = runtime::start(sys, *key, ro);
  if (!rt) {
    std::cerr << "dttd: " << rt.err().message() << std::endl;
    return 1;
  }
  auto& node = (*rt)->node();
  std::cout << nlohmann::json{{"event", "started"}, {"id", to_hex(node.id())}}.dump() << std::endl;
  auto t = std::make_unique<topic>(node.join_no_wait(set.topic, byte_view::of(set.secret),
                                                     tracker_cfg));
  std::atomic<bool> input_done{false};
  std::thread input([&] {
    std::string line;
    while (!stop_requested && std::getline(std::cin, line)) {
      // Back-pressure (errc::busy): wait for the links to drain instead of dropping the line;
      // reading stdin pauses meanwhile.
      auto st = t->broadcast(bytes(line.begin(), line.end()));
      for (int ms = 1; !st && st.err().code == errc::busy && !stop_requested;
           ms = std::min(ms * 2, 200)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        st = t->broadcast(bytes(line.begin(), line.end()));
      }
      if (!st)
        log::warn("broadcast failed: {}", st.err().message());
    }
    input_done = true;
  });
  while (!stop_requested && !(set.exit_on_eof && input_done)) {
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
