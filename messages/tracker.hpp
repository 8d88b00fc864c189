#pragma once

#include "crypto/record.hpp"
#include "messages/atoms.hpp"
#include "messages/gossip.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include <map>
#include <string>
#include <vector>

namespace dtt {

/// Records of one or two minutes, at most one per publisher.
using record_list = std::vector<crypto::record>;

/// Reads and writes one topic's records over the DHT actor (PROTOCOL.md §4.4–4.5).
/// - get_records(minute): decrypted, verified, de-duplicated foreign records.
/// - publish_record(record): own get for the record's minute, capacity check, put with retries;
///   replies true if written, false if the minute was full.
/// - publish_record(record, cache): the same with the given records as the capacity check.
/// - stats: counters by name (records dropped by reason: "rejected_undecryptable", ...).
using record_publisher_actor = caf::typed_actor<
  caf::replies_to<get_records_atom, uint64_t>::with<record_list>,
  caf::replies_to<publish_record_atom, crypto::record>::with<bool>,
  caf::replies_to<publish_record_atom, crypto::record, record_list>::with<bool>,
  caf::replies_to<stats_atom>::with<std::map<std::string, uint64_t>>,
  caf::reacts_to<retry_put_atom, uint64_t>>; // internal: retry timer of a put

/// The tracker's side of one topic's events (PROTOCOL.md §6.6): subscribed to the gossip actor
/// for neighbour events only, it knows whether the topic has a neighbour and pushes that to the
/// actors that watch it (join_notify_atom on the first neighbour, isolated_atom when the last
/// one goes), so nobody polls. Messages do not pass through it: the application's events go
/// from the gossip actor to the topic's sink, and the message hashes come from the gossip
/// actor's snapshot.
using receiver_actor = caf::typed_actor<
  caf::reacts_to<gossip_event_atom, gossip::topic_id, gossip::event>,
  caf::replies_to<neighbors_atom>::with<std::vector<gossip::endpoint_id>>,
  caf::replies_to<await_joined_atom>::with<bool>,
  caf::reacts_to<watch_atom, caf::actor>>;

/// Endpoint ids with the addresses of their endpoint records.
using peer_address_list =
  std::vector<std::pair<gossip::endpoint_id, std::vector<gossip::socket_address>>>;

/// Turns endpoint ids into dialable peers: looks up their endpoint records in the DHT and hands
/// the addresses to the gossip actor. resolve replies with the ids it could resolve (or already
/// knew); peer_addresses resolves the same way and replies with their addresses (the peer
/// cache's content).
using resolver_actor = caf::typed_actor<
  caf::replies_to<resolve_atom, std::vector<gossip::endpoint_id>>::with<
    std::vector<gossip::endpoint_id>>,
  caf::replies_to<peer_addresses_atom, std::vector<gossip::endpoint_id>>::with<
    peer_address_list>>;

} // namespace dtt

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dtt::crypto::record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dtt::record_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(dtt::peer_address_list)
