// hostile_measure: runs each attack of the hostile-peer suite against a dttd victim on a
// loopback DHT testnet and prints the figures (issue 11, "Measure and report"):
// victim CPU, RSS and open descriptors before/during/after, the honest join time, message flow
// both ways, the victim's log bytes; then the silent-connection lifetimes and the outsider.
//
//   hostile_measure [--only NAME]... [--connections 500] [--rate 1000] [--cpu-window 5]
//                   [--dttd PATH] [--attack PATH]
//
// NAMEs: control, tcp, tcp-info, tls-one, tls-many, silent-tcp, silent-tls-one,
// silent-tls-many, outsider-name, outsider-topic-id. Loopback only; every process it starts
// is stopped by PID.
#include "hostile/support/harness.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

using namespace dtt::hostile;

namespace {

double mb(size_t b) { return static_cast<double>(b) / (1 << 20); }

void print_flood(const std::string& name, const flood_report& r) {
  if (!r.error.empty()) {
    fmt::print("{:<10} setup failed: {}\n", name, r.error);
    return;
  }
  fmt::print("{:<10} {:>6.1f} {:>6.1f} {:>6.1f} {:>6.1f} {:>5} {:>5} {:>5} {:>7} {:>8} {:>3}/{:<3} "
             "{:>10} {:>8.0f} {:>5}\n",
             name, r.cpu_percent, mb(r.before.rss_bytes), mb(r.max_rss_during),
             mb(r.after.rss_bytes), r.before.open_fds, r.max_fds_during, r.after.open_fds,
             r.fds_back_s ? fmt::format("{:.1f}s", *r.fds_back_s) : "never",
             r.join_s ? fmt::format("{:.2f}s", *r.join_s) : "never",
             r.honest_to_victim ? "yes" : "no", r.victim_to_honest ? "yes" : "no", r.log_bytes,
             r.flood_s > 0 ? r.log_bytes / r.flood_s : 0.0, r.untimestamped_lines);
  fmt::print("           attacker during: {}\n", r.attacker_during);
  std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
  std::set<std::string> only;
  size_t connections = 500;
  double rate = 1000;
  int cpu_window_s = 5;
  std::string dttd = DTT_DAEMON_PATH, attack = DTT_ATTACK_PATH;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!v) {
      fmt::print(stderr, "hostile_measure: {} needs a value\n", a);
      return 2;
    }
    ++i;
    if (a == "--only")
      only.insert(v);
    else if (a == "--connections")
      connections = std::strtoul(v, nullptr, 10);
    else if (a == "--rate")
      rate = std::strtod(v, nullptr);
    else if (a == "--cpu-window")
      cpu_window_s = std::atoi(v);
    else if (a == "--dttd")
      dttd = v;
    else if (a == "--attack")
      attack = v;
    else {
      fmt::print(stderr, "hostile_measure: unknown argument {}\n", a);
      return 2;
    }
  }
  if (connections < 1 || connections > 20000 || rate < 1 || cpu_window_s < 1
      || cpu_window_s > 600) {
    fmt::print(stderr, "hostile_measure: out-of-range option\n");
    return 2;
  }
  auto wanted = [&](const std::string& n) { return only.empty() || only.count(n) > 0; };

  fmt::print("hostile_measure: dttd victim on a loopback DHT testnet; attacker from 127.0.0.2, "
             "{} connections, reopened at most {:.0f}/s; CPU over {} s of flood\n",
             connections, rate, cpu_window_s);
  fmt::print("{:<10} {:>6} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>7} {:>8} {:>7} {:>10} {:>8} "
             "{:>5}\n",
             "attack", "cpu%", "rss0MB", "rssMax", "rss1MB", "fd0", "fdMax", "fd1", "fdBack",
             "join", "msgs", "logBytes", "logB/s", "noTS");
  struct flood_case {
    std::string name;
    flood_mode mode;
    size_t connections;
    std::string level;
  };
  for (auto& c : {flood_case{"control", flood_mode::tcp, 1, ""},
                  flood_case{"tcp", flood_mode::tcp, connections, ""},
                  flood_case{"tcp-info", flood_mode::tcp, connections, "info"},
                  flood_case{"tls-one", flood_mode::tls_one, connections, ""},
                  flood_case{"tls-many", flood_mode::tls_many, connections, ""}}) {
    if (!wanted(c.name))
      continue;
    flood_scenario s;
    s.victim = victim_kind::dttd;
    s.mode = c.mode;
    s.connections = c.connections;
    s.rate = rate;
    s.dttd_path = dttd;
    s.attack_path = attack;
    s.log_level = c.level;
    s.cpu_window = std::chrono::seconds(cpu_window_s);
    print_flood(c.name, run_flood_scenario(s));
  }

  for (auto mode : {flood_mode::tcp, flood_mode::tls_one, flood_mode::tls_many}) {
    auto name = std::string("silent-") + to_string(mode);
    if (!wanted(name))
      continue;
    silent_scenario s;
    s.mode = mode;
    s.dttd_path = dttd;
    s.attack_path = attack;
    auto r = run_silent_scenario(s);
    if (!r.error.empty())
      fmt::print("{}: setup failed: {}\n", name, r.error);
    else
      fmt::print("{}: {} connections, {} closed by the victim (longest lived {} ms), {} still "
                 "open after {} s (oldest {} ms)\n",
                 name, r.connected, r.closed_by_victim, r.max_lifetime_ms, r.still_open,
                 s.watch.count() / 1000, r.oldest_open_ms);
    std::fflush(stdout);
  }

  for (auto kind : {outsider_kind::wrong_secret, outsider_kind::topic_id}) {
    auto name = std::string(kind == outsider_kind::wrong_secret ? "outsider-name"
                                                                : "outsider-topic-id");
    if (!wanted(name))
      continue;
    outsider_scenario s;
    s.honest_a = victim_kind::dttd;
    s.outsider = kind;
    s.dttd_path = dttd;
    auto r = run_outsider_scenario(s);
    if (!r.error.empty())
      fmt::print("{}: setup failed: {}\n", name, r.error);
    else
      fmt::print("{}: honest joined {}, honest exchange {}, outsider attempted {}, outsider "
                 "neighbour {}, outsider received {} honest broadcasts, honest nodes received "
                 "{} outsider broadcasts\n",
                 name, r.honest_joined, r.honest_exchange, r.outsider_attempted,
                 r.outsider_neighbor, r.outsider_received, r.honest_received);
    std::fflush(stdout);
  }
  return 0;
}
