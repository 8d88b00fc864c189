#pragma once

#include "gossip/types.hpp"
#include "messages/atoms.hpp"
#include "messages/event_sink.hpp"
#include "messages/inspect.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dtt {

/// Receives the events of the topics it subscribed to (the public dtt::event_subscriber).
using gossip_subscriber = event_subscriber;

/// The gossip actor (actors/gossip_actor.hpp): HyParView + PlumTree over the TLS transport.
///
/// - subscribe(topic, membership key, subscriber): joins the topic locally (no peers yet) and
///   sends the topic's events to `subscriber`; replies with the current neighbours (a late
///   subscriber gets them as its initial state). Several subscribers per topic are allowed.
///   The topic id and membership key come from crypto::derive_membership: peers talk in the
///   topic only after proving the same key on their link (docs/ADMISSION.md).
/// - subscribe(topic, membership key, sink): the same for an event_sink (messages/event_sink.hpp):
///   events are pushed into it from the gossip actor's thread, without an actor message each.
///   The sink stays subscribed until unsubscribe(topic, sink).
/// - subscribe_neighbors(topic, membership key, subscriber): a subscriber that gets only the
///   neighbor_up/neighbor_down events (the tracker's receiver: no copy of every message).
/// - snapshot(topic): the current neighbours and the tracker's message hashes of the last
///   received messages (SHA-512/32 of the content, oldest first, at most 5; PROTOCOL.md §6.6):
///   what a record and a merge tick need, in one request.
/// - unsubscribe(topic, subscriber): the topic is quit when its last subscriber goes (or dies).
/// - join_peers(topic, ids): sends HyParView Join to each id (dialing via known addresses).
/// - broadcast / broadcast_neighbors(topic, content): refuses content over the max message
///   size with errc::too_large, and with errc::busy while some peer has half its send queue
///   bound waiting (the caller outruns that link; retry later instead of overflowing it).
/// - broadcast / broadcast_neighbors(topic, content, wait): the same, but while the queues are
///   half full the broadcast waits for room (in order, behind earlier waiting ones) at most
///   `wait` before errc::busy; at most max_waiting_broadcasts wait at once (more: errc::busy).
/// - neighbors(topic): the current active view.
/// - add_addresses(id, addrs): address hints for dialing `id`.
/// - local_addresses: where this node accepts connections (for its endpoint record).
/// - gossip_stats: counters by name: actor messages handled by kind ("actor_messages_broadcast",
///   "_net" (a batch of frames from one peer's read), "_timer", "_control"), "frames_received",
///   "broadcasts", "events_to_actors", "events_to_sinks", "content_copies" (one per received
///   message handed to an application), "busy_refusals"; for metrics also the transport's
///   (transport_stats field names), "frames_undecodable", "flood_refused/<kind>",
///   "broadcasts_waiting", and per topic ("topic/<topic hex>/<name>": active, passive,
///   payload_in, control_in, repeated_grafts, membership_in, backlog_messages, backlog_bytes).
/// Broadcasts that may wait for room at once in one gossip actor (dtt's bound: 4 MiB of 4 KiB
/// messages).
inline constexpr size_t max_waiting_broadcasts = 1024;

using gossip_actor = caf::typed_actor<
  caf::replies_to<subscribe_atom, gossip::topic_id, bytes32, gossip_subscriber>::with<
    std::vector<gossip::endpoint_id>>,
  caf::replies_to<subscribe_atom, gossip::topic_id, bytes32, std::shared_ptr<event_sink>>::with<
    std::vector<gossip::endpoint_id>>,
  caf::replies_to<subscribe_neighbors_atom, gossip::topic_id, bytes32, gossip_subscriber>::with<
    std::vector<gossip::endpoint_id>>,
  caf::reacts_to<unsubscribe_atom, gossip::topic_id, gossip_subscriber>,
  caf::reacts_to<unsubscribe_atom, gossip::topic_id, std::shared_ptr<event_sink>>,
  caf::replies_to<snapshot_atom, gossip::topic_id>::with<std::vector<gossip::endpoint_id>,
                                                         std::vector<bytes32>>,
  caf::replies_to<join_peers_atom, gossip::topic_id, std::vector<gossip::endpoint_id>>::with<bool>,
  caf::replies_to<broadcast_atom, gossip::topic_id, payload>::with<bool>,
  caf::replies_to<broadcast_neighbors_atom, gossip::topic_id, payload>::with<bool>,
  caf::replies_to<broadcast_atom, gossip::topic_id, payload, caf::timespan>::with<bool>,
  caf::replies_to<broadcast_neighbors_atom, gossip::topic_id, payload, caf::timespan>::with<bool>,
  caf::replies_to<neighbors_atom, gossip::topic_id>::with<std::vector<gossip::endpoint_id>>,
  caf::reacts_to<add_addresses_atom, gossip::endpoint_id, std::vector<gossip::socket_address>>,
  caf::replies_to<local_addresses_atom>::with<std::vector<gossip::socket_address>>,
  caf::replies_to<gossip_stats_atom>::with<std::map<std::string, uint64_t>>>;

} // namespace dtt

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<dtt::event_sink>)
