#pragma once

// A deterministic discrete-event simulator over gossip::protocol (modelled on iroh-gossip's
// proto/sim): virtual time, per-link latency, optional message loss, node crashes and churn.
// It reports per broadcast round RMR (relative message redundancy), LDH (last delivery hop) and
// missed deliveries, and histograms of the view sizes. Same seed, same run.

#include "gossip/proto.hpp"
#include "gossip/rng.hpp"

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

namespace dtt::gossip::sim {

/// Network and protocol parameters of a simulation.
struct sim_config {
  uint64_t seed = 0;
  /// Protocol configuration of every node.
  config proto;
  /// Per-link one-way latency, drawn once per link uniformly in [min, max) (iroh-gossip's sim
  /// default is 10-100 ms).
  duration latency_min = std::chrono::milliseconds(10);
  duration latency_max = std::chrono::milliseconds(100);
  /// Probability that a sent message is silently lost (0 models TCP/TLS links).
  double loss = 0.0;
  /// A gossip round ends when every live node got every message, or after this long.
  duration round_timeout = std::chrono::seconds(5);
  /// After a round's last delivery the network runs on this long, so that the round's tail
  /// (duplicates still in flight, the Prunes and Grafts they cause) lands and is counted in
  /// that round, not in the next one, and the next round starts on the tree it left.
  duration round_drain = std::chrono::seconds(1);
};

/// The figures of one broadcast round (iroh-gossip's RoundStats).
struct round_stats {
  duration elapsed{};          ///< until the last delivery (or the timeout)
  double rmr = 0;              ///< payload messages / (deliveries - 1) - 1
  double ldh = 0;              ///< highest round at which some node first got a message
  uint64_t missed = 0;         ///< expected deliveries that did not happen
  uint64_t expected = 0;       ///< messages x (live nodes - 1)
  uint64_t payload = 0;        ///< Gossip messages received, duplicates included
  uint64_t control = 0;        ///< Prune/Graft/IHave messages received
  uint64_t duplicate_events = 0; ///< Received events for content already delivered (a bug)
  uint64_t neighbor_up = 0;   ///< NeighborUp events during the round (overlay changes)
  uint64_t neighbor_down = 0; ///< NeighborDown events during the round
  /// Messages sent during the round, by msg::body index (join ... ihave).
  std::array<uint64_t, std::variant_size_v<msg::body>> sent{};
};

/// Mean, min and max over rounds.
struct round_summary {
  size_t rounds = 0;
  round_stats mean, min, max; ///< counters in `mean` are per-round averages
  uint64_t missed_total = 0;  ///< missed deliveries over all rounds
  /// Mean RMR of the rounds after the first: a fresh swarm's first broadcast goes eagerly over
  /// every link (PlumTree builds its tree by pruning), so its RMR is about the active view
  /// size minus 2 whatever the protocol does later; this is the tree's steady state.
  double rmr_after_first = 0;
};
round_summary summarize(const std::vector<round_stats>& rounds);

/// Histograms (size -> node count) of the views of the live nodes.
struct view_report {
  size_t nodes = 0;
  std::map<size_t, size_t> active, passive, eager, lazy;
  size_t without_neighbors = 0; ///< live nodes whose active view is empty
};

/// One line per histogram, e.g. "active {4: 10, 5: 90}".
std::string to_string(const std::map<size_t, size_t>& histogram);

/// The simulated network. Nodes are numbered 0, 1, ... in order of creation.
class simulator {
public:
  explicit simulator(sim_config cfg);
  ~simulator();

  /// The topic every node uses.
  static topic_id topic();
  /// The endpoint id of node `index`.
  static endpoint_id id_of(size_t index);

  /// Creates a node and has it join the topic via `bootstrap` (empty: just subscribe).
  size_t add_node(const std::vector<size_t>& bootstrap);
  /// iroh's "single" bootstrap: node 0 first, then n-1 nodes joining node 0, then 20 maximal
  /// round trips of settling.
  void bootstrap(size_t n);
  /// Crashes a node: its connections close (peers notice after one latency), it stops.
  void crash(size_t index);
  /// Crashes `k` random live nodes.
  void crash_random(size_t k);
  /// Has a live node leave the topic gracefully (Disconnect to neighbours), then stop.
  void leave(size_t index);
  /// Runs the network for `d` of virtual time.
  void run_for(duration d);
  /// Broadcasts each (sender, content) and runs until all live nodes got all messages or the
  /// round timeout; resets the counters first.
  round_stats gossip_round(const std::vector<std::pair<size_t, bytes>>& messages);

  /// Views of the live nodes.
  view_report report() const;
  /// A uniformly random live node.
  size_t random_live_node();
  std::vector<size_t> live_nodes() const;
  bool is_live(size_t index) const;
  size_t node_count() const { return nodes_.size(); }
  /// The protocol of a live node (nullptr if crashed).
  const protocol* node(size_t index) const;
  time_point now() const { return now_; }
  /// True if every active link is symmetric (a in b's view iff b in a's).
  bool views_symmetric() const;
  /// Messages the nodes refused as floods (which closed the sender's connection), by
  /// msg::body index, since the start. Honest nodes at the defaults should cause none.
  const std::array<uint64_t, std::variant_size_v<msg::body>>& refused() const { return refused_; }
  /// The simulation's random source (scenario choices).
  gossip::rng& random() { return rng_; }

private:
  struct event;
  struct entry {
    time_point at;
    uint64_t seq;
    std::unique_ptr<event> ev;
    bool operator<(const entry& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void push(time_point at, std::unique_ptr<event> ev);
  bool step(time_point until);
  void flush(size_t index);
  duration latency(size_t a, size_t b);
  void kill_connection(size_t from, size_t to);
  void on_received(size_t index, const shared_bytes& content);

  sim_config cfg_;
  gossip::rng rng_;
  time_point now_{};
  uint64_t seq_ = 0;
  std::priority_queue<entry> queue_;
  std::vector<std::unique_ptr<protocol>> nodes_;
  std::map<endpoint_id, size_t> index_;
  std::set<std::pair<size_t, size_t>> conns_;
  std::set<std::pair<size_t, size_t>> failed_dials_;
  struct pair_hash {
    size_t operator()(const std::pair<size_t, size_t>& p) const noexcept {
      return p.first * 0x9e3779b97f4a7c15ULL ^ p.second;
    }
  };
  std::unordered_map<std::pair<size_t, size_t>, duration, pair_hash> latencies_;

  // The round in progress.
  bool in_round_ = false;
  std::map<bytes, size_t> round_messages_;      // content -> index in the round
  std::vector<size_t> round_senders_;
  std::vector<std::vector<uint8_t>> delivered_; // [node][message]
  uint64_t received_ = 0;
  uint64_t expected_ = 0;
  uint64_t duplicates_ = 0;
  std::array<uint64_t, std::variant_size_v<msg::body>> sent_{};
  uint64_t ups_ = 0, downs_ = 0;
  std::array<uint64_t, std::variant_size_v<msg::body>> refused_{};
};

} // namespace dtt::gossip::sim
