#pragma once

#include "dht/node_id.hpp"
#include "dht/routing_table.hpp"

#include <cstddef>
#include <vector>

namespace dtt::dht {

/// The candidate set of one iterative Kademlia lookup (BEP 5): nodes ordered by XOR distance to
/// the target, at most `alpha` queries in flight, finished when the `k` closest live candidates
/// have all answered. Seeds whose id is unknown (bootstrap addresses) are queried first.
/// Pure bookkeeping: the node sends the queries and reports answers.
///
/// Slow and dead nodes (issue 16, config::adaptive): a query whose short timeout passed is
/// "stalled": it stays open (a late answer still counts) but no longer holds one of the alpha
/// slots, so one more candidate is queried, and the lookup no longer waits for it: it ends when
/// the k closest candidates that are neither failed nor stalled have answered. This is the
/// scheme of libtorrent's traversal_algorithm (a short timeout widens the branch factor by one
/// while the query stays outstanding), with the stall counted per query instead of a counter.
/// The alpha slots count only the queries at the top of the candidate list (slots_at_top): a
/// slow query to a node the lookup has since passed no longer holds one; once the lookup has
/// converged, up to k queries run at the top (converged_after).
class lookup_set {
public:
  /// Lookup tunables.
  struct config {
    /// Parallel queries per lookup (adaptive, once troubled): 3 in the Kademlia paper (and in
    /// dtt before issue 16); 5 is libtorrent's dht_search_branching, which with slots_at_top
    /// measured p50 -35% at 1.5x the messages of alpha 3 in bench/dht_sim_bench. 4 with
    /// converged_after 1 and node_config::short_timeout_factor 0.8: get p50 -10..-15% at
    /// 1.9x the messages of the lookup before issue 16 (three seeds, see converged_after).
    size_t alpha = 4;
    /// Adaptive only: until the lookup sees its first short timeout or failure (or the node
    /// saw one lately, mark_troubled), it runs as the lookup before issue 16 with this alpha
    /// (no slots_at_top, no converged_after): on a network where every node answers fast (a
    /// loopback testnet) it sends what that lookup sent. 0: no such phase.
    size_t alpha_clean = 3;
    size_t k = 8;                ///< closest nodes that must answer (BEP 5 bucket size)
    size_t max_candidates = 128; ///< bound on remembered candidates (hostile responses)
    /// Issue 16: stalled queries (short timeout) widen the lookup and are not waited for, the
    /// node adapts timeouts to measured round trips, and a lookup has a total time bound.
    /// False: the behaviour before issue 16 (fixed timeouts, waits for every close candidate),
    /// kept for side-by-side comparison in bench/dht_sim_bench.
    bool adaptive = true;
    /// Adaptive only: the alpha slots count the queries in flight among the closest
    /// candidates only (up to the k-th that answered), not the ones to candidates the lookup
    /// has since passed (libtorrent's "aggressive lookups").
    bool slots_at_top = true;
    /// Adaptive only: once this many of the k closest live candidates have answered (the
    /// lookup has converged: answers no longer bring k closer nodes), keep up to k queries in
    /// flight at the top instead of alpha (the Kademlia paper's final round, which queries
    /// all of the k closest not yet asked). 0: never. bench/dht_sim_bench (10,000 nodes,
    /// 30% dead, seeds 16/17/18, one run each, same run as alpha 5, converged_after 2 and
    /// short_timeout_factor 1.5): with alpha 4 and short_timeout_factor 0.8, get p50 412 /
    /// 406 / 397 -> 348 / 361 / 356 ms, p99 695 / 720 / 664 -> 579 / 609 / 625 ms, messages
    /// 33.3 / 33.1 / 32.7 -> 34.2 / 34.7 / 34.4 (1.91-1.94x the old lookup's), success 100 /
    /// 99.75 / 100%, put p50 632 / 641 / 615 -> 525 / 538 / 518 ms. The widest burst the
    /// lookup can afford early: the answers that reveal the target's neighbourhood usually
    /// come from one of the closest nodes, and then every one of the k closest is asked.
    size_t converged_after = 1;
    /// Adaptive with slots_at_top: queries open and not stalled are capped at alpha +
    /// max_open_extra (0: k). Passed queries hold no slot but stay open until they time out,
    /// so without a cap responders that keep listing closer nodes that never answer would have
    /// one lookup take the node's whole max_in_flight (tests/dht/lookup.cpp).
    size_t max_open_extra = 0;
    /// Adaptive, once troubled (not in the alpha_clean phase): the lookup may end while up to
    /// this many of the candidates closer than the k-th that answered are still in flight (not
    /// yet past their short timeout): it ends on the k fastest of the closest k + end_slack
    /// instead of waiting for the slowest. A put and a later get then share at least
    /// k - end_slack of their k nodes. 0: waits for all. bench/dht_sim_bench (10,000 nodes,
    /// 30% dead, one run): get p50 487 -> 446 / 433 / 407 / 398 ms for slack 1-4, p99 951 ->
    /// 789 / 816 / 751 / 698 ms, messages unchanged; 2 keeps 6 of 8 nodes shared.
    size_t end_slack = 2;
  };

