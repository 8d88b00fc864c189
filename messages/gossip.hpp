#pragma once

#include "gossip/types.hpp"
#include "messages/atoms.hpp"
#include "messages/inspect.hpp"

#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include <vector>

namespace dtt {

/// Receives the events of the topics it subscribed to.
using gossip_subscriber =
  caf::typed_actor<caf::reacts_to<gossip_event_atom, gossip::topic_id, gossip::event>>;

/// The gossip actor (actors/gossip_actor.hpp): HyParView + PlumTree over the TLS transport.
///
/// - subscribe(topic, membership key, subscriber): joins the topic locally (no peers yet) and
///   sends the topic's events to `subscriber`; replies with the current neighbours (a late
///   subscriber gets them as its initial state). Several subscribers per topic are allowed.
///   The topic id and membership key come from crypto::derive_membership: peers talk in the
///   topic only after proving the same key on their link (docs/ADMISSION.md).
/// - unsubscribe(topic, subscriber): the topic is quit when its last subscriber goes (or dies).
/// - join_peers(topic, ids): sends HyParView Join to each id (dialing via known addresses).
/// - broadcast / broadcast_neighbors(topic, content): refuses content over the max message
///   size with errc::too_large, and with errc::busy while some peer has half its send queue
///   bound waiting (the caller outruns that link; retry later instead of overflowing it).
/// - neighbors(topic): the current active view.
/// - add_addresses(id, addrs): address hints for dialing `id`.
/// - local_addresses: where this node accepts connections (for its endpoint record).
using gossip_actor = caf::typed_actor<
  caf::replies_to<subscribe_atom, gossip::topic_id, bytes32, gossip_subscriber>::with<
    std::vector<gossip::endpoint_id>>,
  caf::reacts_to<unsubscribe_atom, gossip::topic_id, gossip_subscriber>,
  caf::replies_to<join_peers_atom, gossip::topic_id, std::vector<gossip::endpoint_id>>::with<bool>,
  caf::replies_to<broadcast_atom, gossip::topic_id, bytes>::with<bool>,
  caf::replies_to<broadcast_neighbors_atom, gossip::topic_id, bytes>::with<bool>,
  caf::replies_to<neighbors_atom, gossip::topic_id>::with<std::vector<gossip::endpoint_id>>,
  caf::reacts_to<add_addresses_atom, gossip::endpoint_id, std::vector<gossip::socket_address>>,
  caf::replies_to<local_addresses_atom>::with<std::vector<gossip::socket_address>>>;

} // namespace dtt
