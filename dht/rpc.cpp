#include "dht/rpc.hpp"

namespace dtt::dht {

std::string rpc_manager::next_tid() {
  for (int attempt = 0; attempt < 65536; ++attempt) {
    uint16_t n = ++counter_;
    std::string tid{static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
    if (pending_.count(tid) == 0)
      return tid;
  }
  return std::string(4, '\0'); // unreachable: the node bounds in-flight queries far below 65536
}

void rpc_manager::add(pending p) {
  auto tid = p.tid;
  pending_[tid] = std::move(p);
}

std::optional<rpc_manager::pending> rpc_manager::take(const std::string& tid,
                                                      const endpoint& from) {
  auto it = pending_.find(tid);
  if (it == pending_.end() || it->second.to != from)
    return std::nullopt;
  auto p = std::move(it->second);
  pending_.erase(it);
  return p;
}

std::vector<rpc_manager::pending> rpc_manager::expire(time_point now) {
  std::vector<pending> out;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline <= now) {
      if (timed_out_.size() >= max_timed_out)
        timed_out_.pop_front();
      timed_out_.push_back({it->first, it->second.to, now});
      out.push_back(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

bool rpc_manager::take_timed_out(const std::string& tid, const endpoint& from,
                                 time_point now) {
  while (!timed_out_.empty() && timed_out_.front().at + timed_out_memory <= now)
    timed_out_.pop_front();
  for (auto it = timed_out_.begin(); it != timed_out_.end(); ++it)
    if (it->tid == tid && it->to == from) {
      timed_out_.erase(it);
      return true;
    }
  return false;
}

std::vector<rpc_manager::pending> rpc_manager::expire_short(time_point now) {
  std::vector<pending> out;
  for (auto& [tid, p] : pending_) {
    if (p.short_deadline <= now) {
      p.short_deadline = time_point::max();
      p.short_fired = true;
      out.push_back(p);
    }
  }
  return out;
}

const rpc_manager::pending* rpc_manager::find_by_address(const endpoint& from) const {
  for (auto& [tid, p] : pending_)
    if (p.to == from)
      return &p;
  return nullptr;
}

std::optional<time_point> rpc_manager::next_deadline() const {
  std::optional<time_point> out;
  for (auto& [tid, p] : pending_) {
    auto d = std::min(p.deadline, p.short_deadline);
    if (!out || d < *out)
      out = d;
  }
  return out;
}

} // namespace dtt::dht
