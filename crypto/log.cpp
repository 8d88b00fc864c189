#include "crypto/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace dtt::log {

namespace {

/// The writer's state: one mutex for the sink, the limiter and the pending DTT_LOG complaint.
struct writer {
  std::mutex mtx;
  sink out;
  rate_limiter limiter;
  bool env_checked = false;
  uint64_t suppressed = 0;
};

writer& the_writer() {
  static writer w;
  return w;
}

std::atomic<int>& current() {
  static std::atomic<int> value{[] {
    auto l = level_from_env();
    return static_cast<int>(l ? *l : level::warn);
  }()};
  return value;
}

// One event, one line: no newline or terminal escape from a peer-supplied string.
void append_escaped(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size() + 1);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += c;
  }
}

std::string_view component_of(std::string_view kind) {
  auto dot = kind.find('.');
  return dot == std::string_view::npos ? kind : kind.substr(0, dot);
}

// Under w.mtx.
void put(writer& w, const std::string& line) {
  if (w.out)
    w.out(line);
  else
    std::fwrite(line.data(), 1, line.size(), stderr);
}

// Under w.mtx: the line an invalid DTT_LOG earns, once, before the first line written.
void check_env(writer& w) {
  if (w.env_checked)
    return;
  w.env_checked = true;
  if (auto l = level_from_env(); !l)
    put(w, format_line(std::chrono::system_clock::now(), level::error, "log",
                       l.err().what + "; using warn"));
}

// Under w.mtx.
void put_suppressed(writer& w, level l, std::string_view kind, uint64_t n) {
  put(w, format_line(std::chrono::system_clock::now(), l, component_of(kind),
                     fmt::format("suppressed {} similar line{} ({})", n, n == 1 ? "" : "s",
                                 kind)));
}

// Under w.mtx.
void expire(writer& w, std::chrono::steady_clock::time_point now) {
  for (auto& s : w.limiter.expire(now))
    put_suppressed(w, level::warn, s.kind, s.count);
}

} // namespace

const char* to_string(level l) noexcept {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "?";
}

std::optional<level> parse_level(std::string_view text) noexcept {
  for (auto l : {level::debug, level::info, level::warn, level::error, level::off})
    if (text == to_string(l))
      return l;
  return std::nullopt;
}

result<level> level_from_env() {
  const char* env = std::getenv("DTT_LOG");
  if (env == nullptr || *env == '\0')
    return level::warn;
  if (auto l = parse_level(env))
    return *l;
  std::string shown;
  append_escaped(shown, std::string_view(env).substr(0, 32));
  return dtt::error{errc::invalid_argument,
               fmt::format("DTT_LOG=\"{}\" is not a log level (debug, info, warn, error, off)",
                           shown)};
}

level threshold() noexcept {
  return static_cast<level>(current().load(std::memory_order_relaxed));
}

void set_threshold(level l) noexcept { current().store(static_cast<int>(l)); }

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ((ms % 1000) + 1000) % 1000);
}

std::string format_line(std::chrono::system_clock::time_point t, level l,
                        std::string_view component, std::string_view text) {
  std::string line = utc_timestamp(t) + fmt::format(" {} {}: ", to_string(l), component);
  append_escaped(line, text);
  line += '\n';
  return line;
}

sink set_sink(sink s) {
  auto& w = the_writer();
  std::lock_guard<std::mutex> guard{w.mtx};
  std::swap(w.out, s);
  return s;
}

void write(level l, std::string_view component, std::string_view text) {
  if (!enabled(l))
    return;
  auto line = format_line(std::chrono::system_clock::now(), l, component, text);
  auto& w = the_writer();
  std::lock_guard<std::mutex> guard{w.mtx};
  check_env(w);
  put(w, line);
}

void write_limited(level l, std::string_view kind, std::string_view text) {
  if (!enabled(l))
    return;
  auto now = std::chrono::steady_clock::now();
  auto& w = the_writer();
  std::lock_guard<std::mutex> guard{w.mtx};
  check_env(w);
  expire(w, now);
  auto d = w.limiter.admit(kind, now);
  if (d.rolled_suppressed > 0)
    put_suppressed(w, l, d.kind, d.rolled_suppressed);
  if (d.write)
    put(w, format_line(std::chrono::system_clock::now(), l, component_of(kind), text));
}

void flush_suppressed() {
  auto& w = the_writer();
  std::lock_guard<std::mutex> guard{w.mtx};
  expire(w, std::chrono::steady_clock::now());
}

void set_limits(limit_options o) {
  auto& w = the_writer();
  std::lock_guard<std::mutex> guard{w.mtx};
  w.suppressed += w.limiter.total_suppressed();
  w.limiter = rate_limiter{o};
}

uint64_t suppressed_total() noexcept {
  auto& w = the_writer();
  std::lock_guard<std::mutex> guard{w.mtx};
  return w.suppressed + w.limiter.total_suppressed();
}

} // namespace dtt::log
