#pragma once

#include "dht/node_id.hpp"

#include <chrono>
#include <cstdint>
#include <vector>

namespace dtt::dht {

/// Time as the sans-IO cores see it (passed in by the caller).
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

/// Kademlia routing table (BEP 5): buckets of k nodes, only the bucket that contains our own id
/// splits; each bucket keeps a replacement cache; nodes that fail queries are replaced.
class routing_table {
public:
  /// Tunables.
  struct config {
    size_t k = 8;                          ///< bucket size (BEP 5)
    size_t replacements = 8;               ///< replacement cache per bucket (libtorrent: k)
    uint32_t stale_failures = 2;           ///< failures after which a node is swapped out for a
                                           ///< replacement (libtorrent's routing_table)
    uint32_t max_failures = 5;             ///< failures after which a node is dropped outright
    std::chrono::seconds bucket_refresh{15 * 60};  ///< BEP 5: refresh buckets idle 15 minutes
  };

  /// A node the table knows.
  struct entry {
    node_entry node;
    time_point last_seen{};     ///< last response (or query) from it
    uint32_t failures = 0;      ///< consecutive failed queries
    bool confirmed = false;     ///< it has answered one of our queries
  };

  routing_table(node_id own, config cfg);
  routing_table(node_id own) : routing_table(own, config{}) {}

  const node_id& own_id() const noexcept { return own_; }

  /// Records that a node was heard from. `confirmed` is true for responses to our queries.
  /// Returns true if the node is in a bucket (not only in a replacement cache) afterwards.
  bool heard_from(const node_entry& n, time_point now, bool confirmed);

  /// Records a failed query (timeout) to a node id; replaces or drops it when stale.
  void failed(const node_id& id);


  /// The up to `count` closest nodes to a target, closest first.
  std::vector<node_entry> closest(const node_id& target, size_t count) const;

  /// Targets of buckets that have not changed for config::bucket_refresh; marks them refreshed.
  std::vector<node_id> refresh_targets(time_point now, crypto::random_source& rng);

  /// Nodes in buckets (not counting replacements).
  size_t size() const noexcept;
  /// Number of buckets.
  size_t bucket_count() const noexcept { return buckets_.size(); }
  /// Nodes in the replacement caches.
  size_t replacement_count() const noexcept;
  /// Finds a node in the buckets.
  const entry* find(const node_id& id) const noexcept;
  /// Every node in the buckets.
  std::vector<node_entry> all() const;

  /// Serialises the table: a bencoded dict {"nodes": compact IPv4 nodes, "nodes6": compact IPv6
  /// nodes}, enough for a restart to bootstrap from it.
  bytes save() const;
  /// Parses what save() wrote (bounded: at most 4096 nodes).
  static result<std::vector<node_entry>> load(byte_view saved);

private:
  struct bucket {
    std::vector<entry> nodes;
    std::vector<entry> replacements;
    time_point last_changed{};
  };

  size_t bucket_index(const node_id& id) const noexcept;
  void split_last();
  void add_replacement(bucket& b, const entry& e);

  node_id own_;
  config cfg_;
  std::vector<bucket> buckets_;
};

} // namespace dtt::dht
