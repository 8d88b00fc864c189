#pragma once

#include "dht/node_id.hpp"

#include <cstddef>
#include <vector>

namespace dtt::dht {

/// The candidate set of one iterative Kademlia lookup (BEP 5): nodes ordered by XOR distance to
/// the target, at most `alpha` queries in flight, finished when the `k` closest live candidates
/// have all answered. Seeds whose id is unknown (bootstrap addresses) are queried first.
/// Pure bookkeeping: the node sends the queries and reports answers.
class lookup_set {
public:
  /// Lookup tunables.
  struct config {
    size_t alpha = 3;            ///< parallel queries per lookup (Kademlia paper, BEP 5)
    size_t k = 8;                ///< closest nodes that must answer (BEP 5 bucket size)
    size_t max_candidates = 128; ///< bound on remembered candidates (hostile responses)
  };

  enum class state : uint8_t { fresh, in_flight, responded, failed };

  /// One candidate.
  struct candidate {
    node_entry node;
    bool id_known = true;
    state st = state::fresh;
    bytes token;   ///< write token from its response (get_peers / get)
  };

  lookup_set(node_id target, config cfg) : target_(target), cfg_(cfg) {}

  const node_id& target() const noexcept { return target_; }

  /// Adds nodes learned from the routing table or a response (duplicates ignored).
  void add(const std::vector<node_entry>& nodes);
  /// Adds an address whose id is unknown (bootstrap).
  void add_seed(const endpoint& ep);

  /// Marks and returns up to `budget` candidates to query now (never more than alpha in flight).
  std::vector<candidate> next(size_t budget);

  /// A response arrived from `from` carrying node id `id`. False if `from` is not a queried
  /// candidate, or its id differs from the one we were told (the candidate is then failed).
  bool responded(const endpoint& from, const node_id& id, bytes token);
  /// The query to `from` failed (timeout or error).
  void failed(const endpoint& from);

  /// True when nothing is in flight and the k closest live candidates have all answered.
  bool done() const noexcept;
  /// Queries in flight.
  size_t in_flight() const noexcept { return in_flight_; }

  /// The up to `count` closest candidates that answered, closest first.
  std::vector<const candidate*> closest_responded(size_t count) const;

private:
  candidate* find(const endpoint& ep);
  void sort_and_trim();

  node_id target_;
  config cfg_;
  std::vector<candidate> cands_;
  size_t in_flight_ = 0;
};

} // namespace dtt::dht
