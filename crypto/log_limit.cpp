#include "crypto/log_limit.hpp"

namespace dtt::log {

namespace {

/// The kind that lines of untracked kinds share once the table is full.
constexpr std::string_view overflow_kind = "other";

} // namespace

rate_limiter::rate_limiter(limit_options o) : opts_(o) {}

rate_limiter::decision rate_limiter::admit(std::string_view kind, time_point now) {
  auto it = windows_.find(kind);
  if (it == windows_.end()) {
    if (windows_.size() >= opts_.max_kinds)
      kind = overflow_kind; // one extra entry at most: the table stays bounded
    it = windows_.find(kind);
    if (it == windows_.end())
      it = windows_.emplace(std::string(kind), window{now}).first;
  }
  decision d;
  d.kind = it->first;
  auto& w = it->second;
  if (now - w.start >= opts_.window) {
    d.rolled_suppressed = w.suppressed;
    w = window{now};
  }
  if (w.written < opts_.lines_per_window) {
    ++w.written;
    d.write = true;
  } else {
    ++w.suppressed;
    ++total_suppressed_;
  }
  return d;
}

std::vector<rate_limiter::suppressed> rate_limiter::expire(time_point now) {
  std::vector<suppressed> out;
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start < opts_.window) {
      ++it;
      continue;
    }
    if (it->second.suppressed > 0)
      out.push_back({it->first, it->second.suppressed});
    it = windows_.erase(it);
  }
  return out;
}

} // namespace dtt::log
