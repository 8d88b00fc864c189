#pragma once

#include "dht/external_votes.hpp"
#include "dht/item.hpp"
#include "dht/krpc.hpp"
#include "dht/lookup.hpp"
#include "dht/routing_table.hpp"
#include "dht/rpc.hpp"
#include "dht/storage.hpp"
#include "dht/token.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

/// The sans-IO mainline DHT node (BEP 5, BEP 32, BEP 43, BEP 44).
namespace dtt::dht {

/// Identifies a command (lookup, get, put) issued to a node; never 0.
using request_id = uint64_t;

/// What a command was.
enum class operation : uint8_t {
  bootstrap, find_node, get_peers, get_mutable, get_immutable, put_mutable, put_immutable
};

/// The end of a command.
struct completion {
  request_id id = 0;
  operation op = operation::find_node;
  node_id target{};
  /// Closest nodes that answered, closest first (at most k per address family the lookup ran
  /// on: a dual-stack node's lookups run in the IPv4 and the IPv6 DHT, BEP 32).
  std::vector<node_entry> closest;
  /// Nodes that answered at all during the lookup.
  size_t responses = 0;
  /// get_mutable: valid items streamed; get_immutable: 1 if found.
  size_t items = 0;
  /// get_immutable: the bencoded value found.
  std::optional<bytes> immutable_value;
  /// get_peers: peers found (deduplicated).
  std::vector<endpoint> peers;
  /// put_*: per-node outcome.
  put_outcome put;
  /// What the command saw (issue 16: operators see what the DHT sees).
  size_t queries = 0;        ///< queries sent (lookup and put)
  size_t timeouts = 0;       ///< queries that never got an answer
  size_t stalls = 0;         ///< queries past their short timeout (the lookup widened)
  size_t invalid_items = 0;  ///< items in responses that failed their checks
  size_t malformed = 0;      ///< undecodable datagrams from nodes we had queried
  std::map<int64_t, size_t> errors;  ///< KRPC error replies by code
  /// Round trips on the path to the closest responder (1: it came from the table or a seed).
  size_t hops = 0;
  /// Lookup ended by its time bound (node_config::lookup_max_duration).
  bool timed_out = false;
  /// Where the lookup's time went (issue 16, bench/dht_sim_bench): candidates it started with
  /// (routing table, seeds), the time from its start to the answer of the last of `closest`,
  /// and among the candidates up to the farthest of `closest`: failed ones, ones still in
  /// flight past their short timeout, and the `closest` that answered past it.
  size_t seeded = 0;
  std::chrono::microseconds settled{0};
  /// From the start to when the last of `closest` became a candidate, and was queried.
  std::chrono::microseconds discovered{0}, queried{0};
  size_t tail_failed = 0, tail_stalled = 0, tail_late = 0;
};

/// One line an operator reads: "12 responders, 20 queries, 1 timeout, 3 stalled, errors
/// {203: 1}, 0 invalid items, 0 malformed, 3 hops" (dtt dht --verbose, the DHT actor's debug
/// log).
std::string summary(const completion& c);

/// Why a node refused a packet, an item or a routing-table entry (issue 11: every refusal is
/// counted, and the socket glue logs it with a rate limit per kind).
enum class refusal : uint8_t {
  malformed_packet,       ///< not a KRPC message (or from port 0): dropped
  bad_query,              ///< a KRPC query with missing or invalid arguments: answered 203/204
  rate_limited,           ///< over the per-IP query rate: dropped
  bad_token,              ///< announce_peer/put with a wrong or expired token: answered 203
  put_rejected,           ///< BEP 44 put refused by the store (signature, seq, cas, size)
  invalid_item,           ///< an item in a response failed its key, signature or target check
  unexpected_response,    ///< a response nobody asked for (unknown transaction id or address)
  id_mismatch,            ///< a response under another id than the one we queried
  table_own_id,           ///< routing table: a node claiming our own id
  table_address_mismatch, ///< routing table: an id already known at another address
  table_address_taken,    ///< routing table: the address (IP or IP:port) holds another id
  table_bad_node_id,      ///< routing table: a non-BEP 42 id (enforce)
  table_full,             ///< routing table: bucket and replacement cache full
  verify_budget,          ///< a querying node was not pinged: the verification budget is spent
};
/// Number of refusal kinds.
inline constexpr size_t refusal_kinds = 14;
/// The name of a refusal ("malformed_packet", ...), used in stats as "refused_<name>".
const char* refusal_name(refusal r) noexcept;

/// The KRPC error codes counted one by one in stats ("errors_in_201", "errors_out_302", ...;
/// BEP 5 and BEP 44 define them); any other code counts as "other".
inline constexpr std::array<int64_t, 9> krpc_error_codes{201, 202, 203, 204, 205,
                                                         206, 207, 301, 302};
/// Query kinds counted in stats ("queries_in_ping", "queries_out_get", ...): every
/// krpc::method, then "other" (a query whose method dtt does not speak, or none).
inline constexpr size_t query_kinds = 7;
/// The name of a query kind (0 .. query_kinds - 1): krpc::method_name, or "other".
const char* query_kind_name(size_t kind) noexcept;

/// Where a node's effects go. Called synchronously from node methods; implementations must not
/// call back into the node from inside these callbacks (queue or post instead).
class node_effects {
public:
  virtual ~node_effects() = default;
  /// Send a datagram.
  virtual void send(const endpoint& to, bytes packet) = 0;
  /// A valid BEP 44 mutable item arrived for a get_mutable command (streamed as it arrives).
  virtual void on_item(request_id, const mutable_item&) {}
  /// A command finished (not called for cancelled commands).
  virtual void on_done(const completion&) {}
  /// Something from `from` was refused (already counted in the node's stats).
  virtual void on_refused(refusal, const endpoint& /*from*/) {}
  /// Our decided external address (external_votes: IP and the port most responders saw)
  /// changed, or was decided for the first time.
  virtual void on_external_address(const endpoint&) {}
};

/// Node tunables. Defaults follow Rust mainline 7 / BEP 5 where they cite nothing else.
struct node_config {
  std::optional<node_id> id;                       ///< random if unset (one id for both DHTs,
                                                   ///< as BEP 32 recommends)
  /// Address families the node takes part in (BEP 32: the IPv4 and the IPv6 DHT are distinct,
  /// each with its own routing table). Lookups run on every enabled family; a dual-stack node
  /// asks for the other family's nodes too (BEP 32 "want"). The socket glue sets these from the
  /// sockets it bound.
  bool ipv4 = true;
  bool ipv6 = false;
  bool read_only = false;                          ///< BEP 43 client mode
  std::chrono::milliseconds request_timeout{2000}; ///< PROTOCOL.md §4.2: 2 s per request
  /// Issue 16 (with lookup.adaptive): a query to a node past its short timeout widens its
  /// lookup by one query but stays open until request_timeout. The short timeout is the
  /// node's retransmission timeout as TCP computes it (RFC 6298: srtt + 4 rttvar) from our
  /// round trips to it, or short_timeout_factor times the smoothed round trip over all nodes
  /// for a node we never timed, within these bounds (libtorrent's rpc_manager uses a fixed
  /// 1 s short timeout).
  std::chrono::milliseconds short_timeout_max{1000};
  std::chrono::milliseconds short_timeout_min{50};
  /// The short timeout of a node we never timed: this many times the smoothed round trip over
  /// all nodes (the smoothed round trip is near the mean, not the median, of a log-normal
  /// distribution). 1.5 measured get p50 -11% at +3% messages against 2 in
  /// bench/dht_sim_bench; 0.8 with lookup alpha 4 and converged_after 1, -10..-15% more at
  /// +4% messages (lookup_set::config::converged_after). A slow node timed out this early
  /// is not lost: its query stays open, and only one more candidate is asked.
  double short_timeout_factor = 0.8;
  /// Bound on a lookup's duration (adaptive): then it ends on the nodes that answered.
  std::chrono::milliseconds lookup_max_duration{5000};
  /// Puts (adaptive): once this many nodes stored the item, the put stops waiting for puts
  /// past their short timeout (the tracker's bar for a stored record, issue 16).
  size_t put_quorum = 3;
  size_t max_rtt_entries = 4096;  ///< bound on per-node round-trip estimates
  /// A lookup starts wide (lookup_set::config::alpha, not alpha_clean) if a query of ours
  /// timed out this recently (a short timeout alone, e.g. a loaded loopback testnet, does
  /// not count).
  std::chrono::seconds trouble_memory{60};
  size_t max_in_flight = 256;                      ///< bound on outstanding queries
  size_t max_lookups = 64;                         ///< bound on concurrent commands
  lookup_set::config lookup{};
  routing_table::config table{};
  item_store::config storage{};
  double rate_limit_per_ip = 20;   ///< queries/s per source IP; 0 disables (testnets)
  double rate_burst_per_ip = 40;
  std::chrono::seconds rebootstrap_interval{30}; ///< retry bootstrap while the table is thin
  /// Pings to nodes that queried us (to let them into the routing table once they answer):
  /// at most this many in flight, one per address, refilled at verify_rate per second up to
  /// verify_burst. A flood of queries under new ids costs at most verify_rate pings/s
  /// (libtorrent pings such nodes from its refresh loop, one at a time).
  size_t max_verify_in_flight = 16;
  double verify_rate = 20;
  double verify_burst = 40;
  /// Distinct responders (by IP) whose BEP 42 "ip" field must agree, and be a majority of the
  /// last `external_voters`, before our external address counts as known.
  size_t external_min_votes = 3;
  size_t external_voters = 32;
  std::string version = std::string("DT\x00\x01", 4);  ///< KRPC "v" (client id + version)
};

/// One DHT node without I/O. Feed it datagrams and time; it emits datagrams and results
/// through node_effects. Not thread-safe: call it from one thread.
class node {
public:
  node(node_config cfg, node_effects& fx, crypto::random_source& rng = crypto::os_random());
  ~node();

