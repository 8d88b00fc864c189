#pragma once

#include "dht/krpc.hpp"
#include "dht/routing_table.hpp"

#include <cstdint>
#include <deque>
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
    time_point sent{};                    ///< when it was sent (round-trip samples)
    /// Short timeout (issue 16): past it the query stays open but its lookup widens.
    /// time_point::max() for none.
    time_point short_deadline = time_point::max();
    bool short_fired = false;             ///< the short deadline passed (it stays open)
  };

  /// A fresh 2-byte transaction id not in use (mainline and libtorrent use 2 bytes).
  std::string next_tid();
  /// Registers a query.
  void add(pending p);
  /// Removes and returns the query a response answers (tid and source must match).
  std::optional<pending> take(const std::string& tid, const endpoint& from);
  /// Removes and returns every query whose deadline passed. Each is remembered as timed out
  /// for `timed_out_memory` (at most `max_timed_out` of them).
  std::vector<pending> expire(time_point now);
  /// True once per query that timed out within `timed_out_memory` and is now answered (tid and
  /// source match): a response that was late, not one nobody asked for. Forgets it.
  bool take_timed_out(const std::string& tid, const endpoint& from, time_point now);
  /// How long, and how many, timed-out queries are remembered (a starved process reads its
  /// socket after its timers expired every query in flight: dozens of late answers at once).
  static constexpr std::chrono::seconds timed_out_memory{30};
  static constexpr size_t max_timed_out = 512;
  /// Returns (copies of) the queries whose short deadline passed, once each; they stay open.
  std::vector<pending> expire_short(time_point now);
  /// The open query to `from`, if any (attributes a malformed reply to its query).
  const pending* find_by_address(const endpoint& from) const;
  /// Earliest deadline, if anything is in flight.
  std::optional<time_point> next_deadline() const;
  size_t in_flight() const noexcept { return pending_.size(); }

private:
  struct timed_out {
    std::string tid;
    endpoint to;
    time_point at;
  };
  uint16_t counter_ = 0;
  std::unordered_map<std::string, pending> pending_;
  std::deque<timed_out> timed_out_; // oldest first
};

} // namespace dtt::dht
