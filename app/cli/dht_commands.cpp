#include "app/cli/dht_commands.hpp"

#include "dht/udp_node.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>
#include <optional>

namespace dtt::app {

namespace {

using nlohmann::json;

struct dht_cli_options {
  std::vector<std::string> bootstrap;
  std::string bind = "0.0.0.0";
  double timeout_s = 10; // PROTOCOL.md §4.2/§4.3: 10 s put/get timeouts
  std::string salt_hex;
  std::string salt;
  // put
  std::string seed_hex;
  std::string value;
  std::string value_hex;
  int64_t seq = INT64_MAX; // PROTOCOL.md §4.2: dtt writers use seq = cas = i64::MAX
  int64_t cas = -1;        // < 0: no cas
  // get
  std::string key_hex;
  bool verbose = false;  // print what the DHT saw (stderr)
};

// --verbose: what the lookup saw, one JSON line on stderr (stdout keeps the results).
void print_summary(const dht::completion& c, const dht::udp_node& n,
                   std::chrono::steady_clock::time_point started) {
  json errors = json::object();
  for (auto& [code, k] : c.errors)
    errors[std::to_string(code)] = k;
  json closest = json::array();
  for (auto& e : c.closest)
    closest.push_back(e.ep.to_string());
  auto stats = n.stats();
  json refused = json::object();
  for (auto& [name, v] : stats)
    if (v > 0 && (name.rfind("refused_", 0) == 0 || name.rfind("errors_in_", 0) == 0))
      refused[name] = v;
  json out = {
    {"ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
             .count()},
    {"responders", c.responses},
    {"queries", c.queries},
    {"timeouts", c.timeouts},
    {"stalled", c.stalls},
    {"errors_by_code", errors},
    {"invalid_items", c.invalid_items},
    {"malformed_replies", c.malformed},
    {"hops", c.hops},
    {"lookup_time_bound_reached", c.timed_out},
    {"closest_responders", closest},
    {"node", {{"malformed_packets", stats["bad_packets"]},
              {"late_responses", stats["late_responses"]},
              {"responses_after_timeout", stats["responses_after_timeout"]},
              {"short_timeouts", stats["short_timeouts"]},
              {"timeouts", stats["timeouts"]},
              {"counters", refused}}},
    {"summary", dht::summary(c)},
  };
  std::cerr << out.dump() << std::endl;
}

[[noreturn]] void die(const std::string& why) {
  std::cerr << "dtt dht: " << why << std::endl;
  std::exit(1);
}

bytes salt_of(const dht_cli_options& o) {
  if (!o.salt_hex.empty()) {
    auto b = from_hex(o.salt_hex);
    if (!b)
      die("--salt-hex is not hex");
    return *b;
  }
  return bytes(o.salt.begin(), o.salt.end());
}

/// Runs one command on a fresh read-only node; `issue` starts it and returns nothing.
template <class Issue>
void run_node(const dht_cli_options& o, Issue issue) {
  boost::asio::io_context io;
  dht::udp_node_options uo;
  uo.bind_address = o.bind;
  uo.bootstrap = o.bootstrap.empty() ? dht::default_bootstrap_routers() : o.bootstrap;
  uo.node.read_only = true; // a client: answers no queries (BEP 43)
  auto node = dht::udp_node::create(io, uo);
  if (!node)
    die(node.err().message());
  auto n = *node;
  boost::asio::steady_timer deadline(io);
  deadline.expires_after(std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000)));
  bool timed_out = false;
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (ec)
      return;
    timed_out = true;
    n->stop();
  });
  auto finish = [&] {
    deadline.cancel();
    n->stop();
  };
  n->start();
  issue(*n, finish);
  io.run();
  if (timed_out)
    die("timed out after " + std::to_string(static_cast<int64_t>(o.timeout_s * 1000)) + " ms");
}