  /// Handles one received datagram. Never throws on bad input; bad packets are counted and
  /// answered with a KRPC error when they are queries with a readable transaction id.
  void handle_packet(byte_view packet, const endpoint& from, time_point now);
  /// Expires requests, rotates tokens, expires items, refreshes buckets.
  void tick(time_point now);
  /// When tick() should next run.
  time_point next_tick() const;

  /// Commands. Each returns its id; results arrive through node_effects.
  request_id bootstrap(const std::vector<endpoint>& seeds, time_point now);
  request_id find_node(const node_id& target, time_point now);
  request_id get_peers(const node_id& info_hash, time_point now);
  /// BEP 44 get for (key, salt); every valid item is streamed via on_item. Stops after
  /// `max_items` items if non-zero.
  request_id get_mutable(const bytes32& key, bytes salt, time_point now, size_t max_items = 0);
  /// BEP 44 put: get lookup for tokens, then put to the k closest responders.
  request_id put_mutable(const mutable_item& item, std::optional<int64_t> cas, time_point now);
  /// Immutable get/put; the value is bencoded.
  request_id get_immutable(const node_id& target, time_point now);
  request_id put_immutable(bytes bencoded_value, time_point now);
  /// Stops a command; no completion is reported.
  void cancel(request_id id);

  /// Tells the node the address its socket is bound to (the glue calls it after binding).
  /// Neither it nor our id ever becomes a lookup candidate or a routing-table entry (issue 16:
  /// some implementations list the asker in "nodes"). With an unspecified bind address
  /// (0.0.0.0, ::), any loopback address and our external address on that port count as ours.
  void set_own_address(const endpoint& ep);
  /// True if `ep` is one of our own addresses (set_own_address).
  bool is_own_address(const endpoint& ep) const noexcept;

