#pragma once

#include "dht/krpc.hpp"
#include "dht/routing_table.hpp"

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace dtt::dht {

/// Outstanding queries: transaction ids, destinations and deadlines. A response is matched only
/// if its transaction id and its source address both match (BEP 5 leaves the rest to us; this
/// stops blind spoofing from other addresses).
class rpc_manager {
public:
  /// One query in flight.
  struct pending {
    std::string tid;
    endpoint to;
    std::optional<node_id> expected_id;  ///< id we believe the destination has
    krpc::method m = krpc::method::ping;
    uint64_t owner = 0;                   ///< lookup / request id, 0 for none
    time_point deadline{};
    bool verify = false;                  ///< a ping to a node that queried us (node::verify)
  };

  /// A fresh 2-byte transaction id not in use (mainline and libtorrent use 2 bytes).
  std::string next_tid();
  /// Registers a query.
  void add(pending p);
  /// Removes and returns the query a response answers (tid and source must match).
  std::optional<pending> take(const std::string& tid, const endpoint& from);
  /// Removes and returns every query whose deadline passed.
  std::vector<pending> expire(time_point now);
  /// Earliest deadline, if anything is in flight.
  std::optional<time_point> next_deadline() const;
  size_t in_flight() const noexcept { return pending_.size(); }

private:
  uint16_t counter_ = 0;
  std::unordered_map<std::string, pending> pending_;
};

} // namespace dtt::dht
