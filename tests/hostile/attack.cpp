// dtt_attack: a connection flood against one dtt gossip port, for the hostile-peer suite and
// for hand runs. Loopback only: the target and the source must be in 127.0.0.0/8.
//
//   dtt_attack --target 127.0.0.1:PORT [--source 127.0.0.2] [--connections 500]
//              [--mode tcp|tls-one|tls-many] [--rate 1000] [--no-reopen]
//              [--keepalive-ms 2000] [--duration 60]
//
// Prints one JSON line of counters (support/flood.hpp) every 200 ms on stdout, and a last one
// with "final":true. Stops at --duration, on SIGTERM/SIGINT, or when stdin ends (--stdin-eof).
#include "hostile/support/flood.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

std::atomic<bool> stop_requested{false};

void on_signal(int) { stop_requested = true; }

int usage(const char* why) {
  std::fprintf(stderr, "dtt_attack: %s\n", why);
  return 2;
}

bool parse_number(const char* s, double lo, double hi, double& out) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (!end || *end != '\0' || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

} // namespace

int main(int argc, char** argv) {
  using namespace dtt::hostile;
  flood_options o;
  double duration_s = 60;
  bool stdin_eof = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    double n = 0;
    if (a == "--target") {
      const char* v = value();
      if (!v)
        return usage("--target needs ip:port");
      std::string t = v;
      auto colon = t.rfind(':');
      if (colon == std::string::npos || !parse_number(t.c_str() + colon + 1, 1, 65535, n))
        return usage("--target needs ip:port");
      o.target_ip = t.substr(0, colon);
      o.target_port = static_cast<uint16_t>(n);
    } else if (a == "--source") {
      const char* v = value();
      if (!v)
        return usage("--source needs an address");
      o.source_ip = v;
    } else if (a == "--connections") {
      const char* v = value();
      if (!v || !parse_number(v, 1, 20000, n))
        return usage("--connections needs 1..20000");
      o.connections = static_cast<size_t>(n);
    } else if (a == "--mode") {
      const char* v = value();
      if (!v || !parse_flood_mode(v, o.mode))
        return usage("--mode needs tcp, tls-one or tls-many");
    } else if (a == "--rate") {
      const char* v = value();
      if (!v || !parse_number(v, 1, 100000, o.max_opens_per_second))
        return usage("--rate needs 1..100000 opens per second");
    } else if (a == "--no-reopen") {
      o.reopen = false;
    } else if (a == "--keepalive-ms") {
      const char* v = value();
      if (!v || !parse_number(v, 10, 600000, n))
        return usage("--keepalive-ms needs 10..600000");
      o.keepalive_interval = std::chrono::milliseconds(static_cast<long>(n));
    } else if (a == "--duration") {
      const char* v = value();
      if (!v || !parse_number(v, 0.1, 3600, duration_s))
        return usage("--duration needs 0.1..3600 seconds");
    } else if (a == "--stdin-eof") {
      stdin_eof = true;
    } else {
      return usage(("unknown argument " + a).c_str());
    }
  }
  if (o.target_port == 0)
    return usage("--target is required");
  // Loopback only (HELPERS.md): never an address outside 127.0.0.0/8.
  if (o.target_ip.rfind("127.", 0) != 0 || o.source_ip.rfind("127.", 0) != 0)
    return usage("target and source must be loopback addresses (127.0.0.0/8)");

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  std::string why;
  auto f = flood::start(o, &why);
  if (!f)
    return usage(why.c_str());
  if (stdin_eof)
    std::thread([] {
      char buf[256];
      while (read(0, buf, sizeof buf) > 0) {
      }
      stop_requested = true;
    }).detach();
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  while (!stop_requested && elapsed() < duration_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::printf("%s\n", to_json(f->stats(), elapsed()).c_str());
    std::fflush(stdout);
  }
  auto last = f->stats();
  f->stop();
  auto line = to_json(last, elapsed());
  line.insert(1, "\"final\":true,");
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  return 0;
}