  const node_id& id() const noexcept { return table_.own_id(); }
  /// The IPv4 routing table.
  const routing_table& table() const noexcept { return table_; }
  /// The IPv6 routing table (BEP 32).
  const routing_table& table6() const noexcept { return table6_; }
  /// The routing table of an address family (4 or 6).
  const routing_table& table(uint8_t family) const noexcept {
    return family == 6 ? table6_ : table_;
  }
  /// True if the node takes part in that family's DHT (node_config::ipv4, ipv6).
  bool has_family(uint8_t family) const noexcept { return family == 6 ? cfg_.ipv6 : cfg_.ipv4; }
  /// Both tables' nodes, for routing_table::save (the cache file keeps both families).
  std::vector<node_entry> table_nodes() const;
  const item_store& storage() const noexcept { return store_; }
  bool read_only() const noexcept { return cfg_.read_only; }
  /// Our external IP address (port 0) once a majority of distinct responders reported it in
  /// BEP 42 "ip" fields; BEP 42 checks apply while it is known and not a local address.
  /// Counted per family (IPv4 responders report our IPv4 address, IPv6 ones our IPv6 one): the
  /// IPv4 address, or the IPv6 one on a node without IPv4.
  std::optional<endpoint> external_address() const noexcept {
    return cfg_.ipv4 || !cfg_.ipv6 ? external_ : external6_;
  }
  /// Our external address in one family (4 or 6).
  std::optional<endpoint> external_address(uint8_t family) const noexcept {
    return family == 6 ? external6_ : external_;
  }
  /// The votes behind external_address(), with the port responders saw (issue 15).
  const external_votes& external() const noexcept { return votes_; }
  /// Counters by name.
  std::map<std::string, uint64_t> stats() const;
  /// Commands running.
  size_t active_commands() const noexcept { return lookups_.size() + parked_.size(); }

private:
  struct command;

