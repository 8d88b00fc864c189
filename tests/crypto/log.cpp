// dtt's log writer (crypto/log.hpp) and its per-kind rate limiter (crypto/log_limit.hpp): line
// format, level parsing, and bounded output during a flood on a virtual clock.
#include "crypto/log.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

using namespace dtt;
using namespace std::chrono_literals;

namespace {

using tp = log::rate_limiter::time_point;

// Captures the writer's lines for one test and restores stderr, the threshold and the budgets.
struct captured_log {
  std::mutex mtx;
  std::vector<std::string> lines;
  log::level old_threshold = log::threshold();

  captured_log() {
    log::set_sink([this](std::string_view l) {
      std::lock_guard<std::mutex> g{mtx};
      lines.emplace_back(l);
    });
  }
  ~captured_log() {
    log::set_sink({});
    log::set_threshold(old_threshold);
    log::set_limits({});
  }
  std::vector<std::string> take() {
    std::lock_guard<std::mutex> g{mtx};
    return std::move(lines);
  }
};

} // namespace

TEST_CASE("a log line has a UTC ISO 8601 timestamp with milliseconds, a level and a component") {
  auto t = std::chrono::system_clock::time_point{} + 1700000000123ms;
  CHECK(log::format_line(t, log::level::warn, "net", "peer gone")
        == "2023-11-14T22:13:20.123Z warn net: peer gone\n");
}

TEST_CASE("a log line cannot be split or styled by the text it carries") {
  auto line = log::format_line({}, log::level::info, "dttd", "a\nb\x1b[31m\x7f");
  CHECK(line == "1970-01-01T00:00:00.000Z info dttd: a\\x0ab\\x1b[31m\\x7f\n");
}

TEST_CASE("level names parse exactly, anything else is refused") {
  CHECK(log::parse_level("debug") == log::level::debug);
  CHECK(log::parse_level("info") == log::level::info);
  CHECK(log::parse_level("warn") == log::level::warn);
  CHECK(log::parse_level("error") == log::level::error);
  CHECK(log::parse_level("off") == log::level::off);
  for (auto bad : {"", "INFO", "warning", "debug ", "trace", "2"})
    CHECK_FALSE(log::parse_level(bad));
}

TEST_CASE("an invalid DTT_LOG is an error naming the value, unset means warn") {
  const char* old = std::getenv("DTT_LOG");
  std::string saved = old ? old : "";
  ::setenv("DTT_LOG", "verbose\n", 1);
  auto bad = log::level_from_env();
  REQUIRE_FALSE(bad);
  CHECK(bad.err().what == "DTT_LOG=\"verbose\\x0a\" is not a log level (debug, info, warn, "
                          "error, off)");
  ::setenv("DTT_LOG", "info", 1);
  CHECK(*log::level_from_env() == log::level::info);
  ::unsetenv("DTT_LOG");
  CHECK(*log::level_from_env() == log::level::warn);
  if (old)
    ::setenv("DTT_LOG", saved.c_str(), 1);
}

TEST_CASE("the limiter writes N lines per kind and window, then counts the rest") {
  log::rate_limiter lim{{5, 10s, 64}};
  tp t0{};
  int written = 0;
  for (int i = 0; i < 20; ++i)
    written += lim.admit("net.bad_frame", t0 + std::chrono::milliseconds(i)).write ? 1 : 0;
  CHECK(written == 5);
  CHECK(lim.total_suppressed() == 15);
  // Another kind has its own budget.
  CHECK(lim.admit("dht.bad_packet", t0).write);
  // Nothing has expired yet.
  CHECK(lim.expire(t0 + 9s).empty());
  // The next line after the window reports the previous window's count and is written.
  auto d = lim.admit("net.bad_frame", t0 + 10s);
  CHECK(d.write);
  CHECK(d.rolled_suppressed == 15);
  CHECK(d.kind == "net.bad_frame");
}

TEST_CASE("the limiter's expire reports a flood that stopped, once") {
  log::rate_limiter lim{{2, 1s, 64}};
  tp t0{};
  for (int i = 0; i < 7; ++i)
    lim.admit("k", t0);
  lim.admit("quiet", t0);
  auto s = lim.expire(t0 + 1s);
  REQUIRE(s.size() == 1);
  CHECK(s[0].kind == "k");
  CHECK(s[0].count == 5);
  CHECK(lim.kinds() == 0);
  CHECK(lim.expire(t0 + 5s).empty());
  // A fresh window after expiry.
  CHECK(lim.admit("k", t0 + 5s).rolled_suppressed == 0);
}

TEST_CASE("the limiter's table is bounded: further kinds share one budget") {
  log::rate_limiter lim{{1, 10s, 4}};
  tp t0{};
  size_t written = 0;
  for (int i = 0; i < 1000; ++i)
    written += lim.admit("kind" + std::to_string(i), t0).write ? 1 : 0;
  CHECK(lim.kinds() <= 5);
  CHECK(written == 5); // four tracked kinds + "other"
  CHECK(lim.admit("kind999", t0).kind == "other");
}

TEST_CASE("a one-minute flood of 3 kinds writes a bounded number of lines") {
  log::rate_limiter lim; // defaults: 5 per 10 s
  tp t0{};
  size_t lines = 0;
  for (int i = 0; i < 600000; ++i) { // 10,000 lines/s for 60 s
    auto now = t0 + std::chrono::microseconds(i * 100);
    const char* kinds[] = {"a.x", "b.y", "c.z"};
    auto d = lim.admit(kinds[i % 3], now);
    lines += (d.write ? 1 : 0) + (d.rolled_suppressed > 0 ? 1 : 0);
  }
  for (auto& s : lim.expire(t0 + 61s))
    lines += s.count > 0 ? 1 : 0;
  // 6 windows per kind, each at most 5 lines + 1 summary line.
  CHECK(lines <= 3 * 6 * 6);
  CHECK(lines >= 3 * 6 * 5);
}

TEST_CASE("warn_limited goes through the threshold, the budget and the one line format") {
  captured_log cap;
  log::set_threshold(log::level::warn);
  log::set_limits({2, 100ms, 64});
  for (int i = 0; i < 10; ++i)
    log::warn_limited("test.flood", "bad thing {}", i);
  log::info_limited("test.quiet", "below the threshold");
  auto lines = cap.take();
  REQUIRE(lines.size() == 2);
  std::regex shape(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn test: bad thing 0\n)");
  CHECK(std::regex_match(lines[0], shape));
  std::this_thread::sleep_for(150ms);
  log::flush_suppressed();
  lines = cap.take();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find(" warn test: suppressed 8 similar lines (test.flood)\n")
        != std::string::npos);
  CHECK(log::suppressed_total() >= 8);
}

TEST_CASE("the threshold filters the plain calls, in(component) names the component") {
  captured_log cap;
  log::set_threshold(log::level::info);
  log::debug("hidden");
  log::in("dttd").info("shown {}", 1);
  log::set_threshold(log::level::off);
  log::error("hidden too");
  auto lines = cap.take();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("Z info dttd: shown 1\n") != std::string::npos);
}
