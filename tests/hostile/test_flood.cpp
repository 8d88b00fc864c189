// Issue 11, finding 4: connection floods. One attacker address (127.0.0.2) keeps 500
// connections open to a victim's gossip port and reopens each one that is closed (at most 1000
// opens a second); meanwhile a new honest node (127.0.0.1) must join the victim's topic within
// 2 s and exchange messages both ways, and the victim must spend < 10% of a core. After the
// flood the victim's descriptors and memory come back. Silent connections (idle TCP, or TLS
// with keep-alives only) are closed within a few seconds.
#include "hostile/support/harness.hpp"

#include <doctest/doctest.h>

#include <fmt/core.h>

#include <cstdlib>
#include <string>

using namespace dtt::hostile;

namespace {

// The bars of issue 11 ("Connection budgets").
constexpr double max_join_s = 2.0;
constexpr double max_cpu_percent = 10.0;
// "A connection that has joined no topic within a few seconds is closed": a few = at most 10 s
// from TCP connect (the transport's handshake budget is 5 s; dtt's choice for the bar).
constexpr int64_t max_silent_lifetime_ms = 10000;
// Memory returned after the flood: RSS may stay above its baseline by at most this (allocator
// caches and the honest node's one link; dtt's choice for the bar).
constexpr size_t release_rss_slack = 16u << 20;

#if defined(__SANITIZE_ADDRESS__)
#define DTT_HOSTILE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DTT_HOSTILE_ASAN 1
#endif
#endif

#ifdef DTT_HOSTILE_ASAN
// Under AddressSanitizer freed memory is not reused at once: it waits in a quarantine (256 MB by
// default) so that a use after free is caught, and RSS cannot come back (measured: +25 to +30 MB
// after a TLS flood with the default quarantine, +8 MB with a 4 MB one). The sanitizer build caps
// the quarantine at asan_quarantine_mb, for this process and (through ASAN_OPTIONS) for the dttd
// and dtt_attack it starts, and the bar allows that much more. The release bar is unchanged.
constexpr size_t asan_quarantine_mb = 8;
constexpr size_t rss_slack = release_rss_slack + (asan_quarantine_mb << 20);
// The CPU bar is for release builds; the sanitizer build (Debug, -O0, ASan + UBSan) spends about
// 3x more on the same work (TLS flood under 500 identities against a library node: 3.6% of a
// core in RelWithDebInfo, 11.8% under ASan), so there it is scaled by 4: it still catches an
// accept or handshake loop, which takes a whole core.
constexpr double cpu_bar_percent = max_cpu_percent * 4;

extern "C" const char* __asan_default_options() { return "quarantine_size_mb=8"; }

[[maybe_unused]] const bool asan_env_set = [] {
  static_assert(asan_quarantine_mb == 8, "keep __asan_default_options() in step");
  std::string o = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  if (o.find("quarantine_size_mb") == std::string::npos) {
    o += o.empty() ? "" : ":";
    o += "quarantine_size_mb=8";
    setenv("ASAN_OPTIONS", o.c_str(), 1);
  }
  return true;
}();
#else
constexpr size_t rss_slack = release_rss_slack;
constexpr double cpu_bar_percent = max_cpu_percent;
#endif

std::string describe(const flood_report& r) {
  auto mb = [](size_t b) { return static_cast<double>(b) / (1 << 20); };
  return fmt::format(
    "victim pid {}: cpu {:.1f}% of a core; fds before {} max-during {} after {} (back after "
    "{}); RSS before {:.1f} MB max-during {:.1f} MB after {:.1f} MB; honest join {}; "
    "honest->victim {}, victim->honest {}; log {} bytes in {:.1f} s ({:.0f} B/s), {} lines, {} "
    "without timestamp (first: '{}'); attacker during: {}; attacker final: {}",
    r.victim_pid, r.cpu_percent, r.before.open_fds, r.max_fds_during, r.after.open_fds,
    r.fds_back_s ? fmt::format("{:.1f} s", *r.fds_back_s) : "never", mb(r.before.rss_bytes),
    mb(r.max_rss_during), mb(r.after.rss_bytes),
    r.join_s ? fmt::format("{:.2f} s", *r.join_s) : "never", r.honest_to_victim,
    r.victim_to_honest, r.log_bytes, r.flood_s, r.flood_s > 0 ? r.log_bytes / r.flood_s : 0.0,
    r.log_lines, r.untimestamped_lines, r.first_untimestamped, r.attacker_during,
    r.attacker_final);
}

flood_scenario scenario(victim_kind v, flood_mode m, size_t connections = 500) {
  flood_scenario s;
  s.victim = v;
  s.mode = m;
  s.connections = connections;
  s.dttd_path = DTT_DAEMON_PATH;
  s.attack_path = DTT_ATTACK_PATH;
  return s;
}

// Every bar of the flood tests, each its own check (a failure says which).
void check_flood_bars(const flood_report& r, flood_mode mode, bool check_cpu = true) {
  MESSAGE(describe(r));
  INFO(describe(r));
  REQUIRE(r.error.empty());
  // A TLS flood is one only if the attacker's handshakes go through (an attacker that speaks
  // another ALPN than the victim is refused in the handshake: that is a TCP flood).
  if (mode != flood_mode::tcp)
    CHECK_MESSAGE(r.attacker_handshakes > 0, "no attacker TLS handshake completed");
  CHECK_MESSAGE(r.join_s.has_value(), "the honest node never joined during the flood");
  if (r.join_s)
    CHECK(*r.join_s <= max_join_s);
  CHECK(r.honest_to_victim);
  CHECK(r.victim_to_honest);
  if (check_cpu)
    CHECK(r.cpu_percent < cpu_bar_percent);
  CHECK_MESSAGE(r.fds_back_s.has_value(), "the victim's descriptors did not come back");
  CHECK(r.after.rss_bytes <= r.before.rss_bytes + rss_slack);
}

// 20 connections that never prove a topic, not reopened: each must be closed by the victim
// within max_silent_lifetime_ms of its TCP connect.
void check_silent_connections_closed(flood_mode mode) {
  std::string mode_name = to_string(mode);
  CAPTURE(mode_name);
  silent_scenario s;
  s.mode = mode;
  s.dttd_path = DTT_DAEMON_PATH;
  s.attack_path = DTT_ATTACK_PATH;
  auto r = run_silent_scenario(s);
  MESSAGE(mode_name << ": " << r.attacker_final);
  INFO(r.attacker_final);
  REQUIRE(r.error.empty());
  REQUIRE(r.connected == s.connections);
  // Silent TLS links must be links: handshakes complete (then only keep-alives are sent).
  // Not all 20: beyond max_pending_handshakes_per_ip (8) at once the victim holds the rest
  // unanswered, and those fail their handshake.
  if (mode != flood_mode::tcp)
    CHECK(r.handshakes > 0);
  CHECK(r.still_open == 0);
  CHECK(r.closed_by_victim == s.connections);
  CHECK(r.max_lifetime_ms <= max_silent_lifetime_ms);
}

} // namespace