  enum class state : uint8_t { fresh, in_flight, responded, failed };

  /// One candidate.
  struct candidate {
    node_entry node;
    bool id_known = true;
    state st = state::fresh;
    bytes token;   ///< write token from its response (get_peers / get)
    bool stalled = false;  ///< in flight past its short timeout (adaptive lookups)
    bool late = false;     ///< answered after its short timeout
    uint8_t depth = 0;     ///< 0: from the table or a seed; else the depth of its referrer + 1
    time_point answered_at{};  ///< when it answered (completion::settled)
    time_point added_at{};     ///< when it became a candidate (completion::discovered)
    time_point queried_at{};   ///< when it was queried (completion::queried)
  };

  lookup_set(node_id target, config cfg) : target_(target), cfg_(cfg) {}

  const node_id& target() const noexcept { return target_; }

  /// Adds nodes learned from the routing table (depth 0) or from a response of a candidate at
  /// depth d (depth d + 1); duplicates ignored.
  /// `now` only timestamps them (diagnostics).
  void add(const std::vector<node_entry>& nodes, uint8_t depth = 0, time_point now = {});
  /// Adds an address whose id is unknown (bootstrap).
  void add_seed(const endpoint& ep);

  /// Marks and returns up to `budget` candidates to query now (never more than alpha in flight).
  /// `now` only timestamps them (diagnostics).
  std::vector<candidate> next(size_t budget, time_point now = {});

  /// A response arrived from `from` carrying node id `id` at `at`. False if `from` is not a
  /// queried candidate, or its id differs from the one we were told (the candidate is then
  /// failed).
  bool responded(const endpoint& from, const node_id& id, bytes token, time_point at = {});
  /// The query to `from` failed (timeout or error).
  void failed(const endpoint& from);
  /// The query to `from` passed its short timeout: it stays open, but frees its slot (adaptive
  /// only; a no-op otherwise).
  void stalled(const endpoint& from);
  /// Counts as if a query of this lookup had stalled (alpha_clean no longer applies): the
  /// node saw timeouts lately.
  void mark_troubled() noexcept { troubled_ = true; }
  /// Gives up on every candidate not answered yet (the lookup's time bound passed): done()
  /// holds afterwards; late answers are ignored.
  void give_up();
  /// The depth of the candidate at `from` (0 if unknown).
  uint8_t depth_of(const endpoint& from) const noexcept;

  /// True when nothing is in flight and the k closest live candidates have all answered.
  bool done() const noexcept;
  /// Queries in flight (stalled ones included).
  size_t in_flight() const noexcept { return in_flight_; }
  /// Queries in flight past their short timeout.
  size_t stalled_count() const noexcept { return stalled_; }

  /// The up to `count` closest candidates that answered, closest first.
  std::vector<const candidate*> closest_responded(size_t count) const;

  /// Where a lookup's end waited (diagnostics, bench/dht_sim_bench): among the candidates up
  /// to the `count`-th closest that answered.
  struct tail {
    size_t failed = 0;   ///< closer candidates whose query failed (dead, lost, error)
    size_t stalled = 0;  ///< closer candidates still in flight past their short timeout
    size_t late = 0;     ///< of the closest that answered, those past their short timeout
  };
  /// The tail of the lookup as it stands.
  tail tail_of(size_t count) const;
  /// Candidates remembered.
  size_t size() const noexcept { return cands_.size(); }

private:
  candidate* find(const endpoint& ep);
  void sort_and_trim();

  node_id target_;
  config cfg_;
  std::vector<candidate> cands_;
  size_t in_flight_ = 0;
  size_t stalled_ = 0;
  bool troubled_ = false;  ///< a query of this lookup stalled or failed
};

} // namespace dtt::dht
