#include "gossip/transport/backlog.hpp"

#include "gossip/transport/transport.hpp"

namespace dtt::net {

void backlog::add(const gossip::endpoint_id& peer, size_t messages, size_t bytes) {
  std::lock_guard<std::mutex> guard(mu_);
  auto& w = waiting_[peer];
  w.first += messages;
  w.second += bytes;
}

void backlog::add(const std::vector<outgoing>& batch) {
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& o : batch) {
    auto& w = waiting_[o.to];
    w.first += 1;
    w.second += o.message.size();
  }
}

void backlog::sub(const gossip::endpoint_id& peer, size_t messages, size_t bytes) {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = waiting_.find(peer);
  if (it == waiting_.end())
    return;
  auto& w = it->second;
  w.first -= std::min(w.first, messages);
  w.second -= std::min(w.second, bytes);
  if (w.first == 0)
    waiting_.erase(it);
}

bool backlog::any_at_least(size_t messages, size_t bytes) const {
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& [peer, w] : waiting_)
    if (w.first >= messages || w.second >= bytes)
      return true;
  return false;
}

std::pair<size_t, size_t> backlog::of(const gossip::endpoint_id& peer) const {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = waiting_.find(peer);
  return it == waiting_.end() ? std::pair<size_t, size_t>{0, 0} : it->second;
}

} // namespace dtt::net
