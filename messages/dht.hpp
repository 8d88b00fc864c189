#pragma once

#include "dht/item.hpp"
#include "messages/atoms.hpp"
#include "messages/inspect.hpp"

#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include <map>
#include <string>
#include <vector>

namespace dtt {

/// The DHT actor (actors/dht_actor.hpp): one mainline DHT node.
///
/// - get_mutable(key, salt, timeout): runs a BEP 44 get lookup and replies with every valid item
///   received (signature checked; not de-duplicated), when the lookup ends or when `timeout`
///   elapses, whichever comes first. Items received before a timeout are kept (PROTOCOL.md §10.8).
/// - put_mutable(item, cas): stores a signed item on the closest nodes; `cas` < 0 means no CAS.
///   Replies with the per-node outcome; an error only if no node could be reached.
/// - get_immutable(target) / put_immutable(bencoded value).
/// - stats: counters by name (packets, errors, table size, stored items, ...).
using dht_actor = caf::typed_actor<
  caf::replies_to<get_mutable_atom, bytes32, bytes, caf::timespan>::with<
    std::vector<dht::mutable_item>>,
  caf::replies_to<put_mutable_atom, dht::mutable_item, int64_t>::with<dht::put_outcome>,
  caf::replies_to<get_immutable_atom, byte_array<20>, caf::timespan>::with<bytes>,
  caf::replies_to<put_immutable_atom, bytes>::with<byte_array<20>>,
  caf::replies_to<dht_stats_atom>::with<std::map<std::string, uint64_t>>>;

} // namespace dtt
