#pragma once

// The membership of a dtt cluster as a sans-IO state machine (docs/CLUSTER.md): it signs and
// announces this member's record, reads the records other members gossip, and says when to
// connect CAF's middleman to a member, when a member is up or down and which actor names come
// and go. It takes events (a record, a link up / failed / down, a neighbour gone, a tick) and
// returns effects; the cluster actor (actors/cluster_actor.cpp) carries them out. No CAF, no
// sockets, no clock: time is passed in, so tests run in virtual time.

#include "cluster/record.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dtt::cluster_core {

/// Virtual or real time in milliseconds since an arbitrary epoch.
using time_ms = std::chrono::milliseconds;

/// Bounds and timing of the membership (defaults: docs/CLUSTER.md, "Timing").
struct membership_options {
  record_limits limits;
  size_t max_members = 256; ///< members kept; records of further members are refused
  /// Each member re-announces this often (so a member that joined late learns everyone).
  time_ms announce_interval{5000};
  /// A member not heard from for this long is dropped (three missed announcements).
  time_ms expiry{15000};
  /// After the member's gossip neighbour link went down, it is dropped unless an announcement
  /// comes within this long (one interval plus slack).
  time_ms neighbor_grace{7500};
  /// A new member makes us announce at once, but not more often than this.
  time_ms min_announce_gap{250};
  /// A failed middleman connection is tried again after this long.
  time_ms connect_retry{1000};
  /// Only the member with the lower endpoint id opens the link of a pair; the other learns of
  /// it from a hello over that link (connected()). Two links opened at once make CAF 0.17.6
  /// close one as redundant and take the node's proxies down with it (seen: members flapping
  /// up and down every second). false: both ends connect (for tests of the state machine).
  bool lower_id_connects = true;
  /// The other end waits this long for the opener's hello, then opens a link itself (the
  /// opener may hold a link it believes up while we dropped the member).
  time_ms hello_wait{3000};
};

/// What the membership reports.
struct membership_event {
  enum class kind : uint8_t { member_up, member_down, actor_up, actor_down };
  kind k = kind::member_up;
  endpoint_id id{};
  uint64_t incarnation = 0;
  std::string name; ///< actor_up / actor_down only
};

/// Connect the middleman to this member (then report connected() or connect_failed()).
struct connect_request {
  endpoint_id id{};
  uint64_t incarnation = 0;
  bytes node;
  std::vector<socket_address> addresses;
};

/// What the caller must do after an event.
struct effects {
  std::vector<bytes> broadcasts;           ///< records to gossip on the cluster topic
  std::vector<connect_request> connects;   ///< middleman connections to open
  std::vector<endpoint_id> disconnects;    ///< forget these members' links and handles
  /// Ask these members over their link whether they are alive (then alive() or node_down()).
  std::vector<std::pair<endpoint_id, uint64_t>> probes;
  std::vector<membership_event> events;    ///< for subscribers, in order
  void append(effects&& other);
};

/// Counters for operators and tests.
struct membership_stats {
  uint64_t records = 0;          ///< records read
  uint64_t rejected = 0;         ///< records that failed to parse or verify
  uint64_t stale = 0;            ///< older incarnation or seq than known (replays, duplicates)
  uint64_t refused_full = 0;     ///< new members refused at max_members
  uint64_t own_key = 0;          ///< records under our own endpoint id from elsewhere
};

/// One known member.
struct member_entry {
  member_record rec;
  bool up = false;               ///< the middleman link is established
  bool connecting = false;       ///< a connect_request is outstanding
  bool probing = false;          ///< its announcements stopped; the link is being asked
  time_ms expires{0};
  time_ms retry_at{0};
  time_ms waiting_since{0};      ///< when we began to wait for the other end's hello
};

/// The membership state machine of one member.
class membership {
public:
  /// `incarnation` must grow across restarts of the same key (unix time in µs at start).
  membership(crypto::signing_key key, bytes32 cluster_id, uint64_t incarnation,
             membership_options opts = {});

  /// Sets what this member announces about its middleman (before start()).
  void set_local(bytes node, std::vector<socket_address> addresses);
  /// The first announcement.
  effects start(time_ms now);
  /// Adds a published name and announces it: errc::invalid_argument for a bad name,
  /// errc::too_large when the record would break a limit.
  result<effects> publish(const std::string& name, time_ms now);
  /// Removes a published name and announces it (no effect when not published).
  effects unpublish(const std::string& name, time_ms now);
  /// A record received on the cluster topic (hostile bytes).
  effects handle_record(byte_view wire, time_ms now);
  /// The middleman link to the member's `incarnation` is up (we opened it, or the member
  /// said hello over it).
  effects connected(const endpoint_id& id, uint64_t incarnation, time_ms now);
  /// Connecting failed; tried again after connect_retry while its record is fresh.
  effects connect_failed(const endpoint_id& id, uint64_t incarnation, time_ms now);
  /// The middleman link went down (CAF's node_down / a down proxy): the member is dropped
  /// until it announces again.
  effects node_down(const endpoint_id& id, uint64_t incarnation, time_ms now);
  /// A probe answered: the member is alive though its announcements did not come through.
  effects alive(const endpoint_id& id, uint64_t incarnation, time_ms now);
  /// The gossip neighbour link to `id` went down: dropped unless it announces soon.
  effects neighbor_down(const endpoint_id& id, time_ms now);
  /// A gossip neighbour came up: announce soon (what we sent before we had one was lost).
  effects neighbor_up(time_ms now);
  /// Periodic work: re-announce, expire, retry connections.
  effects tick(time_ms now);
  /// A goodbye record (members drop us at once).
  effects leave();
  /// When tick() must run next.
  time_ms next_deadline() const;

  const endpoint_id& id() const noexcept { return self_.id; }
  uint64_t incarnation() const noexcept { return self_.incarnation; }
  /// This member's record as last announced.
  const member_record& self() const noexcept { return self_; }
  const std::map<endpoint_id, member_entry>& members() const noexcept { return members_; }
  const membership_stats& stats() const noexcept { return stats_; }

private:
  effects announce(time_ms now);
  void drop(std::map<endpoint_id, member_entry>::iterator it, effects& out);
  void remember_gone(const member_record& r, time_ms now);
  void trigger_announce(time_ms now, effects& out);
  bool initiates(const endpoint_id& other) const;
  void request_connect(member_entry& e, effects& out);

  crypto::signing_key key_;
  bytes32 cluster_id_;
  membership_options opts_;
  member_record self_;
  time_ms next_announce_{0};
  time_ms last_announce_{-1000000};
  bool started_ = false;
  std::map<endpoint_id, member_entry> members_;
  struct gone {
    uint64_t incarnation;
    uint64_t seq;
    time_ms until;
  };
  std::map<endpoint_id, gone> gone_; // dropped members: their old records stay ignored
  membership_stats stats_;
};

} // namespace dtt::cluster_core