TEST_CASE("control: with one idle connection, a new honest node joins a dttd within 2 s and "
          "messages flow both ways") {
  // Shows that the bars are reachable without a flood on this machine: the flood tests fail
  // because of the flood, not because of the harness.
  auto s = scenario(victim_kind::dttd, flood_mode::tcp, 1);
  check_flood_bars(run_flood_scenario(s), s.mode);
}

TEST_CASE("TCP flood: 500 idle connections from 127.0.0.2, reopened, do not keep a new honest "
          "node out of a dttd's topic nor cost it 10% of a core, and fds and memory come back") {
  auto s = scenario(victim_kind::dttd, flood_mode::tcp);
  check_flood_bars(run_flood_scenario(s), s.mode);
}

TEST_CASE("TCP flood: 500 idle connections from 127.0.0.2, reopened, do not keep a new honest "
          "node out of a library node's topic, and fds and memory come back") {
  // The victim runs in this process: its CPU is measured as this whole process's (the DHT
  // testnet and the honest node included: an upper bound), the attacker is another process.
  auto s = scenario(victim_kind::library, flood_mode::tcp);
  check_flood_bars(run_flood_scenario(s), s.mode);
}

TEST_CASE("TLS flood under one identity: 500 keep-alive-only links from 127.0.0.2 do not keep "
          "a new honest node out of a dttd's topic, and fds and memory come back") {
  auto s = scenario(victim_kind::dttd, flood_mode::tls_one);
  check_flood_bars(run_flood_scenario(s), s.mode);
}

TEST_CASE("TLS flood under 500 identities: keep-alive-only links from 127.0.0.2 do not keep a "
          "new honest node out of a dttd's topic, and fds and memory come back") {
  auto s = scenario(victim_kind::dttd, flood_mode::tls_many);
  check_flood_bars(run_flood_scenario(s), s.mode);
}

TEST_CASE("TLS flood under 500 identities against a library node: the honest node still joins") {
  auto s = scenario(victim_kind::library, flood_mode::tls_many);
  check_flood_bars(run_flood_scenario(s), s.mode);
}

TEST_CASE("silent TCP connections (no TLS ClientHello) to a dttd are closed within a few "
          "seconds") {
  check_silent_connections_closed(flood_mode::tcp);
}

TEST_CASE("TLS connections that send only keep-alives (join no topic) are closed by a dttd "
          "within a few seconds") {
  check_silent_connections_closed(flood_mode::tls_one);
  check_silent_connections_closed(flood_mode::tls_many);
}
