#pragma once

#include "gossip/types.hpp"

#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace dtt::net {

struct outgoing;

/// Messages that transport::send accepted for a peer and that are not yet handed to its socket
/// (nor dropped), per peer, in messages and bytes. The caller's thread adds, the io thread
/// subtracts; anyone may ask. It is how a producer learns that it outruns the links before
/// their queues overflow (an overflowing peer is disconnected).
class backlog {
public:
  void add(const gossip::endpoint_id& peer, size_t messages, size_t bytes);
  /// Adds every message of a batch (one lock for all of it).
  void add(const std::vector<outgoing>& batch);
  void sub(const gossip::endpoint_id& peer, size_t messages, size_t bytes);
  /// True if some peer has at least `messages` messages or `bytes` bytes waiting.
  bool any_at_least(size_t messages, size_t bytes) const;
  /// What waits for `peer`: {messages, bytes}.
  std::pair<size_t, size_t> of(const gossip::endpoint_id& peer) const;

private:
  mutable std::mutex mu_;
  std::map<gossip::endpoint_id, std::pair<size_t, size_t>> waiting_;
};

} // namespace dtt::net
