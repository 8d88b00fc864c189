#pragma once

#include "crypto/clock.hpp"
#include "crypto/ed25519.hpp"
#include "messages/dht.hpp"
#include "messages/gossip.hpp"
#include "messages/tracker.hpp"

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>

namespace dtt {

/// State of the directory actor.
struct directory_state {
  crypto::signing_key key = crypto::signing_key::from_seed(bytes32{});
  dht_actor dht;
  gossip_actor gossip;
  const crypto::wall_clock* clock = nullptr;
  std::chrono::milliseconds lookup_timeout{5000};
  /// Addresses to publish instead of the transport's own (e.g. a public address behind NAT).
  std::vector<gossip::socket_address> advertise;
  /// Resolved ids, with when they were resolved (actor clock): entries older than
  /// `known_ttl` are looked up again, so that a peer that restarted on a new address is found.
  std::map<gossip::endpoint_id, caf::actor_clock::time_point> known;
  /// The addresses of the ids in `known` (their endpoint records' content).
  std::map<gossip::endpoint_id, std::vector<gossip::socket_address>> addresses;
  std::chrono::milliseconds known_ttl{std::chrono::minutes(10)};
  uint64_t published = 0;
  /// Smallest seq for our next endpoint record: above what the DHT holds when our clock went
  /// back (a restart with an earlier clock, PROTOCOL.md §10.7); 0 until a put was refused.
  int64_t seq_floor = 0;
  /// Issue 15: our TCP port mappings in force (gateway address and port), and our external
  /// IP as DHT responders report it; both go into the record (nat::advertised_addresses).
  std::vector<gossip::socket_address> mapped;
  std::string external_ip;
  /// What the last record held (a change of the above republishes only if it differs).
  std::vector<gossip::socket_address> last_published;
  static inline const char* name = "dtt.directory";
};

/// Interface of the directory: the resolver interface plus publishing our own endpoint record.
using directory_actor = resolver_actor::extend<
  caf::reacts_to<publish_record_atom>,
  caf::reacts_to<external_address_atom, std::string>,
  caf::reacts_to<port_mapped_atom, std::vector<gossip::socket_address>>>;

/// Resolves endpoint ids to addresses through their endpoint records in the DHT (caching what
/// it learns and handing it to the gossip actor), and publishes this node's own record on
/// (publish_record_atom). Ids that cannot be resolved are left out of the reply, never waited
/// on beyond `lookup_timeout`. A non-empty `advertise` is published instead of the addresses the
/// transport listens on. (peer_addresses_atom, ids) resolves as resolve does and answers the
/// addresses of the ids it knows (for the peer cache). (external_address_atom, ip) and
/// (port_mapped_atom, addresses) tell it what the DHT and the port mapper found (issue 15): the
/// record is published again at once when its addresses change.
directory_actor::behavior_type directory(directory_actor::stateful_pointer<directory_state> self,
                                         crypto::signing_key key, dht_actor dht,
                                         gossip_actor gossip, const crypto::wall_clock* clock,
                                         std::chrono::milliseconds lookup_timeout,
                                         std::vector<gossip::socket_address> advertise);

} // namespace dtt