void run_put(const dht_cli_options& o) {
  auto seed = array_from_hex<32>(o.seed_hex);
  if (!seed)
    die("--seed must be 64 hex digits (an Ed25519 seed)");
  bytes value;
  if (!o.value_hex.empty()) {
    auto b = from_hex(o.value_hex);
    if (!b)
      die("--value-hex is not hex");
    value = *b;
  } else {
    value.assign(o.value.begin(), o.value.end());
  }
  auto key = crypto::signing_key::from_seed(*seed);
  auto item = dht::mutable_item::sign(key, salt_of(o), o.seq, value);
  if (auto v = item.verify(); !v)
    die(v.err().message());
  std::optional<int64_t> cas;
  if (o.cas >= 0)
    cas = o.cas;
  bool ok = false;
  auto started = std::chrono::steady_clock::now();
  run_node(o, [&](dht::udp_node& n, auto& finish) {
    n.put_mutable(item, cas, [&](const dht::completion& c) {
      ok = c.put.ok();
      if (o.verbose)
        print_summary(c, n, started);
      json out = {{"target", to_hex(item.target())},
                  {"public_key", to_hex(item.key)},
                  {"seq", item.seq},
                  {"ok", c.put.ok()},
                  {"stored", c.put.stored},
                  {"cas_mismatch", c.put.cas_mismatch},
                  {"seq_too_small", c.put.seq_too_small},
                  {"other_errors", c.put.other_errors},
                  {"no_response", c.put.no_response}};
      std::cout << out.dump() << std::endl;
      finish();
    });
  });
  if (!ok)
    std::exit(2);
}

void run_get(const dht_cli_options& o) {
  auto key = array_from_hex<32>(o.key_hex);
  if (!key)
    die("--key must be 64 hex digits (an Ed25519 public key)");
  size_t found = 0;
  auto started = std::chrono::steady_clock::now();
  run_node(o, [&](dht::udp_node& n, auto& finish) {
    n.get_mutable(
      *key, salt_of(o),
      [&](const dht::mutable_item& it) {
        ++found;
        json line = {{"seq", it.seq},
                     {"value_hex", to_hex(it.value)},
                     {"signature", to_hex(it.signature)}};
        std::cout << line.dump() << std::endl;
      },
      [&](const dht::completion& c) {
        if (o.verbose)
          print_summary(c, n, started);
        finish();
      });
  });
  if (found == 0)
    std::exit(2);
}

void add_common(CLI::App* cmd, dht_cli_options& o) {
  cmd->add_option("--bootstrap", o.bootstrap,
                  "host:port of DHT nodes (default: mainline's public routers)")
    ->delimiter(',');
  cmd->add_option("--bind", o.bind, "local address to bind (default 0.0.0.0)");
  cmd->add_option("--timeout", o.timeout_s, "seconds before giving up (default 10)");
  cmd->add_option("--salt", o.salt, "BEP 44 salt (text)");
  cmd->add_option("--salt-hex", o.salt_hex, "BEP 44 salt (hex)");
  cmd->add_flag("--verbose,-v", o.verbose,
                "print what the DHT saw (responders, timeouts, errors by code, malformed "
                "replies) as one JSON line on stderr");
}

} // namespace

void add_dht_commands(CLI::App& app) {
  auto dht_cmd = app.add_subcommand("dht", "one BEP 44 mutable put or get on a DHT");
  dht_cmd->require_subcommand(1);

  auto po = std::make_shared<dht_cli_options>();
  auto put = dht_cmd->add_subcommand(
    "put", "sign and store a mutable item; prints {target, stored, ...}; exit 2 if not stored");
  add_common(put, *po);
  put->add_option("--seed", po->seed_hex, "Ed25519 seed, 64 hex digits")->required();
  put->add_option("--value", po->value, "the value (text), stored as a bencoded string");
  put->add_option("--value-hex", po->value_hex, "the value (hex)");
  put->add_option("--seq", po->seq, "sequence number (default i64::MAX, as dtt writes)");
  put->add_option("--cas", po->cas, "compare-and-swap seq (default: none)");
  put->callback([po] { run_put(*po); });

  auto go = std::make_shared<dht_cli_options>();
  auto get = dht_cmd->add_subcommand(
    "get", "print every valid item found, one JSON line each; exit 2 if none");
  add_common(get, *go);
  get->add_option("--key", go->key_hex, "Ed25519 public key, 64 hex digits")->required();
  get->callback([go] { run_get(*go); });
}

} // namespace dtt::app
