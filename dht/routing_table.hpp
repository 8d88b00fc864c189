#pragma once

#include "dht/node_id.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

namespace dtt::dht {

/// Time as the sans-IO cores see it (passed in by the caller).
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

/// How a routing table treats node ids that do not match their address under BEP 42.
enum class node_id_check : uint8_t {
  off,      ///< no check
  prefer,   ///< non-matching ids are admitted while a bucket has room, and a matching node may
            ///< take a non-matching node's slot in a full bucket
  enforce,  ///< non-matching ids are refused
};

/// Why a routing table did not take a node into a bucket.
enum class table_outcome : uint8_t {
  in_bucket,         ///< the node is in a bucket (added or refreshed)
  candidate,         ///< waits in a replacement cache until it answers one of our queries
  own_id,            ///< refused: our own id
  address_mismatch,  ///< refused: the id is in the table at another address
  address_taken,     ///< refused: the address (IP, or IP:port) holds another id
  bad_node_id,       ///< refused: the id does not match the address (BEP 42, enforce)
  full,              ///< refused: bucket and replacement cache full of better nodes
};

/// The readable name of an outcome ("address_taken", ...).
const char* outcome_name(table_outcome o) noexcept;

/// What routing_table::heard_from did with a node.
struct admission {
  table_outcome outcome = table_outcome::full;
  /// A candidate the table would move into a bucket if it answered a query (its bucket has
  /// room, can split, or holds a failing or, under `prefer`, a non-BEP 42 node): ping it.
  bool wanted = false;
  /// True if the node is in a bucket.
  explicit operator bool() const noexcept { return outcome == table_outcome::in_bucket; }
};

/// Kademlia routing table (BEP 5): buckets of k nodes, only the bucket that contains our own id
/// splits; each bucket keeps a replacement cache; nodes that fail queries are replaced.
///
/// A table holds one address family: a node on both keeps two (BEP 32: the IPv4 and IPv6 DHTs
/// are distinct; dht::node owns one table per family, under one node id).
///
/// Against poisoning (issue 11): at most one entry per IP address by default (libtorrent's
/// dht_restrict_routing_ips; an IPv6 address counts by its /64 prefix, see address_unit), or
/// per IP:port when configured; only nodes that answered one of
/// our queries enter a bucket (nodes that only queried us wait in the replacement cache); a full
/// bucket gives the slot of a node only to replace one that failed to answer (or, under
/// node_id_check::prefer, one whose id does not match its address while BEP 42 checks are
/// active).
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
    /// One entry per IP address (true, libtorrent's dht_restrict_routing_ips default; per /64
    /// for IPv6, as libtorrent) or per IP:port (false: many nodes on one address, e.g. a
    /// testnet on one loopback address such as ::1).
    bool one_per_ip = true;
    /// BEP 42 node-id checks while they are active (set_node_id_checks). Default prefer: most
    /// of the mainline DHT still runs ids that predate BEP 42, so enforcing would shrink the
    /// table, while per-IP entries already bound a one-address flood.
    node_id_check id_check = node_id_check::prefer;
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

  /// Records that a node was heard from. `confirmed` is true for responses to our queries:
  /// only those enter a bucket; a node heard from only by its queries becomes a candidate in the
  /// replacement cache.
  admission heard_from(const node_entry& n, time_point now, bool confirmed);

  /// Records a failed query (timeout, wrong id) to a node id; a candidate is dropped, a bucket
  /// node is replaced by a confirmed candidate or dropped when stale.
  void failed(const node_id& id);

  /// Turns BEP 42 checks on (our external address is known and global) or off.
  void set_node_id_checks(bool active) noexcept { checks_active_ = active; }
  /// True while BEP 42 checks apply.
  bool node_id_checks() const noexcept { return checks_active_ && cfg_.id_check != node_id_check::off; }

  /// Up to `count` unconfirmed candidates whose bucket would take them if they answered (to be
  /// pinged), oldest first.
  std::vector<node_entry> wanted_candidates(size_t count) const;

  /// Up to `count` bucket nodes that failed a query but not yet `stale_failures` times, in
  /// buckets with a replacement waiting: pinged before they are evicted (BEP 5: questionable
  /// nodes are pinged before a replacement takes their slot). A node that answers is kept
  /// (heard_from resets its failures); one that fails again is replaced.
  std::vector<node_entry> questionable(size_t count) const;

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
  /// Every node in the replacement caches.
  std::vector<node_entry> replacements() const;

  /// Serialises the table: a bencoded dict {"nodes": compact IPv4 nodes, "nodes6": compact IPv6
  /// nodes}, enough for a restart to bootstrap from it.
  bytes save() const;
  /// The same format for any list of nodes (a dual-stack node saves both tables in one file);
  /// at most max_saved_nodes per family are written.
  static bytes save(const std::vector<node_entry>& nodes);
  /// Most nodes per family a saved file holds (a table holds at most 160 buckets of k).
  static constexpr size_t max_saved_nodes = 4096;
  /// Parses what save() wrote (bounded: at most max_saved_nodes per family; a file of an
  /// earlier version with "nodes" only loads too).
  static result<std::vector<node_entry>> load(byte_view saved);

private:
  struct bucket {
    std::vector<entry> nodes;
    std::vector<entry> replacements;
    time_point last_changed{};
  };

  size_t bucket_index(const node_id& id) const noexcept;
  void split_last();
  admission add_replacement(bucket& b, const entry& e, bool wanted);
  endpoint key(const endpoint& ep) const noexcept;
  bool good_id(const node_entry& n) const noexcept;
  bool wants(size_t idx, const node_entry& n) const noexcept;
  static constexpr size_t npos = static_cast<size_t>(-1);
  /// The slot of a full bucket a confirmed node `n` may take, or npos.
  size_t replaceable(const bucket& b, const node_entry& n) const noexcept;
  void forget(const entry& e);
  void remember(const entry& e);

  node_id own_;
  config cfg_;
  std::vector<bucket> buckets_;
  /// The id holding each address key (IP, or IP:port), in buckets and replacement caches.
  std::map<endpoint, node_id> by_address_;
  bool checks_active_ = false;
};

} // namespace dtt::dht