  void handle_query(const krpc::message& m, const endpoint& from, time_point now);
  void handle_answer(const krpc::message& m, const endpoint& from, time_point now);
  void reply(const endpoint& to, krpc::message m);
  void send_query(request_id owner, const node_entry& to, bool id_known, krpc::query q,
                  time_point now, bool verify = false);
  void refuse(refusal r, const endpoint& from);
  void note_table(const admission& a, const endpoint& from);
  enum class verify_result : uint8_t { sent, busy, no_budget };
  verify_result verify(const node_entry& n, time_point now);
  endpoint address_key(const endpoint& ep) const noexcept;
  void vote_external(const endpoint& voter, const endpoint& reported);
  request_id start(std::unique_ptr<command> c, time_point now);
  void pump(command& c, time_point now);
  void pump_all(time_point now);
  void finish(request_id id);
  void on_command_response(command& c, const rpc_manager::pending& p, const krpc::message& m,
                           const endpoint& from, time_point now);
  void on_command_failure(command& c, const rpc_manager::pending& p, int error_code,
                          time_point now);
  void on_short_timeout(command& c, const rpc_manager::pending& p, time_point now);
  void sample_rtt(const endpoint& ep, time_point sent, time_point now);
  std::chrono::milliseconds short_timeout_for(const endpoint& ep) const;
  krpc::query base_query(krpc::method m) const;
  routing_table& table_for(uint8_t family) noexcept { return family == 6 ? table6_ : table_; }
  /// Nodes in the tables of the enabled families.
  size_t table_total() const noexcept;
  /// Adds the closest nodes of each of the command's families' tables to its lookup sets.
  void seed_from_tables(command& c);
  /// The flags of the enabled families (krpc::want::n4 | n6).
  uint8_t families() const noexcept;

  node_config cfg_;
  node_effects& fx_;
  crypto::random_source& rng_;
  routing_table table_;   ///< IPv4
  routing_table table6_;  ///< IPv6 (BEP 32), same own id
  rpc_manager rpc_;
  item_store store_;
  token_manager tokens_;
  rate_limiter limiter_;
  std::map<request_id, std::unique_ptr<command>> lookups_;
  std::vector<std::unique_ptr<command>> parked_;  ///< waiting for a bootstrap to finish
  time_point now_{};
  request_id next_request_ = 1;
  std::vector<endpoint> seeds_;
  time_point last_bootstrap_{};
  time_point last_housekeeping_{};
  time_point last_expiry_{};
  std::map<node_id, std::vector<endpoint>> peers_;  ///< announce_peer store
  std::set<endpoint> verifying_;  ///< address keys with a verification ping in flight
  double verify_tokens_ = 0;
  time_point verify_refilled_{};
  external_votes votes_;  ///< BEP 42 "ip" fields by responder
  std::optional<endpoint> external_;   ///< IPv4
  std::optional<endpoint> external6_;  ///< IPv6
  std::vector<endpoint> own_addresses_;  ///< set_own_address
  /// RFC 6298 round-trip estimate (ms).
  struct rtt_estimate {
    double srtt = 0, rttvar = 0;
    bool valid = false;
    void sample(double ms);
  };
  std::map<endpoint, rtt_estimate> rtt_;  ///< per node (bounded by max_rtt_entries)
  rtt_estimate rtt_all_;                  ///< over all nodes
  time_point last_trouble_{};  ///< last timeout of a query of ours
  /// Starts a command's lookup: seeds it from the tables, sets its time bound, marks it
  /// troubled if we saw a timeout lately (trouble_memory), registers it and sends its first
  /// queries.
  void launch(std::unique_ptr<command> c, time_point now);
  struct counters;
  std::unique_ptr<counters> n_;
};

} // namespace dtt::dht
